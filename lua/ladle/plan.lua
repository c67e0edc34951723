-- ladle.plan: what a folder of deltas means for one database, and applying it.
--
--   local plan = assert(ladle.plan { conn = db, dir = "migrations", to = "2.1.0" })
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

local baseline = require "ladle.plan.baseline"
local catalog = require "ladle.catalog"
local classify = require "ladle.plan.classify"
local delta = require "ladle.delta"
local errors = require "ladle.errors"
local guard = require "ladle.plan.guard"
local runner = require "ladle.plan.runner"
local steps = require "ladle.plan.steps"
local sys = require "ladle.sys"
local tracker = require "ladle.tracker"
local version = require "ladle.version"

local plan = {}

local Plan = {}
Plan.__index = Plan
plan.Plan = Plan

local PHASES = { pre = true, post = true, all = true }

local fail = errors.fail
local vcompare = version.compare

-- Calls reporter[method](reporter, ...) when the reporter has it.
local function emit(self, method, ...)
  local fn = self.reporter[method]
  if fn then return fn(self.reporter, ...) end
end

local function input_error(message) return nil, message, { kind = "input" } end

-- plan.new(opts) -> plan | nil, message, details
--   conn      an open connection (required)
--   dir       the delta folder (required)
--   table     the upgrades table, "schema.table" (default public.ladle_upgrades)
--   to        the target version: deltas labelled above it stay pending
--   unmarked  the phase of deltas whose name has none: "post" (default) or "pre"
--   out_of_order  allow applying a delta labelled below the current version
--   reporter  a reporter (ladle.report); default none
--   dry_run   report what would run, change nothing
--   lock      defaults for plan:lock(): {wait = true, timeout = seconds}
--   ignore_missing  applied deltas missing from dir do not stop it
--   suggest   fn(command, extra) -> the command line to suggest in a
--             message (the user's connection and folder flags repeated)
-- details.kind is "input" for bad input (an unreadable folder, two deltas
-- in one slot, a bad version or table name, a table that is not an
-- upgrades table) and "database" for a database failure.
function plan.new(opts)
  assert(type(opts) == "table", "ladle.plan: expected a table of options")
  local conn = opts.conn
  assert(conn ~= nil and type(conn.query) == "function", "ladle.plan: conn (an open connection) is required")
  assert(type(opts.dir) == "string", "ladle.plan: dir (the delta folder) is required")
  local unmarked = opts.unmarked or "post"
  assert(unmarked == "pre" or unmarked == "post", "ladle.plan: unmarked must be \"pre\" or \"post\"")
  local target
  if opts.to ~= nil then
    local why
    target, why = version.normalize(opts.to)
    if not target then return input_error("target: " .. why) end
  end
  local files, why = delta.scan(opts.dir, { unmarked = unmarked })
  if not files then return input_error(why) end
  local t
  t, why = tracker.open(conn, opts.table)
  if not t then return input_error(why) end
  local self = setmetatable({
    conn = conn, tracker = t, table = t.name, dir = opts.dir, target = target, unmarked = unmarked,
    out_of_order = opts.out_of_order == true, reporter = opts.reporter or {}, files = files,
    hooks = files.hooks, install_scripts = files.install, ignored = files.ignored,
    lock_options = opts.lock or {}, applied_count = 0, applied_in_run = 0,
    ignore_missing = opts.ignore_missing == true, suggester = opts.suggest, dry_run = opts.dry_run == true, prepared = {}, entries = {},
  }, Plan)
  local ok, message, details = self:refresh()
  if not ok then return nil, message, details end
  return self
end

-- Reading the database -------------------------------------------------------

-- plan:refresh() -> true | nil, message, details
-- Re-reads the upgrades table and recomputes every status (applying does
-- it after taking the lock). The table, its rows and whether the database
-- is empty are read in one snapshot: read apart, another upgrade's first
-- commit could fall between them.
function Plan:refresh()
  return catalog.run(self.conn, function() return self:_read_state() end)
end

function Plan:_read_state()
  local state, message, details = self.tracker:inspect()
  if not state then return nil, message, details end
  local rows = {}
  if state.exists then
    rows, message, details = self.tracker:rows()
    if not rows then return nil, message, details end
  end
  self.rows = rows
  self.table_exists = state.exists
  self.can_write = state.can_write
  self.current_version = tracker.current_version(rows)
  self.baseline = tracker.baseline_version(rows)
  self.fresh = false
  local any = false
  for _, row in ipairs(rows) do any = any or row.success end
  if not any then
    local empty
    empty, message, details = self.tracker:database_is_empty()
    if empty == nil then return nil, message, details end
    self.fresh = empty
  end
  self.deltas, self.install = classify.run {
    entries = self.entries, files = self.files, install_scripts = self.install_scripts, rows = rows, baseline = self.baseline,
    current_version = self.current_version, target = self.target, fresh = self.fresh, table = self.table,
    dir = self.dir, unmarked = self.unmarked,
  }
  return true
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
  merged.on_wait = merged.on_wait or function(_, text) emit(self, "waiting", text) end
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
-- caller does not hold it already.
function Plan:_locked(fn)
  if self.holding or self.dry_run then return fn() end
  local ok, message, details = self:lock()
  if not ok then errors.raise(message, details, "database") end
  local results = table.pack(pcall(fn))
  self:unlock()
  if not results[1] then error(results[2], 0) end
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

-- Reads a delta (or hook) once and checks it; bad input raises. SQL is
-- split as the session will read it (standard_conforming_strings).
function Plan:_prepare(d)
  local key = rawget(d, "delta") or d
  local prepared = self.prepared[key]
  if not prepared then
    prepared = runner.prepare(d, { standard_conforming_strings = self.conn:parameter("standard_conforming_strings") ~= "off" })
    self.prepared[key] = prepared
  end
  return prepared
end

-- plan:check([list]) raises the failure that stops the plan from running
-- at all, or that stops one of `list` (ladle.plan.guard): like Flyway's
-- validate, every delta of the list and every hook is read and checked
-- before the first one runs (a recipe runs its hooks itself).
function Plan:check(list)
  guard.check(self, list)
end

-- plan:suggest(command[, extra]) -> a command line to suggest, with the
-- connection, table, folder and target flags the user gave (opts.suggest
-- of plan.new), or plainly "ladle COMMAND EXTRA".
function Plan:suggest(command, extra)
  if self.suggester then return self.suggester(command, extra) end
  return "ladle " .. command .. (extra and (" " .. extra) or "")
end

-- Applying -------------------------------------------------------------------

-- The current version after e is applied (for real or in a dry run).
function Plan:_advance(e)
  if not self.current_version or vcompare(e.version, self.current_version) > 0 then
    self.current_version = e.version
  end
end

-- Runs one delta (or hook: record = false) and reports it. A dry run
-- reports the delta and counts it as applied in memory only, so that a
-- recipe's later steps see what a real run would have left.
function Plan:_execute(e, record, index, total)
  local prepared = self:_prepare(e)
  if self.dry_run then
    emit(self, "would", e)
    if record then
      e.status, e.reason = "applied", "dry run: not applied"
      self:_advance(e)
    end
    return 0
  end
  local encoding = self.conn:parameter("client_encoding")
  self.utf8 = encoding == nil or encoding:upper() == "UTF8"
  emit(self, "start", e, index, total)
  local started = sys.now()
  local ok, err = pcall(runner.run, self, e, prepared, record, started)
  local ms = runner.elapsed_ms(started)
  if not ok then
    local conn = self.conn
    if not conn:is_closed() and conn:transaction_status() ~= "idle" then conn:exec("ROLLBACK") end
    if errors.is_interrupt(err) or (errors.is_failure(err) and err.sqlstate == "57014") then
      -- the signal may have come after the delta's COMMIT
      if record and self.tracker.exists and self.tracker:recorded(e) then
        self.applied_in_run = self.applied_in_run + 1
        e.status, e.reason = "applied", nil
        self:_advance(e)
        emit(self, "done", e, ms)
      else
        emit(self, "interrupted", e)
      end
      err = errors.failure("interrupted", "interrupted")
    else
      if not errors.is_failure(err) then err = errors.failure("runtime", tostring(err)) end
      emit(self, "failed", e, err)
    end
    -- what the run did, and that running it again resumes
    err.delta, err.applied_in_run, err.resumable = err.delta or e, self.applied_in_run, true
    error(err, 0)
  end
  if record then
    self.applied_in_run = self.applied_in_run + 1
    e.status, e.reason = "applied", nil
    e.execution_time = ms
    e.installed_on = os.date("%Y-%m-%d %H:%M:%S")
    self:_advance(e)
    if e.layout == "install" then self.baseline = e.version end
    self.table_exists, self.fresh = true, false
  end
  emit(self, "done", e, ms)
  return ms
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

-- plan:run_hooks("pre-all" | "post-all") -> number run. pum's hooks, never
-- recorded.
function Plan:run_hooks(name)
  assert(name == "pre-all" or name == "post-all", "plan:run_hooks: \"pre-all\" or \"post-all\"")
  local hooks = self.hooks[name] or {}
  if #hooks == 0 then return 0 end
  return self:_locked(function()
    for _, d in ipairs(hooks) do self:_execute(d, false) end
    self:_restore_session()
    return #hooks
  end)
end

-- plan:apply([phase]) -> number applied, step stopped at
-- The whole upgrade under one lock: pre-all hooks, the selection (see
-- plan:selection), post-all hooks. Raises a failure.
function Plan:apply(phase)
  phase = phase or "all"
  assert(PHASES[phase], "plan:apply: phase must be \"pre\", \"post\" or \"all\"")
  return self:_locked(function()
    local list, stopped = self:selection(phase)
    self:check(list)
    local count = 0
    if #list > 0 then
      self.total = #list
      self.applied_count = 0
      for _, d in ipairs(self.hooks["pre-all"]) do self:_execute(d, false) end
      count = self:_apply_list(list)
      for _, d in ipairs(self.hooks["post-all"]) do self:_execute(d, false) end
      self:_restore_session()
    end
    emit(self, "finish", { [self.dry_run and "would_apply" or "applied"] = count, current_version = self.current_version,
      dry_run = self.dry_run or nil })
    return count, stopped
  end)
end

-- plan:repair() -> the deltas whose recorded checksum was replaced by the
-- file's. Raises a failure.
function Plan:repair()
  if self.dry_run then
    for _, e in ipairs(self:changed()) do emit(self, "note", "Would record the new checksum of " .. e.path) end
    return self:changed()
  end
  return self:_locked(function()
    local repaired = {}
    for _, e in ipairs(self:changed()) do
      local ok, message = self.tracker:set_checksum(e.row.id, e.checksum)
      if not ok then fail("database", "%s: %s", self.table, message) end
      e.row.checksum = e.checksum
      e.status, e.reason = "applied", nil
      repaired[#repaired + 1] = e
    end
    return repaired
  end)
end

-- plan:record_baseline(v[, opts]) -> true. Records, under the lock, that
-- the database is at version v (pum's baseline row) when the table records
-- no version yet (ladle.plan.baseline: opts.force, opts.create_schema).
-- Raises a failure.
function Plan:record_baseline(v, opts)
  return self:_locked(function()
    local merged = { suggest = self.suggester }
    for k, value in pairs(opts or {}) do merged[k] = value end
    baseline.record(self.tracker, v, merged)
    local ok, message = self:refresh()
    if not ok then fail("database", "%s", message) end
    return true
  end)
end

function Plan:__tostring()
  local counts = self:counts()
  return string.format("plan for %s: %d pending, %d applied, current version %s", self.table, counts.pending,
    counts.applied, self.current_version or "none")
end

return plan
