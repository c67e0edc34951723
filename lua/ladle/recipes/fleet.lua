-- Fleet: upgrade many databases in parallel, canary first, stop on failures.
--
-- Upgrades every target (--services, or --targets FILE: one service name
-- or conninfo per line, # comments) with the same deltas, each by its own
-- `ladle upgrade` process: its own lock, each delta in its own
-- transaction. At most --parallel at once, and at most --per-host on one
-- server (host:port as libpq resolves the target). --canary K upgrades the
-- first K targets first and stops if one fails. Once --max-failures
-- targets failed, no new upgrade starts; running ones finish. On a
-- terminal a live table shows the running targets; piped, one line per
-- start and end. At the end a table says where each target stands (--json:
-- one object per target). Run it again to resume: upgraded targets have
-- nothing left to do. Exit status: 0 all upgraded (or up to date); 1 a
-- target failed (the run stopped at the threshold or after the canary); 2
-- bad usage; 3 the fleet itself failed; 130 interrupted.
--
-- @flag --services=SERVICE (many) the databases: service names or conninfos, in order
-- @flag --targets=FILE a file of targets, one service name or conninfo per line
-- @flag --parallel=N upgrades at once (default 4)
-- @flag --per-host=N upgrades at once on one server (default 2)
-- @flag --canary=K upgrade the first K targets first; stop if one fails
-- @flag --max-failures=F no new start once F targets failed; 0: no limit (default 1)
-- @flag --phase=PHASE pre, post or all (default all), as for upgrade
-- @example ladle run fleet --targets tenants.txt -d migrations --parallel 8 --per-host 2 --canary 3
-- @example ladle run fleet --services tenant_a tenant_b -d migrations --to 2.1.0 --dry-run

local ladle = require "ladle"
local fleet = require "ladle.fleet"
local view = require "ladle.fleet.view"
local sys = ladle.sys
local opts = ...
local r = ladle.recipe.new(opts)
local fail = ladle.fail

local function count(flag, value, default, least)
  if value == nil then return default end
  local n = math.tointeger(tonumber(value))
  if not n or n < least then fail("usage", "fleet: %s expects a whole number of at least %d, not '%s'", flag, least, value) end
  return n
end

local parallel = count("--parallel", opts.parallel, 4, 1)
local per_host = count("--per-host", opts.per_host, 2, 1)
local canary = count("--canary", opts.canary, 0, 0)
local max_failures = count("--max-failures", opts.max_failures, 1, 0)
if opts.retries then count("--retries", opts.retries, 0, 0) end
if opts.phase and not ({ pre = true, post = true, all = true })[opts.phase] then
  fail("usage", "fleet: bad value '%s' for --phase: expected pre, post or all", opts.phase)
end

if opts.services and opts.targets then fail("usage", "fleet: --services or --targets, not both") end
local targets = opts.services
if opts.targets then
  local message, details
  targets, message, details = fleet.read_targets(opts.targets)
  if not targets then ladle.errors.raise(message, details) end
end
if not targets or #targets == 0 then
  fail("usage", "fleet: no targets: pass --services SERVICE... or --targets FILE")
end

local args, why = fleet.upgrade_args(opts)
if not args then fail("usage", "fleet: %s", why) end
for _, dir in ipairs(opts.dirs or { opts.dir }) do
  local st = sys.stat(dir)
  if not st or st.type ~= "directory" then fail("input", "fleet: -d %s: no such folder", dir) end
end

-- Progress goes where the recipe's lines go (stderr with --json); a live
-- table only on a terminal, colour only there and without NO_COLOR.
local terminal = sys.isatty(r.out) == true
local no_color = (os.getenv("NO_COLOR") or "") ~= ""
local progress = view.new {
  out = r.out, live = terminal, color = terminal and not no_color,
  width = math.tointeger(tonumber(os.getenv("COLUMNS") or "")) or 80,
}

local run = fleet.run {
  targets = targets, args = args, parallel = parallel, per_host = per_host, canary = canary,
  max_failures = max_failures, dry_run = r.dry_run, view = progress,
}

if opts.json then
  view.json(run, io.stdout)
else
  io.stdout:write("\n")
  view.table(run, { out = io.stdout, color = sys.isatty(io.stdout) == true and not no_color })
end

if run.error then
  if ladle.errors.is_failure(run.error) then
    fail(run.error.kind, "fleet stopped: %s", run.error.message)
  end
  error(run.error, 0)
end

local tally = {}
for _, t in ipairs(run.targets) do tally[t.status] = (tally[t.status] or 0) + 1 end
if run.failures > 0 then
  local not_started = tally["not started"] or 0
  local why_stopped = run.stopped == "canary" and "a canary failed"
    or run.stopped == "failures" and string.format("%d failure%s reached --max-failures", run.failures,
      run.failures == 1 and "" or "s")
    or string.format("%d failed", run.failures)
  fail("found", "fleet: %s; %d of %d targets failed, %d not started (fix and run again to resume)",
    why_stopped, run.failures, #run.targets, not_started)
end
r:say("%d target%s: %d upgraded, %d up to date%s.", #run.targets, #run.targets == 1 and "" or "s",
  tally.upgraded or 0, tally["up to date"] or 0,
  r.dry_run and string.format(", %d would be upgraded (dry run)", tally["would apply"] or 0) or "")
