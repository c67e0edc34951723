-- ladle run fleet, --parallel 1 against --parallel 8: 100 databases of the
-- bench's cluster, 20 deltas each, side by side in one run (each on its own
-- fresh set of databases). Every target is a child `ladle upgrade`: a
-- process, a connection, a plan, 20 transactions; client and server share
-- the machine's cores, so the speedup is bounded by them (and by what else
-- runs there).
--
-- Target: a speedup of at least 60% of min(8, cores).

local ladle = require "ladle"

local DATABASES, DELTAS = 100, 20

local function cores()
  local status, out = ladle.sys.spawn({ "nproc" }, { stdout = "capture", stderr = "null" })
  return status == 0 and tonumber(out:match("%d+")) or 1
end

return function(bench)
  local dir = bench.dir .. "/fleet-deltas"
  assert(os.execute("mkdir -p " .. dir))
  for i = 1, DELTAS do
    local f = assert(io.open(string.format("%s/01.00.%02d_01_step.sql", dir, i), "w"))
    f:write(string.format("CREATE TABLE t_%d (id int PRIMARY KEY, v text);\n"
      .. "INSERT INTO t_%d SELECT g, 'row ' || g FROM generate_series(1, 100) g;\n", i, i))
    f:close()
  end

  -- one set of databases, emptied between the two runs (FILE_COPY: a
  -- database is made several times faster than by copying it through WAL)
  local admin <close> = assert(bench.cluster:connect())
  local strategy = admin:server_version() >= 150000 and " STRATEGY FILE_COPY" or ""
  local list = {}
  for i = 1, DATABASES do
    local name = string.format("fleet_%03d", i)
    assert(admin:exec("CREATE DATABASE " .. name .. strategy))
    list[i] = bench.cluster:conninfo(name)
  end
  local file = bench.dir .. "/fleet-targets"
  local f = assert(io.open(file, "w"))
  f:write(table.concat(list, "\n"), "\n")
  f:close()
  local function empty_all()
    for _, conninfo in ipairs(list) do
      local db <close> = assert(ladle.connect(conninfo))
      assert(db:exec("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    end
  end

  local times, cpu = {}, {}
  -- the parallel run first: it meets the colder server
  for _, parallel in ipairs { 8, 1 } do
    local seconds, status, out, err, usage = bench.run({ bench.exe, "run", "fleet", "--targets", file, "-d", dir,
      "--parallel", tostring(parallel), "--per-host", tostring(parallel), "--json" })
    assert(status == 0, (out or "") .. (err or ""))
    local upgraded = select(2, out:gsub('"status":"upgraded"', ""))
    assert(upgraded == DATABASES, out)
    times[parallel] = seconds
    -- the fleet's rusage holds its children's: the CPU the client side used
    cpu[parallel] = usage.user + usage.system
    if parallel == 8 then empty_all() end
  end
  local n = cores()
  local speedup = times[1] / times[8]
  local target = 0.6 * math.min(8, n)
  print(string.format("fleet, %d databases x %d deltas: --parallel 1 %.1f s, --parallel 8 %.1f s: speedup %.2f "
    .. "(%d cores; target >= %.2f)", DATABASES, DELTAS, times[1], times[8], speedup, n, target))
  print(string.format("  per database: %.0f ms one at a time, %.0f ms of wall time at 8; client CPU (ladle "
    .. "processes) %.1f s and %.1f s, the rest of the wall time is the server's and waiting", times[1] * 1000 / DATABASES,
    times[8] * 1000 / DATABASES, cpu[1], cpu[8]))
  if speedup < target then return false, string.format("speedup %.2f < %.2f", speedup, target) end
  return true
end
