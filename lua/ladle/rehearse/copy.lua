-- ladle.rehearse.copy: a throwaway copy of a database to rehearse on.
--
-- The source is only read: a query for its roles and whether its upgrades
-- table exists (in a read-only session), and pg_dump. The copy is the
-- schema (pg_dump --schema-only) plus the upgrades table's rows, or with
-- `with_data` everything (a full dump). It lives in a database created on
-- a throwaway cluster (ladle.sandbox), or on the `scratch` server when
-- given; the source's roles are created there first, since the dump names
-- them as owners and grantees.

local backup = require "ladle.backup"
local errors = require "ladle.errors"
local ident = require "ladle.ident"
local pg = require "ladle.pg"
local sandbox = require "ladle.sandbox"
local sys = require "ladle.sys"

local copy = {}
local fail = errors.fail

local Copy = {}
Copy.__index = Copy

local function quote_value(value)
  return "'" .. tostring(value):gsub("[\\']", "\\%0") .. "'"
end

-- A conninfo for database `dbname` on the server `target` names (a
-- service, a conninfo or a URI).
local function on_database(target, dbname)
  local settings, password = pg.conninfo_split(target or "")
  if not settings then fail("usage", "--scratch: %s", password) end
  if settings == "service=''" then settings = "" end
  return settings .. " dbname=" .. quote_value(dbname) .. (password and (" password=" .. quote_value(password)) or "")
end

local function read_source(source, table_name)
  local conn, message = pg.connect(source)
  if not conn then fail("database", "cannot connect to %s: %s", pg.target_name(source), message) end
  local ok, why = conn:exec("SET default_transaction_read_only = on")
  local roles, has_table
  if ok then roles, why = conn:query("SELECT rolname FROM pg_catalog.pg_roles WHERE rolname !~ '^pg_' ORDER BY 1") end
  if roles then has_table, why = conn:query("SELECT pg_catalog.to_regclass($1) IS NOT NULL AS yes", table_name) end
  conn:close()
  if not has_table then fail("database", "reading %s: %s", pg.target_name(source), why) end
  return roles, has_table[1].yes
end

local function create_roles(conn, roles, where)
  for _, row in ipairs(roles) do
    local found, message = conn:query("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", row.rolname)
    if found and #found == 0 then
      local _
      _, message = conn:exec("CREATE ROLE " .. ident.quote(row.rolname))
      found = _ and found
    end
    if not found then fail("database", "creating role %s on %s: %s", row.rolname, where, message) end
  end
end

-- copy.open(opts) -> copy: {conninfo, where, close()}. Raises a failure.
--   source        the database to copy (service, conninfo, URI; nil: PG*)
--   table         its upgrades table ("public.ladle_upgrades")
--   with_data     copy every row, not only the upgrades table's
--   scratch       a server to create the copy on instead of a sandbox
--   pg_dump_exe, pg_restore_exe
function copy.open(opts)
  local self = setmetatable({}, Copy)
  local ok, err = pcall(Copy._open, self, opts)
  if not ok then
    self:close()
    error(err, 0)
  end
  return self
end

function Copy:_open(opts)
  local roles, has_table = read_source(opts.source, opts.table)
  local dir, why = sys.mkdtemp("ladle-rehearse-")
  if not dir then fail("system", "%s", why) end
  self.dir = dir
  local admin
  if opts.scratch then
    self.dbname = string.format("ladle_rehearsal_%d_%d", sys.getpid(), math.random(1, 999999))
    self.where = "database " .. self.dbname .. " on " .. pg.target_name(opts.scratch)
    admin, why = pg.connect(opts.scratch)
    if not admin then
      fail("database", "cannot connect to the scratch server %s: %s", pg.target_name(opts.scratch), why)
    end
    self.admin = admin
    self.conninfo = on_database(opts.scratch, self.dbname)
  else
    local cluster
    cluster, why = sandbox.start()
    if not cluster then fail("system", "could not start a throwaway cluster for the rehearsal: %s", why) end
    self.cluster, self.dbname, self.where = cluster, "rehearsal", "a throwaway cluster"
    admin, why = cluster:connect()
    if not admin then fail("database", "%s", why) end
    self.admin = admin
    self.conninfo = cluster:conninfo(self.dbname)
  end
  create_roles(admin, roles, self.where)
  local created
  created, why = admin:exec("CREATE DATABASE " .. ident.quote(self.dbname))
  if not created then fail("database", "creating %s: %s", self.where, why) end
  self.created = true

  local dumps = { { file = dir .. "/schema.dump", args = opts.with_data and {} or { "--schema-only" } } }
  if has_table and not opts.with_data then
    dumps[2] = { file = dir .. "/upgrades.dump", args = { "--data-only", "--table=" .. opts.table } }
  end
  for _, dump in ipairs(dumps) do
    local done, message, details = backup.dump(opts.source, dump.file, { pg_dump_exe = opts.pg_dump_exe,
      args = dump.args })
    if not done then errors.raise("dumping " .. pg.target_name(opts.source) .. ": " .. message, details, "system") end
    done, message, details = backup.restore(self.conninfo, dump.file, { pg_restore_exe = opts.pg_restore_exe })
    if not done then errors.raise("restoring into " .. self.where .. ": " .. message, details, "system") end
  end
end

-- copy:close(): drops the copy (or stops its cluster) and removes the
-- dump files; fine to call twice.
function Copy:close()
  if self.admin and self.created and not self.cluster then
    self.admin:exec("DROP DATABASE IF EXISTS " .. ident.quote(self.dbname) .. " WITH (FORCE)")
  end
  self.created = false
  if self.admin then self.admin:close() end
  self.admin = nil
  if self.cluster then self.cluster:stop() end
  if self.dir then sys.rmtree(self.dir) end
  self.dir = nil
end

Copy.__close = Copy.close

return copy
