-- ladle.plan.records: what a plan writes to the upgrades table besides
-- the rows of the deltas it applies: new checksums (ladle repair) and a
-- baseline (ladle baseline), refusing a baseline that would leave no way
-- back. Both run under the table's lock.

local errors = require "ladle.errors"
local tracker = require "ladle.tracker"

local records = {}
local fail = errors.fail

-- records.repair(plan) -> the entries whose recorded checksum was replaced
-- by the file's. Raises a failure.
function records.repair(plan)
  if plan.dry_run then
    for _, e in ipairs(plan:changed()) do plan:emit("note", "Would record the new checksum of " .. e.path) end
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

local function suggestion(opts, extra)
  if opts.suggest then return opts.suggest("baseline", extra) end
  return "ladle baseline " .. extra
end

-- Rows that record something applied: deltas, and install scripts (type 0
-- rows with a script); a bare baseline row is not.
local function applied_rows(rows)
  local n = 0
  for _, row in ipairs(rows) do
    if row.success and not (row.type == 0 and (row.script or "") == "") then n = n + 1 end
  end
  return n
end

-- records.baseline_table(t, v, opts) -> true: the rules of a baseline,
-- for the tracker t whose lock the caller holds (ladle baseline without a
-- folder uses it directly). A table that already records a version is
-- refused: a baseline starts a history, it does not rewrite it. One
-- exception, for a baseline given at the wrong version: when nothing was
-- applied on top of it, opts.force replaces it. A table in a schema that
-- does not exist is refused unless opts.create_schema (a mistyped -t would
-- start a second history): the refusal names the upgrades tables the
-- database has. opts.suggest: as plan.new's; opts.dry_run: check the
-- rules, write nothing. Raises a failure.
function records.baseline_table(t, v, opts)
  opts = opts or {}
  local state, message, details = t:inspect()
  if not state then errors.raise(message, details, "database") end
  local replace = false
  if not state.exists and not state.schema_exists and not opts.create_schema then
    local others = tracker.find_tables(t.conn) or {}
    fail("input", "there is no schema %s for %s; %s (pass --create-schema to create it)", t.schema, t.name,
      #others > 0 and ("the database's upgrades tables: " .. table.concat(others, ", "))
        or "the database has no upgrades table yet")
  elseif state.exists then
    local rows
    rows, message, details = t:rows()
    if not rows then errors.raise(message, details, "database") end
    local current = tracker.current_version(rows)
    if current then
      local on_top = applied_rows(rows)
      if on_top > 0 then
        fail("input", "%s already records version %s and %d delta%s applied on top of it; a baseline only starts "
          .. "an empty table", t.name, current, on_top, on_top == 1 and " was" or "s were")
      end
      if not opts.force then
        fail("input", "%s already records version %s as its baseline; a baseline only starts an empty table, but "
          .. "nothing was applied on top of it: '%s' replaces it", t.name, current,
          suggestion(opts, "--force -b " .. v))
      end
      replace = true
    end
  end
  if opts.dry_run then return true end
  local ok
  ok, message = t:baseline(v, { replace = replace })
  if not ok then fail("database", "%s: %s", t.name, message) end
  return true
end

-- records.baseline(plan, v[, opts]) -> true: the database is at version v
-- (pum's baseline row), under the lock, by records.baseline_table's rules;
-- a dry-run plan checks them and writes nothing. Raises a failure.
function records.baseline(plan, v, opts)
  return plan:_locked(function()
    local merged = { suggest = plan.suggester, dry_run = plan.dry_run }
    for k, value in pairs(opts or {}) do merged[k] = value end
    records.baseline_table(plan.tracker, v, merged)
    if merged.dry_run then
      -- the rules were checked; nothing is written
      plan:emit("note", string.format("Would record baseline %s in %s", v, plan.table))
      return true
    end
    local ok, message = plan:refresh()
    if not ok then fail("database", "%s", message) end
    return true
  end)
end

return records
