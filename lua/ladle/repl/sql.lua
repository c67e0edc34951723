-- ladle.repl.sql: SQL typed at the prompt.
--
--   sql.is_sql(line, env) -> true when the line starts SQL rather than Lua
--   sql.scan(text) -> { statements, complete, meta, ... }
--   sql.run(session, text, opts)   runs the statements, printing each result
--
-- Which input is SQL (doc/repl.md has the same rule for people):
-- the first word is a SQL command keyword (any case), and
--   - it is not followed by what only Lua puts there: `.`, `:`, `[`, `=`,
--     `,` or `..` (after spaces or not), or a call's `(`, `"`, `'` or `{`
--     right after the word (`table.concat(t)`, `select('#', ...)`,
--     `update = true`);
--   - when the word is also a name Lua knows here (a global with a value,
--     as `table` and `select` are, or the keyword `do`), it must be followed
--     by SQL-looking text: a space, then a word that is not a Lua keyword, a
--     number, `*`, `(` or a quote (`table orders`, `values (1)`, `select *`);
--     for `do`, a dollar quote, a string or LANGUAGE. Alone on its line (or
--     before `;`) such a word is SQL unless it names a Lua table or is `do`
--     (`end;` commits):
--     `select` alone starts a statement, `table` alone shows Lua's table
--     library.
-- Otherwise the input is Lua.

local ident = require "ladle.ident"
local sys = require "ladle.sys"
local query = require "ladle.repl.query"

local sql = {}

-- Words that start an SQL command at the prompt.
sql.KEYWORDS = {}
for word in ([[select with insert update delete merge create alter drop truncate grant revoke
  comment explain show set reset begin start commit rollback savepoint release table values call
  do analyze analyse vacuum refresh lock listen notify unlisten copy end abort prepare execute
  deallocate discard checkpoint cluster reindex security import fetch move close declare]]):gmatch("%a+") do
  sql.KEYWORDS[word] = true
end

local lua_keywords = {}
for word in ([[and break do else elseif end false for function goto if in local nil not or
  repeat return then true until while]]):gmatch("%a+") do
  lua_keywords[word] = true
end

local function lua_name_in_scope(env, word)
  if lua_keywords[word] then return true end
  local ok, value = pcall(function() return env[word] end)
  return ok and value ~= nil
end

-- sql.is_sql(line, env) -> whether the input starting with this line is
-- SQL (the rule above).
function sql.is_sql(line, env)
  local word, rest = line:match("^%s*([%a_][%w_]*)(.*)$")
  if not word or not sql.KEYWORDS[word:lower()] then return false end
  -- what only Lua writes after a name
  if rest:match("^%s*[%.:%[,]") or rest:match("^%s*=[^=]") or rest:match("^%s*=$")
    or rest:match("^[%(\"'{]") then
    return false
  end
  env = env or {}
  if not lua_name_in_scope(env, word) then return true end
  if rest:match("^%s*;?%s*$") then
    if word == "do" then return false end
    local ok, value = pcall(function() return env[word] end)
    return not (ok and type(value) == "table")
  end
  if word:lower() == "do" then
    return rest:match("^%s+%$") ~= nil or rest:match("^%s+'") ~= nil or rest:match("^%s+[Ll][Aa][Nn][Gg][Uu][Aa][Gg][Ee]%f[^%w_]") ~= nil
  end
  local next_word = rest:match("^%s+([%a_][%w_]*)")
  if next_word then return not lua_keywords[next_word] end
  return rest:match("^%s+[%d%*%(\"'%$]") ~= nil
end

-- Scanning --------------------------------------------------------------------

-- sql.scan(text) -> {
--   statements = { {text = "select 1;", offset = byte where it starts}, ... },
--   complete = true when nothing but spaces and (closed) comments follows
--     the last `;`,
--   rest = the unfinished statement after it (or ""), rest_offset,
--   meta = the backslash command that ends the input, if any ("gx", ...),
--   meta_at = where it starts }
-- Semicolons end statements only outside quotes ('...', E'...', "...",
-- $tag$...$tag$), comments (-- and nested /* */) and parentheses; a
-- backslash outside them starts a backslash command, as in psql.
function sql.scan(text)
  local statements = {}
  local i, n = 1, #text
  local start, depth, seen = 1, 0, false  -- seen: a token other than a comment since `start`
  local meta, meta_at, open_comment
  while i <= n do
    local c = text:sub(i, i)
    if c == "'" then
      local escapes = i > 1 and text:sub(i - 1, i - 1):match("[eE]")
        and not (i > 2 and text:sub(i - 2, i - 2):match("[%w_$]"))
      local j = i + 1
      while j <= n do
        local d = text:sub(j, j)
        if escapes and d == "\\" then j = j + 2
        elseif d == "'" and text:sub(j + 1, j + 1) == "'" then j = j + 2
        elseif d == "'" then break
        else j = j + 1 end
      end
      i, seen = j + 1, true
    elseif c == '"' then
      local close = text:find('"', i + 1, true)
      while close and text:sub(close + 1, close + 1) == '"' do close = text:find('"', close + 2, true) end
      i, seen = (close or n) + 1, true
    elseif c == "$" and not (i > 1 and text:sub(i - 1, i - 1):match("[%w_]"))
      and (text:match("^%$%$", i) or text:match("^%$[%a_\128-\255][%w_\128-\255]*%$", i)) then
      local tag = text:match("^%$%$", i) or text:match("^%$[%a_\128-\255][%w_\128-\255]*%$", i)
      local close = text:find(tag, i + #tag, true)
      i, seen = close and (close + #tag) or (n + 1), true
    elseif c == "-" and text:sub(i + 1, i + 1) == "-" then
      local nl = text:find("\n", i, true)
      i = (nl or n) + 1
    elseif c == "/" and text:sub(i + 1, i + 1) == "*" then
      local level, j = 1, i + 2
      while j <= n and level > 0 do
        local two = text:sub(j, j + 1)
        if two == "/*" then level, j = level + 1, j + 2
        elseif two == "*/" then level, j = level - 1, j + 2
        else j = j + 1 end
      end
      open_comment = level > 0
      i = j
    elseif c == "\\" then
      meta_at = i
      meta = text:sub(i + 1):match("^([^\n]*)")
      break
    else
      if c == "(" then depth = depth + 1
      elseif c == ")" and depth > 0 then depth = depth - 1 end
      if c == ";" and depth == 0 then
        local body = text:sub(start, i)
        local lead = #body:match("^%s*")
        statements[#statements + 1] = { text = body:sub(lead + 1), offset = start + lead }
        start, seen = i + 1, false
      elseif not c:match("%s") then
        seen = true
      end
      i = i + 1
    end
  end
  local stop = meta_at and (meta_at - 1) or n
  local rest = text:sub(start, stop)
  local lead = #rest:match("^%s*")
  return { statements = statements, complete = not seen and not open_comment and not meta,
    rest = rest:sub(lead + 1), rest_offset = start + lead, meta = meta, meta_at = meta_at }
end

-- Names a statement binds ----------------------------------------------------------

-- Words that end a FROM item, so that they are not taken for its alias.
local not_alias = {}
sql.NOT_ALIAS = not_alias
for word in ([[where join inner left right full outer cross natural on using group order limit offset
  having window union intersect except set values select returning for lateral as tablesample
  fetch into default]]):gmatch("%a+") do
  not_alias[word] = true
end

-- The statement as words and punctuation, strings and comments left out;
-- a dotted name ("app"."t", a.b) is one word.
local function tokens(text)
  local list, i, n = {}, 1, #text
  while i <= n do
    local c = text:sub(i, i)
    if c:match("%s") then
      i = i + 1
    elseif text:match("^%-%-", i) then
      i = (text:find("\n", i, true) or n) + 1
    elseif text:match("^/%*", i) then
      i = (select(2, text:find("*/", i + 2, true)) or n) + 1
    elseif c == "'" then
      local close = text:find("'", i + 1, true)
      i = (close or n) + 1
    elseif c:match('[%w_"]') then
      local j = i
      while j <= n do
        local d = text:sub(j, j)
        if d == '"' then j = (text:find('"', j + 1, true) or n) + 1
        elseif d:match("[%w_$%.]") then j = j + 1
        else break end
      end
      list[#list + 1] = text:sub(i, j - 1)
      i = j
    else
      list[#list + 1] = c
      i = i + 1
    end
  end
  return list
end
sql.tokens = tokens

-- The relations a statement names, by alias and by their own name:
-- { alias or name = "schema.name" as written }.
function sql.bindings(statement)
  local t, bound = tokens(statement), {}
  local i = 1
  while i <= #t do
    local word = t[i]:lower()
    if word == "from" or word == "join" or word == "update" or word == "into" then
      local j = i + 1
      while t[j] do
        if t[j]:lower() == "only" or t[j]:lower() == "lateral" then j = j + 1 end
        local relation = t[j]
        if not relation or not relation:match('^[%a_"]') or not_alias[relation:lower()] then break end
        local parts = ident.parse(relation) or {}
        if parts[#parts] then bound[parts[#parts]] = relation end
        j = j + 1
        if t[j] and t[j]:lower() == "as" then j = j + 1 end
        if t[j] and t[j]:match("^[%a_]") and not not_alias[t[j]:lower()] then
          bound[t[j]:lower()] = relation
          j = j + 1
        end
        if t[j] ~= "," or word ~= "from" then break end
        j = j + 1
      end
      i = j
    else
      i = i + 1
    end
  end
  return bound
end

-- Running -----------------------------------------------------------------------

-- psql's \timing line.
function sql.timing_text(seconds)
  local ms = seconds * 1000
  if ms < 1000 then return string.format("Time: %.3f ms", ms) end
  local s = ms / 1000
  local minutes = math.floor(s / 60)
  s = s - 60 * minutes
  if minutes < 60 then return string.format("Time: %.3f ms (%02d:%06.3f)", ms, minutes, s) end
  local hours = math.floor(minutes / 60)
  minutes = minutes - 60 * hours
  if hours < 24 then return string.format("Time: %.3f ms (%02d:%02d:%06.3f)", ms, hours, minutes, s) end
  local days = math.floor(hours / 24)
  hours = hours - 24 * days
  return string.format("Time: %.3f ms (%.0f d %02d:%02d:%06.3f)", ms, days, hours, minutes, s)
end

-- Commands whose tag psql prints after the rows they return (RETURNING).
local tagged = { INSERT = true, UPDATE = true, DELETE = true, MERGE = true }

local function line_of(text, offset)
  local _, newlines = text:sub(1, offset - 1):gsub("\n", "")
  return newlines
end

-- run_one(session, statement, where, opts): one statement, its result
-- printed as psql prints it. A failure raises a SQL error.
local function run_one(session, statement, where, opts)
  local db = session:need_db("SQL")
  local started = sys.now()
  local rows, message, err = db:query(statement)
  local elapsed = sys.now() - started
  if not rows then error(query.sql_error(message, err, statement, where), 0) end
  if rows.copy then
    -- COPY ... TO STDOUT: the data as the server sent it, as psql shows it
    if rows.copy ~= "" then session:emit(rows.copy) end
  elseif #rows.fields > 0 then
    local shown = session:render(rows, true, opts)
    local tag = rows.command and rows.command:match("^(%u+)")
    if tag and tagged[tag] then shown = shown .. "\n" .. rows.command end
    session:emit(shown)
  elseif rows.command and rows.command ~= "" then
    session:emit(rows.command)
  end
  if session.settings.timing then session:emit(sql.timing_text(elapsed)) end
end

-- sql.run(session, text, opts) runs the statements of text one by one (a
-- last one without `;` included), stopping at the first that fails.
-- opts.first_line: the input line text starts on, for messages in piped
-- mode; opts.expanded overrides settings.expanded (\gx).
function sql.run(session, text, opts)
  opts = opts or {}
  local scan = sql.scan(text)
  local list = scan.statements
  if scan.rest:match("%S") then list[#list + 1] = { text = scan.rest, offset = scan.rest_offset } end
  for _, s in ipairs(list) do
    if s.text:match("[^%s;]") then
      local where
      if opts.first_line and not session.interactive then
        where = "stdin:" .. (opts.first_line + line_of(text, s.offset))
      end
      run_one(session, s.text, where, opts)
    end
  end
end

return sql
