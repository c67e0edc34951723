-- ladle.repl.query: what the REPL's pieces share about queries: the SQL
-- error object the REPL raises and prints with the position marked, and
-- record lists that print as grids.

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

-- records(rows, fields, title): rows (tables keyed by field) shaped like a
-- query result, so that the REPL prints them as a grid under title.
function query.records(rows, fields, title)
  rows.fields = fields
  rows.title = title
  return rows
end

-- must(db, sql, ...) -> rows; a failure raises a SQL error.
function query.must(db, sql, ...)
  local rows, message, err = db:query(sql, ...)
  if not rows then error(query.sql_error(message, err, sql), 0) end
  return rows
end

return query
