-- ladle.delta.checks: what makes a scanned delta unusable besides its
-- name's layout and slot: a name that cannot be recorded whole, a zero
-- byte. delta.scan refuses it (bad input, before anything runs); lint
-- lists it.

local checks = {}

-- The widths of the upgrades table's columns (pum 0.x's DDL): a name that
-- does not fit would be recorded cut, never match its row, and run again
-- on every upgrade.
checks.COLUMN_LIMITS = { version = 50, description = 200, script = 1000 }

-- checks.unrecordable(d) -> why d cannot be recorded as it is, or nil.
function checks.unrecordable(d)
  local limits = checks.COLUMN_LIMITS
  -- the common case, ASCII that fits, without counting characters
  if #d.script <= limits.script and #(d.description or "") <= limits.description
      and #(d.version or "") <= limits.version and not d.script:find("[\128-\255]") then
    return nil
  end
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

return checks
