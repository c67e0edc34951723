-- ladle.repl.complete: Tab completion at the REPL's prompt.
--
--   complete.complete(env, line, start, stop) -> candidates, append | nil
--
-- Lua: globals and keywords, fields after `.` and methods after `:`, relation
-- names inside describe "..." and sql[[...]]; nil lets readline complete
-- file names.

local format = require "ladle.repl.format"

local complete = {}

local keywords = {}
for word in ([[and break do else elseif end false for function goto if in
  local nil not or repeat return then true until while]]):gmatch("%a+") do
  keywords[#keywords + 1] = word
end

-- The string literal the text ends inside, if any: its opening delimiter
-- and where it starts.
local function open_string(s)
  local i, n = 1, #s
  while i <= n do
    local c = s:sub(i, i)
    if c == '"' or c == "'" then
      local j = i + 1
      while j <= n do
        local d = s:sub(j, j)
        if d == "\\" then j = j + 2
        elseif d == c then break
        else j = j + 1 end
      end
      if j > n then return c, i end
      i = j + 1
    elseif c == "-" and s:sub(i + 1, i + 1) == "-" then
      local eq = s:match("^%-%-%[(=*)%[", i)
      if eq then
        local close = s:find("]" .. eq .. "]", i, true)
        if not close then return nil end
        i = close + #eq + 2
      else
        local nl = s:find("\n", i, true)
        if not nl then return nil end
        i = nl + 1
      end
    elseif c == "[" and s:match("^%[=*%[", i) then
      local eq = s:match("^%[(=*)%[", i)
      local close = s:find("]" .. eq .. "]", i, true)
      if not close then return "[" .. eq .. "[", i end
      i = close + #eq + 2
    else
      i = i + 1
    end
  end
end
complete.open_string = open_string

local function safe_index(v, key)
  local ok, value = pcall(function() return v[key] end)
  if ok then return value end
end

-- Names a value offers after `.` (any field) or `:` (methods).
local function field_names(v, methods_only)
  local names, seen = {}, {}
  local function add_table(t, depth)
    if type(t) ~= "table" or seen[t] or depth > 4 then return end
    seen[t] = true
    for k, value in pairs(t) do
      if format.is_identifier(k) and (not methods_only or type(value) == "function") then
        names[k] = true
      end
    end
    local mt = getmetatable(t)
    if type(mt) == "table" and type(rawget(mt, "__index")) == "table" then
      add_table(rawget(mt, "__index"), depth + 1)
    end
  end
  if type(v) == "table" then
    add_table(v, 1)
  elseif type(v) == "string" then
    add_table(string, 1)
  else
    local mt = getmetatable(v)
    if type(mt) == "table" and type(rawget(mt, "__index")) == "table" then
      add_table(rawget(mt, "__index"), 1)
    end
  end
  return names
end

local function matching(names, prefix)
  local list = {}
  for name in pairs(names) do
    if name:sub(1, #prefix) == prefix then list[#list + 1] = name end
  end
  table.sort(list)
  return list
end

-- Relations for describe "...": visible ones by name, schema names (with
-- their dot), and after a dot the relations of that schema. The server
-- filters by prefix, so that a large catalog stays quick to complete.
function complete.relation_names(db, typed)
  if db == nil or db:is_closed() then return {} end
  local schema, prefix = typed:match("^([^.]*)%.(.*)$")
  local rows = db:query([[
    select c.relname as name, n.nspname as schema,
           pg_catalog.pg_table_is_visible(c.oid) as visible
      from pg_catalog.pg_class c
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p', 'v', 'm', 'f')
       and n.nspname <> 'information_schema'
       and (n.nspname !~ '^pg_' or $1 like 'pg%')
       and case when $2::text is null
                then left(c.relname, length($1)) = $1 or left(n.nspname, length($1)) = $1
                else n.nspname = $2 and left(c.relname, length($3)) = $3 end
     limit 2000]], typed, schema, prefix or "")
  if not rows then return {} end
  local names = {}
  for _, row in ipairs(rows) do
    if schema then
      names[row.schema .. "." .. row.name] = true
    else
      if row.visible then names[row.name] = true end
      names[row.schema .. "."] = true
    end
  end
  return matching(names, typed)
end

-- Returns (candidates, append): words that may replace the word
-- line[start+1 .. stop], and what to add after a single match; nil to let
-- readline complete file names.
function complete.complete(env, line, start, stop)
  local before = line:sub(1, start)
  local word = line:sub(start + 1, stop)
  local quote, at = open_string(before)
  if quote then
    local callee = before:sub(1, at - 1)
    local content = before:sub(at + #quote)
    local in_sql = callee:match("sql%s*%(?%s*$")
    if in_sql then content = content:match("[%w_%.]*$") end  -- the name being typed
    if in_sql or callee:match("describe%s*%(?%s*$") then
      local db = rawget(env, "db")
      if type(db) ~= "userdata" then return {} end
      local typed = content .. word
      local ok, names = pcall(complete.relation_names, db, typed)
      if not ok then return {} end
      local list = {}
      for i, name in ipairs(names) do list[i] = name:sub(#content + 1) end
      local closing = ""
      if #list == 1 and not names[1]:match("%.$") and #quote == 1 then closing = quote end
      return list, closing
    end
    return nil
  end
  if word == "" and before:match("^%s*$") then return { "  " }, "" end
  local chain = before:match("([%a_][%w_%.:]*[%.:])$")
  if chain then
    local sep = chain:sub(-1)
    local path = chain:sub(1, -2)
    if path:find(":", 1, true) or path:find("..", 1, true) then return {} end
    local value = env
    for name in path:gmatch("[^%.]+") do
      value = safe_index(value, name)
      if value == nil then return {} end
    end
    return matching(field_names(value, sep == ":"), word), ""
  end
  local names = field_names(env, false)
  for _, k in ipairs(keywords) do names[k] = true end
  return matching(names, word), ""
end

return complete
