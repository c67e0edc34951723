-- ladle.version: delta versions, compared numerically component by
-- component. Zero padding is ignored (`02.01.00` is `2.1.0`), missing
-- trailing components count as zero (`1.2` equals `1.2.0`), and a
-- component may have any number of digits.
--
--   version.parse("02.14.01")        -> {2, 14, 1, text = "2.14.1"}
--   version.normalize("02.14.01")    -> "2.14.1"
--   version.compare("1.10.0", "1.9") -> 1

local version = {}

-- Components are kept as digit strings without leading zeros, so that no
-- length of number overflows.
local function strip(component)
  local s = component:gsub("^0+", "")
  return s == "" and "0" or s
end

-- Parsed versions are shared (treat them as read-only): a folder of a
-- thousand deltas has a handful of distinct versions.
local cache, cached = {}, 0

-- version.parse(text) -> {components..., text = normalized} | nil, reason
function version.parse(text)
  local hit = cache[text]
  if hit then return hit end
  if type(text) == "table" and text.text then return text end
  if type(text) ~= "string" then return nil, "a version must be a string" end
  if not text:match("^%d+$") and not text:match("^%d+%.[%d.]*%d$") or text:find("..", 1, true) then
    return nil, string.format("bad version '%s' (digits separated by dots, like 1.2.0)", text)
  end
  local parsed = {}
  for component in text:gmatch("%d+") do parsed[#parsed + 1] = strip(component) end
  parsed.text = table.concat(parsed, ".")
  if cached >= 4096 then cache, cached = {}, 0 end
  cache[text], cached = parsed, cached + 1
  return parsed
end

-- version.normalize(text) -> "2.14.1" | nil, reason
function version.normalize(text)
  local parsed, why = version.parse(text)
  if not parsed then return nil, why end
  return parsed.text
end

local function compare_components(a, b)
  if #a ~= #b then return #a < #b and -1 or 1 end
  if a == b then return 0 end
  return a < b and -1 or 1
end

-- version.compare(a, b) -> -1, 0 or 1 (strings or parsed versions).
-- Raises on a malformed version: callers parse user input first.
function version.compare(a, b)
  local pa = assert(version.parse(a))
  local pb = assert(version.parse(b))
  for i = 1, math.max(#pa, #pb) do
    local c = compare_components(pa[i] or "0", pb[i] or "0")
    if c ~= 0 then return c end
  end
  return 0
end

function version.less(a, b) return version.compare(a, b) < 0 end

return version
