-- ladle.repl.sql: SQL typed at the prompt.
--
--   sql.is_sql(line, env) -> true when the line starts SQL rather than Lua
--   sql.scan(text) -> { statements, complete, meta, ... }
--   sql.timing_text(seconds) -> psql's \timing line
-- (ladle.repl.execute runs what this reads.)
--
-- Which input is SQL (doc/repl.md has the same rule for people): the first
-- word is a SQL command keyword (any case), and what follows it is not one
-- of the few things Lua can write there. With `value` what the word names
-- in Lua at this point (a global with a value, nil when it names nothing),
-- the input is Lua when
--   - the word is followed by `.name`, `:`, `[`, `,`, `{` or `=` (not `==`):
--     a field, a method, an index, an assignment (`table.concat(t)`,
--     `update = true`, `commit, x = 1, 2`, `insert{1}`);
--   - a call's `(` or quote comes right after the word and value can be
--     called (`values(t)` with a `values` function, `select('#', ...)`),
--     except `select(x)` with one argument, which Lua's select does nothing
--     with (`select(1);` is SQL);
--   - a binary operator follows and applies to value: `and`, `or`, `==`,
--     `~=` to any value, the others (`+ - * / // % ^ .. < > <= >= & | ~ << >>`)
--     to a number, a string or a table with a metatable (`table or {}`;
--     `select -1`, `select * from t` stay SQL: a function takes no `-`);
--   - nothing but spaces, `--` comments or a `;` follows and value is
--     something other than a function (`table` shows Lua's table library,
--     `select` alone starts a statement);
--   - the word is `do` and no dollar quote, string or LANGUAGE follows it
--     (`do ... end` blocks stay Lua).
-- Anything else after a SQL keyword is SQL: a word (`select true`, `select
-- not false`, `select nil`), a number, `*`, `-`, `(` after a space or
-- after a word that is no Lua function (`explain(costs off) ...`), `/*`.

local ident = require "ladle.ident"

local sql = {}

-- Words that start an SQL command at the prompt.
sql.KEYWORDS = {}
for word in ([[select with insert update delete merge create alter drop truncate grant revoke
  comment explain show set reset begin start commit rollback savepoint release table values call
  do analyze analyse vacuum refresh lock listen notify unlisten copy end abort prepare execute
  deallocate discard checkpoint cluster reindex security import fetch move close declare]]):gmatch("%a+") do
  sql.KEYWORDS[word] = true
end

-- What word names in Lua at this point (nil: nothing, or a strict env
-- that refuses the lookup).
local function lua_value(env, word)
  local ok, value = pcall(function() return env[word] end)
  if ok then return value end
end

local function callable(value)
  if type(value) == "function" then return true end
  local mt = getmetatable(value)
  return type(mt) == "table" and mt.__call ~= nil
end

-- Whether arithmetic, concatenation, comparison and bitwise operators
-- can apply to value.
local function operand(value)
  local t = type(value)
  return t == "number" or t == "string" or ((t == "table" or t == "userdata") and getmetatable(value) ~= nil)
end

-- Lua's binary operators, longest first; `and`, `or`, `==` and `~=` apply
-- to any value.
local binary_operators = { "//", "..", "==", "~=", "<=", ">=", "<<", ">>", "+", "-", "*", "/", "%", "^", "<",
  ">", "&", "|", "~" }
local any_value = { ["=="] = true, ["~="] = true, ["and"] = true, ["or"] = true }

-- Whether the parentheses that open text hold at most one argument: no
-- comma outside nested brackets and strings (up to the closing one, or
-- the end of the text).
local function single_argument(text)
  local depth, i, n = 0, 1, #text
  while i <= n do
    local c = text:sub(i, i)
    if c == "'" or c == '"' then
      local close = text:find(c, i + 1, true)
      i = close or n
    elseif c == "(" or c == "[" or c == "{" then
      depth = depth + 1
    elseif c == ")" or c == "]" or c == "}" then
      depth = depth - 1
      if depth == 0 then return true end
    elseif c == "," and depth == 1 then
      return false
    end
    i = i + 1
  end
  return true
end

-- text without the spaces and `--` comments it starts with
local function skip_blanks(text)
  repeat
    local before = text
    text = text:gsub("^%s+", ""):gsub("^%-%-[^\n]*", "")
  until text == before
  return text
end

-- sql.is_sql(line, env) -> whether the input starting with this line is
-- SQL (the rule above).
function sql.is_sql(line, env)
  local word, rest = line:match("^%s*([%a_][%w_]*)(.*)$")
  if not word or not sql.KEYWORDS[word:lower()] then return false end
  if word == "do" then
    return rest:match("^%s+%$") ~= nil or rest:match("^%s+'") ~= nil
      or rest:match("^%s+[Ll][Aa][Nn][Gg][Uu][Aa][Gg][Ee]%f[^%w_]") ~= nil
  end
  -- a field, a method, an index, an assignment, a table constructor
  if rest:match("^%s*%.[%a_]") or rest:match("^%s*[:%[,{]") or rest:match("^%s*=[^=]")
    or rest:match("^%s*=$") then
    return false
  end
  local value = lua_value(env or {}, word)
  local first = rest:sub(1, 1)
  if first == "(" or first == "'" or first == '"' then
    -- a call, when there is something to call
    if not callable(value) then return true end
    return word == "select" and first == "(" and single_argument(rest)
  end
  local body = skip_blanks(rest)
  if body == "" or body:sub(1, 1) == ";" then
    -- alone: Lua shows a value, SQL starts a statement
    return value == nil or type(value) == "function"
  end
  if body:match("^/%*") then return true end
  local operator = body:match("^(and)%f[^%w_]") or body:match("^(or)%f[^%w_]")
  if not operator then
    for _, op in ipairs(binary_operators) do
      if body:sub(1, #op) == op then
        operator = op
        break
      end
    end
  end
  if operator then
    if any_value[operator] then return value == nil end
    return not operand(value)
  end
  return true
end

-- Scanning --------------------------------------------------------------------

-- sql.scan(text[, init, depth]) -> {
--   statements = { {text = "select 1;", offset = byte where it starts}, ... },
--   complete = true when nothing but spaces and (closed) comments follows
--     the last `;`,
--   rest = the unfinished statement after it (or ""), rest_offset,
--   meta = the backslash command that ends the input, if any ("gx", ...),
--   meta_at = where it starts, depth = the parentheses open there }
-- Semicolons end statements only outside quotes ('...', E'...', "...",
-- $tag$...$tag$), comments (-- and nested /* */) and parentheses; a
-- backslash outside them starts a backslash command, as in psql.
-- init: the byte to start at (offsets stay those of text); depth: the
-- parentheses already open there (a statement cut by a backslash line).
function sql.scan(text, init, depth)
  local statements = {}
  local i, n = init or 1, #text
  local start, seen = i, false  -- seen: a token other than a comment since `start`
  depth = depth or 0
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
    rest = rest:sub(lead + 1), rest_offset = start + lead, meta = meta, meta_at = meta_at, depth = depth }
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

return sql
