-- ladle.plan: what folders of deltas mean for one database, and applying them.
--
--   local plan = assert(ladle.plan { conn = db, dirs = { "delta", "delta_custom" }, to = "2.1.0" })
--   for _, step in ipairs(plan:versions()) do
--     step:apply("pre")
--     deploy(step.version)
--     step:apply("post")
--   end
--
-- plan.deltas lists an entry per delta with its status ("pending",
-- "applied", "below baseline", "changed", "missing") and the reason
-- (ladle.plan.classify). Applying takes the table's advisory lock unless it
-- is already held (plan:lock()), re-reads what is applied once it has it,
-- runs each delta in its own transaction together with its tracking row
-- (ladle.plan.runner), and raises a ladle.errors failure when a delta fails
-- or the plan cannot run. doc/migrations.md is the manual.

local check = require "ladle.plan.check"
local classify = require "ladle.plan.classify"
local delta = require "ladle.delta"
local errors = require "ladle.errors"
local execute = require "ladle.plan.execute"
local hooks = require "ladle.plan.hooks"
local pyformat = require "ladle.plan.pyformat"
local records = require "ladle.plan.records"
local runner = require "ladle.plan.runner"
local steps = require "ladle.plan.steps"
local tracker = require "ladle.tracker"
local version = require "ladle.version"

local plan = {}

local Plan = {}
Plan.__index = Plan
plan.Plan = Plan

local PHASES = { pre = true, post = true, all = true }

-- plan:emit(event, ...) calls the reporter's method for the event
-- (reporter:done(delta, ms), ...) when the reporter has one.
function Plan:emit(event, ...)
  local fn = self.reporter[event]
  if fn then return fn(self.reporter, ...) end
end

local function input_error(message) return nil, message, { kind = "input" } end

-- Options that take one of two words, the default first.
local CHOICES = { unmarked = { "post", "pre" }, on_changed = { "fail", "warn" }, variables_in = { "pum", "all" } }
local function choice(opts, key)
  local allowed = CHOICES[key]
  local value = opts[key] or allowed[1]
  assert(value == allowed[1] or value == allowed[2], string.format("ladle.plan: %s must be %q or %q", key,
    allowed[1], allowed[2]))
  return value
end

-- plan.new(opts) -> plan | nil, message, details
--   conn      an open connection (required)
--   dirs      the delta folders, run folder by folder (or dir: one folder)
--   table     the upgrades table, "schema.table" (default public.ladle_upgrades)
--   to        the target version: deltas labelled above it stay pending
--   unmarked  the phase of deltas whose name has none: "post" (default) or "pre"
--   out_of_order  allow applying a delta labelled below the current version
--   on_changed  "fail" (default): an applied delta whose file changed stops
--             the plan; "warn": it is reported and the plan goes on
--   variables pum's -v variables: {NAME = value}, or ladle.plan.pyformat's list
--   variables_in  where %(NAME)s is substituted: "pum" (default: pum's
--             names and hooks) or "all"
--   service   the connection target conn was opened with: a service name,
--             a conninfo or a URI (what Python deltas and the context of
--             Lua deltas and hooks get, without its password)
--   python    the interpreter of Python deltas and hooks (default python3)
--   reporter  a reporter (ladle.report); default none
--   dry_run   report what would run, change nothing
--   lock      defaults for plan:lock(): {wait = true, timeout = seconds}
--   ignore_missing  applied deltas missing from the folders do not stop it
--   suggest   fn(command, extra) -> the command line to suggest in a
--             message (the user's connection and folder flags repeated)
--   lock_timeout, retries, retry_wait, observer: how each delta runs
--             (ladle.plan.execute): its lock_timeout in seconds, retries
--             after a lock timeout, the first wait before one (seconds)
-- details.kind is "input" for bad input (an unreadable folder, two deltas
-- in one slot, a bad version or table name, a table that is not an
-- upgrades table) and "database" for a database failure.
function plan.new(opts)
  assert(type(opts) == "table", "ladle.plan: expected a table of options")
  local conn = opts.conn
  assert(conn ~= nil and type(conn.query) == "function", "ladle.plan: conn (an open connection) is required")
  local dirs = opts.dirs or (opts.dir and { opts.dir })
  assert(type(dirs) == "table" and #dirs > 0, "ladle.plan: dirs (the delta folders) or dir is required")
  local unmarked, on_changed, variables_in = choice(opts, "unmarked"), choice(opts, "on_changed"),
    choice(opts, "variables_in")
  local variables, bad = pyformat.list(opts.variables)
  if not variables then return input_error(bad) end
  local target
  if opts.to ~= nil then
    local why
    target, why = version.normalize(opts.to)
    if not target then return input_error("target: " .. why) end
  end
  local files, why = delta.scan(dirs, { unmarked = unmarked })
  if not files then return input_error(why) end
  local t
  t, why = tracker.open(conn, opts.table)
  if not t then return input_error(why) end
  local self = setmetatable({
    conn = conn, tracker = t, table = t.name, dir = dirs[1], dirs = dirs, target = target, unmarked = unmarked,
    on_changed = on_changed, variables = variables, variables_index = pyformat.index(variables),
    variables_in = variables_in, python = opts.python, service = opts.service,
    out_of_order = opts.out_of_order == true, reporter = opts.reporter or {}, files = files,
    hooks = files.hooks, install_scripts = files.install, ignored = files.ignored,
    lock_options = opts.lock or {}, applied_count = 0, applied_in_run = 0, dry_run = opts.dry_run == true,
    prepared = {}, entries = {}, warned = {}, ignore_missing = opts.ignore_missing == true, suggester = opts.suggest,
    lock_timeout = opts.lock_timeout, retries = opts.retries or 0, retry_wait = opts.retry_wait or 1,
    observer = opts.observer,
    -- 0, as in PostgreSQL, is no timeout
    lock_timeout_ms = (opts.lock_timeout or 0) > 0 and math.max(1, math.floor(opts.lock_timeout * 1000 + 0.5)) or nil,
  }, Plan)
  local ok, message, details = self:refresh()
  if not ok then return nil, message, details end
  return self
end

-- Reading the database -------------------------------------------------------

-- plan:refresh() -> true | nil, message, details
-- Re-reads the upgrades table and recomputes every status (applying does
-- it after taking the lock), in one snapshot (ladle.plan.classify.read).
function Plan:refresh()
  return classify.read(self)
end

-- Questions ------------------------------------------------------------------

local is_pending = steps.is_pending

-- plan:pending() -> the deltas an upgrade to the target would apply, in order.
function Plan:pending()
  local list = {}
  for _, e in ipairs(self.deltas) do
    if is_pending(e) then list[#list + 1] = e end
  end
  return list
end

-- plan:counts() -> {pending =, applied =, below_baseline =, changed =,
-- missing =, beyond_target =} (pending: what an upgrade to the target
-- would apply).
function Plan:counts()
  local counts = { pending = 0, applied = 0, below_baseline = 0, changed = 0, missing = 0, beyond_target = 0 }
  for _, e in ipairs(self.deltas) do
    local key = e.beyond_target and "beyond_target" or e.status:gsub(" ", "_")
    counts[key] = counts[key] + 1
  end
  return counts
end

-- plan:changed() -> the applied deltas whose file changed.
function Plan:changed()
  local list = {}
  for _, e in ipairs(self.deltas) do
    if e.status == "changed" then list[#list + 1] = e end
  end
  return list
end

-- plan:versions() -> the steps of an upgrade (ladle.plan.steps): one per
-- version that has pending deltas, in order, each with .version, .deltas
-- (all of that version's deltas), step:pending(phase) and step:apply(phase).
function Plan:versions()
  return steps.versions(self)
end

-- plan:selection(phase) -> what plan:apply(phase) would apply, and the
-- step it would stop at (ladle.plan.steps).
function Plan:selection(phase)
  return steps.selection(self, phase)
end

-- Locking --------------------------------------------------------------------

-- plan:lock{wait = true, timeout = seconds} -> true | nil, message, details
-- Takes the table's advisory lock for as long as the caller needs it (a
-- whole recipe: pre deltas, deploy, post deltas) and re-reads the applied
-- state, so that nothing another runner applied meanwhile runs twice.
function Plan:lock(opts)
  if self.holding then return true end
  local merged = {}
  for k, v in pairs(self.lock_options) do merged[k] = v end
  for k, v in pairs(opts or {}) do merged[k] = v end
  merged.on_wait = merged.on_wait or function(_, text) self:emit("waiting", text) end
  local ok, message, details = self.tracker:lock(merged)
  if not ok then return nil, message, details end
  ok, message, details = self:refresh()
  if ok then ok, message, details = self:_capture_session() end
  if not ok then
    self.tracker:unlock()
    return nil, message, details
  end
  self.holding = true
  self.applied_count = 0
  self.total = #self:pending()
  return true
end

-- plan:unlock() -> true | nil, message, details
function Plan:unlock()
  self.holding = false
  return self.tracker:unlock()
end

function Plan:locked()
  return self.holding == true
end

-- Runs fn with the lock held, taking it (and releasing it after) when the
-- caller does not hold it already. When fn applies deltas (applying), a
-- Ctrl-C anywhere in it says what the run applied (execute.resumable).
function Plan:_locked(fn, applying)
  local took = not (self.holding or self.dry_run)
  if not (took or applying) then return fn() end
  if took then
    local ok, message, details = self:lock()
    if not ok then errors.raise(message, details, "database") end
  end
  local results = table.pack(pcall(fn))
  if took then self:unlock() end
  if not results[1] then error(applying and execute.resumable(self, results[2]) or results[2], 0) end
  return table.unpack(results, 2, results.n)
end

-- Every delta starts from the session as the caller left it when the
-- lock was taken (ladle.plan.runner.capture_session).
function Plan:_capture_session()
  local sql, identity, details = runner.capture_session(self.conn)
  if not sql then return nil, identity, details end
  self.session_sql, self.identity_sql = sql, identity
  return true
end

-- Puts the caller's session back after deltas ran.
function Plan:_restore_session()
  runner.restore_session(self.conn, self.session_sql)
end

-- Checking -------------------------------------------------------------------

-- Reads a delta (or hook) once and checks it; bad input raises.
function Plan:_prepare(d)
  local key = rawget(d, "delta") or d
  local prepared = self.prepared[key]
  if not prepared then
    prepared = runner.prepare(self, d)
    self.prepared[key] = prepared
  end
  return prepared
end

-- plan:check([list]) raises what stops the plan, or one delta of list,
-- from running (ladle.plan.check); every delta of the list, and every
-- hook, is read and checked before the first one runs.
function Plan:check(list)
  check.run(self, list)
end

-- plan:suggest(command[, extra]) -> a command line to suggest, with the
-- connection, table, folder and target flags the user gave (opts.suggest
-- of plan.new), or plainly "ladle COMMAND EXTRA".
function Plan:suggest(command, extra)
  if self.suggester then return self.suggester(command, extra) end
  return "ladle " .. command .. (extra and (" " .. extra) or "")
end

-- Applying -------------------------------------------------------------------

-- Runs one delta (or hook: record = false) and reports it
-- (ladle.plan.execute.delta).
function Plan:_execute(e, record, index, total)
  return execute.delta(self, e, self:_prepare(e), record, index, total)
end

function Plan:_apply_list(list)
  local count = 0
  for _, e in ipairs(list) do
    if e.status == "pending" then
      self.applied_count = (self.applied_count or 0) + 1
      self:_execute(e, true, self.applied_count, self.total)
      count = count + 1
    end
  end
  return count
end

-- plan:context() -> what Lua deltas and hooks get (ladle.plan.hooks).
function Plan:context()
  return hooks.context(self)
end

-- plan:run_hooks("pre-all" | "post-all") -> number run. pum's hooks, never
-- recorded.
function Plan:run_hooks(name)
  assert(name == "pre-all" or name == "post-all", "plan:run_hooks: \"pre-all\" or \"post-all\"")
  if #(self.hooks[name] or {}) == 0 then return 0 end
  return self:_locked(function()
    hooks.prepare(self)
    local count = hooks.run(self, name)
    self:_restore_session()
    return count
  end, true)
end

-- plan:apply([phase]) -> number applied, step stopped at
-- The whole upgrade under one lock, as pum runs one: the pre-all hooks,
-- the selection (see plan:selection), the post-all hooks. The hooks run
-- on every upgrade, also when nothing is pending. Raises a failure.
function Plan:apply(phase)
  phase = phase or "all"
  assert(PHASES[phase], "plan:apply: phase must be \"pre\", \"post\" or \"all\"")
  return self:_locked(function()
    local list, stopped = self:selection(phase)
    self:check(list)
    hooks.prepare(self)
    self.total = #list
    self.applied_count = 0
    hooks.run(self, "pre-all")
    local count = self:_apply_list(list)
    hooks.run(self, "post-all")
    self:_restore_session()
    self:emit("finish", { [self.dry_run and "would_apply" or "applied"] = count, current_version = self.current_version,
      dry_run = self.dry_run or nil })
    return count, stopped
  end, true)
end

-- plan:apply_repeatables() -> number applied: the pending Flyway
-- repeatables, for a recipe that applies its versions step by step
-- (plan:apply runs them itself). Raises a failure.
function Plan:apply_repeatables()
  return self:_apply_checked(function() return steps.repeatables(self) end)
end

-- Under the lock: the list select() gives, checked, then applied; for a
-- part of the selection (steps, repeatables). -> number applied
function Plan:_apply_checked(select)
  return self:_locked(function()
    local list = select()
    self:check(list)
    local count = self:_apply_list(list)
    if count > 0 then self:_restore_session() end
    return count
  end, true)
end

-- plan:repair() -> the deltas whose recorded checksum was replaced by the
-- file's (ladle.plan.records). Raises a failure.
function Plan:repair()
  return records.repair(self)
end

-- plan:record_baseline(v[, opts]) -> true. Records, under the lock, that
-- the database is at version v (pum's baseline row) when the table records
-- no version yet (ladle.plan.records: opts.force, opts.create_schema).
-- Raises a failure.
function Plan:record_baseline(v, opts)
  return records.baseline(self, v, opts)
end

function Plan:__tostring()
  local counts = self:counts()
  return string.format("plan for %s: %d pending, %d applied, current version %s", self.table, counts.pending,
    counts.applied, self.current_version or "none")
end

return plan
