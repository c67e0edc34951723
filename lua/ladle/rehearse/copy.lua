-- ladle.rehearse.copy: a throwaway copy of a database to rehearse on.
--
-- The source is only read: a query for its roles and whether its upgrades
-- table exists (in one read-only catalog session), and pg_dump. The copy is the
-- schema (pg_dump --schema-only) plus the upgrades table's rows, or with
-- `with_data` everything (a full dump). It lives in a database created on
-- a throwaway cluster (ladle.sandbox), or on the `scratch` server when
-- given; the source's roles are created there first, since the dump names
-- them as owners and grantees (on a scratch server, those it had not are
-- dropped again with the copy).

local backup = require "ladle.backup"
local catalog = require "ladle.catalog"
local errors = require "ladle.errors"
local ident = require "ladle.ident"
local pg = require "ladle.pg"
local sandbox = require "ladle.sandbox"
local source = require "ladle.source"
local sys = require "ladle.sys"
local tracker = require "ladle.tracker"

local copy = {}
local fail = errors.fail

local Copy = {}
Copy.__index = Copy

-- The source's roles and whether its upgrades table exists, in one
-- read-only snapshot (ladle.catalog).
local function read_source(source_target, table_name)
  local schema_name, relation = tracker.parse_name(table_name)
  if not schema_name then fail("input", "%s", relation) end
  local conn, message = pg.connect(source_target)
  if not conn then fail("database", "cannot connect to %s: %s", pg.target_name(source_target), message) end
  local found, why, details = catalog.run(conn, function(c)
    local names, problem, more = source.server_roles(c)
    if not names then return nil, problem, more end
    local rows
    rows, problem, more = c:query("SELECT EXISTS (SELECT FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
      .. "ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2) AS yes", schema_name, relation)
    if not rows then return nil, problem, more end
    return { roles = names, has_table = rows[1].yes }
  end)
  conn:close()
  if not found then
    errors.raise("reading " .. pg.target_name(source_target) .. ": " .. tostring(why), details, "database")
  end
  return found.roles, found.has_table, ident.qualify(schema_name, relation)
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
  local roles, has_table, qualified = read_source(opts.source, opts.table)
  local dir, why = sys.mkdtemp("ladle-rehearse-")
  if not dir then fail("system", "%s", why) end
  self.dir = dir
  local admin
  if opts.scratch then
    self.dbname = string.format("ladle_rehearsal_%d_%d", sys.getpid(), math.random(1, 999999))
    self.where = "database " .. self.dbname .. " on " .. pg.target_name(opts.scratch)
    self.conninfo, why = pg.on_database(opts.scratch, self.dbname)
    if not self.conninfo then fail("usage", "--scratch: %s", why) end
    admin, why = pg.connect(opts.scratch)
    if not admin then
      fail("database", "cannot connect to the scratch server %s: %s", pg.target_name(opts.scratch), why)
    end
    self.admin = admin
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
  -- the dump names them as owners and grantees; a scratch server keeps
  -- roles after the copy is gone, so those made here are dropped at close
  local created, details
  created, why, details = source.create_roles(admin, roles)
  if not created then errors.raise(why .. " on " .. self.where, details, "database") end
  self.roles = created
  local ok
  ok, why = admin:exec("CREATE DATABASE " .. ident.quote(self.dbname))
  if not ok then fail("database", "creating %s: %s", self.where, why) end
  self.created = true

  local dumps = { { file = dir .. "/schema.dump", args = opts.with_data and {} or { "--schema-only" } } }
  if has_table and not opts.with_data then
    dumps[2] = { file = dir .. "/upgrades.dump", args = { "--data-only", "--table=" .. qualified } }
  end
  for _, dump in ipairs(dumps) do
    local done, message
    done, message, details = backup.dump(opts.source, dump.file, { pg_dump_exe = opts.pg_dump_exe,
      args = dump.args })
    if not done then errors.raise("dumping " .. pg.target_name(opts.source) .. ": " .. message, details, "system") end
    done, message, details = backup.restore(self.conninfo, dump.file, { pg_restore_exe = opts.pg_restore_exe })
    if not done then errors.raise("restoring into " .. self.where .. ": " .. message, details, "system") end
  end
end

-- copy:close(): drops the copy and the roles made for it (or stops its
-- cluster) and removes the dump files; fine to call twice.
function Copy:close()
  if self.admin and not self.cluster then
    if self.created then source.drop_database(self.admin, self.dbname) end
    local dropped, why = source.drop_roles(self.admin, self.roles or {})
    if not dropped then io.stderr:write("ladle: warning: ", why, " on ", self.where, "\n") end
  end
  self.created, self.roles = false, nil
  if self.admin then self.admin:close() end
  self.admin = nil
  if self.cluster then self.cluster:stop() end
  if self.dir then sys.rmtree(self.dir) end
  self.dir = nil
end

Copy.__close = Copy.close

return copy
