-- ladle.pg: connections. The C core (ladle.pg.core) does libpq; this adds
-- what is policy rather than I/O: transactions with savepoints.

local core = require "ladle.pg.core"

local pg = {
  null = core.null,
  libpq_version = core.libpq_version,
  wait = core.wait,
}

-- The settings libpq marks as secret (password, sslpassword, ...).
pg.SECRET_KEYWORDS = core.secret_keywords()

-- pg.mask_secrets(text) -> text with the value of every secret setting
-- replaced by ***: `key=value` and `key='quoted value'` (a conninfo, a
-- URI's query) and a URI's user:password@. For text libpq wrote about a
-- target it could not read, which it echoes.
function pg.mask_secrets(text)
  text = tostring(text):gsub("(%a[%w+.-]*://[^:/@%s\"]*):[^@/%s\"]*@", "%1:***@")
  for _, key in ipairs(pg.SECRET_KEYWORDS) do
    local out, pos = {}, 1
    while true do
      local _, stop = text:find("%f[%w_]" .. key .. "%s*=%s*", pos)
      if not stop then break end
      out[#out + 1] = text:sub(pos, stop) .. "***"
      local i = stop + 1
      if text:sub(i, i) == "'" then
        i = i + 1
        while i <= #text and text:sub(i, i) ~= "'" do i = i + (text:sub(i, i) == "\\" and 2 or 1) end
        i = i + 1
      else
        i = text:find("[%s&\"]", i) or #text + 1
      end
      pos = i
    end
    out[#out + 1] = text:sub(pos)
    text = table.concat(out)
  end
  return text
end

-- pg.connect(target) -> conn | nil, message, details (ladle.pg.core's,
-- with any secret in libpq's message masked).
function pg.connect(target)
  local conn, message, details = core.connect(target)
  if conn then return conn end
  return nil, pg.mask_secrets(message), details
end

-- pg.conninfo_split(target) -> conninfo, password, secrets | nil, message
-- The target as a conninfo without its secrets (ladle.pg.core), the
-- password, and every secret by keyword; a target libpq cannot read is
-- nil and libpq's message, secrets masked.
function pg.conninfo_split(target)
  local conninfo, password, secrets = core.conninfo_split(target)
  if not conninfo then return nil, pg.mask_secrets(password), secrets end
  return conninfo, password, secrets or {}
end

-- pg.conninfo_value(value) -> value quoted for a conninfo string.
function pg.conninfo_value(value)
  return "'" .. tostring(value):gsub("[\\']", "\\%0") .. "'"
end

-- pg.on_database(target, dbname) -> conninfo | nil, message: the server
-- target names (a service, conninfo or URI: every setting, the password
-- too) with dbname as the database (libpq keeps the last dbname).
function pg.on_database(target, dbname)
  local settings, password = pg.conninfo_split(target or "")
  if not settings then return nil, password end
  if settings == "service=''" then settings = "" end
  return settings .. " dbname=" .. pg.conninfo_value(dbname)
    .. (password and (" password=" .. pg.conninfo_value(password)) or "")
end

-- pg.child_target(target) -> conninfo, env | nil, message, details
-- How a libpq program (pg_dump, pg_restore, psql, a hook) reaches the
-- target: the conninfo for its arguments, and the password in env
-- (PGPASSWORD), never in its arguments, where a process listing shows
-- them. A secret libpq reads from no environment variable (sslpassword)
-- is refused (details.kind "usage"): a service file carries it instead.
function pg.child_target(target)
  local conninfo, password, secrets = pg.conninfo_split(target or "")
  if not conninfo then return nil, password, { kind = "usage" } end
  for _, key in ipairs(pg.SECRET_KEYWORDS) do
    if key ~= "password" and secrets[key] then
      return nil, string.format("the connection target's %s cannot be handed to another program without showing "
        .. "in its arguments (libpq reads it from no environment variable): put it in a service file "
        .. "(pg_service.conf) and pass the service name", key), { kind = "usage" }
    end
  end
  return conninfo, { PGPASSWORD = password }
end

-- pg.child_service(target) -> target, env | nil, message, details
-- pg.child_target for a child that takes a service name as well (ladle
-- itself, pum's Python deltas): a service name goes as it is.
function pg.child_service(target)
  if not (target:find("=", 1, true) or target:find("://", 1, true)) then return target, {} end
  return pg.child_target(target)
end

-- pg.target_name(target) -> how to name a connection target in a message:
-- a service as "service NAME", a conninfo or URI with its secrets masked,
-- nothing as the PG* defaults.
function pg.target_name(target)
  if target == nil or target == "" then return "the default database (PG* variables)" end
  if not (target:find("=", 1, true) or target:find("://", 1, true)) then return "service " .. target end
  -- libpq's own reading of it, so that no spelling of a secret slips through
  local settings, _, secrets = core.conninfo_split(target)
  if not settings then return "a conninfo libpq cannot read" end
  -- quotes only where a value needs them
  settings = settings:gsub("(%w+)='([^'\\%s]*)'", "%1=%2")
  for _, key in ipairs(pg.SECRET_KEYWORDS) do
    if secrets[key] then settings = settings .. " " .. key .. "=***" end
  end
  return settings
end

local Conn = core.methods

-- How deep each connection is in transaction() calls, for savepoint names.
local depth = setmetatable({}, { __mode = "k" })

local function must(conn, sql)
  local ok, message = conn:exec(sql)
  if not ok then error(message, 0) end
end

-- conn:transaction(fn, ...) runs fn(conn, ...) between BEGIN and COMMIT and
-- returns what fn returns. When fn raises, the transaction is rolled back
-- and the error re-raised as it was. Called inside a transaction (nested,
-- or after a BEGIN of the caller's), it uses a savepoint instead.
function Conn:transaction(fn, ...)
  local level = (depth[self] or 0) + 1
  local nested = self:transaction_status() ~= "idle"
  local savepoint = "ladle_savepoint_" .. level
  must(self, nested and ("SAVEPOINT " .. savepoint) or "BEGIN")
  depth[self] = level
  local result = table.pack(pcall(fn, self, ...))
  depth[self] = level - 1
  local ok = result[1]
  if ok and self:transaction_status() == "inerror" then
    ok = false
    result[2] = "transaction aborted: a statement inside it failed"
  end
  if not ok then
    if not self:is_closed() then
      if nested then
        self:exec("ROLLBACK TO SAVEPOINT " .. savepoint .. "; RELEASE SAVEPOINT " .. savepoint)
      else
        self:exec("ROLLBACK")
      end
    end
    error(result[2], 0)
  end
  must(self, nested and ("RELEASE SAVEPOINT " .. savepoint) or "COMMIT")
  return table.unpack(result, 2, result.n)
end

return pg
