-- ladle.repl.complete: Tab completion at the REPL's prompt.
--
--   complete.complete(env, line, start, stop, session) -> candidates, append | nil
--   complete.word_breaks(text, session) -> characters that end a word | nil
--
-- Lua: globals and keywords, fields after `.` and methods after `:`,
-- relation names inside describe "..." and sql[[...]]. SQL: keywords at the
-- start of a statement, relation and schema names after FROM, JOIN, INTO,
-- UPDATE, TABLE and \d, column names after `alias.` (an alias bound in the
-- statement) or `table.`. nil lets readline complete file names (after \i,
-- and in other Lua strings).
--
-- The catalog lists come from ladle.repl.query.catalog, filtered by prefix
-- on the server so that a large catalog stays quick to complete.

local ident = require "ladle.ident"
local format = require "ladle.repl.format"
local query = require "ladle.repl.query"
local sql = require "ladle.repl.sql"

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

-- Relation kinds each completion offers.
local TABLE_KINDS = { "r", "p", "v", "m", "f" }
local ANY_KINDS = { "r", "p", "v", "m", "f", "S", "i", "I", "c" }

-- Relations whose name starts with typed: visible ones by name, schema
-- names (with their dot), and after a dot the relations of that schema.
-- kinds: the relkinds to offer (default: tables, views, materialized views).
function complete.relation_names(db, typed, kinds)
  if db == nil or db:is_closed() then return {} end
  local schema, prefix = typed:match("^([^.]*)%.(.*)$")
  local rows = query.catalog(db, function(conn)
    return query.must(conn, [[
      SELECT c.relname AS name, n.nspname AS schema, pg_catalog.pg_table_is_visible(c.oid) AS visible
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind OPERATOR(pg_catalog.=) ANY ($4::pg_catalog."char"[])
         AND n.nspname <> 'information_schema'
         AND (n.nspname !~ '^pg_' OR $1 LIKE 'pg%')
         AND CASE WHEN $2::pg_catalog.text IS NULL
                  THEN pg_catalog.left(c.relname, pg_catalog.length($1)) = $1
                       OR pg_catalog.left(n.nspname, pg_catalog.length($1)) = $1
                  ELSE n.nspname = $2 AND pg_catalog.left(c.relname, pg_catalog.length($3)) = $3 END
       LIMIT 2000]], typed, schema, prefix or "", kinds or TABLE_KINDS)
  end)
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

-- The columns of the relation named (as SQL names it: to_regclass), whose
-- name starts with prefix.
function complete.column_names(db, relation, prefix)
  if db == nil or db:is_closed() then return {} end
  local rows = query.catalog(db, function(conn)
    return query.must(conn, [[
      SELECT a.attname AS name FROM pg_catalog.pg_attribute a
       WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
         AND pg_catalog.left(a.attname, pg_catalog.length($2)) = $2
       ORDER BY a.attnum]], relation, prefix)
  end)
  local list = {}
  for i, row in ipairs(rows) do list[i] = ident.quote(row.name) end
  return list
end

-- SQL ----------------------------------------------------------------------------

-- Words after which a relation name comes.
local relation_before = { from = true, join = true, into = true, update = true, table = true, only = true }
-- Keywords in the case the word is typed in (upper case when it is).
local function keywords_like(word)
  local list = {}
  for k in pairs(sql.KEYWORDS) do
    if k:sub(1, #word) == word:lower() then list[#list + 1] = word:match("%u") and k:upper() or k end
  end
  table.sort(list)
  return list
end

local function db_of(env)
  local db = rawget(env, "db")
  if type(db) == "userdata" then return db end
end

local function quietly(fn, ...)
  local ok, list = pcall(fn, ...)
  return ok and list or {}
end

-- SQL completion for word, with statement the text of the statement
-- before it.
local function complete_sql(env, statement, word, after)
  local db = db_of(env)
  local t = sql.tokens(statement)
  local qualifier = statement:match('([%w_"]+)%.$')
  if qualifier then
    -- the FROM clause may come after the cursor
    local bound = sql.bindings(statement .. word .. (after or ""))
    local relation = bound[qualifier:lower()] or bound[qualifier]
    local list = quietly(complete.column_names, db, relation or qualifier, word)
    if not relation then
      -- a schema: its relations
      local prefix = qualifier .. "."
      for _, name in ipairs(quietly(complete.relation_names, db, prefix .. word)) do
        list[#list + 1] = name:sub(#prefix + 1)
      end
    end
    return list, " "
  end
  if #t == 0 then return keywords_like(word), " " end
  local last = t[#t]:lower()
  local in_from = false
  for k = #t, 1, -1 do
    local w = t[k]:lower()
    if w == "from" then in_from = true break end
    if sql.NOT_ALIAS[w] then break end
  end
  if relation_before[last] or (last == "," and in_from) then
    local names = quietly(complete.relation_names, db, word)
    for i, name in ipairs(names) do
      if not name:match("%.$") then names[i] = ident.quote(name) end
    end
    return names, (#names == 1 and names[1]:match("%.$")) and "" or " "
  end
  return {}
end

-- Completion after a backslash: command names, then what they take.
local function complete_command(env, before, word)
  local command = before:match("^%s*\\(%S+)%s")
  if not command then
    local names = {}
    for name in ([[? c conninfo d dt dv dm di ds df dn du dx e i l q x timing pending info check diff
      lua sql g gx r]]):gmatch("%S+") do
      if ("\\" .. name):sub(1, #word) == word then names[#names + 1] = "\\" .. name end
    end
    table.sort(names)
    return names, " "
  end
  command = command:gsub("[S+]+$", "")
  if command == "i" or command == "e" or command == "include" then return nil end
  if command:match("^d[tvmisE]*$") then
    local kinds = command == "d" and ANY_KINDS or nil
    if command:find("i", 1, true) or command:find("s", 1, true) then kinds = ANY_KINDS end
    local names = quietly(complete.relation_names, db_of(env), word, kinds)
    return names, (#names == 1 and names[1]:match("%.$")) and "" or " "
  end
  return {}
end

-- Lua completion inside a string: relation names for describe "..." and
-- sql[[...]], file names (nil) in others.
local function complete_in_string(env, before, word, quote, at)
  local callee = before:sub(1, at - 1)
  local content = before:sub(at + #quote)
  local in_sql = callee:match("sql%s*%(?%s*$")
  if in_sql then content = content:match("[%w_%.]*$") end  -- the name being typed
  if not (in_sql or callee:match("describe%s*%(?%s*$")) then return nil end
  local db = db_of(env)
  if not db then return {} end
  local typed = content .. word
  local names = quietly(complete.relation_names, db, typed)
  local list = {}
  for i, name in ipairs(names) do list[i] = name:sub(#content + 1) end
  local closing = ""
  if #list == 1 and not names[1]:match("%.$") and #quote == 1 then closing = quote end
  return list, closing
end

local function complete_lua(env, before, word)
  local quote, at = open_string(before)
  if quote then return complete_in_string(env, before, word, quote, at) end
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
  local sql_only = {}
  if before:match("^%s*$") then
    -- the first word may start SQL too
    for _, k in ipairs(keywords_like(word)) do
      if not names[k] then sql_only[k] = true end
      names[k] = true
    end
  end
  local list = matching(names, word)
  return list, (#list == 1 and sql_only[list[1]]) and " " or ""
end

-- The input so far: earlier lines of an unfinished chunk (session.partial)
-- and this line up to the word, and whether it is SQL.
local function context(env, before, word, session)
  local partial = session and session.partial
  if partial then
    return partial .. "\n" .. before, session.partial_language == "sql"
  end
  local is_sql = (session and session.language == "sql") or sql.is_sql(before .. word, env)
    or (before:match("%S") and sql.is_sql(before, env))
  return before, is_sql
end

-- Returns (candidates, append): words that may replace the word
-- line[start+1 .. stop], and what to add after a single match; nil to let
-- readline complete file names.
function complete.complete(env, line, start, stop, session)
  local before = line:sub(1, start)
  local word = line:sub(start + 1, stop)
  if not (session and session.partial) and before:match("^%s*\\") then
    return complete_command(env, before, word)
  end
  if not (session and session.partial) and word:match("^\\") and before:match("^%s*$") then
    return complete_command(env, before, word)
  end
  local text, is_sql = context(env, before, word, session)
  if not is_sql then return complete_lua(env, before, word) end
  local scan = sql.scan(text)
  local statement = text:sub(scan.rest_offset)
  if scan.complete and #scan.statements > 0 then statement = "" end
  return complete_sql(env, statement, word, line:sub(stop + 1))
end

-- complete.word_breaks(text, session) -> the characters that end a word
-- when completing after text, or nil for readline's (Lua's) set: a file
-- name after \i keeps its slashes and dots, and so does one in a Lua string.
function complete.word_breaks(text, session)
  if not (session and session.partial) and text:match("^%s*\\[ei]%a*[S+]*%s") then return " \t\n" end
  local _, is_sql = context(session and session.env or {}, text, "", session)
  if is_sql then return nil end
  local quote, at = open_string(text)
  if quote and #quote == 1 and not text:sub(1, at - 1):match("sql%s*%(?%s*$")
    and not text:sub(1, at - 1):match("describe%s*%(?%s*$") then return "\"'" end
  return nil
end

return complete
