-- ladle.repl.query: what the REPL's pieces share about queries: the SQL
-- error object the REPL raises and prints with the position marked, record
-- lists that print as grids, catalog sessions, and psql's name patterns.

local catalog = require "ladle.catalog"
local pg = require "ladle.pg"
local format = require "ladle.repl.format"

local query = {}

-- What sql() raises: the fields of a ladle.pg error plus the query and the
-- place in the chunk (`where`), so that the position can be shown.
local SqlError = {}
SqlError.__index = SqlError
SqlError.__name = "ladle.repl.sql_error"
SqlError.__tostring = function(e) return format.sql_error(e, { one_line = true }) end

function query.sql_error(message, err, sql, where)
  local e = setmetatable({}, SqlError)
  for k, v in pairs(err or {}) do e[k] = v end
  e.message = e.message or message
  e.query = sql
  e.where = where
  return e
end

function query.is_sql_error(v)
  return getmetatable(v) == SqlError
end

-- records(rows, fields, title, display): rows (tables keyed by field)
-- shaped like a query result, so that the REPL prints them as a grid under
-- title. display: grid options that go with these rows (null = "" as
-- psql's lists show NULL, footer = false, centre_title = true, ...).
function query.records(rows, fields, title, display)
  rows.fields = fields
  rows.title = title
  rows.display = display
  return rows
end

-- must(db, sql, ...) -> rows; a failure raises a SQL error.
function query.must(db, sql, ...)
  local rows, message, err = db:query(sql, ...)
  if not rows then error(query.sql_error(message, err, sql), 0) end
  return rows
end

-- query.catalog(db, fn, ...) -> what fn(db, ...) returns, run in one
-- catalog session (ladle.catalog: one snapshot, jit off). Every name in
-- the queries is pg_catalog-qualified; inside the session the caller's
-- search_path is put back all the same, because what the REPL prints
-- follows it as psql's \d does: pg_table_is_visible() decides which
-- relations a bare pattern finds, and the deparsing functions
-- (pg_get_constraintdef, format_type, regclass output, ...) qualify only
-- the names that are not visible on it. A failure raises a SQL error.
function query.catalog(db, fn, ...)
  local path = query.must(db, "SELECT pg_catalog.current_setting('search_path') AS path")[1].path
  local results = table.pack(catalog.run(db, function(conn, ...)
    query.must(conn, "SELECT pg_catalog.set_config('search_path', $1, true)", path)
    return true, fn(conn, ...)
  end, ...))
  if not results[1] then error(query.sql_error(results[2], results[3]), 0) end
  return table.unpack(results, 2, results.n)
end

-- query.connect(target, ask_password) -> conn | nil, message, details.
-- When the server wants a password and none was given, ask_password(prompt)
-- (when there is one) is asked for it, as psql asks, and the connection is
-- tried once more with it. The password goes to libpq only.
function query.connect(target, ask_password)
  local conn, message, details = pg.connect(target)
  if conn or not ask_password or not (details and details.needs_password) then
    return conn, message, details
  end
  local password = ask_password(string.format("Password for user %s: ", details.user or ""))
  if password == nil then return nil, message, details end
  if type(target) == "table" then
    local with = { password = password }
    for k, v in pairs(target) do if k ~= "password" then with[k] = v end end
    return pg.connect(with)
  end
  local settings, why = pg.conninfo_split(target or "")
  if not settings then return nil, why end
  return pg.connect(settings .. " password=" .. pg.conninfo_value(password))
end

-- Patterns --------------------------------------------------------------------

local regex_special = "[|*+?()%[%]{}.^$\\]"

-- query.pattern(text) -> schema regex, name regex (nil for a part that is
-- absent or empty), as psql reads the PATTERN of \d and friends: letters
-- fold to lower case, `*` is any run of characters, `?` any one, `.`
-- separates the schema, "double quotes" take what they enclose literally
-- (`""` for a quote), `$` is literal, other regular-expression characters
-- work as in `~`. A database part in front (db.schema.name) is ignored.
function query.pattern(text)
  if text == nil then return nil, nil end
  local parts, buf, quoted = {}, {}, false
  local i, n = 1, #text
  while i <= n do
    local c = text:sub(i, i)
    if c == '"' then
      if quoted and text:sub(i + 1, i + 1) == '"' then
        buf[#buf + 1] = '"'
        i = i + 1
      else
        quoted = not quoted
      end
    elseif quoted then
      buf[#buf + 1] = c:match(regex_special) and ("\\" .. c) or c
    elseif c == "." then
      parts[#parts + 1] = table.concat(buf)
      buf = {}
    elseif c == "*" then
      buf[#buf + 1] = ".*"
    elseif c == "?" then
      buf[#buf + 1] = "."
    elseif c == "$" then
      buf[#buf + 1] = "\\$"
    else
      buf[#buf + 1] = c:lower()
    end
    i = i + 1
  end
  parts[#parts + 1] = table.concat(buf)
  local function anchored(p) return (p ~= nil and p ~= "") and ("^(" .. p .. ")$") or nil end
  if #parts == 1 then return nil, anchored(parts[1]) end
  return anchored(parts[#parts - 1]), anchored(parts[#parts])
end

-- The WHERE clause psql adds for a pattern on a named object: $s and $n
-- are the parameters for the schema and name regexes; without a schema
-- part only what is visible on the search_path matches (visible: an SQL
-- expression, e.g. "pg_catalog.pg_table_is_visible(c.oid)").
function query.pattern_filter(schema_col, name_col, visible, s, n)
  return string.format([[
       AND (%s::pg_catalog.text IS NULL OR %s OPERATOR(pg_catalog.~) %s)
       AND (%s::pg_catalog.text IS NULL OR %s OPERATOR(pg_catalog.~) %s)
       AND (%s::pg_catalog.text IS NOT NULL OR %s)]],
    s, schema_col, s, n, name_col, n, s, visible)
end

return query
