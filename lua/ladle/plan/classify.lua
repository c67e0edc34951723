-- ladle.plan.classify: what each delta of a folder is for one database.
--
-- Given the scanned deltas and the upgrades table's rows, gives every
-- delta an entry with its status and the reason:
--   applied          a successful row has its version and name (or, pum's
--                    rule, its version and checksum under another name)
--   changed          applied, but the file's checksum is no longer the row's
--   below baseline   labelled below the baseline (or the install script an
--                    empty database starts from): never runs
--   pending          everything else; out_of_order when labelled below the
--                    current version, beyond_target when above --to
--   missing          a row whose file is gone
-- Entries belong to the plan (input.entries maps each delta to its entry,
-- kept across re-reads so that a step built before the lock sees the
-- statuses read after it); the scanned delta records are never written.
-- An entry reads every field it lacks from its delta (entry.path,
-- entry:type_code()), so callers use it as they would the delta.

local catalog = require "ladle.catalog"
local delta = require "ladle.delta"
local tracker = require "ladle.tracker"
local version = require "ladle.version"

local classify = {}

local vcompare = version.compare

local Entry = {}
Entry.__index = function(entry, key) return rawget(entry, "delta")[key] end
Entry.__tostring = function(entry)
  return string.format("delta %s (%s)", entry.path or entry.file, entry.status or "not classified")
end
classify.Entry = Entry

-- classify.entry(d) -> a new entry for delta d (no status yet).
function classify.entry(d)
  return setmetatable({ delta = d }, Entry)
end

local function basename(path)
  return (path or ""):match("([^/\\]*)$")
end

local STATUS_FIELDS = { "status", "reason", "row", "installed_on", "installed_by", "execution_time", "out_of_order",
  "beyond_target" }

-- The entry of d in the map, created once and cleared on each re-read.
local function entry_of(entries, d)
  local e = entries[d]
  if not e then
    e = classify.entry(d)
    entries[d] = e
  else
    for _, field in ipairs(STATUS_FIELDS) do e[field] = nil end
  end
  return e
end

local function set_row(e, row)
  e.row = row
  e.installed_on = row.installed_on
  e.installed_by = row.installed_by
  e.execution_time = row.execution_time
end

local kind_of_type = { [4] = "lua", [5] = "lua", [6] = "lua", [8] = "sql", [9] = "sql", [10] = "sql", [20] = "lua",
  [24] = "sql" }
local kind_of_extension = { py = "python", lua = "lua", sql = "sql" }
local phase_of_type = { [5] = "pre", [9] = "pre", [6] = "post", [10] = "post" }

-- A Flyway repeatable's row (pum never writes the flag).
local function is_repeatable_row(row)
  return row.type ~= nil and row.type & delta.REPEATABLE_FLAG ~= 0
end

-- An entry for a recorded delta whose file is gone.
local function missing_entry(input, row)
  local v = version.normalize(row.version or "") or (row.version or "?")
  local phase = phase_of_type[row.type]
  local repeatable = is_repeatable_row(row)
  local record = setmetatable({
    version = not repeatable and v or nil, label = row.version, file = basename(row.script), script = row.script,
    description = row.description, phase = not repeatable and (phase or input.unmarked) or nil,
    kind = kind_of_extension[(row.script or ""):match("%.(%w+)$") or ""] or kind_of_type[row.type],
    phase_marked = phase, unmarked = phase == nil and not repeatable, checksum = row.checksum, repeatable = repeatable,
    layout = repeatable and "flyway" or nil,
  }, delta.Delta)
  local e = classify.entry(record)
  e.status = "missing"
  e.reason = string.format("recorded in %s, but %s has no such file", input.table, input.dir)
  set_row(e, row)
  return e
end

-- The successful rows by "version/file name" (a list: with several
-- folders two files may share a name), and install rows by file name.
local function index_rows(rows)
  local by_key, by_install = {}, {}
  for _, row in ipairs(rows) do
    if row.success and not is_repeatable_row(row) then
      local file = basename(row.script)
      if row.type == delta.BASELINE_TYPE then
        if file ~= "" then by_install[file] = by_install[file] or row end
      else
        local v = version.normalize(row.version or "")
        if v and file ~= "" then
          local key = v .. "/" .. file
          by_key[key] = by_key[key] or {}
          table.insert(by_key[key], row)
        end
      end
    end
  end
  return by_key, by_install
end

-- Of the unclaimed rows with e's version and name, the one with its
-- checksum, else the first.
local function row_for(candidates, e, claimed)
  local first
  for _, row in ipairs(candidates or {}) do
    if not claimed[row] then
      if row.checksum == e.checksum then return row end
      first = first or row
    end
  end
  return first
end

-- 1. a row with the file's version and name; 2. pum's rule: a row with the
-- same version and checksum is that delta, whatever its name was then.
local function match_applied(input, entries, claimed)
  local by_key, by_install = index_rows(input.rows)
  for _, e in ipairs(entries) do
    local row = not e.repeatable and row_for(by_key[e.version .. "/" .. e.file], e, claimed)
    if row then
      claimed[row] = true
      set_row(e, row)
      if row.checksum == e.checksum or row.checksum == "" then
        e.status = "applied"
      else
        e.status = "changed"
        e.reason = string.format("the file changed after it was applied on %s (recorded checksum %s, now %s)",
          row.installed_on or "?", row.checksum, e.checksum)
      end
    end
  end
  local by_sum = {}
  for _, row in ipairs(input.rows) do
    if row.success and not claimed[row] and row.type ~= delta.BASELINE_TYPE and row.checksum ~= ""
        and not is_repeatable_row(row) then
      local v = version.normalize(row.version or "")
      if v then by_sum[v .. "/" .. row.checksum] = by_sum[v .. "/" .. row.checksum] or row end
    end
  end
  for _, e in ipairs(entries) do
    if not e.status and not e.repeatable then
      local row = by_sum[e.version .. "/" .. e.checksum]
      if row and not claimed[row] then
        claimed[row] = true
        set_row(e, row)
        e.status = "applied"
        e.reason = "recorded under the name " .. row.script
      end
    end
  end
  return by_install
end

-- Install scripts: the recorded ones, and on an empty database the newest
-- at or below the target, which the upgrade starts from.
local function match_install(input, by_install, claimed, out)
  local chosen
  for _, d in ipairs(input.install_scripts) do
    local row = by_install[d.file]
    if row then
      local e = entry_of(input.entries, d)
      claimed[row] = true
      set_row(e, row)
      e.status = row.checksum == d.checksum and "applied" or "changed"
      if e.status == "changed" then
        e.reason = string.format("the install script changed after it ran on %s", row.installed_on or "?")
      end
      out[#out + 1] = e
    end
  end
  if input.fresh then
    for _, d in ipairs(input.install_scripts) do
      if not input.target or vcompare(d.version, input.target) <= 0 then chosen = d end
    end
  end
  if chosen then
    local e = entry_of(input.entries, chosen)
    e.status = "pending"
    e.reason = "the database is empty: it starts from this install script"
    out[#out + 1] = e
    return e
  end
end

-- Flyway repeatables: pending when never run, or when the file's checksum
-- differs from the one of its last successful run. Their rows are history:
-- the last one of a file that is gone is reported missing.
local function match_repeatables(input, entries, claimed)
  local last = {}
  for _, row in ipairs(input.rows) do
    if row.success and is_repeatable_row(row) then
      claimed[row] = true
      last[basename(row.script)] = row
    end
  end
  local seen = {}
  for _, e in ipairs(entries) do
    if e.repeatable then
      local row = last[e.file]
      seen[e.file] = true
      if row then set_row(e, row) end
      if row and row.checksum == e.checksum then
        e.status = "applied"
      else
        e.status = "pending"
        e.reason = row and "changed since its last run" or nil
      end
    end
  end
  local gone = {}
  for file, row in pairs(last) do
    if not seen[file] then gone[#gone + 1] = missing_entry(input, row) end
  end
  return gone
end

-- classify.run(input) -> entries (sorted as they run), install entry or nil
-- input: entries (the plan's map, filled in here), files (scanned
-- deltas), install_scripts, rows (the table's), baseline,
-- current_version, target, fresh (an empty database), table, dir, unmarked.
function classify.run(input)
  local claimed, out = {}, {}
  local entries = {}
  for i, d in ipairs(input.files) do entries[i] = entry_of(input.entries, d) end
  local gone = match_repeatables(input, entries, claimed)
  local by_install = match_applied(input, entries, claimed)
  local install = match_install(input, by_install, claimed, out)
  local floor, floor_reason = input.baseline, input.baseline and ("below the baseline " .. input.baseline)
  if install then floor, floor_reason = install.version, "below the install script " .. install.file end
  for _, e in ipairs(entries) do
    if not e.status then
      if floor and vcompare(e.version, floor) < 0 then
        e.status, e.reason = "below baseline", floor_reason
      else
        e.status = "pending"
        if input.current_version and vcompare(e.version, input.current_version) < 0 then
          e.out_of_order = true
          e.reason = "out of order: labelled below the current version " .. input.current_version
        end
      end
    end
    if e.status == "pending" and input.target and e.version and vcompare(e.version, input.target) > 0 then
      e.beyond_target = true
      e.reason = (e.reason and e.reason .. "; " or "") .. "above the target " .. input.target
    end
    out[#out + 1] = e
  end
  for _, row in ipairs(input.rows) do
    if row.success and not claimed[row] and row.type ~= delta.BASELINE_TYPE then
      out[#out + 1] = missing_entry(input, row)
    end
  end
  table.move(gone, 1, #gone, #out + 1, out)
  table.sort(out, delta.before)
  return out, install
end

-- What the upgrades table says, and whether the database is empty, read
-- into the plan, then every status computed.
local function read_state(plan)
  local state, message, details = plan.tracker:inspect()
  if not state then return nil, message, details end
  local rows = {}
  if state.exists then
    rows, message, details = plan.tracker:rows()
    if not rows then return nil, message, details end
  end
  plan.rows, plan.table_exists, plan.can_write = rows, state.exists, state.can_write
  plan.current_version = tracker.current_version(rows)
  plan.baseline = tracker.baseline_version(rows)
  plan.fresh = false
  local any = false
  for _, row in ipairs(rows) do any = any or row.success end
  if not any then
    local empty
    empty, message, details = plan.tracker:database_is_empty()
    if empty == nil then return nil, message, details end
    plan.fresh = empty
  end
  plan.deltas, plan.install = classify.run {
    entries = plan.entries, files = plan.files, install_scripts = plan.install_scripts, rows = rows,
    baseline = plan.baseline, current_version = plan.current_version, target = plan.target, fresh = plan.fresh,
    table = plan.table, dir = table.concat(plan.dirs, ", "), unmarked = plan.unmarked,
  }
  return true
end

-- classify.read(plan) -> true | nil, message, details: plan:refresh. The
-- table, its rows and whether the database is empty are read in one
-- snapshot: read apart, another upgrade's first commit could fall between
-- them.
function classify.read(plan)
  return catalog.run(plan.conn, function() return read_state(plan) end)
end

return classify
