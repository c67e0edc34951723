-- Canary: per version, pre deltas, canary deploy, smoke test, everywhere, post.
--
-- For each version with pending deltas: apply its pre deltas, deploy the
-- new code to the canary only, run the smoke test against the canary, and
-- only when it passes deploy everywhere and apply the post deltas. A
-- failing smoke test stops the rollout with the canary on the new code and
-- everything else on the old one; the schema is still compatible with both
-- (only pre deltas ran). Fix, then run the recipe again: it resumes.
--
--   ladle run examples/recipes/canary.lua -p prod -d migrations \
--     --canary './deploy.sh canary {version}' --smoke './smoke.sh canary' \
--     --deploy './deploy.sh all {version}'
--
-- @flag --canary=CMD (required) deploy version {version} to the canary
-- @flag --smoke=CMD (required) smoke-test the canary; a non-zero exit stops the rollout
-- @flag --deploy=CMD (required) deploy version {version} everywhere

local ladle = require "ladle"
local opts = ...
local r = ladle.recipe.new(opts)

local plan = r:plan()
local steps = plan:versions()
if #steps == 0 then
  r:say("Nothing to upgrade.")
  r:done(plan)
  return
end

plan:run_hooks("pre-all")
for _, step in ipairs(steps) do
  local vars = r:vars(step.version)
  step:apply("pre")
  r:hook(opts.canary, vars)
  local ok, err = pcall(r.hook, r, opts.smoke, vars)
  if not ok then
    if not ladle.errors.is_failure(err) then error(err, 0) end
    ladle.fail(err.exit, "%s: the canary runs %s, everything else the version before; post deltas of %s not "
      .. "applied (run again to resume)", err.message, step.version, step.version)
  end
  r:hook(opts.deploy, vars)
  step:apply("post")
end
plan:run_hooks("post-all")
r:done(plan)
