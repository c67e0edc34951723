-- ladle.repl.value: Lua values as the REPL shows them: tables as Lua
-- constructors, on one line when they fit, nested and indented otherwise.
-- (ladle.repl.format re-exports value as format.value.)

local null = require("ladle.pg").null

local value = {}

-- Display width: code points for valid UTF-8, bytes otherwise.
local function width(s)
  return utf8.len(s) or #s
end

-- The shortest text that reads back as the same float.
function value.float_text(v)
  if v ~= v then return "NaN" end
  if v == math.huge then return "Infinity" end
  if v == -math.huge then return "-Infinity" end
  for digits = 15, 17 do
    local s = string.format("%." .. digits .. "g", v)
    if tonumber(s) == v then return s end
  end
  return string.format("%.17g", v)
end
local float_text = value.float_text

-- As a Lua literal: floats keep a point so that 2.0 is not mistaken for 2.
local function lua_number(v)
  if math.type(v) == "integer" then return string.format("%d", v) end
  if v ~= v then return "0/0" end
  if v == math.huge then return "math.huge" end
  if v == -math.huge then return "-math.huge" end
  local s = float_text(v)
  if not s:find("[%.eEn]") then s = s .. ".0" end
  return s
end


local reserved = {}
for word in ([[and break do else elseif end false for function goto if in
  local nil not or repeat return then true until while]]):gmatch("%a+") do
  reserved[word] = true
end

local function is_identifier(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil and not reserved[s]
end
value.is_identifier = is_identifier

local escapes = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t", ["\\"] = "\\\\", ['"'] = '\\"',
  ["\0"] = "\\0" }

local function quote(s)
  return '"' .. s:gsub('[%c\\"]', function(c)
    return escapes[c] or string.format("\\%d", c:byte())
  end) .. '"'
end
value.quote = quote

local function key_rank(k)
  local t = type(k)
  if t == "number" then return 1 elseif t == "string" then return 2 end
  return 3
end

-- "key2" before "key10".
local function natural_less(a, b)
  local pa = a:gsub("%d+", function(d) return string.format("%012d", #d <= 12 and tonumber(d) or 0) end)
  local pb = b:gsub("%d+", function(d) return string.format("%012d", #d <= 12 and tonumber(d) or 0) end)
  if pa ~= pb then return pa < pb end
  return a < b
end

local function sorted_keys(t, n)
  local keys = {}
  for k in pairs(t) do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, function(a, b)
    local ra, rb = key_rank(a), key_rank(b)
    if ra ~= rb then return ra < rb end
    if ra == 1 then return a < b end
    if ra == 2 then return natural_less(a, b) end
    return tostring(a) < tostring(b)
  end)
  return keys
end

local function scalar(v, top)
  local t = type(v)
  if t == "string" then return top and v or quote(v) end
  if t == "number" then return lua_number(v) end
  if t == "function" then
    local info = debug.getinfo(v, "S")
    if info.what == "C" then return "<function: builtin>" end
    return string.format("<function: %s:%d>", info.short_src, info.linedefined)
  end
  if v == null then return "null" end
  return tostring(v)
end

-- value(v, opts) -> text. Tables are shown as Lua constructors, on one line
-- when they fit in opts.width (default 80), nested and indented otherwise;
-- a table met again inside itself is shown as <cycle>, and opts.depth
-- (default 8) and opts.max_items (default 200) bound what is shown.
function value.value(v, opts)
  opts = opts or {}
  local max_width = opts.width or 80
  local max_depth = opts.depth or 8
  local max_items = opts.max_items or 200
  local open = {}

  local function render(x, indent, depth, top)
    if type(x) ~= "table" then return scalar(x, top) end
    local mt = getmetatable(x)
    if mt and mt.__tostring then return tostring(x) end
    if open[x] then return "<cycle>" end
    if depth > max_depth then return "{...}" end
    open[x] = true
    local n = #x
    local items = {}
    local count = 0
    for i = 1, n do
      count = count + 1
      if count > max_items then break end
      items[#items + 1] = render(rawget(x, i), indent + 2, depth + 1)
    end
    local keys = sorted_keys(x, n)
    for _, k in ipairs(keys) do
      count = count + 1
      if count > max_items then break end
      local key = is_identifier(k) and k or ("[" .. render(k, indent + 2, depth + 1) .. "]")
      items[#items + 1] = key .. " = " .. render(rawget(x, k), indent + 2, depth + 1)
    end
    local total = n + #keys
    if total > max_items then
      items[#items + 1] = string.format("... (%d more)", total - max_items)
    end
    open[x] = nil
    if #items == 0 then return "{}" end
    local inline = "{ " .. table.concat(items, ", ") .. " }"
    if not inline:find("\n", 1, true) and indent + width(inline) <= max_width then
      return inline
    end
    local pad_in = string.rep(" ", indent + 2)
    return "{\n" .. pad_in .. table.concat(items, ",\n" .. pad_in) .. "\n" .. string.rep(" ", indent) .. "}"
  end

  return render(v, 0, 1, opts.top)
end

return value
