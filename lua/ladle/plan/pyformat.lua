-- ladle.plan.pyformat: pum 0.x's variables (-v TYPE NAME VALUE) and their
-- substitution in SQL, as psycopg2's pyformat does it when pum executes a
-- file with them:
--   %(NAME)s  the value as a SQL literal: a bare number for int and float
--             (a space before a minus sign), a quoted string for str
--   %%        a single %
--   any other %  an error
-- pum substitutes only when at least one variable is given; so does the
-- plan (ladle.plan.runner.prepare).
--
--   local v = assert(pyformat.variable("int", "SRID", "2056"))
--   local vars = pyformat.index { v }
--   pyformat.substitute("select %(SRID)s", vars, true) -> "select 2056"

local pyformat = {}

pyformat.TYPES = { int = true, float = true, str = true }

-- Python's int(): optional sign, digits with single underscores between
-- them, blanks around.
local function python_int(text)
  local s = text:match("^%s*(.-)%s*$")
  if not s:match("^[+-]?%d[%d_]*$") or s:find("__", 1, true) or s:sub(-1) == "_" then return nil end
  return math.tointeger(tonumber((s:gsub("_", ""))))
end

-- Python's float(): decimal numbers, exponents, inf, infinity, nan.
local function python_float(text)
  local s = text:match("^%s*(.-)%s*$"):lower()
  local sign, word = s:match("^([+-]?)(%a+)$")
  if word == "inf" or word == "infinity" then return sign == "-" and -math.huge or math.huge end
  if word == "nan" then return 0 / 0 end
  if s:find("__", 1, true) or s:find("_[^%d]") or s:find("[^%d]_") or s:match("^_") or s:match("_$") then return nil end
  s = s:gsub("_", "")
  if not s:match("^[+-]?%d*%.?%d*e?[+-]?%d*$") or not s:find("%d") or s:match("^[+-]?%.?e") then return nil end
  local n = tonumber(s)
  return n and n + 0.0 or nil
end

-- pyformat.variable(type, name, value) -> {type, name, text, value} | nil, message
-- text is the value as given; value is the Lua value (integer, float, string).
function pyformat.variable(kind, name, text)
  if not pyformat.TYPES[kind] then
    return nil, string.format("variable %s: unknown type '%s' (int, float or str)", tostring(name), tostring(kind))
  end
  local value = text
  if kind == "int" then
    value = python_int(text)
    if not value then return nil, string.format("variable %s: '%s' is not an int", name, text) end
  elseif kind == "float" then
    value = python_float(text)
    if not value then return nil, string.format("variable %s: '%s' is not a float", name, text) end
  end
  return { type = kind, name = name, text = text, value = value }
end

-- pyformat.list(variables) -> list of variables | nil, message. Takes a
-- list of variables (pyformat.variable's) or a table {NAME = value} as the
-- Lua API gives it: an integer is an int, another number a float, a
-- string a str.
function pyformat.list(variables)
  if variables == nil then return {} end
  assert(type(variables) == "table", "variables: expected a table")
  if #variables > 0 or next(variables) == nil then return variables end
  local names, list = {}, {}
  for name in pairs(variables) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    local value = variables[name]
    local kind = math.type(value) == "integer" and "int" or type(value) == "number" and "float" or "str"
    if type(value) ~= "number" and type(value) ~= "string" then
      return nil, string.format("variable %s: expected a number or a string", name)
    end
    list[#list + 1] = { type = kind, name = name, text = tostring(value), value = value }
  end
  return list
end

-- pyformat.values(list) -> {NAME = value}: what Lua deltas and hooks get.
function pyformat.values(list)
  local values = {}
  for _, v in ipairs(list or {}) do values[v.name] = v.value end
  return values
end

-- pyformat.index(list) -> {[name] = variable}; the last of a name wins.
function pyformat.index(list)
  local by_name = {}
  for _, v in ipairs(list or {}) do by_name[v.name] = v end
  return by_name
end

-- Python's repr() of a float: the shortest digits that read back the
-- same, in fixed notation for 1e-4 <= |x| < 1e16, else d.ddde+XX.
local function python_repr(x)
  local s
  for precision = 0, 16 do
    s = string.format("%." .. precision .. "e", x)
    if tonumber(s) == x then break end
  end
  local sign, int, frac, exp = s:match("^(-?)(%d)%.?(%d*)e([-+]%d+)$")
  local digits = (int .. frac):gsub("0+$", "")
  if digits == "" then digits = "0" end
  local point = tonumber(exp) + 1  -- digits before the decimal point
  if point > -4 and point <= 16 then
    if point <= 0 then return sign .. "0." .. string.rep("0", -point) .. digits end
    if point >= #digits then return sign .. digits .. string.rep("0", point - #digits) .. ".0" end
    return sign .. digits:sub(1, point) .. "." .. digits:sub(point + 1)
  end
  local mantissa = digits:sub(1, 1) .. (#digits > 1 and ("." .. digits:sub(2)) or "")
  local e = tonumber(exp)
  return string.format("%s%se%s%02d", sign, mantissa, e < 0 and "-" or "+", math.abs(e))
end

-- pyformat.literal(variable, standard_strings) -> the SQL psycopg2 writes
-- for it. standard_strings: the connection's standard_conforming_strings.
function pyformat.literal(v, standard_strings)
  if v.type == "str" then
    local text = v.value:gsub("'", "''")
    if standard_strings == false and text:find("\\", 1, true) then
      return "E'" .. text:gsub("\\", "\\\\") .. "'"
    end
    return "'" .. text .. "'"
  end
  local x = v.value
  local s
  if v.type == "int" then
    s = string.format("%d", x)
  elseif x ~= x then
    return "'NaN'::float"
  elseif x == math.huge or x == -math.huge then
    return x > 0 and "'Infinity'::float" or "'-Infinity'::float"
  else
    s = python_repr(x)
  end
  -- psycopg2 keeps "- -1" from becoming a comment
  if s:sub(1, 1) == "-" then s = " " .. s end
  return s
end

-- pyformat.substitute(text, variables, standard_strings) -> text | nil,
-- message, details{offset, variable}: variables is pyformat.index's table.
function pyformat.substitute(text, variables, standard_strings)
  local out, pos = {}, 1
  while true do
    local at = text:find("%", pos, true)
    if not at then break end
    out[#out + 1] = text:sub(pos, at - 1)
    local nxt = text:sub(at + 1, at + 1)
    if nxt == "%" then
      out[#out + 1] = "%"
      pos = at + 2
    elseif nxt == "(" then
      local close = text:find(")", at + 2, true)
      if not close then
        return nil, "'%(' without ')' (write %% for a literal %)", { offset = at }
      end
      local name = text:sub(at + 2, close - 1)
      local conversion = text:sub(close + 1, close + 1)
      if conversion ~= "s" then
        return nil, string.format("%%(%s) must be followed by s, as in %%(%s)s (write %%%% for a literal %%)", name,
          name), { offset = at, variable = name }
      end
      local v = variables[name]
      if not v then
        return nil, string.format("no variable %s for %%(%s)s (give it with -v TYPE %s VALUE)", name, name, name),
          { offset = at, variable = name }
      end
      out[#out + 1] = pyformat.literal(v, standard_strings)
      pos = close + 2
    else
      return nil, "a % that is neither %% nor %(NAME)s (write %% for a literal %)", { offset = at }
    end
  end
  out[#out + 1] = text:sub(pos)
  return table.concat(out)
end

return pyformat
