-- ladle.sandbox: throwaway PostgreSQL clusters, the embedded default.
--
--   local cluster <close> = assert(ladle.sandbox.start())
--   local db = assert(ladle.connect(cluster:conninfo()))
--
-- A cluster lives in a fresh temporary directory: a copy of a cached
-- initdb (ladle.sandbox.template; initdb itself the first time), fsync off,
-- a unix socket inside that directory and no TCP, so clusters never
-- collide. When ladle runs as root the server runs as the `postgres` user.
-- stop(), garbage collection, `<close>` and the end of the process all stop
-- the server and remove the directory.

local pg = require "ladle.pg"
local core = require "ladle.sandbox.core"
local errors = require "ladle.errors"
local sys = require "ladle.sys"
local template = require "ladle.sandbox.template"

local sandbox = {}

sandbox.package_hint = "apt-get install -y postgresql-15"
sandbox.port = 5432
sandbox.superuser = "postgres"

local function is_server_bindir(dir)
  local st = dir and sys.stat(dir .. "/initdb")
  return st ~= nil and st.type == "file" and sys.stat(dir .. "/pg_ctl") ~= nil
end

local function version_key(dir)
  local major = dir:match("/postgresql/(%d+)/bin$")
  return tonumber(major) or -1
end

-- Where the server binaries are: $LADLE_PG_BINDIR, `pg_config --bindir`,
-- else the newest /usr/lib/postgresql/*/bin. Returns dir or nil, message.
function sandbox.bindir()
  local wanted = os.getenv("LADLE_PG_BINDIR")
  if wanted and wanted ~= "" then
    if is_server_bindir(wanted) then return wanted end
    return nil, string.format("no PostgreSQL server binaries (initdb, pg_ctl) in %s; install them with: %s",
      wanted, sandbox.package_hint), { kind = "system" }
  end
  if sys.which("pg_config") then
    local status, out = sys.spawn({ "pg_config", "--bindir" }, { stdout = "capture", stderr = "null" })
    local dir = status == 0 and out:match("^%s*(.-)%s*$")
    if is_server_bindir(dir) then return dir end
  end
  local found = {}
  for _, name in ipairs(sys.listdir("/usr/lib/postgresql") or {}) do
    local dir = "/usr/lib/postgresql/" .. name .. "/bin"
    if is_server_bindir(dir) then found[#found + 1] = dir end
  end
  table.sort(found, function(a, b) return version_key(a) > version_key(b) end)
  if found[1] then return found[1] end
  return nil, "no PostgreSQL server binaries found; install them with: " .. sandbox.package_hint, { kind = "system" }
end

local Cluster = {}
Cluster.__index = Cluster

-- pg_ctl hands -o to a shell.
local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function tail(path, lines)
  local f = io.open(path)
  if not f then return "" end
  local all = {}
  for line in f:lines() do all[#all + 1] = line end
  f:close()
  return table.concat(all, "\n", math.max(1, #all - lines + 1))
end

-- Runs a server binary, as the server's user when we are root. Returns
-- true or nil, message (with what the tool printed), details {kind =
-- "system", status =, stderr =}.
function Cluster:_run(argv)
  argv[1] = self.bindir .. "/" .. argv[1]
  local status, out, err = sys.spawn(argv, {
    user = self.run_as, cwd = self.dir, stdout = "capture", stderr = "capture",
    env = { LC_ALL = "C", LANG = "C", PGDATA = false, PGHOST = false, PGPORT = false },
  })
  if status == 0 then return true end
  if status == nil then return nil, out, errors.with_kind(err, "system") end
  local said = ((err or "") .. (out or "")):gsub("%s+$", "")
  return nil, string.format("%s failed (status %d): %s", argv[1]:match("[^/]+$"), status, said),
    { kind = "system", status = status, stderr = said }
end

-- sandbox.start(opts) -> cluster or nil, message, details (kind "system")
--   opts.hba: pg_hba.conf lines placed before the default "trust" rules
--   opts.settings: extra server settings, {name = value}
--   opts.template: false to run initdb even when a cached copy of its
--     output exists (ladle.sandbox.template); opts.cache: the cache
--     directory (default $XDG_CACHE_HOME/ladle)
function sandbox.start(opts)
  opts = opts or {}
  local bindir, why, details = sandbox.bindir()
  if not bindir then return nil, why, details end
  local self = setmetatable({ bindir = bindir, port = sandbox.port, user = sandbox.superuser }, Cluster)
  if sys.geteuid() == 0 then
    self.run_as = opts.run_as or "postgres"
    if not sys.user_exists(self.run_as) then
      return nil, string.format("running as root, the server needs the '%s' user; install: %s",
        self.run_as, sandbox.package_hint), { kind = "system" }
    end
  end
  local dir, err, failed = sys.mkdtemp("ladle-sandbox-")
  if not dir then return nil, err, failed end
  self.dir = dir
  self.datadir = dir .. "/data"
  self.log = dir .. "/server.log"
  -- the guard exists before the server does, so nothing can outlive us
  self.guard = core.guard(self.datadir, dir)
  local ok
  ok, err, failed = sys.chmod(dir, tonumber("755", 8))
  if ok and self.run_as then ok, err, failed = sys.chown(dir, self.run_as) end
  if ok then ok, err, failed = self:_make_datadir(opts) end
  if ok and opts.hba then
    ok, err, failed = self:_prepend_hba(opts.hba)
  end
  if ok then
    local options = { "-k", shell_quote(dir), "-p", tostring(self.port), "-c", "listen_addresses=''",
      "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off" }
    for name, value in pairs(opts.settings or {}) do
      options[#options + 1] = "-c"
      options[#options + 1] = shell_quote(string.format("%s=%s", name, value))
    end
    ok, err, failed = self:_run({ "pg_ctl", "-D", self.datadir, "-l", self.log, "-w", "-t", "60",
      "-o", table.concat(options, " "), "start" })
    if not ok then err = err .. "\n" .. tail(self.log, 10) end
  end
  if not ok then
    self:stop()
    return nil, err, errors.with_kind(failed, "system")
  end
  return self
end

-- initdb's arguments (after -D DATADIR): also the cached template's key.
-- 1 MB WAL segments: a throwaway cluster writes little, and the data
-- directory to copy shrinks from 39 to 24 MB.
sandbox.initdb_args = { "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
  "--wal-segsize=1" }

-- The data directory: a copy of the cached initdb (ladle.sandbox.template)
-- when there is a good one, else initdb, whose output then fills the
-- cache. opts.template = false: always initdb, cache untouched;
-- opts.cache: the cache directory to use. self.template says what
-- happened: "copied", "saved", or why the cache was not used.
function Cluster:_make_datadir(opts)
  local args = { "-U", self.user }
  for _, a in ipairs(sandbox.initdb_args) do args[#args + 1] = a end
  local entry, why
  if opts.template ~= false then
    entry, why = template.entry { bindir = self.bindir, args = args, run_as = self.run_as, cache = opts.cache }
    if entry then
      local copied
      copied, why = template.restore(entry, self.datadir)
      if copied then
        self.template = "copied"
        return true
      end
    end
  end
  local argv = { "initdb", "-D", self.datadir }
  table.move(args, 1, #args, #argv + 1, argv)
  local ok, err, details = self:_run(argv)
  if not ok then return nil, err, details end
  if entry then
    local saved
    saved, why = template.save(entry, self.datadir)
    if saved then why = "saved" end
  end
  self.template = why or "off"
  return true
end

function Cluster:_prepend_hba(lines)
  local path = self.datadir .. "/pg_hba.conf"
  local f, err, errno = io.open(path)
  if not f then return nil, err, { kind = "system", errno = errno, path = path } end
  local old = f:read("a")
  f:close()
  f, err, errno = io.open(path, "w")
  if not f then return nil, err, { kind = "system", errno = errno, path = path } end
  f:write(table.concat(lines, "\n"), "\n", old)
  f:close()
  return true
end

-- The conninfo string of a database on this cluster (default "postgres").
function Cluster:conninfo(dbname)
  return string.format("host=%s port=%d user=%s dbname=%s", self.dir, self.port, self.user,
    dbname or "postgres")
end

-- libpq environment variables that point a client at this cluster.
function Cluster:env(dbname)
  return {
    PGHOST = self.dir, PGPORT = tostring(self.port), PGUSER = self.user,
    PGDATABASE = dbname or "postgres",
    -- these would take precedence over PGHOST and friends
    PGSERVICE = false, PGHOSTADDR = false,
  }
end

function Cluster:connect(dbname)
  return pg.connect(self:conninfo(dbname))
end

-- Creates a database; returns its conninfo, or nil, message, details.
function Cluster:createdb(name)
  local db, err, details = self:connect("postgres")
  if not db then return nil, err, details end
  local ok, message
  ok, message, details = db:exec("CREATE DATABASE " .. db:escape_identifier(name))
  db:close()
  if not ok then return nil, message, details end
  return self:conninfo(name)
end

function Cluster:dropdb(name)
  local db, err, details = self:connect("postgres")
  if not db then return nil, err, details end
  local ok, message
  ok, message, details = db:exec("DROP DATABASE IF EXISTS " .. db:escape_identifier(name) .. " WITH (FORCE)")
  db:close()
  if not ok then return nil, message, details end
  return true
end

function Cluster:running()
  return self.guard:active()
end

-- Stops the server and removes the directory; fine to call twice.
function Cluster:stop()
  return self.guard:close()
end

Cluster.__close = Cluster.stop

function Cluster:__tostring()
  return string.format("ladle.sandbox (%s, %s)", self.dir, self:running() and "running" or "stopped")
end

return sandbox
