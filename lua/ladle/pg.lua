-- ladle.pg: connections. The C core (ladle.pg.core) does libpq; this adds
-- what is policy rather than I/O: transactions with savepoints.

local core = require "ladle.pg.core"

local pg = {
  connect = core.connect,
  null = core.null,
  libpq_version = core.libpq_version,
  conninfo_split = core.conninfo_split,
  wait = core.wait,
}

-- pg.target_name(target) -> how to name a connection target in a message:
-- a service as "service NAME", a conninfo or URI with its password masked,
-- nothing as the PG* defaults.
function pg.target_name(target)
  if target == nil or target == "" then return "the default database (PG* variables)" end
  if not (target:find("=", 1, true) or target:find("://", 1, true)) then return "service " .. target end
  -- libpq's own reading of it, so that no spelling of a password slips through
  local settings, password = core.conninfo_split(target)
  if not settings then return "a conninfo libpq cannot read" end
  -- quotes only where a value needs them
  settings = settings:gsub("(%w+)='([^'\\%s]*)'", "%1=%2")
  return settings .. (password and " password=***" or "")
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
