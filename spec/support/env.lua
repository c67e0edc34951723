-- What the specs share: the test cluster started by spec/helper.lua, fresh
-- databases on it, temporary directories, and a way to run the ladle
-- executable and collect its status and output.

local sys = require "ladle.sys"
local ladle = require "ladle"

local env = {}

env.exe = assert(os.getenv("LADLE_EXE"), "LADLE_EXE is not set: run the specs with make test")
env.cluster_dir = assert(os.getenv("LADLE_TEST_CLUSTER"), "no test cluster: spec/helper.lua did not run")

function env.conninfo(dbname)
  return string.format("host=%s port=5432 user=postgres dbname=%s", env.cluster_dir, dbname or "postgres")
end

function env.connect(dbname)
  return assert(ladle.connect(env.conninfo(dbname)))
end

-- Busted reloads this module for every spec file; the counter lives in the
-- registry so that names stay unique across files.
local function next_serial()
  local registry = debug.getregistry()
  registry.ladle_spec_serial = (registry.ladle_spec_serial or 0) + 1
  return registry.ladle_spec_serial
end

-- A new, empty database; returns its name and conninfo.
function env.new_database(prefix)
  local name = string.format("%s_%d_%d", prefix or "spec", sys.getpid(), next_serial())
  local admin = env.connect()
  assert(admin:exec("CREATE DATABASE " .. admin:escape_identifier(name)))
  admin:close()
  return name, env.conninfo(name)
end

function env.drop_database(name)
  local admin = env.connect()
  assert(admin:exec("DROP DATABASE IF EXISTS " .. admin:escape_identifier(name) .. " WITH (FORCE)"))
  admin:close()
end

local tmpdirs = {}
require("busted").subscribe({ "exit" }, function()
  for _, dir in ipairs(tmpdirs) do sys.rmtree(dir) end
  return nil, true
end)

-- A temporary directory removed at the end of the run.
function env.tmpdir()
  local dir = assert(sys.mkdtemp("ladle-spec-"))
  tmpdirs[#tmpdirs + 1] = dir
  return dir
end

function env.write(path, content)
  local f = assert(io.open(path, "wb"))
  f:write(content)
  f:close()
  return path
end

function env.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local content = f:read("a")
  f:close()
  return content
end

-- Runs the ladle executable: returns status, stdout, stderr.
-- opts: database (PGDATABASE), env (overrides, over database too), cwd,
-- stdin ({path=} or "null").
function env.ladle(args, opts)
  opts = opts or {}
  local argv = { env.exe }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  local overrides = opts.env
  if opts.database then
    overrides = { PGDATABASE = opts.database }
    for k, v in pairs(opts.env or {}) do overrides[k] = v end
  end
  local status, out, err = sys.spawn(argv, {
    stdout = "capture", stderr = "capture", env = overrides, cwd = opts.cwd,
    stdin = opts.stdin or "null",
  })
  assert(status, out)
  return status, out, err
end

return env
