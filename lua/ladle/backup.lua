-- ladle.backup: pg_dump and pg_restore, run without a shell.
--
-- The connection target (service name, conninfo or URI) reaches the tool
-- through libpq's environment variables, so a password never shows in a
-- process listing. Dump files are created with mode 0600 before the tool
-- writes into them: a dump holds the data.

local pg = require "ladle.pg"
local sys = require "ladle.sys"

local backup = {}

-- The line of a tool's stderr that says what went wrong.
local function first_error(text)
  text = text or ""
  return text:match("[^\n]*error:[^\n]*") or text:match("^%s*([^\n]*)")
end

local function run_tool(argv, env)
  local status, out, err = sys.spawn(argv, { env = env, stdout = "null", stderr = "capture" })
  if status == nil then return nil, out end
  if status ~= 0 then
    return nil, string.format("%s failed (exit status %d): %s", argv[1], status, first_error(err)), err
  end
  return true, err
end

-- backup.dump(target, file, opts) -> true | nil, message, stderr
--   opts.pg_dump_exe (default "pg_dump"), opts.args: extra arguments.
-- Writes a custom-format dump (pg_dump -Fc), as pum does.
function backup.dump(target, file, opts)
  opts = opts or {}
  local env, err = pg.conninfo_env(target)
  if not env then return nil, err end
  local ok
  ok, err = sys.create(file, tonumber("600", 8))
  if not ok then return nil, err end
  local argv = { opts.pg_dump_exe or "pg_dump", "--format=custom", "--file=" .. file }
  for _, a in ipairs(opts.args or {}) do argv[#argv + 1] = a end
  return run_tool(argv, env)
end

-- backup.restore(target, file, opts) -> true | nil, message, stderr
--   opts.pg_restore_exe (default "pg_restore"), opts.args: extra arguments
--   (for example {"--no-owner"}). Stops at the first error, as pum does.
function backup.restore(target, file, opts)
  opts = opts or {}
  local env, err = pg.conninfo_env(target)
  if not env then return nil, err end
  local st = sys.stat(file)
  if not st then return nil, string.format("cannot read %s", file) end
  -- pg_restore writes a script to stdout unless given -d: name the database
  -- the target resolves to, and let the environment carry the rest.
  local db
  db, err = pg.connect(target)
  if not db then return nil, err end
  local dbname = db:info().dbname
  db:close()
  local argv = { opts.pg_restore_exe or "pg_restore", "--exit-on-error",
    "--dbname=dbname=" .. "'" .. dbname:gsub("\\", "\\\\"):gsub("'", "\\'") .. "'" }
  for _, a in ipairs(opts.args or {}) do argv[#argv + 1] = a end
  argv[#argv + 1] = file
  return run_tool(argv, env)
end

return backup
