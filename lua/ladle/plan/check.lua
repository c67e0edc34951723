-- ladle.plan.check: what stops a plan, or one of its deltas, from running,
-- found before anything runs (as Flyway's validate):
--   the database has objects but no upgrades table
--   the user may not write the table
--   applied deltas whose file changed: a failure naming 'ladle repair',
--     or with on_changed = "warn" one warning each, and the plan goes on
--   a delta labelled below the current version, without out_of_order
--   a delta that cannot run as it is (plan:_prepare reads and checks it:
--     a %(NAME)s without its variable, psql meta-commands, no python3, ...)

local errors = require "ladle.errors"

local check = {}
local fail = errors.fail

local function warn(plan, text)
  local reporter = plan.reporter
  if reporter.warning then reporter:warning(text) end
end

-- check.run(plan, list) raises the failure; returns nothing.
function check.run(plan, list)
  if not plan.table_exists and not plan.fresh then
    fail("input", "database %s has no upgrades table %s and is not empty: record the version it is at with "
      .. "'ladle baseline -b VERSION' first", plan.conn:info().dbname, plan.table)
  end
  if plan.table_exists and plan.can_write == false and #(list or {}) > 0 then
    local info = plan.conn:info()
    fail("database", "%s: user %s may not insert into and update %s; nothing was run", info.dbname, info.user,
      plan.table)
  end
  local changed = plan:changed()
  if #changed > 0 and plan.on_changed == "warn" then
    for _, e in ipairs(changed) do
      if not plan.warned[e.delta] then
        plan.warned[e.delta] = true
        warn(plan, string.format("%s changed since it was applied on %s; going on (on_changed: warn)",
          e.path or e.script, e.installed_on or "?"))
      end
    end
  elseif #changed > 0 then
    local names = {}
    for _, e in ipairs(changed) do names[#names + 1] = e.path or e.script end
    fail("input", "%d applied delta%s changed since applied, nothing was run: %s (accept the new content with "
      .. "'ladle repair', or go on regardless with --on-changed warn)", #changed, #changed == 1 and "" or "s",
      table.concat(names, ", "))
  end
  for _, e in ipairs(list or {}) do
    if e.out_of_order and not plan.out_of_order then
      fail("input", "%s was never applied but is labelled below the current version %s; rename it to a newer "
        .. "version, or allow it with --out-of-order", e.path, plan.current_version)
    end
    plan:_prepare(e)
  end
end

return check
