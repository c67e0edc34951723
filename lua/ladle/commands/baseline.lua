-- ladle baseline: record the version a database is at, without running anything.

local records = require "ladle.plan.records"
local common = require "ladle.commands.common"
local errors = require "ladle.errors"
local session = require "ladle.session"
local tracker = require "ladle.tracker"
local version = require "ladle.version"

local baseline = {
  summary = "create the upgrades table and record the version the database is at",
  usage = "ladle baseline [-p SERVICE] [-t TABLE] [-d DIR...] -b VERSION [--force] [--create-schema]",
  description = [[
Creates the upgrades table (pum 0.10's, exactly) if it does not exist and
records a baseline row: the database is at VERSION. Nothing else runs.
Deltas labelled below VERSION will never run; deltas labelled VERSION and
above are pending until applied (pum's rule). With -d, says how many of each
the folder has and which delta will run first: check that it is the first
one whose objects the database does not have yet.

A table that already records a version is refused (exit 2): a baseline
starts the history, it does not rewrite it. A baseline given at the wrong
version can be redone with --force as long as nothing was applied on top of
it. The table's schema is not created unless --create-schema is given (a
mistyped -t would start a second history): the refusal names the upgrades
tables the database has.]],
  examples = [[
  ladle baseline -p procrastinate -t public.pum -d sql/migrations -b 0.5.0
  ladle -c db.yaml baseline -b 1.2.0
  ladle baseline -t app_sys.upgrades -b 1.0.0 --create-schema]],
  flags = common.flags { "pg_service", "table", "dir", "config" },
}
table.insert(baseline.flags, { "-b", "--baseline", arg = "VERSION", help = "the version the database is at (required)",
  check = common.check_version })
table.insert(baseline.flags, { "--force", help = "replace a baseline that nothing was applied on top of" })
table.insert(baseline.flags, { "--create-schema", key = "create_schema",
  help = "create the table's schema when it does not exist" })

local function rules(o)
  return { force = o.force == true, create_schema = o.create_schema == true, suggest = o.suggest }
end

-- Without -d there is no plan: the table alone, under its lock.
local function record(conn, o, v)
  local t, why = tracker.open(conn, o.table)
  if not t then errors.fail("input", "%s", why) end
  local ok, message, details = t:lock { wait = true }
  if not ok then errors.raise(message, details, "database") end
  records.baseline_table(t, v, rules(o))
  t:unlock()
  return t.name
end

-- The first delta an upgrade would apply, to check the baseline against.
local function first_pending(plan)
  for _, e in ipairs(plan.deltas) do
    if e.status == "pending" then return e end
  end
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
  plan:record_baseline(v, rules(o))
  print(string.format("Baseline %s recorded in %s (%s).", v, plan.table, session.describe_conn(conn)))
  local counts = plan:counts()
  print(string.format("%s: %d delta%s below %s will never run; %d pending.", table.concat(o.dirs, ", "),
    counts.below_baseline,
    counts.below_baseline == 1 and "" or "s", v, counts.pending))
  local first = first_pending(plan)
  if first then
    print(string.format("The first delta to run will be %s (%s): its objects must not exist yet.",
      errors.printable(first.path), first.version))
  end
  return 0
end

return baseline
