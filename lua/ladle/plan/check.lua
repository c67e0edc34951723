-- ladle.plan.check: what stops a plan from running, found before the
-- first delta runs (plan:check in ladle.plan says which failures).

local errors = require "ladle.errors"

local check = {}
local fail = errors.fail

-- check.run(plan, list) raises the first failure; every delta of list is
-- read and checked (plan:_prepare).
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
  if #changed > 0 then
    local names = {}
    for _, e in ipairs(changed) do names[#names + 1] = e.path or e.script end
    fail("input", "%d applied delta%s changed since applied, nothing was run: %s (accept with 'ladle repair')",
      #changed, #changed == 1 and "" or "s", table.concat(names, ", "))
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
