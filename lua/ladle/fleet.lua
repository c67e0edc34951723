-- ladle.fleet: upgrade many databases at once, each exactly as `ladle
-- upgrade` would, with bounded parallelism, a canary wave and a failure
-- threshold.
--
--   local fleet = require "ladle.fleet"
--   local run = fleet.run {
--     targets = { "tenant_a", "host=db2 dbname=tenant_b" },
--     args = fleet.upgrade_args { dir = "migrations", to = "1.2.0" },
--     parallel = 8, per_host = 2, canary = 1, max_failures = 1,
--   }
--   for _, t in ipairs(run.targets) do print(t.name, t.status, t.from, t.to) end
--
-- Each target is upgraded by a child `ladle upgrade --json` process
-- (ladle.fleet.child): its own connection, lock and per-delta
-- transactions, so that a fleet can be stopped anywhere, even with kill
-- -9, and every database holds whole deltas with their tracking rows.
-- The fleet reads the children's JSON lines to know where each one is.
-- doc/recipes.md ("ladle run fleet") is the manual.

local child = require "ladle.fleet.child"
local errors = require "ladle.errors"
local pg = require "ladle.pg"
local sys = require "ladle.sys"

local fleet = {}

local function is_conninfo(target)
  return target:find("=", 1, true) ~= nil or target:find("://", 1, true) ~= nil
end

-- fleet.name(target) -> how the target is shown: a service name as it is,
-- a conninfo or URI as libpq reads it, with its password masked.
function fleet.name(target)
  if is_conninfo(target) then return pg.target_name(target) end
  return target
end

-- fleet.read_targets(path) -> list | nil, message, details. One service
-- name or conninfo per line; blank lines and lines starting with # are
-- skipped; a target given twice is an error (it would be upgraded twice
-- at once).
function fleet.read_targets(path)
  local f, why = io.open(path, "rb")
  if not f then return nil, why, { kind = "input", path = path } end
  local list, seen, n = {}, {}, 0
  for line in f:lines() do
    n = n + 1
    local target = line:match("^%s*(.-)%s*$")
    if target ~= "" and target:sub(1, 1) ~= "#" then
      if seen[target] then
        f:close()
        return nil, string.format("%s:%d: %s is already on line %d", path, n, fleet.name(target), seen[target]),
          { kind = "input", path = path, line = n }
      end
      seen[target] = n
      list[#list + 1] = target
    end
  end
  f:close()
  return list
end

-- fleet.upgrade_args(opts) -> the flags of each target's `ladle upgrade`
-- | nil, message, details. opts as the command line gives them to
-- `ladle upgrade` (ladle.commands.common): dirs (or dir), table, to, phase,
-- variables ({type, name, text} each), variables_in, python, on_changed,
-- lock_timeout, retries,
-- retry_wait, wait_timeout, no_wait, unmarked, out_of_order.
function fleet.upgrade_args(opts)
  local args = {}
  local function add(...) for _, word in ipairs { ... } do args[#args + 1] = tostring(word) end end
  local dirs = opts.dirs or (type(opts.dir) == "table" and opts.dir) or { opts.dir }
  if #dirs == 0 then return nil, "no delta folder: pass -d DIR (or delta_dir in the config file)", { kind = "usage" } end
  for _, dir in ipairs(dirs) do add("-d", dir) end
  if opts.table then add("-t", opts.table) end
  if opts.to then add("--to", opts.to) end
  if opts.phase then add("--phase", opts.phase) end
  for _, v in ipairs(opts.variables or {}) do add("-v", v.type, v.name, v.text) end
  if opts.variables_in then add("--variables-in", opts.variables_in) end
  if opts.python then add("--python", opts.python) end
  if opts.on_changed then add("--on-changed", opts.on_changed) end
  if opts.lock_timeout then add("--lock-timeout", opts.lock_timeout) end
  if opts.retries then add("--retries", opts.retries) end
  if opts.retry_wait then add("--retry-wait", opts.retry_wait) end
  if opts.wait_timeout then add("--wait-timeout", opts.wait_timeout) end
  if opts.no_wait then add("--no-wait") end
  if opts.unmarked then add("--unmarked-phase", opts.unmarked) end
  if opts.out_of_order then add("--out-of-order") end
  return args
end

-- fleet.executable() -> the ladle executable the children run: this one
-- when running inside ladle, else the first `ladle` in PATH.
function fleet.executable()
  if pcall(require, "ladle.host") then
    local self_path = sys.realpath("/proc/self/exe")
    if self_path then return self_path end
  end
  return sys.which("ladle")
end

-- fleet.host_of(target) -> "host:port" as libpq resolves the target (a
-- service file, PG* defaults and host lists included) | nil, message,
-- details: read from a connection.
function fleet.host_of(target)
  local conn, message, details = pg.connect(target)
  if not conn then return nil, string.format("cannot connect to %s: %s", fleet.name(target), message), details end
  local info = conn:info()
  conn:close()
  return string.format("%s:%s", info.host or "localhost", info.port)
end

-- Events ------------------------------------------------------------------

-- "delta 1.2.0 03_backfill" for a delta event, as ladle.report says it.
function fleet.event_label(e)
  if e.phase == "install" then return "install script " .. (e.script or "") end
  if not e.version then return e.script or e.description or "" end
  return string.format("delta %s %s", e.version, e.description or e.script or "")
end

local function count_failure(run, t, message)
  if t.failed then return end
  t.failed = true
  t.message = t.message or message
  run.failures = run.failures + 1
end

-- What a child's JSON line says about its target.
local function on_event(run, t, e)
  local kind = e.event
  if kind == "plan" then
    t.from = e.current_version or "none"
    t.to = t.to or t.from
    t.pending = e.pending
  elseif kind == "start" then
    t.current = fleet.event_label(e)
    t.step, t.steps = e.index, e.total
    t.lock_holder = nil
  elseif kind == "applied" then
    t.applied = (t.applied or 0) + (e.version and 1 or 0)
    if e.version then t.to = e.version end
  elseif kind == "would_apply" then
    t.would = t.would or {}
    t.would[#t.would + 1] = fleet.event_label(e)
  elseif kind == "waiting" then
    t.lock_holder = e.holder
  elseif kind == "failed" then
    t.message = string.format("%s: %s", fleet.event_label(e), e.message or "failed")
    count_failure(run, t)
  elseif kind == "finish" then
    t.to = e.current_version or t.to
    t.applied = e.applied or e.would_apply
  end
end

-- Once a child has exited: the target's outcome.
local function settle(run, t, c, view)
  t.ms, t.exit, t.current = c.ms, c.status, nil
  if c.status == 0 then
    if run.dry_run then
      t.status = (t.applied or 0) > 0 and "would apply" or "up to date"
    else
      t.status = (t.applied or 0) > 0 and "upgraded" or "up to date"
    end
  elseif c.status == 130 or c.status == 128 + sys.signals.INT then
    t.status = "interrupted"
  else
    t.status = "failed"
    count_failure(run, t, c:reason() or string.format("ladle upgrade exited with status %d", c.status))
  end
  run.running[t] = nil
  run.active = run.active - 1
  if t.host then run.per_host[t.host] = run.per_host[t.host] - 1 end
  if view.finished then view:finished(t, run) end
end

local function poll(run, view)
  for t, c in pairs(run.running) do
    for _, e in ipairs(c:poll()) do on_event(run, t, e) end
    if c.status then settle(run, t, c, view) end
  end
end

-- Scheduling ----------------------------------------------------------------

-- No new starts once a canary failed or the failures reached the
-- threshold; running upgrades finish.
local function check_stop(run)
  if run.stopped then return end
  if run.canary > 0 and not run.canary_passed then
    local done = true
    for i = 1, math.min(run.canary, #run.targets) do
      local t = run.targets[i]
      if t.failed then run.stopped = "canary" return end
      done = done and (t.status ~= "waiting" and t.status ~= "running")
    end
    run.canary_passed = done
  end
  if run.max_failures > 0 and run.failures >= run.max_failures then run.stopped = "failures" end
end

local function start(run, t, view)
  local c, message = child.start {
    exe = run.exe, target = t.target, args = run.args, dry_run = run.dry_run,
    output = string.format("%s/%d", run.scratch, t.index),
  }
  if not c then errors.fail("system", "cannot start %s upgrade for %s: %s", run.exe, t.name, message) end
  t.status = "running"
  run.running[t] = c
  run.active = run.active + 1
  if t.host then run.per_host[t.host] = (run.per_host[t.host] or 0) + 1 end
  if view.started then view:started(t, run) end
end

-- Starts what the bounds allow, in target order. A target whose server is
-- busy waits and the next one may start; hosts are resolved as targets
-- come up, a few per round so that running children are polled often.
local function start_more(run, view)
  local resolved = 0
  local i = run.first_waiting
  while not run.stopped and run.active < run.parallel and i <= #run.targets do
    local t = run.targets[i]
    if run.canary > 0 and not run.canary_passed and i > run.canary then break end
    if t.status == "waiting" then
      if run.by_host and not t.host then
        if resolved >= run.parallel then break end
        resolved = resolved + 1
        local host, message = run.resolve(t.target)
        if host then
          t.host = host
        else
          t.status = "failed"
          count_failure(run, t, message)
          if view.finished then view:finished(t, run) end
          check_stop(run)
        end
      end
      if t.status == "waiting" and not run.stopped and (not t.host or (run.per_host[t.host] or 0) < run.per_host_limit) then
        start(run, t, view)
      end
    end
    i = i + 1
  end
  while run.targets[run.first_waiting] and run.targets[run.first_waiting].status ~= "waiting" do
    run.first_waiting = run.first_waiting + 1
  end
end

local function waiting_left(run)
  return run.first_waiting <= #run.targets
end

local function loop(run, view, tick)
  while true do
    poll(run, view)
    check_stop(run)
    start_more(run, view)
    if run.active == 0 and (run.stopped or not waiting_left(run)) then break end
    if view.refresh then view:refresh(run) end
    sys.sleep(tick)
  end
end

-- After Ctrl-C or an error: one Ctrl-C to each child, then wait for them
-- to roll back what they were doing and exit.
local function stop_children(run, view)
  for _, c in pairs(run.running) do c:interrupt() end
  while run.active > 0 do
    poll(run, view)
    if run.active > 0 then sys.sleep(0.02) end
  end
end

-- fleet.run(opts) -> run
--   targets       service names or conninfos, in order (required)
--   args          the flags of each `ladle upgrade` (fleet.upgrade_args)
--   exe           the ladle executable (default fleet.executable())
--   parallel      upgrades at once (default 4)
--   per_host      upgrades at once on one server, host:port as libpq
--                 resolves it (default 2)
--   canary        upgrade this many targets first; stop if one fails
--   max_failures  no new start once this many failed (default 1; 0: never)
--   dry_run       the children run with --dry-run
--   view          an object told what happens: view:started(t, run),
--                 view:finished(t, run), view:refresh(run) (ladle.fleet.view)
--   resolve       target -> host key | nil, message (default fleet.host_of)
-- run.targets[i]: {target, name, status ("upgraded", "up to date",
-- "would apply", "failed", "interrupted", "not started"), from, to,
-- applied, ms, message, exit, would (a dry run's delta labels)}.
-- run.stopped: "canary" or "failures" when new starts stopped;
-- run.failures: how many failed; run.error: what stopped the fleet itself
-- (Ctrl-C, an internal failure), after every child was interrupted and
-- had exited. The caller reports and raises it.
function fleet.run(opts)
  assert(type(opts) == "table" and type(opts.targets) == "table", "fleet.run: targets (a list) is required")
  local parallel, per_host = opts.parallel or 4, opts.per_host or 2
  assert(math.type(parallel) == "integer" and parallel >= 1, "fleet.run: parallel must be a positive integer")
  assert(math.type(per_host) == "integer" and per_host >= 1, "fleet.run: per_host must be a positive integer")
  local run = {
    targets = {}, running = {}, per_host = {}, active = 0, failures = 0, first_waiting = 1,
    parallel = parallel, per_host_limit = per_host, canary = opts.canary or 0,
    max_failures = opts.max_failures or 1, dry_run = opts.dry_run == true,
    args = opts.args or {}, exe = opts.exe or fleet.executable(), resolve = opts.resolve or fleet.host_of,
    -- a bound per server can only bind when it is below the overall one
    by_host = per_host < parallel,
  }
  assert(run.exe, "fleet.run: no ladle executable found (pass exe)")
  for i, target in ipairs(opts.targets) do
    run.targets[i] = { index = i, target = target, name = fleet.name(target), status = "waiting" }
  end
  local view = opts.view or {}
  local scratch, why = sys.mkdtemp("ladle-fleet-")
  if not scratch then errors.fail("system", "fleet: %s", why) end
  run.scratch = scratch
  local ok, err = pcall(loop, run, view, opts.tick or 0.05)
  if not ok then
    run.error = err
    stop_children(run, view)
  end
  sys.rmtree(scratch)
  for _, t in ipairs(run.targets) do
    if t.status == "waiting" then t.status = "not started" end
  end
  if view.close then view:close(run) end
  return run
end

return fleet
