-- ladle.json: encoding Lua values as JSON, for --json output.
--
--   json.encode({ pending = 2, deltas = json.array {} })
--     -> '{"deltas":[],"pending":2}'
--
-- Tables with a sequence part (or marked with json.array) become arrays,
-- other tables objects with their keys sorted; ladle.null and NaN become
-- null. Only what ladle prints: no decoder.

local json = {}

local array_mt = { __name = "json.array" }

-- Marks t as an array, so that an empty table prints as [].
function json.array(t)
  return setmetatable(t or {}, array_mt)
end

local escapes = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function is_null(v)
  local mt = getmetatable(v)
  return type(v) == "userdata" and mt ~= nil and mt.__name == "ladle.null"
end

local encode

local function encode_table(t, out, depth)
  if depth > 64 then error("json.encode: nested too deeply (a cycle?)", 0) end
  if getmetatable(t) == array_mt or (next(t) ~= nil and t[1] ~= nil) then
    out[#out + 1] = "["
    for i = 1, #t do
      if i > 1 then out[#out + 1] = "," end
      encode(t[i], out, depth + 1)
    end
    out[#out + 1] = "]"
    return
  end
  local keys = {}
  for k in pairs(t) do
    if type(k) == "string" then keys[#keys + 1] = k end
  end
  table.sort(keys)
  out[#out + 1] = "{"
  for i, k in ipairs(keys) do
    if i > 1 then out[#out + 1] = "," end
    out[#out + 1] = encode_string(k)
    out[#out + 1] = ":"
    encode(t[k], out, depth + 1)
  end
  out[#out + 1] = "}"
end

encode = function(v, out, depth)
  local kind = type(v)
  if kind == "string" then
    out[#out + 1] = encode_string(v)
  elseif kind == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      out[#out + 1] = "null"
    elseif math.type(v) == "integer" then
      out[#out + 1] = string.format("%d", v)
    else
      out[#out + 1] = string.format("%.14g", v)
    end
  elseif kind == "boolean" then
    out[#out + 1] = tostring(v)
  elseif kind == "nil" or is_null(v) then
    out[#out + 1] = "null"
  elseif kind == "table" then
    encode_table(v, out, depth)
  else
    error("json.encode: cannot encode a " .. kind, 0)
  end
end

-- json.encode(value) -> string
function json.encode(value)
  local out = {}
  encode(value, out, 0)
  return table.concat(out)
end

return json
