-- ladle.plan.runner: running one delta on the plan's connection.
--
-- Three runners, by kind and marker:
--   sql_transaction  a SQL delta in ladle's transaction, with its tracking
--                    row: BEGIN rides with the first statement, the row and
--                    COMMIT with the last, so a one-statement delta is one
--                    round trip
--   sql_autocommit   a SQL delta marked '-- ladle: no-transaction': each
--                    statement commits on its own, then the row
--   lua              a Lua delta: the chunk gets (conn, delta, context)
--                    inside the delta's transaction (unless marked)
--   python           a pum Python delta (ladle.plan.python), then its row
-- Each raises a failure naming the delta's file (and line) and leaves the
-- connection idle; the caller reports.
--
-- `ctx` is the plan: conn, tracker, table, session_sql (the caller's
-- session, restored before each delta), identity_sql (the caller's session
-- user and role, also put back before the tracking row is written), utf8
-- (the client encoding is UTF8),
-- variables, variables_index, variables_in, python, ctx:context() (what
-- Lua deltas and hooks get), lock_timeout_ms (each delta's lock_timeout,
-- or nil), observer (or nil: see runner.sql_transaction).

local delta = require "ladle.delta"
local errors = require "ladle.errors"
local failure = require "ladle.plan.failure"
local json = require "ladle.json"
local pg = require "ladle.pg"
local pyformat = require "ladle.plan.pyformat"
local python = require "ladle.plan.python"
local sys = require "ladle.sys"
local tracker = require "ladle.tracker"
local version = require "ladle.version"

local runner = {}
local fail = errors.fail

local function raise_input(message) fail("input", "%s", message) end

-- Substitutes pum's variables in a SQL delta or hook (ladle.plan.pyformat):
-- when at least one is given, in pum's names (and hooks), or in every
-- delta with variables_in = "all".
local function substitute(ctx, d, content)
  if not ctx.variables or #ctx.variables == 0 or d.kind ~= "sql" then return content end
  if d.layout ~= "pum" and d.layout ~= "hook" and ctx.variables_in ~= "all" then return content end
  local standard = ctx.conn:parameter("standard_conforming_strings")
  local text, message, where = pyformat.substitute(content, ctx.variables_index, standard ~= "off")
  if not text then raise_input(string.format("%s:%d: %s", d.path, delta.line_at(content, where.offset), message)) end
  return text
end

-- runner.prepare(ctx, d) -> {content =, statements =} read once and
-- checked: for SQL, variables substituted and split into statements; for
-- Lua, compiled; for Python, the interpreter found. Bad input (an
-- unreadable file, a %(NAME)s without its variable, psql meta-commands,
-- transaction control, a Lua syntax error, no python3) raises an "input"
-- failure.
function runner.prepare(ctx, d)
  local content, why = d:read()
  if not content then raise_input(why) end
  local prepared = { content = content }
  if d.kind == "sql" then
    prepared.content = substitute(ctx, d, content)
    -- split as the session will read it
    prepared.statements, why = d:statements(prepared.content,
      { standard_conforming_strings = ctx.conn:parameter("standard_conforming_strings") ~= "off" })
    if not prepared.statements then raise_input(why) end
  elseif d.kind == "lua" then
    local ok
    ok, why = load(content, "@" .. d.path, "t")
    if not ok then raise_input(why) end
  elseif d.kind == "python" and not ctx.python_checked then
    python.check(ctx.python)
    ctx.python_checked = true
  end
  return prepared
end

function runner.elapsed_ms(started)
  return math.floor((sys.now() - started) * 1000 + 0.5)
end

-- A repeatable's row carries the version the database is at when it ran
-- (the column is NOT NULL in pum's table).
local function record_fields(ctx, d, elapsed)
  return {
    version = d.version or ctx.current_version or "0", description = d.description, type = d:type_code(), script = d.script,
    checksum = d.checksum, execution_time = elapsed,
  }
end

local function exec_or_fail(conn, sql, what)
  local ok, message = conn:exec(sql)
  if not ok then fail("database", "%s: %s", what, message) end
end

-- The end of a delta's last message: ladle's table (on the first delta of
-- an empty database), the tracking row, COMMIT.
local function closing_sql(ctx, d, record)
  local parts = { "\n;", ctx.identity_sql }
  if record and not ctx.tracker.exists then parts[#parts + 1] = ctx.tracker:create_sql() end
  if record then parts[#parts + 1] = ctx.tracker:insert_sql(record_fields(ctx, d, tracker.ELAPSED_SQL)) .. ";" end
  parts[#parts + 1] = "COMMIT"
  return table.concat(parts)
end

-- The delta's own lock_timeout (ctx.lock_timeout_ms, the plan's
-- lock_timeout option): "LOCAL " inside ladle's transaction, "" for the
-- session when the delta runs outside one.
local function lock_timeout_sql(ctx, scope)
  if not ctx.lock_timeout_ms then return "" end
  return string.format("SET %slock_timeout = %d;", scope, ctx.lock_timeout_ms)
end

-- With an observer (ladle.rehearse), BEGIN, each statement and the closing
-- go alone, and the observer looks in between: observer:statement(d, i)
-- after statement i, observer:commit(d) before the tracking row and COMMIT.
function runner.sql_transaction(ctx, d, prepared, record)
  local conn, utf8_text, stmts, observer = ctx.conn, ctx.utf8, prepared.statements, ctx.observer
  local closing = closing_sql(ctx, d, record)
  local opening = (ctx.session_sql or "") .. "BEGIN;" .. lock_timeout_sql(ctx, "LOCAL ")
  if observer then
    exec_or_fail(conn, opening, d.path)
    opening = ""
  elseif #stmts == 0 then
    exec_or_fail(conn, opening .. closing, d.path)
  end
  for i, stmt in ipairs(stmts) do
    local prefix = i == 1 and opening or ""
    local ok, message, err = conn:exec(prefix .. stmt.text .. ((i == #stmts and not observer) and closing or ""))
    if not ok then
      error(failure.statement(d, prepared.content, stmt, failure.char_length(prefix, utf8_text), message, err,
        utf8_text), 0)
    end
    if observer then observer:statement(d, i) end
  end
  if observer then
    observer:commit(d)
    local ok, message = conn:exec(closing:sub(3))
    if not ok then fail("database", "%s: recording the delta failed (nothing of it was kept): %s", d.path, message) end
  end
  if record then ctx.tracker:created() end
end

-- Before a delta that runs outside ladle's transaction, on an empty
-- database: the upgrades table, so that what the delta leaves behind if it
-- fails half way is in a database ladle still knows.
local function create_table_first(ctx, record)
  if record and not ctx.tracker.exists then
    exec_or_fail(ctx.conn, "BEGIN;" .. ctx.tracker:create_sql() .. "COMMIT", ctx.table)
    ctx.tracker:created()
  end
end

-- After a delta that ran outside ladle's transaction: its tracking row. A
-- delta that left a transaction open would have its row ride in it, and
-- both be lost with the connection: it is rolled back and refused.
local function record_outside(ctx, d, started)
  local conn = ctx.conn
  if conn:transaction_status() ~= "idle" then
    conn:exec("ROLLBACK")
    fail("database", "%s left a transaction open (BEGIN without COMMIT); what ran inside it was rolled back and "
      .. "the delta is not recorded", d.path)
  end
  local ok, message = conn:exec((ctx.identity_sql or "") .. ctx.tracker:insert_sql(record_fields(ctx, d,
    runner.elapsed_ms(started))))
  if not ok then
    fail("database", "%s: applied, but recording it in %s failed: %s (it will run again next time)", d.path,
      ctx.table, message)
  end
end

function runner.sql_autocommit(ctx, d, prepared, record, started)
  local conn = ctx.conn
  create_table_first(ctx, record)
  local setup = (ctx.session_sql or "") .. lock_timeout_sql(ctx, "")
  if setup ~= "" then exec_or_fail(conn, setup, d.path .. ": resetting the session") end
  for i, stmt in ipairs(prepared.statements) do
    local ok, message, err = conn:exec(stmt.text)
    if not ok then
      local f = failure.statement(d, prepared.content, stmt, 0, message, err, ctx.utf8)
      f.committed = i - 1  -- statements that stay applied: a retry is safe only when none did
      error(f, 0)
    end
  end
  if record then record_outside(ctx, d, started) end
end

-- What a Lua delta sees as the global `ladle`: the core modules. (The
-- whole public API sits above the runner; a delta gets its connection
-- and its record as arguments.)
local delta_api = {
  null = pg.null, fail = errors.fail, errors = errors, json = json, version = version, sys = sys,
  ident = require "ladle.ident", pg = pg,
}

function runner.lua(ctx, d, prepared, record, started)
  local env = setmetatable({ ladle = delta_api }, { __index = _G })
  local chunk, why = load(prepared.content, "@" .. d.path, "t", env)
  if not chunk then raise_input(why) end
  local conn = ctx.conn
  if not d.transaction then create_table_first(ctx, record) end
  local opening = (ctx.session_sql or "")
    .. (d.transaction and ("BEGIN;" .. lock_timeout_sql(ctx, "LOCAL ")) or lock_timeout_sql(ctx, ""))
  if opening ~= "" then exec_or_fail(conn, opening, d.path) end
  local before = conn:last_error()
  local ok, err = pcall(chunk, conn, d, ctx:context())
  if not ok then
    if errors.is_failure(err) or errors.is_interrupt(err) then error(err, 0) end
    local server = conn:last_error()
    error(failure.lua_error(d, err, server ~= before and server or nil), 0)
  end
  if d.transaction then
    local status = conn:transaction_status()
    if status == "inerror" then
      local server = conn:last_error()
      error(failure.lua_error(d, "a query inside the delta failed (check what conn:query returned); nothing was kept"
        .. (server and server.message and (": " .. server.message) or ""), server ~= before and server or nil), 0)
    elseif status ~= "intrans" then
      fail("runtime", "%s: the delta ended ladle's transaction (COMMIT or ROLLBACK inside it); mark it "
        .. "'-- ladle: no-transaction' to manage transactions itself", d.path)
    end
    if ctx.observer then ctx.observer:commit(d) end
    exec_or_fail(conn, closing_sql(ctx, d, record):sub(3), d.path)
    if record then ctx.tracker:created() end
  elseif record then
    record_outside(ctx, d, started)
  end
end

-- The session deltas run in ------------------------------------------------

-- runner.capture_session(conn) -> sql, identity_sql | nil, message, details
-- Every delta starts from the session as the caller left it: a `SET` in
-- one delta (pg_dump's install scripts empty search_path) does not leak
-- into the next, and a resumed run sees what a run in one go saw. The
-- caller's own settings (lock_timeout, ...) are read once, when the lock
-- is taken; the SQL returned puts them back after RESET ALL. RESET ALL
-- leaves SET ROLE and SET SESSION AUTHORIZATION alone (a delta's objects
-- would get another owner in every later delta): identity_sql puts the
-- caller's session user and role back, and runs first.
function runner.capture_session(conn)
  -- not through ladle.catalog: its session's SET LOCAL search_path and jit
  -- would show here as the caller's own settings (source = 'session')
  local rows, message, details = conn:query([[
SELECT name, setting FROM pg_catalog.pg_settings
WHERE source = 'session' AND name NOT LIKE 'transaction\_%' AND name NOT IN ('session_authorization', 'role')
ORDER BY name]])
  if not rows then return nil, message, details end
  local who
  who, message, details = conn:query("SELECT session_user AS session_user, pg_catalog.current_setting('role') AS role")
  if not who then return nil, message, details end
  who = who[1]
  -- DEFAULT is the user who logged in, which any user may go back to
  local identity = (who.session_user == conn:info().user and "SET SESSION AUTHORIZATION DEFAULT;"
    or ("SET SESSION AUTHORIZATION " .. conn:escape_identifier(who.session_user) .. ";"))
    .. (who.role == "none" and "RESET ROLE;" or ("SET ROLE " .. conn:escape_identifier(who.role) .. ";"))
  local calls = {}
  for _, row in ipairs(rows) do
    calls[#calls + 1] = string.format("pg_catalog.set_config(%s, %s, false)", conn:escape_literal(row.name),
      conn:escape_literal(row.setting or ""))
  end
  return identity .. "RESET ALL;" .. (#calls > 0 and ("SELECT " .. table.concat(calls, ", ") .. ";") or ""), identity
end

-- runner.restore_session(conn, sql) puts the caller's session back after
-- deltas ran (sql: what capture_session returned).
function runner.restore_session(conn, sql)
  if sql and not conn:is_closed() and conn:transaction_status() == "idle" then
    local ok, message = conn:exec(sql)
    if not ok then fail("database", "restoring the session's settings failed: %s", message) end
  end
end

-- A pum Python delta or hook: python3 with its own connections, then the
-- row (not atomic, as with no-transaction deltas). Returns what it printed.
function runner.python(ctx, d, record, started)
  create_table_first(ctx, record)
  local output = python.run(ctx, d)
  if record then record_outside(ctx, d, started) end
  return output
end

-- runner.run(ctx, d, prepared, record, started) -> what a Python delta
-- printed, or nil: the runner d needs.
function runner.run(ctx, d, prepared, record, started)
  if d.kind == "python" then
    return runner.python(ctx, d, record, started)
  elseif d.kind == "lua" then
    runner.lua(ctx, d, prepared, record, started)
  elseif d.transaction then
    runner.sql_transaction(ctx, d, prepared, record)
  else
    runner.sql_autocommit(ctx, d, prepared, record, started)
  end
end

return runner
