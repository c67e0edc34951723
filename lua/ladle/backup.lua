-- ladle.backup: pg_dump and pg_restore, run without a shell.
--
-- The connection target (service name, conninfo or URI) reaches the tool
-- as a conninfo without its password, which goes through PGPASSWORD, so a
-- password never shows in a process listing. Dump files are created with mode 0600 before the tool
-- writes into them: a dump holds the data.

local pg = require "ladle.pg"
local sys = require "ladle.sys"

local backup = {}

-- The line of a tool's stderr that says what went wrong.
local function first_error(text)
  text = text or ""
  return text:match("[^\n]*error:[^\n]*") or text:match("^%s*([^\n]*)")
end

local function run_tool(argv, env, ignore_errors)
  local status, out, err = sys.spawn(argv, { env = env, stdout = "null", stderr = "capture" })
  if status == nil then return nil, out, { kind = "system", errno = type(err) == "table" and err.errno or nil } end
  if status ~= 0 and ignore_errors then return true, err, { status = status, stderr = err } end
  if status ~= 0 then
    return nil, string.format("%s failed (exit status %d): %s", argv[1], status, first_error(err)),
      { kind = "system", status = status, stderr = err }
  end
  return true, err
end

-- The tool's view of a target: -d conninfo (without the secrets; the
-- password goes into PGPASSWORD) and the environment (pg.child_target).
local function tool_target(target)
  local conninfo, env, details = pg.child_target(target)
  if not conninfo then return nil, env, details end
  return "--dbname=" .. conninfo, env
end

-- backup.dump(target, file, opts) -> true | nil, message, details
--   details: kind, and status and stderr (pg_dump's exit status and messages)
--   opts.pg_dump_exe (default "pg_dump"), opts.exclude_schemas: schemas left
--   out (pg_dump -N), opts.args: extra arguments.
-- Writes a custom-format dump (pg_dump -Fc), as pum does.
function backup.dump(target, file, opts)
  opts = opts or {}
  local dbname, env, details = tool_target(target)
  if not dbname then return nil, env, details end
  local created, err
  created, err, details = sys.create(file, tonumber("600", 8))
  if not created then return nil, err, { kind = "system", errno = type(details) == "table" and details.errno or nil } end
  local argv = { opts.pg_dump_exe or "pg_dump", "--format=custom", "--file=" .. file, dbname }
  for _, schema in ipairs(opts.exclude_schemas or {}) do argv[#argv + 1] = "--exclude-schema=" .. schema end
  for _, a in ipairs(opts.args or {}) do argv[#argv + 1] = a end
  local ok, message, failure = run_tool(argv, env)
  if not ok then os.remove(file) end  -- half a dump is worse than none
  return ok, message, failure
end

-- backup.restore(target, file, opts) -> true | nil, message, details
--   opts.pg_restore_exe (default "pg_restore"), opts.args: extra arguments
--   (for example {"--clean", "--if-exists"}), opts.exclude_schemas (pg_restore
--   -N). Stops at the first error, as pum does; with opts.ignore_errors
--   (pum's -x) pg_restore goes on past errors and its exit status is not a
--   failure: true, its messages, {status =, stderr =}.
function backup.restore(target, file, opts)
  opts = opts or {}
  local dbname, env, details = tool_target(target)
  if not dbname then return nil, env, details end
  if not sys.stat(file) then return nil, string.format("cannot read %s", file), { kind = "input", path = file } end
  local argv = { opts.pg_restore_exe or "pg_restore", dbname }
  if not opts.ignore_errors then argv[#argv + 1] = "--exit-on-error" end
  for _, schema in ipairs(opts.exclude_schemas or {}) do argv[#argv + 1] = "--exclude-schema=" .. schema end
  for _, a in ipairs(opts.args or {}) do argv[#argv + 1] = a end
  argv[#argv + 1] = file
  return run_tool(argv, env, opts.ignore_errors)
end

return backup
