-- ladle.session: options -> connection -> plan, shared by the commands and
-- the recipes.
--
--   local session = require "ladle.session"
--   local conn = session.connect(opts)            -- raises a "database" failure
--   local plan = session.plan(opts, conn)         -- raises "input" / "database"
--   local plan = session.open(opts)               -- connect, plan, check, lock
--
-- opts is a plain table of options, as the command line and the config
-- file give them (doc/commands.md); this module reads nothing else:
--   pg_service  the target: a service name, a conninfo or a URI (default PG*)
--   table       the upgrades table (default public.ladle_upgrades)
--   dirs        the delta folders (or dir: one)
--   to, unmarked, out_of_order, on_changed, variables, variables_in,
--   python, ignore_missing, suggest   as plan.new (the plan's service is pg_service)
--   no_wait, wait_timeout_seconds   how to wait for another upgrade to end
--   lock_timeout_seconds, retries, retry_wait_seconds   each delta's
--               lock_timeout and the retries after one (ladle.plan.execute)
--   dry_run     plan, report, change nothing
--   json        report JSON lines on `out` instead of console lines
--   out         where reports go (default io.stdout)
--   reporter    a reporter to use instead of the one json/out imply
--   warnings    where warnings go (default io.stderr)

local errors = require "ladle.errors"
local pg = require "ladle.pg"
local plan = require "ladle.plan"
local report = require "ladle.report"

local session = {}
local fail = errors.fail

-- session.connect(opts) -> conn. A failure to connect raises a "database"
-- failure naming the target with its password masked. Server WARNINGs go
-- to opts.warnings (stderr): they matter to the person upgrading; NOTICEs
-- are noise.
function session.connect(opts)
  local target = opts.pg_service
  if target then
    local readable, why = pg.conninfo_split(target)
    if not readable then fail("usage", "-p: libpq cannot read the connection target: %s", why) end
  end
  local conn, message = pg.connect(target)
  if not conn then
    fail("database", "cannot connect to %s: %s", pg.target_name(target), message)
  end
  local warnings = opts.warnings or io.stderr
  conn:on_notice(function(notice)
    if notice.severity == "WARNING" then warnings:write("ladle: WARNING: ", notice.message or "", "\n") end
  end)
  return conn
end

-- session.reporter(opts) -> the reporter opts ask for: opts.reporter when
-- given (false: none), JSON lines with opts.json, else console lines.
function session.reporter(opts)
  if opts.reporter ~= nil then return opts.reporter end
  if opts.json then return report.json { out = opts.out } end
  return report.console { out = opts.out }
end

-- session.plan_options(opts) -> the ladle.plan options (all but conn)
-- that opts ask for: every command and recipe that builds a plan, or has
-- one built (ladle.rehearse), passes the same ones.
function session.plan_options(opts)
  return {
    dirs = opts.dirs or (opts.dir and { opts.dir }), table = opts.table, to = opts.to,
    unmarked = opts.unmarked, out_of_order = opts.out_of_order, on_changed = opts.on_changed,
    variables = opts.variables, variables_in = opts.variables_in, python = opts.python, service = opts.pg_service,
    reporter = session.reporter(opts), dry_run = opts.dry_run == true,
    ignore_missing = opts.ignore_missing == true, suggest = opts.suggest,
    lock = { wait = not opts.no_wait, timeout = opts.wait_timeout_seconds },
    lock_timeout = opts.lock_timeout_seconds, retries = opts.retries, retry_wait = opts.retry_wait_seconds,
  }
end

-- session.plan(opts, conn[, extra]) -> plan. extra: more plan.new options.
-- Bad input raises an "input" failure, the database a "database" one.
function session.plan(opts, conn, extra)
  local plan_opts = session.plan_options(opts)
  plan_opts.conn = conn
  for k, v in pairs(extra or {}) do plan_opts[k] = v end
  return errors.check(plan.new(plan_opts))
end

-- Files in the delta folder that look like deltas but match no layout:
-- skipping them silently would be worse.
function session.warn_ignored(p, out)
  out = out or io.stderr
  for _, item in ipairs(p.ignored or {}) do
    local name = (item.script or item.path):lower()
    if not item.folder and (name:match("%.sql$") or name:match("%.lua$") or name:match("%.py$")) then
      out:write(errors.printable(string.format("ladle: warning: %s %s; it is not a delta (see '%s')",
        item.path, item.reason, p:suggest("lint"))), "\n")
    end
  end
end

-- session.lock_and_check(p[, phase[, lock]]): takes the upgrades table's
-- lock (not in a dry run, nor with lock = false) and then, on what it read
-- once it had the lock, refuses what would refuse the upgrade of that
-- phase (plan:check of plan:selection(phase), default "all"). Looking
-- first would race another upgrade that is half way through. Raises a
-- failure, without the lock.
function session.lock_and_check(p, phase, lock)
  if lock ~= false and not p.dry_run then
    local ok, message, details = p:lock()
    if not ok then errors.raise(message, details, "database") end
  end
  local ok, err = pcall(function() p:check((p:selection(phase or "all"))) end)
  if not ok then
    if p:locked() then p:unlock() end
    error(err, 0)
  end
end

-- session.open(opts[, extra]) -> plan, with plan.conn open on
-- opts.pg_service: connects, builds the plan, takes the upgrades table's
-- lock for as long as the caller needs it (not in a dry run), so that pre
-- deltas, a deploy and post deltas run as one upgrade, and refuses what
-- would refuse the upgrade (before any hook of a recipe runs).
-- extra: more plan.new options; extra.lock = false leaves the lock to the
-- caller.
function session.open(opts, extra)
  extra = extra or {}
  if not opts.dir and not (opts.dirs and opts.dirs[1]) then
    fail("usage", "no delta folder: pass -d DIR (or delta_dir in the config file)")
  end
  local conn = session.connect(opts)
  local plan_opts = {}
  for k, v in pairs(extra) do if k ~= "lock" then plan_opts[k] = v end end
  local p = session.plan(opts, conn, plan_opts)
  session.warn_ignored(p, opts.warnings)
  session.lock_and_check(p, "all", extra.lock)
  return p
end

-- Where we are, for headers: "app on /tmp/x:5432", without secrets.
function session.describe_conn(conn)
  local info = conn:info()
  return string.format("%s on %s:%s", info.dbname, info.host or "localhost", info.port)
end

return session
