-- ladle.plan.records: what a plan writes to the upgrades table besides
-- the rows of the deltas it applies: new checksums (ladle repair) and a
-- baseline (ladle baseline). Both run under the table's lock.

local errors = require "ladle.errors"
local tracker = require "ladle.tracker"

local records = {}
local fail = errors.fail

-- records.repair(plan) -> the entries whose recorded checksum was replaced
-- by the file's. Raises a failure.
function records.repair(plan)
  if plan.dry_run then
    local note = plan.reporter.note
    for _, e in ipairs(plan:changed()) do
      if note then note(plan.reporter, "Would record the new checksum of " .. e.path) end
    end
    return plan:changed()
  end
  return plan:_locked(function()
    local repaired = {}
    for _, e in ipairs(plan:changed()) do
      local ok, message = plan.tracker:set_checksum(e.row.id, e.checksum)
      if not ok then fail("database", "%s: %s", plan.table, message) end
      e.row.checksum = e.checksum
      e.status, e.reason = "applied", nil
      repaired[#repaired + 1] = e
    end
    return repaired
  end)
end

-- records.baseline(plan, v) -> true: the database is at version v (pum's
-- baseline row), when the table records no version yet. Raises a failure.
function records.baseline(plan, v)
  return plan:_locked(function()
    if tracker.current_version(plan.rows) then
      fail("input", "%s already records version %s; a baseline only starts an empty table", plan.table,
        tracker.current_version(plan.rows))
    end
    local ok, message = plan.tracker:baseline(v)
    if not ok then fail("database", "%s: %s", plan.table, message) end
    ok, message = plan:refresh()
    if not ok then fail("database", "%s", message) end
    return true
  end)
end

return records
