-- ladle upgrade against psql, side by side on one cluster: 1000 tiny
-- deltas from an empty database. ladle runs each in its own transaction
-- with its tracking row; psql runs their concatenation in one transaction
-- (-1), which is the least work the server can do for the same schema.
-- Then `ladle info` on the 1000 applied deltas: wall time and peak RSS.
--
-- Targets: upgrade / psql <= 1.25; info under 50 ms.

local DELTAS = 1000

return function(bench)
  local sys = require("ladle").sys
  local dir = bench.dir .. "/upgrade-deltas"
  assert(os.execute("mkdir -p " .. dir))
  local all = {}
  for i = 1, DELTAS do
    local sql = string.format("CREATE TABLE t_%d (id int primary key, v text);\n", i)
    local f = assert(io.open(string.format("%s/01.00.%02d_%04d_create_t_%d.sql", dir, i // 100, i, i), "w"))
    f:write(sql)
    f:close()
    all[#all + 1] = sql
  end
  local concatenated = bench.dir .. "/upgrade-all.sql"
  local f = assert(io.open(concatenated, "w"))
  f:write(table.concat(all))
  f:close()

  local psql = assert(sys.which("psql"), "psql is needed for this benchmark")
  local rounds, psql_times, ladle_times = 5, {}, {}
  local last_db
  for round = 1, rounds do
    -- alternate who goes first, so that neither always meets a warmer server
    local order = round % 2 == 1 and { "psql", "ladle" } or { "ladle", "psql" }
    for _, who in ipairs(order) do
      local db = string.format("bench_%s_%d", who, round)
      assert(bench.cluster:createdb(db))
      local env = bench.cluster:env(db)
      if who == "psql" then
        local seconds, status, _, err = bench.run({ psql, "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-f", concatenated },
          { env = env })
        assert(status == 0, err)
        psql_times[#psql_times + 1] = seconds
      else
        local seconds, status, out, err = bench.run({ bench.exe, "upgrade", "-d", dir }, { env = env })
        assert(status == 0, (out or "") .. (err or ""))
        ladle_times[#ladle_times + 1] = seconds
        last_db = db
      end
    end
  end
  table.sort(psql_times)
  table.sort(ladle_times)
  local psql_best, ladle_best = psql_times[1], ladle_times[1]
  local ratio = ladle_best / psql_best
  print(string.format("upgrade, %d deltas from empty: ladle %.0f ms, psql -1 -f %.0f ms: ratio %.2f (target <= 1.25)",
    DELTAS, ladle_best * 1000, psql_best * 1000, ratio))
  print(string.format("  (best of %d each; all ladle: %s ms; all psql: %s ms)", rounds,
    table.concat((function() local t = {} for i, s in ipairs(ladle_times) do t[i] = string.format("%.0f", s * 1000) end return t end)(), " "),
    table.concat((function() local t = {} for i, s in ipairs(psql_times) do t[i] = string.format("%.0f", s * 1000) end return t end)(), " ")))

  local env = bench.cluster:env(last_db)
  local info_best, rss = math.huge, 0
  for _ = 1, 5 do
    local seconds, status, out, err, usage = bench.run({ bench.exe, "info", "-d", dir }, { env = env })
    assert(status == 0, (out or "") .. (err or ""))
    assert(out:find(DELTAS .. " applied", 1, true), out:sub(-200))
    info_best = math.min(info_best, seconds)
    rss = math.max(rss, usage and usage.maxrss_kb or 0)
  end
  print(string.format("info on %d applied deltas: %.1f ms wall (best of 5; target < 50 ms), peak RSS %d kB",
    DELTAS, info_best * 1000, rss))

  local missed = {}
  if ratio > 1.25 then missed[#missed + 1] = string.format("upgrade ratio %.2f > 1.25", ratio) end
  if info_best > 0.050 then missed[#missed + 1] = string.format("info took %.1f ms", info_best * 1000) end
  if #missed > 0 then return false, table.concat(missed, "; ") end
  return true
end
