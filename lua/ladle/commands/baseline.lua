-- ladle baseline: record the version a database is at, without running anything.

local common = require "ladle.commands.common"
local session = require "ladle.session"
local errors = require "ladle.errors"
local tracker = require "ladle.tracker"
local version = require "ladle.version"

local baseline = {
  summary = "create the upgrades table and record the version the database is at",
  usage = "ladle baseline [-p SERVICE] [-t TABLE] [-d DIR...] -b VERSION",
  description = [[
Creates the upgrades table (pum 0.10's, exactly) if it does not exist and
records a baseline row: the database is at VERSION. Nothing else runs.
Deltas labelled below VERSION will never run; deltas labelled VERSION and
above are pending until applied (pum's rule). With -d, says how many of each
the folder has.

A table that already records a version is refused (exit 2): a baseline
starts the history, it does not rewrite it.]],
  examples = [[
  ladle baseline -p procrastinate -t public.pum -d sql/migrations -b 0.5.0
  ladle -c db.yaml baseline -b 1.2.0]],
  flags = common.flags { "pg_service", "table", "dir", "config" },
}
table.insert(baseline.flags, { "-b", "--baseline", arg = "VERSION", help = "the version the database is at (required)",
  check = function(v)
    local ok, why = version.parse(v)
    if ok then return true end
    return false, why
  end })

-- Without -d there is no plan: the table alone, under its lock.
local function record(conn, o, v)
  local t, why = tracker.open(conn, o.table)
  if not t then errors.fail("input", "%s", why) end
  local ok, message, details = t:lock { wait = true }
  if not ok then errors.raise(message, details, "database") end
  local state
  state, message, details = t:inspect()
  if not state then errors.raise(message, details, "database") end
  if state.exists then
    local rows
    rows, message, details = t:rows()
    if not rows then errors.raise(message, details, "database") end
    local current = tracker.current_version(rows)
    if current then
      errors.fail("input", "%s already records version %s; a baseline only starts an empty table", t.name, current)
    end
  end
  ok, message = t:baseline(v)
  if not ok then errors.fail("database", "%s: %s", t.name, message) end
  t:unlock()
  return t.name
end

function baseline.run(opts, _, global)
  local o = common.options(opts, global)
  if not o.baseline then errors.fail("usage", "baseline: -b/--baseline VERSION is required") end
  local v = version.normalize(o.baseline)
  local conn <close> = session.connect(o)
  if not o.dir then
    local name = record(conn, o, v)
    print(string.format("Baseline %s recorded in %s (%s).", v, name, session.describe_conn(conn)))
    return 0
  end
  -- the delta folder is read first: bad input must stop us before we write
  local plan = session.plan(o, conn, { reporter = false })
  plan:record_baseline(v)
  print(string.format("Baseline %s recorded in %s (%s).", v, plan.table, session.describe_conn(conn)))
  local counts = plan:counts()
  print(string.format("%s: %d delta%s below %s will never run; %d pending.", table.concat(o.dirs, ", "),
    counts.below_baseline,
    counts.below_baseline == 1 and "" or "s", v, counts.pending))
  return 0
end

return baseline
