-- ladle.plan.execute: running one delta (or hook) for a plan, with what
-- surrounds the runner: the reporter's events, retries after a lock
-- timeout (ladle.plan.retry), and an observer's hooks (ladle.rehearse).
--
-- The plan's options that matter here (plan.new):
--   lock_timeout  seconds: each delta's lock_timeout (0 or nil: none)
--   retries       how many times a delta that timed out waiting for a lock
--                 is tried again (default 0)
--   retry_wait    seconds before the first retry (default 1), doubled each
--                 time, with jitter
--   observer      an object with begin(d, prepared) (before the delta, on
--                 the idle connection), statement(d, i) and commit(d)
--                 (inside its transaction, see ladle.plan.runner) and
--                 finish(d, ms) -> observation (after it committed); the
--                 observation is reported as the `observed` event after
--                 `done`.

local errors = require "ladle.errors"
local retry = require "ladle.plan.retry"
local runner = require "ladle.plan.runner"
local sys = require "ladle.sys"
local version = require "ladle.version"

local execute = {}

-- The current version after e is applied (for real or in a dry run).
local function advance(plan, e)
  if not e.version then return end  -- a repeatable
  if not plan.current_version or version.compare(e.version, plan.current_version) > 0 then
    plan.current_version = e.version
  end
end

-- After e (a delta, or a hook: record = false) committed: its status, the
-- version, the count of this run, and the report.
local function committed(plan, e, record, ms)
  if record then
    plan.applied_in_run = plan.applied_in_run + 1
    e.status, e.reason = "applied", nil
    e.execution_time = ms
    e.installed_on = os.date("%Y-%m-%d %H:%M:%S")
    advance(plan, e)
    if e.layout == "install" then plan.baseline = e.version end
    plan.table_exists, plan.fresh = true, false
  end
  plan:emit("done", e, ms)
end

-- What the reporter's `retrying` event gets: the failure, who held the
-- lock, and the wait before the next attempt.
local function retry_info(plan, e, err, attempt)
  local wait = retry.wait_seconds(plan.retry_wait or 1, attempt)
  local blockers, why = retry.blockers(plan.conn, err.statement)
  return {
    attempt = attempt, retries = plan.retries, wait = wait, message = err.message, line = err.line,
    lock_timeout = plan.lock_timeout, blockers = blockers or {}, blockers_unknown = why,
  }
end

-- A lock timeout that is not retried (no retries left, or none allowed)
-- says who held the lock, and how many times the delta was tried.
local function gave_up(plan, err, attempt)
  local blockers = retry.blockers(plan.conn, err.statement) or {}
  local parts = { err.message }
  if attempt > 1 then parts[#parts + 1] = string.format("; gave up after %d attempts", attempt) end
  for i, b in ipairs(blockers) do
    parts[#parts + 1] = (i == 1 and "; blocked by " or ", ") .. retry.describe_blocker(b)
  end
  if #blockers > 0 and (plan.retries or 0) == 0 then
    parts[#parts + 1] = " (--retries N tries the delta again after a wait)"
  end
  err.message = table.concat(parts)
  err.blockers = blockers
end

-- Raises what stopped e as a failure (kind "interrupted" for Ctrl-C, what
-- errors.is_interrupt knows) that says how many deltas this run applied
-- (applied_in_run) and that running the command again resumes.
local function stop(plan, e, err, interrupted)
  if interrupted then
    err = errors.failure("interrupted", "interrupted")
  elseif not errors.is_failure(err) then
    err = errors.failure("runtime", tostring(err))
  end
  err.delta, err.applied_in_run, err.resumable = err.delta or e, plan.applied_in_run, true
  error(err, 0)
end

-- execute.resumable(plan, err) -> err, or for a Ctrl-C that landed outside
-- a delta (between two, or around the hooks) the "interrupted" failure
-- that says what this run applied, as stop raises it within one.
function execute.resumable(plan, err)
  if type(err) == "table" and err.resumable then return err end
  local cancelled = errors.is_failure(err) and err.sqlstate == "57014"
  if not (errors.is_interrupt(err) or cancelled) then return err end
  local f = errors.failure("interrupted", "interrupted")
  f.applied_in_run, f.resumable = plan.applied_in_run, true
  return f
end

-- execute.run(plan, e, prepared, record, index, total) -> ms, observation,
-- printed (what a Python delta printed)
-- Runs e until it commits, retrying after lock timeouts as the plan's
-- options allow. Reports start (again before each retry), retrying,
-- failed or interrupted; the caller reports done. Raises the failure that
-- stopped it (see stop), with the connection left idle. A delta whose
-- COMMIT went through just before Ctrl-C is applied, and reported so
-- (committed), before the interruption goes on.
function execute.run(plan, e, prepared, record, index, total)
  local conn, observer = plan.conn, plan.observer
  local encoding = conn:parameter("client_encoding")
  plan.utf8 = encoding == nil or encoding:upper() == "UTF8"
  local attempt = 0
  while true do
    attempt = attempt + 1
    plan:emit("start", e, index, total)
    if observer then observer:begin(e, prepared) end
    local started = sys.now()
    local ok, err = pcall(runner.run, plan, e, prepared, record, started)
    local ms = runner.elapsed_ms(started)
    if ok then return ms, observer and observer:finish(e, ms) or nil, err end
    if not conn:is_closed() and conn:transaction_status() ~= "idle" then conn:exec("ROLLBACK") end
    if errors.is_interrupt(err) or (errors.is_failure(err) and err.sqlstate == "57014") then
      if record and plan.tracker.exists and plan.tracker:recorded(e) then
        committed(plan, e, record, ms)
      else
        plan:emit("interrupted", e)
      end
      stop(plan, e, err, true)
    end
    if not retry.should(plan, e, err, attempt) then
      if errors.is_failure(err) and err.sqlstate == retry.LOCK_NOT_AVAILABLE then gave_up(plan, err, attempt) end
      if not errors.is_failure(err) then err = errors.failure("runtime", tostring(err)) end
      plan:emit("failed", e, err)
      stop(plan, e, err)
    end
    local info = retry_info(plan, e, err, attempt)
    plan:emit("retrying", e, info)
    local slept, why = pcall(sys.sleep, info.wait)
    if not slept then
      plan:emit("interrupted", e)
      stop(plan, e, why, errors.is_interrupt(why))
    end
  end
end

-- execute.delta(plan, e, prepared, record, index, total) -> ms
-- Runs one delta (or hook: record = false) and reports it. A dry run
-- reports the delta and counts it as applied in memory only, so that a
-- recipe's later steps see what a real run would have left.
function execute.delta(plan, e, prepared, record, index, total)
  if plan.dry_run then
    plan:emit("would", e)
    if record then
      e.status, e.reason = "applied", "dry run: not applied"
      advance(plan, e)
    end
    return 0
  end
  local ms, observation, printed = execute.run(plan, e, prepared, record, index, total)
  committed(plan, e, record, ms)
  for line in (printed or ""):gmatch("[^\n]+") do plan:emit("note", line) end
  if observation then plan:emit("observed", e, observation) end
  return ms
end

return execute
