-- Fleet: upgrade many databases in turn; stop at the first failure.
--
-- Upgrades each service given with --services, in order, with the same
-- delta folder (one database per tenant, per region, ...). The first
-- failure stops the run, so a bad delta reaches one database, not all of
-- them. At the end, or at the failure, a table says where each database
-- stands: upgraded, already up to date, failed (with the reason), or not
-- reached.
--
--   ladle run examples/recipes/fleet.lua -d migrations --services tenant_a tenant_b tenant_c
--
-- @flag --services=SERVICE (required) (many) the databases, as service names or conninfos, in order

local ladle = require "ladle"
local opts = ...
local r = ladle.recipe.new(opts)

local results = {}
local failure

for _, service in ipairs(opts.services) do
  -- a conninfo may hold a password: shown as libpq reads it, without
  local name = service:find("[=/]") and ladle.pg.target_name(service) or service
  local entry = { service = name, status = "not reached" }
  results[#results + 1] = entry
  if not failure then
    local ok, err = pcall(function()
      local plan = r:plan { pg_service = service }
      entry.from = plan.current_version or "none"
      r:say("== %s (at %s)", entry.service, entry.from)
      local count = plan:apply("all")
      entry.to = plan.current_version or "none"
      entry.status = count == 0 and "up to date" or string.format("upgraded (%d deltas)", count)
      if plan.dry_run and count > 0 then entry.status = string.format("would apply %d deltas", count) end
      plan.conn:close()
    end)
    if not ok then
      failure = err
      entry.status = "FAILED: " .. tostring(ladle.errors.is_failure(err) and err.message or err)
    end
  end
end

r:say("")
local width = 7
for _, row in ipairs(results) do width = math.max(width, #row.service) end
r:say("%-" .. width .. "s  %-7s  %-7s  %s", "SERVICE", "FROM", "TO", "STATUS")
for _, row in ipairs(results) do
  r:say("%-" .. width .. "s  %-7s  %-7s  %s", row.service, row.from or "", row.to or "", row.status)
end

if failure then
  local done = 0
  for _, row in ipairs(results) do
    if row.status:match("^upgraded") or row.status == "up to date" then done = done + 1 end
  end
  ladle.fail(ladle.errors.is_failure(failure) and failure.exit or 3,
    "fleet stopped at the first failure: %d of %d databases up to date", done, #results)
end
