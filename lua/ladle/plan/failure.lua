-- ladle.plan.failure: turning what the server said about a statement into
-- a failure that names the delta's file and line.
--
-- The server counts an error's position in characters from the start of
-- what was sent, which may begin with ladle's own SQL (BEGIN, the session
-- reset); PL/pgSQL counts lines from the start of a DO block's body. Both
-- are mapped back to the line and column in the file.

local delta = require "ladle.delta"
local errors = require "ladle.errors"

local failure = {}

-- Characters of text, as the server counts them.
local function char_length(text, utf8_text)
  if utf8_text then return utf8.len(text) or #text end
  return #text
end
failure.char_length = char_length

-- Line and column in content of the server's position pos (characters
-- into the statement stmt); nil when the position is past the statement
-- (in ladle's own SQL after it).
local function locate(content, stmt, pos, utf8_text)
  local length = char_length(stmt.text, utf8_text)
  if pos < 1 or pos > length then return nil, pos > length end
  local byte = utf8_text and utf8.offset(stmt.text, pos) or pos
  local absolute = stmt.start + (byte or 1) - 1
  local line = delta.line_at(content, absolute)
  local line_start = absolute
  while line_start > 1 and content:sub(line_start - 1, line_start - 1) ~= "\n" do line_start = line_start - 1 end
  return line, false, char_length(content:sub(line_start, absolute - 1), utf8_text) + 1
end

-- The byte where line `line` of content starts (a line of statement stmt).
local function start_of_line(content, stmt, line)
  local at, current = stmt.start, stmt.line
  while current < line do
    at = content:find("\n", at, true) + 1
    current = current + 1
  end
  while at > 1 and content:byte(at - 1) ~= 10 do at = at - 1 end
  return at
end

-- failure.statement(d, content, stmt, prefix_chars, message, err, utf8_text)
-- -> the failure object for statement stmt of delta d that the server
-- rejected. prefix_chars: characters of ladle's own SQL sent before the
-- statement in the same message. err: the details ladle.pg returned.
function failure.statement(d, content, stmt, prefix_chars, message, err, utf8_text)
  err = err or {}
  local line, column, in_tracking = stmt.line, nil, false
  if err.position then
    local found, past, col = locate(content, stmt, err.position - prefix_chars, utf8_text)
    if found then line, column = found, col end
    in_tracking = past
  elseif err.context and stmt.text:match("^[Dd][Oo]%f[^%w_]") then
    local body_line = tonumber(err.context:match("inline_code_block line (%d+)"))
    local quote = stmt.text:find("[$']")
    if body_line and quote then
      line = delta.line_at(content, stmt.start + quote - 1) + body_line - 1
    end
  end
  local text = err.message or message or "unknown error"
  if err.sqlstate == "25001" then
    -- CREATE INDEX CONCURRENTLY and friends
    text = text .. "; put '-- ladle: no-transaction' on the delta's first line to run it outside one"
  end
  local state = err.sqlstate and (" (SQLSTATE " .. err.sqlstate .. ")") or ""
  local f
  if in_tracking then
    f = errors.failure("database", string.format("%s: recording the delta failed (nothing of it was kept): %s%s",
      d.path, text, state))
  else
    f = errors.failure("database", string.format("%s:%d: %s%s", d.path, line, text, state))
  end
  f.delta, f.line, f.column, f.sqlstate, f.statement = d, line, column, err.sqlstate, stmt.text
  f.server_message, f.detail, f.hint, f.context = err.message, err.detail, err.hint, err.context
  if column then f.statement_line = content:match("^[^\n]*", start_of_line(content, stmt, line)) end
  return f
end

-- failure.lua_error(d, err[, server]) -> the failure for a Lua delta that
-- raised err; server: the details of the query that failed inside it
-- (conn:last_error()), whose SQLSTATE, DETAIL, HINT and CONTEXT it shows.
function failure.lua_error(d, err, server)
  if type(err) ~= "string" then err = tostring(err) end
  local text = err:find(d.path, 1, true) == 1 and err or (d.path .. ": " .. err)
  if server and server.sqlstate then text = text .. " (SQLSTATE " .. server.sqlstate .. ")" end
  local f = errors.failure("runtime", text)
  f.delta, f.line = d, tonumber(err:match(":(%d+):"))
  if server then
    f.sqlstate, f.server_message = server.sqlstate, server.message
    f.detail, f.hint, f.context = server.detail, server.hint, server.context
  end
  return f
end

return failure
