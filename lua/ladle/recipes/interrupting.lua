-- With service interruption: stop, every pending delta, deploy, start.
--
-- Stops the services, applies every pending pre and post delta, deploys the
-- code of the target version and starts the services again. The simple
-- order, for when the services can stop: nothing old runs against the new
-- schema, nothing new against the old one. If a delta fails, the code is
-- not deployed and the services stay stopped: fix the delta and run the
-- recipe again; it resumes after the last applied delta.
--
-- @flag --stop=CMD stop the services that use the database
-- @flag --deploy=CMD deploy the code of the target version ({version})
-- @flag --start=CMD start the services again
-- @example ladle run interrupting -p prod -d migrations --stop 'systemctl stop app' --deploy './deploy.sh {version}' --start 'systemctl start app'
-- @example ladle run interrupting -c db.yaml --to 2.1.0 --dry-run

local ladle = require "ladle"
local opts = ...
local r = ladle.recipe.new(opts)

local plan = r:plan()
local steps = plan:versions()
if #steps == 0 then r:say("No pending delta: the hooks still run (a release of code only).") end

-- the version deployed: --to when given, else the newest with pending deltas
local target = plan.target or (steps[#steps] and steps[#steps].version) or plan.current_version or ""
local vars = r:vars(target)

if opts.stop then r:hook(opts.stop, vars) end

local ok, err = pcall(plan.apply, plan, "all")
if not ok then
  if ladle.errors.is_failure(err) and opts.stop then
    ladle.fail(err.kind, "%s (the services are still stopped; nothing was deployed)", err.message)
  end
  error(err, 0)
end

if opts.deploy then r:hook(opts.deploy, vars) end
if opts.start then r:hook(opts.start, vars) end
r:done(plan)
