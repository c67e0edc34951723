-- ladle.source: the sides of a comparison. A side is a service name, a
-- conninfo / URI, or a .sql file that is loaded into a temporary database
-- first: on a server given as `scratch` (a database is created there and
-- dropped afterwards), or else on a throwaway cluster.
--
--   local snap_a, snap_b = assert(source.pair("prod", "schema.sql", { scratch = "dev" }))
--
-- source.pair is what `ladle check` and `ladle diff` call: it reads both
-- sides through ladle.schema.pair. Underneath, a workspace holds the
-- temporary databases:
--
--   local ws <close> = source.workspace({ scratch = "dev" })
--   local conn, message, details = ws:connect("schema.sql")
--
-- Failures return nil, message, details with details.kind "input" (a
-- file that cannot be read or loaded: details.file, details.line; a name
-- that matches nothing), "database" (a server that cannot be reached or
-- read) or "system". Messages name servers with pg.target_name (a
-- password masked). close() (or <close>) drops the temporary databases
-- and stops the throwaway cluster; a workspace that is collected without
-- being closed only says on stderr what it left behind.
--
-- Files are loaded with psql from the server's bin directory (-X -q
-- -v ON_ERROR_STOP=1), so a plain pg_dump --schema-only file, meta-commands
-- included, loads as it would by hand. On a throwaway cluster the roles
-- the file names (OWNER TO, GRANT ... TO, AUTHORIZATION, policies' TO) are
-- created first; a scratch server must have them already.

local catalog = require "ladle.catalog"
local errors = require "ladle.errors"
local ident = require "ladle.ident"
local pg = require "ladle.pg"
local sys = require "ladle.sys"
local sandbox = require "ladle.sandbox"
local schema = require "ladle.schema"

local source = {}

local Workspace = {}
Workspace.__index = Workspace

-- source.workspace(opts) -> workspace; opts.scratch: a service, conninfo
-- or URI of a server on which temporary databases may be created;
-- opts.cluster: a throwaway cluster (ladle.sandbox) to use instead of
-- starting one (its owner stops it).
function source.workspace(opts)
  opts = opts or {}
  return setmetatable({ scratch = opts.scratch, cluster = opts.cluster, own_cluster = opts.cluster == nil,
                        databases = {}, serial = 0 }, Workspace)
end

function source.is_sql_file(spec)
  return type(spec) == "string" and spec:lower():match("%.sql$") ~= nil
end

-- How a message names a side: a .sql file by its path, a server as
-- pg.target_name does (a service by name, a conninfo with its password
-- masked).
function source.name(spec)
  if source.is_sql_file(spec) then return spec end
  if spec == nil or type(spec) == "string" then return pg.target_name(spec) end
  return "the database given"
end

local function psql_path()
  local bindir = sandbox.bindir()
  if bindir and sys.stat(bindir .. "/psql") then return bindir .. "/psql" end
  return sys.which("psql")
end

-- Role names a file grants to or makes owners, so that a throwaway
-- cluster can have them: OWNER TO, CREATE SCHEMA ... AUTHORIZATION, GRANT
-- ... TO and REVOKE ... FROM (privileges and role memberships, GRANTED BY
-- too), policies' TO, ALTER DEFAULT PRIVILEGES FOR ROLE. Best effort: a
-- name missed makes the load fail with psql's own message.
function source.role_names(text)
  local names, seen = {}, {}
  local ignore = { public = true, current_user = true, session_user = true, current_role = true }
  local function add_list(list)
    for word in (list .. ","):gmatch("%s*(.-)%s*,") do
      -- a name as typed: quoted as it is, else folded to lower case
      local parts = ident.parse(word)
      local name = parts and #parts == 1 and parts[1]
      if name and not ignore[name] and not seen[name] then
        seen[name] = true
        names[#names + 1] = name
      end
    end
  end
  local function first_name(rest)
    return rest:match('^("[^"]*")') or rest:match("^([^ ]+)") or ""
  end
  -- s up to the first of the words (" WITH ", ...) found in it
  local function before(s, words)
    local upper, stop = s:upper(), nil
    for _, w in ipairs(words) do
      local at = upper:find(w, 1, true)
      if at and (not stop or at < stop) then stop = at end
    end
    return ((stop and s:sub(1, stop - 1) or s):gsub("%s+$", ""))
  end
  -- GRANT ... TO list / REVOKE ... FROM list, of privileges or of roles
  -- (then the roles granted are named too); s starts with GRANT or REVOKE
  local function grant_or_revoke(s)
    local upper = s:upper()
    local revoke = upper:match("^ ?REVOKE ") ~= nil
    local to = upper:find(revoke and " FROM " or " TO ", 1, true)
    if not to then return end
    local head = upper:sub(1, to)
    if not head:find(" ON ", 1, true) then
      -- a role membership: GRANT r1, r2 TO ... / REVOKE [ADMIN OPTION FOR] r1 FROM ...
      local roles = s:sub(1, to - 1):gsub("^ ?%a+ ", ""):gsub("^[Aa][Dd][Mm][Ii][Nn] [Oo][Pp][Tt][Ii][Oo][Nn] [Ff][Oo][Rr] ", "")
      add_list(roles)
    end
    local rest = s:sub(to + (revoke and 6 or 4))
    add_list(before(rest, { " WITH ", " GRANTED ", " CASCADE", " RESTRICT" }))
    local by = rest:upper():find(" GRANTED BY ", 1, true)
    if by then add_list(first_name(rest:sub(by + 12))) end
  end
  text = text:gsub("/%*.-%*/", " "):gsub("%-%-[^\n]*", "")
  for statement in text:gmatch("[^;]+") do
    local s = statement:gsub("%s+", " ")
    local upper = s:upper()
    local owner = upper:find(" OWNER TO ", 1, true)
    if owner then add_list(first_name(s:sub(owner + 10))) end
    local auth = upper:find(" AUTHORIZATION ", 1, true)
    if auth and upper:match("^ ?CREATE SCHEMA") then add_list(first_name(s:sub(auth + 15))) end
    if upper:match("^ ?GRANT ") or upper:match("^ ?REVOKE ") then
      grant_or_revoke(s)
    elseif upper:match("^ ?CREATE POLICY ") or upper:match("^ ?ALTER POLICY ") then
      local to = upper:find(" TO ", 1, true)
      if to then add_list(before(s:sub(to + 4), { " USING ", " WITH " })) end
    elseif upper:match("^ ?ALTER DEFAULT PRIVILEGES ") then
      -- ALTER DEFAULT PRIVILEGES [FOR ROLE|USER list] [IN SCHEMA list] GRANT|REVOKE ...
      local action = math.min(upper:find(" GRANT ", 1, true) or #s + 1, upper:find(" REVOKE ", 1, true) or #s + 1)
      local for_role = upper:find(" FOR ROLE ", 1, true) or upper:find(" FOR USER ", 1, true)
      if for_role and for_role < action then add_list(before(s:sub(for_role + 10, action - 1), { " IN SCHEMA " })) end
      if action <= #s then grant_or_revoke(s:sub(action)) end
    end
  end
  return names
end

local function one_line(s)
  return (s:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", ""))
end

-- The first error psql reported, as "FILE:LINE: ERROR: message".
local function psql_error(stderr, path)
  for line in (stderr or ""):gmatch("[^\n]+") do
    local line_no, message = line:match("^psql:.-:(%d+): (.*)$")
    if message and (message:match("^ERROR") or message:match("^FATAL") or message:match("^error")
        or message:match("^invalid") or message:match("^unrecognized")) then
      return string.format("%s:%s: %s", path, line_no, one_line(message)), tonumber(line_no)
    end
  end
  for line in (stderr or ""):gmatch("[^\n]+") do
    local message = line:match("^psql: (.*)$") or line:match("^psql:[^:]+:%d+: (.*)$")
    if message then return string.format("%s: %s", path, one_line(message)) end
  end
  return string.format("%s: %s", path, one_line(stderr or "psql failed"))
end

-- Servers ----------------------------------------------------------------------
-- What ladle.source, ladle.rehearse.copy and the recipes that make
-- temporary databases share.

-- source.server_roles(conn) -> {name...} | nil, message, details: the
-- roles of the server (not the built-in pg_* ones), which a dump of one
-- of its databases may name as owners and grantees.
function source.server_roles(conn)
  local rows, message, details = catalog.query(conn,
    "SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.rolname !~ '^pg_' ORDER BY 1")
  if not rows then return nil, message, details end
  local names = {}
  for i, row in ipairs(rows) do names[i] = row.rolname end
  return names
end

-- source.create_roles(conn, names) -> {created...} | nil, message, details:
-- creates the roles of names that the server does not have; returns those
-- it created (the caller drops them: source.drop_roles).
function source.create_roles(conn, names)
  local existing, message, details = source.server_roles(conn)
  if not existing then return nil, message, errors.with_kind(details, "database") end
  local have, created = {}, {}
  for _, name in ipairs(existing) do have[name] = true end
  for _, name in ipairs(names) do
    if not have[name] then
      local ok
      ok, message, details = conn:exec("CREATE ROLE " .. ident.quote(name))
      if not ok then
        return nil, string.format("cannot create role %s: %s", name, message), errors.with_kind(details, "database")
      end
      have[name] = true
      created[#created + 1] = name
    end
  end
  return created
end

-- source.drop_roles(conn, names) -> true | nil, message: drops roles made
-- by source.create_roles, once nothing of theirs is left (their databases
-- dropped); it tries every one, and says which it could not drop.
function source.drop_roles(conn, names)
  local left = {}
  for _, name in ipairs(names) do
    local ok, message = conn:exec("DROP ROLE IF EXISTS " .. ident.quote(name))
    if not ok then left[#left + 1] = name .. " (" .. message .. ")" end
  end
  if #left > 0 then return nil, "could not drop role " .. table.concat(left, ", ") end
  return true
end

-- source.drop_database(conn, name) -> true | nil, message, details: drops
-- a temporary database even when a session is left in it (a test, a hook):
-- its sessions are ended first (DROP ... WITH (FORCE) is PostgreSQL 13's,
-- used on top where the server has it, for a session that comes late).
function source.drop_database(conn, name)
  local ended, message, details = catalog.query(conn, "SELECT pg_catalog.pg_terminate_backend(a.pid) AS ended "
    .. "FROM pg_catalog.pg_stat_activity a WHERE a.datname = $1 AND a.pid <> pg_catalog.pg_backend_pid()", name)
  if not ended then return nil, message, details end
  local force = conn:server_version() >= 130000 and " WITH (FORCE)" or ""
  return conn:exec("DROP DATABASE IF EXISTS " .. ident.quote(name) .. force)
end

function Workspace:_cluster()
  if not self.cluster then
    local cluster, message = sandbox.start()
    if not cluster then
      return nil, "could not start a throwaway cluster: " .. tostring(message), { kind = "system" }
    end
    self.cluster = cluster
  end
  return self.cluster
end

-- A new empty database; returns its conninfo or nil, message, details.
function Workspace:_new_database(text)
  self.serial = self.serial + 1
  local name = string.format("ladle_diff_%d_%d", sys.getpid(), self.serial)
  if self.scratch then
    local admin, message = pg.connect(self.scratch)
    if not admin then
      return nil, string.format("cannot connect to --scratch %s: %s", pg.target_name(self.scratch), message),
        { kind = "database" }
    end
    local ok
    ok, message = admin:exec("CREATE DATABASE " .. admin:escape_identifier(name))
    admin:close()
    if not ok then
      return nil, string.format("cannot create a database on %s: %s", pg.target_name(self.scratch), message),
        { kind = "database" }
    end
    self.databases[#self.databases + 1] = name
    -- every setting of the scratch server (a URI's too: password, sslmode,
    -- options), then this database; load() hands psql the password
    -- through the environment
    local conninfo, why = pg.on_database(self.scratch, name)
    if not conninfo then return nil, "--scratch: " .. why, { kind = "input" } end
    return conninfo
  end
  local cluster, message, details = self:_cluster()
  if not cluster then return nil, message, details end
  local conninfo
  conninfo, message = cluster:createdb(name)
  if not conninfo then return nil, message, { kind = "database" } end
  local roles = source.role_names(text)
  if #roles > 0 then
    local db, why, details = cluster:connect(name)
    if not db then
      return nil, "cannot connect to the throwaway cluster: " .. tostring(why), errors.with_kind(details, "database")
    end
    -- the cluster goes away with its roles
    local created
    created, why, details = source.create_roles(db, roles)
    db:close()
    if not created then return nil, why .. " (on the throwaway cluster)", details end
  end
  return conninfo
end

-- Loads a .sql file into a new temporary database: conninfo or nil,
-- message, details.
function Workspace:load(path)
  local f, why, errno = io.open(path, "rb")
  if not f then return nil, string.format("cannot read %s", why or path), { kind = "input", file = path, errno = errno } end
  local text = f:read("a")
  f:close()
  if not text then return nil, string.format("cannot read %s", path), { kind = "input", file = path } end
  local psql = psql_path()
  if not psql then
    return nil, "psql is needed to load " .. path .. "; install it with: " .. sandbox.package_hint, { kind = "system" }
  end
  local conninfo, message, details = self:_new_database(text)
  if not conninfo then return nil, message, details end
  -- a password goes through the environment, never argv
  local target, env = pg.child_target(conninfo)
  if not target then return nil, env, { kind = "input" } end
  -- stdout is not captured: the second value is the message when psql cannot start
  local status, why, err = sys.spawn({ psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", target, "-f", path }, {
    stdin = "null", stdout = "null", stderr = "capture",
    env = { PGOPTIONS = "-c client_min_messages=warning", PGAPPNAME = "ladle", PGPASSWORD = env.PGPASSWORD },
  })
  if status == nil then return nil, why, { kind = "system", errno = type(err) == "table" and err.errno or nil } end
  if status ~= 0 then
    local message_line, line = psql_error(err, path)
    return nil, message_line, { kind = "input", file = path, line = line, status = status, stderr = err }
  end
  return conninfo
end

-- ws:connect(spec, label) -> connection or nil, message, details (a .sql
-- file is loaded first). label: how to name spec in a message
-- (source.name(spec) by default).
function Workspace:connect(spec, label)
  local target = spec
  if source.is_sql_file(spec) then
    local conninfo, message, details = self:load(spec)
    if not conninfo then return nil, message, details end
    target = conninfo
  end
  local conn, message, details = pg.connect(target)
  if not conn then
    return nil, string.format("cannot connect to %s: %s", label or source.name(spec), message),
      errors.with_kind(details, "database")
  end
  return conn
end

-- Drops the temporary databases and stops the throwaway cluster.
function Workspace:close()
  if self.scratch and #self.databases > 0 then
    local admin = pg.connect(self.scratch)
    if admin then
      for _, name in ipairs(self.databases) do source.drop_database(admin, name) end
      admin:close()
    end
    self.databases = {}
  end
  if self.cluster and self.own_cluster then self.cluster:stop() end
  self.cluster = nil
end

Workspace.__close = Workspace.close

-- source.pair(a, b, opts) -> snapshot_a, snapshot_b | nil, message, details
-- The two sides of `ladle check` and `ladle diff`, read at the same time
-- through ladle.schema.pair: a and b are service names, conninfo strings,
-- URIs or .sql files (loaded into temporary databases, which are dropped
-- before it returns). opts: schema.pair's options, plus scratch (as for
-- source.workspace) and labels = { a's, b's }, how messages name the
-- sides (source.name by default). A message says which side failed, and
-- so does details.index.
function source.pair(a, b, opts)
  opts = opts or {}
  local specs, labels = { a, b }, opts.labels or {}
  local function label(i) return labels[i] or source.name(specs[i]) end
  local ws <close> = source.workspace({ scratch = opts.scratch })
  local unopened  -- a side that could not be opened: its message names it
  local pair_opts = setmetatable({
    open = function(spec, i)
      local conn, message, details = ws:connect(spec, label(i))
      if not conn then unopened = i end
      return conn, message, details
    end,
  }, { __index = opts })
  local sa, sb, details = schema.pair(a, b, pair_opts)
  if not sa then
    local message = sb
    if details and details.index and details.index ~= unopened then
      message = label(details.index) .. ": " .. message
    end
    return nil, message, details
  end
  return sa, sb
end

-- A finalizer only releases what it owns: the scratch databases live on a
-- server, and dropping them is close()'s job; a workspace collected
-- without one says what it left behind. (The throwaway cluster has a
-- guard of its own, which stops it.)
function Workspace:__gc()
  if self.scratch and #self.databases > 0 then
    io.stderr:write(string.format("ladle: warning: temporary database%s %s left on %s (the workspace was not closed)\n",
      #self.databases == 1 and "" or "s", table.concat(self.databases, ", "), pg.target_name(self.scratch)))
  end
end

return source
