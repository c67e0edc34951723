-- ladle.repl.format: how the REPL shows values.
--
--   format.grid(rows, fields, opts)   psql-like aligned table
--   format.value(v, opts)             a Lua value, tables pretty-printed
--   format.sql_error(err, opts)       a SQL error with its position marked
--
-- Pure functions returning strings; the REPL decides where they go. opts:
-- null (the NULL marker), colour (ANSI escapes), width (for wrapping nested
-- tables), max_rows (cut long grids with a note).

local format = {}

local null = require("ladle.pg").null

local function colour(opts, code, text)
  if opts and opts.colour and text ~= "" then
    return "\27[" .. code .. "m" .. text .. "\27[0m"
  end
  return text
end
format.colour = colour

-- Display width: code points for valid UTF-8, bytes otherwise.
local function width(s)
  return utf8.len(s) or #s
end
format.width = width

-- Numbers ------------------------------------------------------------------

-- The shortest text that reads back as the same float.
local function float_text(v)
  if v ~= v then return "NaN" end
  if v == math.huge then return "Infinity" end
  if v == -math.huge then return "-Infinity" end
  for digits = 15, 17 do
    local s = string.format("%." .. digits .. "g", v)
    if tonumber(s) == v then return s end
  end
  return string.format("%.17g", v)
end

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

-- Cells ----------------------------------------------------------------------

local function is_sequence(t)
  if type(t) ~= "table" or getmetatable(t) ~= nil then return false end
  local n = #t
  local count = 0
  for _ in pairs(t) do
    count = count + 1
    if count > n then return false end
  end
  return true
end

-- An element of an array in PostgreSQL's text form: quoted when needed.
local function array_element(v)
  if v == null or v == nil then return "NULL" end
  if type(v) == "table" and is_sequence(v) then
    local parts = {}
    for i = 1, #v do parts[i] = array_element(v[i]) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  local s
  if type(v) == "number" then
    s = math.type(v) == "integer" and string.format("%d", v) or float_text(v)
  elseif type(v) == "boolean" then
    s = v and "t" or "f"
  else
    s = tostring(v)
  end
  if s == "" or s:upper() == "NULL" or s:find('[%s,{}"\\]') then
    s = '"' .. s:gsub('[\\"]', "\\%0") .. '"'
  end
  return s
end

-- cell(v) -> text, is_null, is_number: the text a grid shows for a value.
function format.cell(v, opts)
  if v == nil or v == null then return (opts and opts.null) or "(null)", true, false end
  local t = type(v)
  if t == "number" then
    return math.type(v) == "integer" and string.format("%d", v) or float_text(v), false, true
  elseif t == "boolean" then
    return v and "t" or "f", false, false
  elseif t == "string" then
    -- numeric arrives as exact text: align it as a number all the same
    return v, false, v:match("^%-?%d+%.?%d*$") ~= nil or v:match("^%-?%d*%.%d+$") ~= nil
  elseif t == "table" then
    local mt = getmetatable(v)
    if mt and mt.__tostring then return tostring(v), false, false end
    if is_sequence(v) then return array_element(v), false, false end
    return format.value(v, { width = math.huge }), false, false
  end
  return tostring(v), false, false
end

-- Grids ----------------------------------------------------------------------

-- A query result, or anything shaped like one: rows of tables and a list of
-- column names in `fields`.
function format.is_result(t)
  if type(t) ~= "table" or type(rawget(t, "fields")) ~= "table" then return false end
  for _, name in ipairs(t.fields) do
    if type(name) ~= "string" then return false end
  end
  for i = 1, #t do
    if type(rawget(t, i)) ~= "table" then return false end
  end
  return true
end

local function split_lines(s)
  local lines = {}
  for line in (s .. "\n"):gmatch("(.-)\r?\n") do lines[#lines + 1] = line end
  return lines
end

-- grid(rows, fields, opts) -> text ending in a newline.
-- As psql prints it: centred headers, numbers right-aligned, a '+' where a
-- value goes on over several lines, and "(N rows)". opts.max_rows cuts the
-- rows shown (with a note); opts.footer = false leaves out the row count;
-- opts.title is printed above.
function format.grid(rows, fields, opts)
  opts = opts or {}
  fields = fields or rows.fields or {}
  local total = #rows
  local shown = total
  if opts.max_rows and total > opts.max_rows then shown = opts.max_rows end
  local ncol = #fields
  local widths, numeric, cells = {}, {}, {}
  for j = 1, ncol do
    widths[j] = width(fields[j])
    numeric[j] = nil  -- unknown until a non-null value is seen
  end
  for i = 1, shown do
    local row, line = rows[i], {}
    for j = 1, ncol do
      local text, is_null, is_number = format.cell(row[fields[j]], opts)
      local parts = split_lines(text)
      line[j] = { parts = parts, null = is_null }
      for _, part in ipairs(parts) do
        if width(part) > widths[j] then widths[j] = width(part) end
      end
      if not is_null then numeric[j] = (numeric[j] ~= false) and is_number end
    end
    cells[i] = line
  end
  local out = {}
  if opts.title then out[#out + 1] = opts.title end
  if ncol > 0 then
    local head, rule = {}, {}
    for j = 1, ncol do
      local gap = widths[j] - width(fields[j])
      head[j] = " " .. string.rep(" ", gap // 2) .. colour(opts, "1", fields[j])
        .. string.rep(" ", gap - gap // 2) .. " "
      rule[j] = string.rep("-", widths[j] + 2)
    end
    out[#out + 1] = (table.concat(head, "|"):gsub("%s+$", ""))
    out[#out + 1] = table.concat(rule, "+")
    for i = 1, shown do
      local line = cells[i]
      local height = 1
      for j = 1, ncol do height = math.max(height, #line[j].parts) end
      for k = 1, height do
        local pieces = {}
        for j = 1, ncol do
          local cell = line[j]
          local text = cell.parts[k] or ""
          local more = k < #cell.parts
          local fill = string.rep(" ", math.max(0, widths[j] - width(text)))
          local shown = cell.null and colour(opts, "2", text) or text
          local padded = (numeric[j] and #cell.parts == 1) and (fill .. shown) or (shown .. fill)
          pieces[j] = " " .. padded .. (more and "+" or " ")
        end
        out[#out + 1] = (table.concat(pieces, "|"):gsub("%s+$", ""))
      end
    end
  end
  if opts.footer ~= false then
    if ncol == 0 and rows.command then
      out[#out + 1] = rows.command
    else
      out[#out + 1] = string.format("(%d row%s)", total, total == 1 and "" or "s")
    end
  end
  if shown < total then
    out[#out + 1] = string.format("(only the first %d rows are shown: settings.max_rows)", shown)
  end
  return table.concat(out, "\n") .. "\n"
end

-- Lua values -----------------------------------------------------------------

local reserved = {}
for word in ([[and break do else elseif end false for function goto if in
  local nil not or repeat return then true until while]]):gmatch("%a+") do
  reserved[word] = true
end

local function is_identifier(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil and not reserved[s]
end
format.is_identifier = is_identifier

local escapes = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t", ["\\"] = "\\\\", ['"'] = '\\"',
  ["\0"] = "\\0" }

local function quote(s)
  return '"' .. s:gsub('[%c\\"]', function(c)
    return escapes[c] or string.format("\\%d", c:byte())
  end) .. '"'
end
format.quote = quote

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
function format.value(v, opts)
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

-- SQL errors -----------------------------------------------------------------

-- The characters of s (UTF-8 code points when valid, bytes otherwise).
local function characters(s)
  local chars = {}
  if utf8.len(s) then
    for _, c in utf8.codes(s) do chars[#chars + 1] = utf8.char(c) end
  else
    for i = 1, #s do chars[i] = s:sub(i, i) end
  end
  return chars
end

-- position(query, pos) -> line number, line text, column (in characters),
-- for the 1-based character position the server reports.
function format.position(query, pos)
  local chars = characters(query)
  if pos < 1 then pos = 1 end
  if pos > #chars + 1 then pos = #chars + 1 end
  local line, start = 1, 1
  for i = 1, pos - 1 do
    if chars[i] == "\n" then line, start = line + 1, i + 1 end
  end
  local stop = start
  while chars[stop] and chars[stop] ~= "\n" do stop = stop + 1 end
  local text = table.concat(chars, "", start, stop - 1):gsub("[\t\r]", " ")
  return line, text, pos - start + 1
end

local function heading(err)
  local severity = err.severity or "ERROR"
  local state = err.sqlstate and (" " .. err.sqlstate) or ""
  return string.format("%s%s: %s", severity, state, err.message or "unknown error")
end

-- sql_error(err, opts) -> text. err has the fields of a ladle.pg error
-- (message, sqlstate, position, detail, hint, context) and the query.
-- opts.one_line: everything on one line, the position as "SQL line L,
-- column C"; otherwise psql's picture (LINE n: ... and a caret).
function format.sql_error(err, opts)
  opts = opts or {}
  local where = err.where and (err.where .. ": ") or ""
  local line, text, column
  if err.query and math.type(err.position) == "integer" then
    line, text, column = format.position(err.query, err.position)
  end
  if opts.one_line then
    local parts = { where .. heading(err) }
    if line then parts[#parts + 1] = string.format("(SQL line %d, column %d)", line, column) end
    if err.detail then parts[#parts + 1] = "DETAIL: " .. err.detail:gsub("%s*\n%s*", " ") end
    if err.hint then parts[#parts + 1] = "HINT: " .. err.hint:gsub("%s*\n%s*", " ") end
    return table.concat(parts, " ")
  end
  local out = { colour(opts, "1;31", heading(err)) }
  if line then
    -- a long line is shown as a window around the position, as psql does
    local chars = characters(text)
    local first, last = 1, #chars
    local window = 70
    if #chars > window then
      first = math.max(1, column - window // 2)
      last = math.min(#chars, first + window - 1)
      first = math.max(1, last - window + 1)
    end
    local shown = table.concat(chars, "", first, last)
    local lead = first > 1 and "..." or ""
    local tail = last < #chars and "..." or ""
    local prefix = string.format("LINE %d: ", line)
    out[#out + 1] = prefix .. lead .. shown .. tail
    out[#out + 1] = string.rep(" ", #prefix + #lead + (column - first)) .. colour(opts, "1;31", "^")
  end
  if err.detail then out[#out + 1] = "DETAIL:  " .. err.detail end
  if err.hint then out[#out + 1] = "HINT:  " .. err.hint end
  if err.context then out[#out + 1] = "CONTEXT:  " .. err.context end
  return table.concat(out, "\n")
end

return format
