-- ladle.delta.checks: what makes a scanned delta unusable besides its
-- name's layout. delta.scan refuses it (bad input, before anything runs);
-- lint lists it.

local version = require "ladle.version"

local checks = {}

-- The widths of the upgrades table's columns (pum 0.x's DDL): a name that
-- does not fit would be recorded cut, never match its row, and run again
-- on every upgrade.
checks.COLUMN_LIMITS = { version = 50, description = 200, script = 1000 }

-- checks.unrecordable(d) -> why d cannot be recorded as it is, or nil.
function checks.unrecordable(d)
  if not utf8.len(d.script) then return "the name is not UTF-8; rename the file" end
  for _, column in ipairs { "version", "description", "script" } do
    local length = d[column] and utf8.len(d[column]) or 0
    if length > checks.COLUMN_LIMITS[column] then
      return string.format("the %s has %d characters; the upgrades table keeps %d", column, length,
        checks.COLUMN_LIMITS[column])
    end
  end
end

-- checks.zero_byte(path, byte, line) -> the problem of a file holding a
-- zero byte: libpq sends text up to it, so the rest (COMMIT included)
-- would never run.
function checks.zero_byte(path, byte, line)
  return string.format("%s:%d: a zero byte (NUL) at byte %d; a delta is text and cannot hold one", path, line, byte)
end

-- 1.2.0 -> 1.2: trailing zero components dropped.
local function canonical(v)
  local parsed = version.parse(v)
  local last = #parsed
  while last > 1 and parsed[last] == "0" do last = last - 1 end
  return table.concat(parsed, ".", 1, last)
end

-- checks.spelled_twice(list) -> problems: two spellings of one version
-- (1.2 and 1.2.0) with the same phase and the same serial or name, whose
-- order only the spelling would decide.
function checks.spelled_twice(list)
  local problems, seen = {}, {}
  for _, d in ipairs(list) do
    local phase = d.phase_marked or "unmarked"
    for _, slot in ipairs { "name " .. d.description:lower(), d.serial and ("serial " .. d.serial) } do
      local key = canonical(d.version) .. "|" .. phase .. "|" .. slot
      local other = seen[key]
      if other and other.version ~= d.version then
        problems[#problems + 1] = string.format("%s and %s are two deltas of one version spelled differently "
          .. "(%s and %s) with the same phase (%s) and %s: rename one", other.path, d.path, other.label, d.label, phase,
          slot)
        break
      end
      seen[key] = seen[key] or d
    end
  end
  return problems
end

return checks
