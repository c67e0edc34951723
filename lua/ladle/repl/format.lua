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
local value = require "ladle.repl.value"

local float_text = value.float_text
format.value = value.value
format.is_identifier = value.is_identifier
format.quote = value.quote

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

-- The cells of the rows shown: their lines, NULL-ness, and per column the
-- widest line and whether every non-null value is a number.
local function measure(rows, fields, shown, opts)
  local widths, numeric, cells = {}, {}, {}
  for j = 1, #fields do widths[j] = width(fields[j]) end
  for i = 1, shown do
    local row, line = rows[i], {}
    for j = 1, #fields do
      local text, is_null, is_number = format.cell(row[fields[j]], opts)
      local parts = split_lines(text)
      line[j] = { parts = parts, null = is_null }
      for _, part in ipairs(parts) do
        if width(part) > widths[j] then widths[j] = width(part) end
      end
      if not is_null then numeric[j] = (numeric[j] ~= false) and is_number and opts.numbers ~= false end
    end
    cells[i] = line
  end
  return widths, numeric, cells
end

-- One record per block, as psql's expanded display (\x) shows them.
local function expanded(fields, cells, opts, out)
  local name_width, value_width = 0, 0
  for j = 1, #fields do name_width = math.max(name_width, width(fields[j])) end
  for _, line in ipairs(cells) do
    for j = 1, #fields do
      for _, part in ipairs(line[j].parts) do value_width = math.max(value_width, width(part)) end
    end
  end
  for i, line in ipairs(cells) do
    local label = string.format("-[ RECORD %d ]", i)
    if #label <= name_width + 1 then
      label = label .. string.rep("-", name_width + 1 - #label) .. "+" .. string.rep("-", value_width + 1)
    else
      label = label .. string.rep("-", name_width + 3 + value_width - #label)
    end
    out[#out + 1] = label
    for j = 1, #fields do
      local cell = line[j]
      for k, part in ipairs(cell.parts) do
        local name = k == 1 and fields[j] or ""
        local shown = cell.null and colour(opts, "2", part) or part
        local more = k < #cell.parts
        out[#out + 1] = (colour(opts, "1", name) .. string.rep(" ", name_width - width(name)) .. " | " .. shown
          .. (more and (string.rep(" ", value_width - width(part)) .. "+") or "")):gsub("%s+$", "")
      end
    end
  end
end

-- grid(rows, fields, opts) -> text ending in a newline.
-- As psql prints it: centred headers, numbers right-aligned, a '+' where a
-- value goes on over several lines, and "(N rows)". opts.max_rows cuts the
-- rows shown (with a note); opts.footer = false leaves out the row count;
-- opts.title is printed above (centred over the grid with
-- opts.centre_title, as psql's \d titles are). opts.expanded: true for one
-- block per record (psql's \x), "auto" for that only when the grid is wider
-- than opts.width. opts.numbers = false aligns every column to the left
-- (psql's lists, whose columns are all text).
function format.grid(rows, fields, opts)
  opts = opts or {}
  fields = fields or rows.fields or {}
  local total = #rows
  local shown = total
  if opts.max_rows and total > opts.max_rows then shown = opts.max_rows end
  local ncol = #fields
  local widths, numeric, cells = measure(rows, fields, shown, opts)
  local grid_width = ncol - 1
  for j = 1, ncol do grid_width = grid_width + widths[j] + 2 end
  local vertical = opts.expanded == true
    or (opts.expanded == "auto" and opts.width ~= nil and grid_width > opts.width)
  local out = {}
  if opts.title then
    local title_width = width((opts.title:gsub("\27%[[%d;]*m", "")))
    local gap = opts.centre_title and not vertical and (grid_width - title_width) // 2 or 0
    out[#out + 1] = string.rep(" ", math.max(0, gap)) .. opts.title
  end
  if ncol > 0 and vertical then
    expanded(fields, cells, opts, out)
  elseif ncol > 0 then
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
          local text_shown = cell.null and colour(opts, "2", text) or text
          local padded = (numeric[j] and #cell.parts == 1) and (fill .. text_shown) or (text_shown .. fill)
          pieces[j] = " " .. padded .. (more and "+" or " ")
        end
        out[#out + 1] = (table.concat(pieces, "|"):gsub("%s+$", ""))
      end
    end
  end
  if ncol == 0 and rows.command then
    out[#out + 1] = rows.command
  elseif opts.footer ~= false and not (vertical and total > 0) then
    out[#out + 1] = string.format("(%d row%s)", total, total == 1 and "" or "s")
  end
  if shown < total then
    out[#out + 1] = string.format("(only the first %d rows are shown: settings.max_rows)", shown)
  end
  return table.concat(out, "\n") .. "\n"
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
