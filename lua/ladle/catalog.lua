-- ladle.catalog: the one way ladle reads the system catalog.
--
--   local rows, message, details = catalog.query(conn, [[
--     SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid >= $1]], catalog.FIRST_NORMAL_OID)
--
--   catalog.run(conn, function(conn) ... several queries ... end)
--
-- The rules, as pg_dump keeps them:
-- - every name in a catalog query is pg_catalog-qualified (functions,
--   operators' operands, types);
-- - the queries run with an empty search_path, so that nothing the user
--   created (a public.count(), an operator in a schema on the path) can be
--   picked instead of the built-in, and with jit off (catalog queries are
--   short; compiling them costs more than it saves);
-- - magic numbers have names here.
-- On an idle connection the queries share one read-only repeatable-read
-- transaction, so they see one state of the catalog; inside the caller's
-- transaction they run in it and the caller's settings are put back; inside
-- another catalog session they run as they are.

local catalog = {}

-- FirstNormalObjectId: OIDs below it were assigned by initdb (the built-in
-- objects); user objects get OIDs from here on.
catalog.FIRST_NORMAL_OID = 16384

local SETTINGS = "SET LOCAL search_path = ''; SET LOCAL jit = off"

-- How deep each connection is in catalog sessions: one inside another
-- (a query of a module called from catalog.run) is already set up.
local depth = setmetatable({}, { __mode = "k" })

-- catalog.begin(conn) -> session | nil, message, details
-- Enters a catalog session: a read-only repeatable-read transaction on an
-- idle connection, or the caller's transaction with the settings saved.
function catalog.begin(conn)
  local status = conn:transaction_status()
  -- (a session left without finish, by an error, ended with its transaction)
  if depth[conn] and status ~= "idle" then
    depth[conn] = depth[conn] + 1
    return { nested = true }
  end
  depth[conn] = nil
  if status == "idle" then
    local ok, message, details = conn:exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; " .. SETTINGS)
    if not ok then return nil, message, details end
    depth[conn] = 1
    return { began = true }
  elseif status == "intrans" then
    local saved, message, details = conn:query("SELECT pg_catalog.current_setting('search_path') AS search_path, "
      .. "pg_catalog.current_setting('jit', true) AS jit")
    if not saved then return nil, message, details end
    local ok
    ok, message, details = conn:exec(SETTINGS)
    if not ok then return nil, message, details end
    depth[conn] = 1
    return { saved = saved[1] }
  end
  return nil, "cannot read the catalog: the connection is " .. tostring(status), { status = status }
end

-- catalog.finish(conn, session, ok): leaves the session; commits (or rolls
-- back when not ok) what begin() began, or puts the caller's settings back.
function catalog.finish(conn, session, ok)
  if session.nested then
    depth[conn] = depth[conn] - 1
    return
  end
  depth[conn] = nil
  if conn:is_closed() then return end
  if session.began then
    if conn:transaction_status() ~= "idle" then conn:exec(ok and "COMMIT" or "ROLLBACK") end
  elseif conn:transaction_status() == "intrans" then
    conn:query("SELECT pg_catalog.set_config('search_path', $1, true)", session.saved.search_path)
    if session.saved.jit then conn:query("SELECT pg_catalog.set_config('jit', $1, true)", session.saved.jit) end
  end
end

-- catalog.run(conn, fn, ...) -> what fn(conn, ...) returns, run in a
-- catalog session. fn follows the Lua API's convention (nil, message,
-- details on failure); an error raised by fn is re-raised after the
-- session is left.
function catalog.run(conn, fn, ...)
  local session, message, details = catalog.begin(conn)
  if not session then return nil, message, details end
  local results = table.pack(pcall(fn, conn, ...))
  catalog.finish(conn, session, results[1] and results[2] ~= nil)
  if not results[1] then error(results[2], 0) end
  return table.unpack(results, 2, results.n)
end

-- catalog.query(conn, sql, ...) -> rows | nil, message, details
-- One catalog query with parameters, in a catalog session.
function catalog.query(conn, sql, ...)
  return catalog.run(conn, function(c, ...) return c:query(sql, ...) end, ...)
end

return catalog
