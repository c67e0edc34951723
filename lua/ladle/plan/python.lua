-- ladle.plan.python: pum 0.x's Python deltas and hooks, run with python3
-- as pum runs them (lua/ladle/plan/deltapy.py is the Python side).
--
-- The file is imported and each DeltaPy subclass in it is instantiated with
-- (current_db_version, delta_dir, delta_dirs, pg_service, upgrades_table,
-- variables) and run. It opens its own connections, so it is not atomic
-- with its tracking row: the row is written after python3 exits with 0.
-- pg_service is the target ladle connected to: the service name, or the
-- conninfo without its password; the password reaches python3 through
-- PGPASSWORD, never its arguments. What the delta prints (write_message)
-- is returned (the plan reports it); its traceback goes to stderr as it
-- comes.
--
-- ctx is the plan: python (the interpreter), service (the connection
-- target), table, dirs,
-- current_version, variables (ladle.plan.pyformat's list).

local errors = require "ladle.errors"
local json = require "ladle.json"
local pg = require "ladle.pg"
local sys = require "ladle.sys"

local python = {}
local fail = errors.fail

python.DEFAULT = "python3"

-- The Python side, next to this file wherever ladle's Lua files are.
function python.script()
  local here = package.searchpath("ladle.plan.python", package.path)
  local script = here and here:gsub("python%.lua$", "deltapy.py")
  if not script or not sys.stat(script) then
    fail("runtime", "ladle's deltapy.py is not installed next to %s", here or "ladle/plan/python.lua")
  end
  return script
end

-- python.check(interpreter) raises an "input" failure (exit 2) when the
-- interpreter cannot run, before anything of the plan runs.
function python.check(interpreter)
  interpreter = interpreter or python.DEFAULT
  local status, err = sys.spawn({ interpreter, "-c", "import sys; sys.exit(0 if sys.version_info >= (3, 5) else 1)" },
    { stdout = "null", stderr = "null" })
  if status == 0 then return true end
  fail("input", "%s: %s; pum's Python deltas and hooks need Python 3 (install the Debian package python3, or name "
    .. "the interpreter with LADLE_PYTHON or python_exe in the config file)", interpreter,
    status == nil and tostring(err) or ("it is not Python 3 (exit status " .. status .. ")"))
end

-- How the Python side names the target: a service as it is, a conninfo
-- or URI as libpq reads it without its secrets (pg.child_service); and
-- the environment that carries the password.
function python.target(target)
  if target == nil or target == "" then return nil, {} end
  local conninfo, env = pg.child_service(target)
  if not conninfo then fail("usage", "-p: %s", env) end
  return conninfo, env
end

local function dirname(path)
  return path:match("^(.*)/[^/]*$") or "."
end

-- python.run(ctx, d) -> what it printed. Runs delta (or hook) d; raises a
-- failure naming the file when python3 fails, "interrupted" on Ctrl-C.
function python.run(ctx, d)
  local service, env = python.target(ctx.service)
  local variables = json.array {}
  for _, v in ipairs(ctx.variables or {}) do variables[#variables + 1] = { v.type, v.name, v.text } end
  local context = json.encode {
    file = d.path, module = d.hook or d.description, current_db_version = ctx.current_version or pg.null,
    delta_dir = dirname(d.path) .. "/", delta_dirs = json.array(table.move(ctx.dirs or {}, 1, #(ctx.dirs or {}), 1, {})), pg_service = service or pg.null,
    upgrades_table = ctx.table, variables = variables,
  }
  local interpreter = ctx.python or python.DEFAULT
  local status, out = sys.spawn({ interpreter, python.script(), context },
    { env = env, stdout = "capture", stderr = "inherit" })
  if status == nil then fail("input", "%s: cannot run %s: %s", d.path, interpreter, tostring(out)) end
  if status == 130 then fail("interrupted", "%s: interrupted", d.path) end
  if status ~= 0 then
    fail("runtime", "%s: the Python %s failed (%s exited with status %d; its traceback is above)", d.path,
      d.hook and "hook" or "delta", interpreter, status)
  end
  return out
end

return python
