-- ladle.source: the sides of a comparison. A side is a service name, a
-- conninfo / URI, or a .sql file that is loaded into a temporary database
-- first: on a server given as `scratch` (a database is created there and
-- dropped afterwards), or else on a throwaway cluster.
--
--   local ws <close> = source.workspace({ scratch = "dev" })
--   local snap, message, details = ws:snapshot("schema.sql")
--
-- Failures return nil, message, details with details.kind "input" (a
-- file that cannot be read or loaded: details.file, details.line),
-- "database" (a server that cannot be reached or read) or "system".
-- close() (or <close>) drops the temporary databases and stops the
-- throwaway cluster; a workspace that is collected without being closed
-- only says on stderr what it left behind.
--
-- Files are loaded with psql from the server's bin directory (-X -q
-- -v ON_ERROR_STOP=1), so a plain pg_dump --schema-only file, meta-commands
-- included, loads as it would by hand. On a throwaway cluster the roles
-- the file names (OWNER TO, GRANT ... TO, AUTHORIZATION, policies' TO) are
-- created first; a scratch server must have them already.

local ident = require "ladle.ident"
local pg = require "ladle.pg"
local sys = require "ladle.sys"
local sandbox = require "ladle.sandbox"
local schema = require "ladle.schema"

local source = {}

local Workspace = {}
Workspace.__index = Workspace

-- source.workspace(opts) -> workspace; opts.scratch: a service or conninfo
-- of a server on which temporary databases may be created.
function source.workspace(opts)
  opts = opts or {}
  return setmetatable({ scratch = opts.scratch, databases = {}, serial = 0 }, Workspace)
end

function source.is_sql_file(spec)
  return type(spec) == "string" and spec:lower():match("%.sql$") ~= nil
end

local function psql_path()
  local bindir = sandbox.bindir()
  if bindir and sys.stat(bindir .. "/psql") then return bindir .. "/psql" end
  return sys.which("psql")
end

-- Role names a file grants to or makes owners, so that a throwaway
-- cluster can have them. Best effort: a name missed makes the load fail
-- with psql's own message.
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
  text = text:gsub("/%*.-%*/", " "):gsub("%-%-[^\n]*", "")
  for statement in text:gmatch("[^;]+") do
    local s = statement:gsub("%s+", " ")
    local upper = s:upper()
    local function first_name(rest)
      return rest:match('^("[^"]*")') or rest:match("^([^ ]+)") or ""
    end
    local owner = upper:find(" OWNER TO ", 1, true)
    if owner then add_list(first_name(s:sub(owner + 10))) end
    local auth = upper:find(" AUTHORIZATION ", 1, true)
    if auth and upper:match("^ ?CREATE SCHEMA") then add_list(first_name(s:sub(auth + 15))) end
    if upper:match("^ ?GRANT ") or upper:match("^ ?CREATE POLICY ") or upper:match("^ ?ALTER POLICY ") then
      local to = upper:find(" TO ", 1, true)
      if to then
        local rest = s:sub(to + 4)
        local stop = rest:upper():find(" WITH ", 1, true) or rest:upper():find(" GRANTED ", 1, true)
          or rest:upper():find(" USING ", 1, true)
        add_list((stop and rest:sub(1, stop - 1) or rest):gsub("%s+$", ""))
      end
    elseif upper:match("^ ?REVOKE ") then
      local from = upper:find(" FROM ", 1, true)
      if from then
        local rest = s:sub(from + 6)
        local stop = rest:upper():find(" CASCADE", 1, true) or rest:upper():find(" RESTRICT", 1, true)
          or rest:upper():find(" GRANTED ", 1, true)
        add_list((stop and rest:sub(1, stop - 1) or rest):gsub("%s+$", ""))
      end
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
    local info = admin:info()
    admin:close()
    if not ok then
      return nil, string.format("cannot create a database on %s: %s", pg.target_name(self.scratch), message),
        { kind = "database" }
    end
    self.databases[#self.databases + 1] = name
    local conninfo
    if self.scratch:match("^postgres") and self.scratch:find("://", 1, true) then
      conninfo = string.format("host=%s port=%s user=%s dbname=%s", info.host, info.port, info.user, name)
    elseif self.scratch:find("=", 1, true) then
      conninfo = self.scratch .. " dbname=" .. name
    else
      conninfo = string.format("service=%s dbname=%s", self.scratch, name)
    end
    return conninfo
  end
  local cluster, message, details = self:_cluster()
  if not cluster then return nil, message, details end
  local conninfo
  conninfo, message = cluster:createdb(name)
  if not conninfo then return nil, message, { kind = "database" } end
  local roles = source.role_names(text)
  if #roles > 0 then
    local db = assert(cluster:connect(name))
    for _, role in ipairs(roles) do
      local exists = db:query("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", role)
      if exists and #exists == 0 then db:exec("CREATE ROLE " .. db:escape_identifier(role)) end
    end
    db:close()
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
  local target, password = pg.conninfo_split(conninfo)
  if not target then return nil, password, { kind = "input" } end
  -- stdout is not captured: the second value is the message when psql cannot start
  local status, why, err = sys.spawn({ psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", target, "-f", path }, {
    stdin = "null", stdout = "null", stderr = "capture",
    env = { PGOPTIONS = "-c client_min_messages=warning", PGAPPNAME = "ladle", PGPASSWORD = password },
  })
  if status == nil then return nil, why, { kind = "system", errno = type(err) == "table" and err.errno or nil } end
  if status ~= 0 then
    local message_line, line = psql_error(err, path)
    return nil, message_line, { kind = "input", file = path, line = line, status = status, stderr = err }
  end
  return conninfo
end

-- ws:connect(spec, label) -> connection or nil, message, details (a .sql
-- file is loaded first). label: how to name spec in a message (its
-- target name by default).
function Workspace:connect(spec, label)
  local target = spec
  if source.is_sql_file(spec) then
    local conninfo, message, details = self:load(spec)
    if not conninfo then return nil, message, details end
    target = conninfo
  end
  local conn, message, details = pg.connect(target)
  if not conn then
    local out = { kind = "database" }
    for k, v in pairs(details or {}) do if k ~= "kind" then out[k] = v end end
    return nil, string.format("cannot connect to %s: %s", label or pg.target_name(spec), message), out
  end
  return conn
end

-- ws:snapshots({spec, ...}, opts, labels) -> { snapshot, ... } or nil,
-- message, details (details.index: which side). The databases are read at
-- the same time. labels[i] names spec i in messages.
function Workspace:snapshots(specs, opts, labels)
  labels = labels or {}
  local conns = {}
  local function close_all()
    for _, c in ipairs(conns) do c:close() end
  end
  for i, spec in ipairs(specs) do
    local conn, message, details = self:connect(spec, labels[i])
    if not conn then
      close_all()
      details = details or {}
      details.index = i
      return nil, message, details
    end
    conns[i] = conn
  end
  local snaps, message, details = schema.snapshots(conns, opts)
  close_all()
  if not snaps then
    local which = details and details.index or 1
    return nil, string.format("%s: %s", labels[which] or specs[which], message), details
  end
  return snaps
end

-- ws:snapshot(spec, opts) -> snapshot or nil, message, details
function Workspace:snapshot(spec, opts)
  local snaps, message, details = self:snapshots({ spec }, opts)
  if not snaps then return nil, message, details end
  return snaps[1]
end

-- Drops the temporary databases and stops the throwaway cluster.
function Workspace:close()
  if self.scratch and #self.databases > 0 then
    local admin = pg.connect(self.scratch)
    if admin then
      local force = admin:server_version() >= 130000 and " WITH (FORCE)" or ""
      for _, name in ipairs(self.databases) do
        admin:exec("DROP DATABASE IF EXISTS " .. admin:escape_identifier(name) .. force)
      end
      admin:close()
    end
    self.databases = {}
  end
  if self.cluster then
    self.cluster:stop()
    self.cluster = nil
  end
end

Workspace.__close = Workspace.close

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
