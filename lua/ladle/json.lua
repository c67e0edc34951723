-- ladle.json: encoding Lua values as JSON, for --json output.
--
--   json.encode({ pending = 2, deltas = json.array {}, options = json.object {} })
--     -> '{"deltas":[],"options":{},"pending":2}'
--
-- A sequence (keys 1..n only) becomes an array, any other table an object
-- with its keys sorted, so output is stable. An empty table is an array
-- unless marked with json.object (json.array marks one explicitly).
-- ladle.null and NaN become null. json.decode reads JSON back (null becomes
-- ladle.null inside arrays and is left out of objects), enough for scripts
-- that read --json output.

local json = {}

local array_mt = { __name = "json.array" }

local object_mt = { __name = "json.object" }

-- Marks t as an array.
function json.array(t)
  return setmetatable(t or {}, array_mt)
end

-- Marks t as an object, so that an empty table prints as {}.
function json.object(t)
  return setmetatable(t or {}, object_mt)
end

local function is_array(t)
  local mt = getmetatable(t)
  if mt == array_mt then return true end
  if mt == object_mt then return false end
  local n = #t
  if n == 0 then return next(t) == nil end
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 or k > n then return false end
  end
  return true
end

local escapes = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}

-- Bytes that are not UTF-8 (a file name in another encoding) become
-- U+FFFD, so that the output stays valid JSON.
local function valid_utf8(s)
  if utf8.len(s) then return s end
  local out, i = {}, 1
  while i <= #s do
    if utf8.len(s, i, i) then
      local stop = (utf8.offset(s, 2, i) or #s + 1) - 1
      out[#out + 1] = s:sub(i, stop)
      i = stop + 1
    else
      out[#out + 1] = "\u{fffd}"
      i = i + 1
    end
  end
  return table.concat(out)
end

local function encode_string(s)
  s = valid_utf8(s)
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
  if is_array(t) then
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

-- Decoding -----------------------------------------------------------------------

local function null_value()
  local ok, pg = pcall(require, "ladle.pg")
  return ok and pg.null or nil
end

local function decode_error(text, pos, what)
  error(string.format("json.decode: %s at character %d", what, pos), 0)
end

local decode_value

local function skip(text, pos)
  return text:find("[^ \t\r\n]", pos) or #text + 1
end

local function decode_string(text, pos)
  local out, i = {}, pos + 1
  while true do
    local stop = text:find('["\\]', i)
    if not stop then decode_error(text, pos, "unterminated string") end
    out[#out + 1] = text:sub(i, stop - 1)
    if text:sub(stop, stop) == '"' then return table.concat(out), stop + 1 end
    local esc = text:sub(stop + 1, stop + 1)
    local simple = ({ b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", ['"'] = '"', ["\\"] = "\\", ["/"] = "/" })[esc]
    if simple then
      out[#out + 1] = simple
      i = stop + 2
    elseif esc == "u" then
      local code = tonumber(text:sub(stop + 2, stop + 5), 16)
      if not code then decode_error(text, stop, "bad \\u escape") end
      i = stop + 6
      if code >= 0xD800 and code <= 0xDBFF and text:sub(i, i + 1) == "\\u" then
        local low = tonumber(text:sub(i + 2, i + 5), 16)
        if low and low >= 0xDC00 and low <= 0xDFFF then
          code = 0x10000 + (code - 0xD800) * 0x400 + (low - 0xDC00)
          i = i + 6
        end
      end
      out[#out + 1] = utf8.char(code)
    else
      decode_error(text, stop, "bad escape")
    end
  end
end

decode_value = function(text, pos, depth)
  if depth > 200 then decode_error(text, pos, "nested too deeply") end
  pos = skip(text, pos)
  local c = text:sub(pos, pos)
  if c == "{" then
    local obj = {}
    pos = skip(text, pos + 1)
    if text:sub(pos, pos) == "}" then return obj, pos + 1 end
    while true do
      pos = skip(text, pos)
      if text:sub(pos, pos) ~= '"' then decode_error(text, pos, "expected a key") end
      local key
      key, pos = decode_string(text, pos)
      pos = skip(text, pos)
      if text:sub(pos, pos) ~= ":" then decode_error(text, pos, "expected ':'") end
      local value
      value, pos = decode_value(text, pos + 1, depth + 1)
      if value ~= json.null then obj[key] = value end
      pos = skip(text, pos)
      local sep = text:sub(pos, pos)
      if sep == "}" then return obj, pos + 1 end
      if sep ~= "," then decode_error(text, pos, "expected ',' or '}'") end
      pos = pos + 1
    end
  elseif c == "[" then
    local arr = json.array {}
    pos = skip(text, pos + 1)
    if text:sub(pos, pos) == "]" then return arr, pos + 1 end
    while true do
      local value
      value, pos = decode_value(text, pos, depth + 1)
      arr[#arr + 1] = value
      pos = skip(text, pos)
      local sep = text:sub(pos, pos)
      if sep == "]" then return arr, pos + 1 end
      if sep ~= "," then decode_error(text, pos, "expected ',' or ']'") end
      pos = pos + 1
    end
  elseif c == '"' then
    return decode_string(text, pos)
  elseif text:find("^true", pos) then
    return true, pos + 4
  elseif text:find("^false", pos) then
    return false, pos + 5
  elseif text:find("^null", pos) then
    return json.null, pos + 4
  end
  local number = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
  if not number or number == "" or number == "-" then decode_error(text, pos, "unexpected character") end
  return math.tointeger(tonumber(number)) or tonumber(number), pos + #number
end

-- json.decode(text) -> value | nil, message
function json.decode(text)
  json.null = json.null or null_value()
  local ok, value, pos = pcall(decode_value, text, 1, 0)
  if not ok then return nil, value end
  if skip(text, pos) <= #text then return nil, string.format("json.decode: trailing text at character %d", pos) end
  return value
end

return json
