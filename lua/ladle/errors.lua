-- ladle.errors: failures that end a command with a documented exit code.
--
-- Library functions report outside-world failures as `nil, message`;
-- commands and recipes turn them into a failure with `fail`, which the host
-- prints as one line on stderr before exiting with the failure's code.

local errors = {}

errors.codes = {
  ok = 0,
  found = 1,        -- differences or pending work found
  usage = 2,        -- bad usage or bad input files
  runtime = 3,      -- database or runtime failure
  interrupted = 130,
}

local Failure = {}
Failure.__index = Failure
Failure.__tostring = function(f) return f.message end

-- A failure object: {exit = code, message = text}.
function errors.failure(code, message)
  if type(code) == "string" then code = errors.codes[code] end
  assert(math.type(code) == "integer", "fail: exit code must be an integer or a code name")
  return setmetatable({ exit = code, message = tostring(message or "") }, Failure)
end

-- Raises a failure; format arguments as in string.format.
function errors.fail(code, fmt, ...)
  local message = select("#", ...) > 0 and string.format(fmt, ...) or fmt
  error(errors.failure(code, message), 0)
end

function errors.is_failure(value)
  return getmetatable(value) == Failure
end

return errors
