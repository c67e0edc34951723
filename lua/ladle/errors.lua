-- ladle.errors: how ladle reports failure, in one place.
--
-- Three shapes, each for one purpose:
--
-- 1. A library function that meets a failure of the outside world (the
--    server refused, a file is unreadable, a tool exited non-zero) returns
--
--        nil, message, details
--
--    message: one line for a person; details: a table with named fields,
--    never a bare number or string. The fields in use:
--      kind      what failed, for the exit code: "input" (a file, a name,
--                a version the user gave), "database", "system", "usage"
--      sqlstate, detail, hint, context, position, severity  (the server's)
--      errno     (the operating system's), path
--      status, stderr   (a child process's exit status and what it printed)
--      file, line, column, offset   (where in an input file)
--
-- 2. Misuse by the caller (a wrong argument type, a missing required
--    option) raises an ordinary Lua error: it is a bug to fix, not a
--    condition to handle.
--
-- 3. Code that ends a command or a recipe raises a failure object with
--    errors.fail(kind, fmt, ...): {kind =, exit =, message =}. The host
--    prints its message as one line on stderr and exits with its code;
--    with --json also a JSON error object on stdout, unless the failure
--    says json_reported = true (the command's own JSON told it already)
--    or its kind is "found".
--
-- errors.codes is the one table from kinds to exit codes; no module below
-- commands/ writes an exit code as a number.

local errors = {}

errors.codes = {
  ok = 0,
  found = 1,        -- differences or pending work found
  usage = 2,        -- bad usage
  input = 2,        -- bad input files, names, versions
  runtime = 3,      -- a runtime failure
  database = 3,     -- the database refused or could not be reached
  system = 3,       -- the operating system or a child process failed
  interrupted = 130,
}

local Failure = {}
Failure.__index = Failure
Failure.__name = "ladle.failure"
Failure.__tostring = function(f) return f.message end

local kind_of_code = { [0] = "ok", [1] = "found", [2] = "usage", [3] = "runtime", [130] = "interrupted" }

-- errors.failure(kind, message[, fields]) -> a failure object.
-- kind: a name in errors.codes or an exit code (what recipes pass on).
function errors.failure(kind, message, fields)
  local code
  if type(kind) == "string" then
    code = errors.codes[kind]
    assert(code, "fail: unknown failure kind " .. kind)
  else
    code = kind
    assert(math.type(code) == "integer", "fail: expected a failure kind or an exit code")
    kind = kind_of_code[code] or "runtime"
  end
  local f = setmetatable({ kind = kind, exit = code, message = tostring(message or "") }, Failure)
  for k, v in pairs(fields or {}) do
    if f[k] == nil then f[k] = v end
  end
  return f
end

-- errors.with_kind(details, kind) -> a copy of a details table (or of
-- none) with its kind set: what a caller returns when it knows better
-- what kind of failure a lower call's was.
function errors.with_kind(details, kind)
  local out = { kind = kind }
  for k, v in pairs(details or {}) do if k ~= "kind" then out[k] = v end end
  return out
end

-- Raises a failure; format arguments as in string.format.
function errors.fail(kind, fmt, ...)
  local message = select("#", ...) > 0 and string.format(fmt, ...) or fmt
  error(errors.failure(kind, message), 0)
end

-- errors.raise(message, details[, default_kind]) raises what a library
-- call returned as nil, message, details, as a failure of details.kind.
function errors.raise(message, details, default_kind)
  error(errors.failure((details and details.kind) or default_kind or "runtime", message, details), 0)
end

-- errors.check(value, message, details) -> value, or raises the failure.
-- For calls that follow shape 1: errors.check(plan.new(opts)).
function errors.check(value, message, details, ...)
  if value == nil then errors.raise(message, details) end
  return value, message, details, ...
end

-- errors.printable(text) -> text fit for one line of a terminal: control
-- characters (C0, DEL, C1; newlines and ANSI escapes among them) and bytes
-- that are not UTF-8 are shown as \xNN, so that a file name cannot move the
-- cursor, colour the screen or split a message.
function errors.printable(text)
  text = tostring(text)
  if not text:find("[%z\1-\31\127-\255]") then return text end
  local out, i, n = {}, 1, #text
  while i <= n do
    -- a whole character when one starts here, else one byte
    local char = utf8.len(text, i, i) and text:sub(i, (utf8.offset(text, 2, i) or n + 1) - 1) or text:sub(i, i)
    local byte = char:byte(1)
    if (#char == 1 and (byte < 0x20 or byte >= 0x7f)) or (byte == 0xc2 and char:byte(2) < 0xa0) then
      out[#out + 1] = char:gsub(".", function(c) return string.format("\\x%02x", c:byte()) end)
    else
      out[#out + 1] = char
    end
    i = i + #char
  end
  return table.concat(out)
end

function errors.is_failure(value)
  return getmetatable(value) == Failure
end

-- The value the host raises when Ctrl-C (or SIGTERM, SIGHUP) interrupts
-- Lua code: an object whose metatable is named "ladle.interrupt" (see
-- include/ladle.h), or a failure of kind "interrupted" (what a plan
-- raises in its place, with what it applied before). Code that catches
-- errors lets it through.
function errors.is_interrupt(value)
  if errors.is_failure(value) then return value.kind == "interrupted" end
  local mt = getmetatable(value)
  return type(mt) == "table" and mt.__name == "ladle.interrupt"
end

-- A statement line of at most about 80 characters around the column, and
-- the column in it, as psql cuts a long line.
local function window(text, column)
  text = text:gsub("[\t\r]", " ")
  local length = utf8.len(text)
  if not length or length <= 80 or column < 1 then return text, column end
  local first = math.max(1, column - 40)
  local last = math.min(length, first + 79)
  local cut = text:sub(utf8.offset(text, first), (utf8.offset(text, last + 1) or #text + 1) - 1)
  local lead = first > 1 and "..." or ""
  return lead .. cut .. (last < length and "..." or ""), column - first + 1 + #lead
end

-- errors.explain(f) -> the lines psql prints under a server error: the
-- failing line of the file with a caret under the error's position
-- (f.statement_line, f.line, f.column), then DETAIL, HINT and CONTEXT.
function errors.explain(f)
  local lines = {}
  if f.statement_line and f.column and f.line then
    local prefix = string.format("LINE %d: ", f.line)
    local text, column = window(f.statement_line, f.column)
    lines[#lines + 1] = prefix .. text
    lines[#lines + 1] = string.rep(" ", #prefix + column - 1) .. "^"
  end
  for _, field in ipairs { "detail", "hint", "context" } do
    local value = f[field]
    if type(value) == "string" and value ~= "" then
      local first = true
      for line in value:gmatch("[^\n]+") do
        lines[#lines + 1] = first and (field:upper() .. ":  " .. line) or line
        first = false
      end
    end
  end
  return lines
end

return errors
