-- Tenants: upgrade the databases a control database lists, one canary first.
--
-- A recipe of one's own on ladle.fleet, the library behind `ladle run
-- fleet`: the targets are what a query on a control database returns (one
-- service name or conninfo per row, in the order to upgrade them), the
-- first one is a canary, and each tenant's outcome is written back to the
-- control database (--record) so that a dashboard sees where each stands.
-- Exit 1 when a tenant failed; run it again to resume.
--
--   ladle run examples/recipes/fleet.lua -d migrations --control ops \
--     --query "SELECT conninfo FROM tenants WHERE active ORDER BY size" \
--     --record "UPDATE tenants SET schema_version = \$2, upgrade_status = \$3 WHERE conninfo = \$1"
--
-- @flag --control=SERVICE (required) the database that lists the tenants
-- @flag --query=SQL (required) the tenants, first column of each row, in order
-- @flag --record=SQL run for each tenant at the end with $1 the tenant, $2 its version, $3 its status
-- @flag --parallel=N upgrades at once (default 4)

local ladle = require "ladle"
local fleet = require "ladle.fleet"
local view = require "ladle.fleet.view"
local opts = ...
local r = ladle.recipe.new(opts)

local control <close> = ladle.session.connect { pg_service = opts.control }
local rows, message = control:query(opts.query)
if not rows then ladle.fail("input", "--query: %s", message) end
local targets = {}
for _, row in ipairs(rows) do targets[#targets + 1] = row[rows.fields[1]] end
if #targets == 0 then
  r:say("No tenant to upgrade.")
  return
end

local args, why = fleet.upgrade_args(opts)
if not args then ladle.fail("usage", "%s", why) end
local run = fleet.run {
  targets = targets, args = args, canary = 1, parallel = math.tointeger(tonumber(opts.parallel or "4")),
  per_host = 2, dry_run = r.dry_run, view = view.new { out = r.out, live = ladle.sys.isatty(r.out) },
}
view.table(run, { out = r.out })
if run.error then error(run.error, 0) end

if opts.record and not r.dry_run then
  for _, t in ipairs(run.targets) do
    local ok, err = control:query(opts.record, t.target, t.to or ladle.null, t.status)
    if not ok then ladle.fail("database", "--record: %s", err) end
  end
end
if run.failures > 0 then
  ladle.fail("found", "%d of %d tenants failed%s", run.failures, #targets,
    run.stopped == "canary" and " (the canary: no other tenant was touched)" or "")
end
