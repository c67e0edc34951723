-- One delta of 200 MB (pg_dump --inserts style data, 100 rows a
-- statement) applied by ladle upgrade and by psql -1 -f, side by side on
-- one cluster: wall time and peak RSS. ladle holds the file once (the SQL
-- splitter keeps 12 bytes of positions a statement, and each statement's
-- text is made only when it is sent); reading the file costs a second
-- copy for a moment.
--
-- Target: ladle's peak RSS at most 3 times the file's size.

local SIZE = 200 * 1024 * 1024
local ROWS = 100

return function(bench)
  local dir = bench.dir .. "/big-delta"
  assert(os.execute("mkdir -p " .. dir))
  local path = dir .. "/1.0.0_01_data.sql"
  local f = assert(io.open(path, "wb"))
  f:write("CREATE TABLE big (id bigint PRIMARY KEY, payload text);\n")
  local written, id, value = 0, 0, string.rep("x", 64)
  while written < SIZE do
    local rows = {}
    for i = 1, ROWS do
      id = id + 1
      rows[i] = string.format("(%d, '%s')", id, value)
    end
    local statement = "INSERT INTO big VALUES " .. table.concat(rows, ", ") .. ";\n"
    f:write(statement)
    written = written + #statement
  end
  f:close()

  local sys = require("ladle").sys
  local psql = assert(sys.which("psql"), "psql is needed for this benchmark")
  assert(bench.cluster:createdb("big_ladle"))
  assert(bench.cluster:createdb("big_psql"))
  local psql_seconds, status, _, err, psql_usage = bench.run({ psql, "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-f",
    path }, { env = bench.cluster:env("big_psql") })
  assert(status == 0, err)
  local ladle_seconds, out, usage
  ladle_seconds, status, out, err, usage = bench.run({ bench.exe, "upgrade", "-d", dir },
    { env = bench.cluster:env("big_ladle") })
  assert(status == 0, (out or "") .. (err or ""))

  local mb = written / 1048576
  local rss_mb = (usage and usage.maxrss_kb or 0) / 1024
  local ratio = rss_mb / mb
  print(string.format("upgrade of one %.0f MB delta (%d statements): ladle %.1f s, psql -1 -f %.1f s: ratio %.2f",
    mb, id // ROWS, ladle_seconds, psql_seconds, ladle_seconds / psql_seconds))
  print(string.format("  peak RSS: ladle %.0f MB = %.2f x the file (target <= 3), psql %.0f MB", rss_mb, ratio,
    (psql_usage and psql_usage.maxrss_kb or 0) / 1024))
  os.remove(path)
  if ratio > 3 then return false, string.format("a %.0f MB delta peaked at %.0f MB (%.2f x)", mb, rss_mb, ratio) end
  return true
end
