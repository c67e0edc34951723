-- ladle.rehearse: apply the pending deltas to a throwaway copy of a
-- database and observe what each one really does.
--
--   local result = ladle.rehearse.run { source = "prod", dir = "migrations" }
--   for _, o in ipairs(result.deltas) do print(o.file, o.ms, #o.findings) end
--
-- The copy (ladle.rehearse.copy) holds the source's schema and its
-- upgrades table's rows (everything with with_data), on a sandbox cluster
-- or a scratch server; the source is only read. The pending deltas run
-- there with the real plan and runner, and an observer
-- (ladle.rehearse.observer) reads, for each delta, the locks its backend
-- holds just before COMMIT, the tables it rewrote (relfilenode), the schema
-- changes (a snapshot diff, with hazards) and the findings
-- (ladle.rehearse.findings). Each observation also reaches the reporter as
-- the `observed` event after `done`, so that a recipe can act on it.
-- doc/rehearse.md is the manual.

local copy = require "ladle.rehearse.copy"
local errors = require "ladle.errors"
local observer = require "ladle.rehearse.observer"
local pg = require "ladle.pg"
local plan = require "ladle.plan"
local tracker = require "ladle.tracker"

local rehearse = {}

-- rehearse.run(opts) -> result. Raises a failure for bad input or when the
-- copy cannot be made; a delta that fails is part of the result.
--   source      the database to rehearse (a service, conninfo or URI;
--               nil: the PG* variables); only read
--   dir (or dirs), table, to, unmarked   as ladle.plan
--   phase       "pre": every delta runs while the old code does (findings
--               breaks-old-code for all); "post": none does; nil: each
--               delta's own phase
--   with_data   copy every row (times and held locks then mean something)
--   scratch     a server for the copy (default: a throwaway cluster)
--   reporter    the plan's reporter (start, done, failed, observed, ...)
--   plan        more ladle.plan options (ladle.session.plan_options: variables,
--               python, on_changed, ...); conn, service, observer and dry_run
--               are the rehearsal's own: every delta and hook runs on the copy
--   pg_dump_exe, pg_restore_exe
-- result: {deltas = {observation...}, failed = nil | {file, version,
-- message, line, sqlstate}, findings = count, pending = count,
-- where = where the copy lived}
function rehearse.run(opts)
  assert(type(opts) == "table" and (type(opts.dir) == "string" or type(opts.dirs) == "table"),
    "rehearse.run: dir (or dirs) is required")
  assert(opts.phase == nil or opts.phase == "pre" or opts.phase == "post", "rehearse.run: phase is pre, post or nil")
  local table_name = opts.table or tracker.DEFAULT
  local scratch <close> = copy.open {
    source = opts.source, table = table_name, with_data = opts.with_data, scratch = opts.scratch,
    pg_dump_exe = opts.pg_dump_exe, pg_restore_exe = opts.pg_restore_exe,
  }
  local conn, why = pg.connect(scratch.conninfo)
  if not conn then errors.fail("database", "connecting to the copy (%s): %s", scratch.where, why) end
  local watcher = observer.new { conn = conn, phase = opts.phase, with_data = opts.with_data }
  local plan_opts = {}
  for k, v in pairs(opts.plan or {}) do plan_opts[k] = v end
  plan_opts.dir, plan_opts.dirs, plan_opts.table = opts.dir, opts.dirs, table_name
  plan_opts.to, plan_opts.unmarked = opts.to or plan_opts.to, opts.unmarked or plan_opts.unmarked
  plan_opts.reporter = opts.reporter or plan_opts.reporter
  -- everything runs on the copy, for real: Python deltas, hooks and Lua
  -- deltas connect by the plan's service, which must name the copy
  plan_opts.conn, plan_opts.service, plan_opts.observer, plan_opts.dry_run = conn, scratch.conninfo, watcher, false
  local p, message, details = plan.new(plan_opts)
  if not p then
    conn:close()
    errors.raise(message, details, "input")
  end
  watcher.table = p.table
  local result = { deltas = watcher.observations, pending = #p:pending(), findings = 0, where = scratch.where }
  -- what refuses the upgrade (bad input) is raised as it is; from here on a
  -- failure is the rehearsal's finding
  local checked, refused = pcall(p.check, p, p:pending())
  if not checked then
    conn:close()
    error(refused, 0)
  end
  local ok, err = pcall(p.apply, p, "all")
  conn:close()
  if not ok then
    if errors.is_interrupt(err) or not errors.is_failure(err) then error(err, 0) end
    local d = err.delta or {}
    result.failed = { file = d.path, version = d.version, phase = d.hook or d.phase, message = err.message,
      line = err.line, sqlstate = err.sqlstate }
  end
  for _, o in ipairs(result.deltas) do result.findings = result.findings + #o.findings end
  return result
end

return rehearse
