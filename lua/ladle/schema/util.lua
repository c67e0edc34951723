-- ladle.schema.util: small helpers the schema kinds, the comparer and the
-- planner share: sets, list comparison and the way values are shown in a
-- difference.

local util = {}

function util.set(list)
  local set = {}
  for _, v in ipairs(list or {}) do set[v] = true end
  return set
end

-- Deep equality of values and lists of values (what snapshot fields hold).
local function same(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" or #a ~= #b then return false end
  for i = 1, #a do
    if not same(a[i], b[i]) then return false end
  end
  return true
end
util.same = same

-- A sorted copy of a list (nil stays nil).
function util.sorted(list)
  if list == nil then return nil end
  local copy = table.move(list, 1, #list, 1, {})
  table.sort(copy)
  return copy
end

-- What b has that a lacks, and what a has that b lacks.
function util.set_diff(a, b)
  local in_a, in_b = util.set(a), util.set(b)
  local added, removed = {}, {}
  for _, v in ipairs(b or {}) do if not in_a[v] then added[#added + 1] = v end end
  for _, v in ipairs(a or {}) do if not in_b[v] then removed[#removed + 1] = v end end
  return added, removed
end

-- "-x -y +z" for what a set of values lost and gained.
function util.set_changes(a, b)
  local added, removed = util.set_diff(a, b)
  local parts = {}
  for _, p in ipairs(removed) do parts[#parts + 1] = "-" .. p end
  for _, p in ipairs(added) do parts[#parts + 1] = "+" .. p end
  return table.concat(parts, " ")
end

-- A value as a difference line shows it.
function util.show(value)
  if value == nil then return "none" end
  if type(value) == "table" then return "(" .. table.concat(value, ", ") .. ")" end
  if value == true then return "yes" end
  if value == false then return "no" end
  return tostring(value)
end

-- 'text', shortened to about n characters
function util.quote_text(text, n)
  n = n or 60
  text = text:gsub("%s+", " ")
  if #text > n then text = text:sub(1, n - 3) .. "..." end
  return "'" .. text .. "'"
end

-- What differs between two definitions: both when they are short, else
-- the first line that differs.
function util.describe_definition(a, b)
  if a and b and not a:find("\n") and not b:find("\n") and #a + #b <= 160 then
    return string.format("%s -> %s", a, b)
  end
  if not a or not b then return string.format("%s -> %s", a or "none", b or "none") end
  local la, lb = {}, {}
  for line in (a .. "\n"):gmatch("(.-)\n") do la[#la + 1] = line end
  for line in (b .. "\n"):gmatch("(.-)\n") do lb[#lb + 1] = line end
  for i = 1, math.max(#la, #lb) do
    if la[i] ~= lb[i] then
      return string.format("differs at line %d: %s -> %s", i,
        la[i] and util.quote_text(la[i]) or "(end)", lb[i] and util.quote_text(lb[i]) or "(end)")
    end
  end
  return "differs"
end

return util
