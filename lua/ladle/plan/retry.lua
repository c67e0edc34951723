-- ladle.plan.retry: what a plan does when a delta's statement gave up
-- waiting for a lock (lock_timeout, SQLSTATE 55P03): whether to try the
-- delta again, how long to wait first, and who held the lock.
--
-- A delta that runs in ladle's transaction is rolled back whole, so trying
-- it again is safe; one that runs outside a transaction is tried again
-- only when its first statement timed out (nothing of it committed). Other
-- errors are never retried.

local catalog = require "ladle.catalog"
local errors = require "ladle.errors"
local locks = require "ladle.plan.locks"

local retry = {}

retry.LOCK_NOT_AVAILABLE = "55P03"

-- The longest wait between two attempts, whatever the backoff says.
retry.MAX_WAIT = 60

-- retry.should(opts, d, err, attempt) -> boolean: attempt (1 for the
-- first try) failed with err; opts.retries: how many retries are allowed.
function retry.should(opts, d, err, attempt)
  if not errors.is_failure(err) or err.sqlstate ~= retry.LOCK_NOT_AVAILABLE then return false end
  if attempt > (opts.retries or 0) then return false end
  return d.transaction ~= false or err.committed == 0
end

-- retry.wait_seconds(first, attempt) -> seconds to wait before retry
-- number `attempt`: `first` doubled each time, capped, with jitter (half
-- fixed, half random), so that several runners do not come back together.
function retry.wait_seconds(first, attempt)
  local base = math.min(retry.MAX_WAIT, first * 2 ^ (attempt - 1))
  return base / 2 + math.random() * base / 2
end

-- Granted relation locks held by other sessions of this database, with
-- what each session is doing.
local HOLDERS = [[
SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS relation,
       c.relname, l.mode, l.pid, a.state, a.query, a.usename,
       pg_catalog.round(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - a.xact_start)::numeric, 1)
         AS seconds
  FROM pg_catalog.pg_locks l
  JOIN pg_catalog.pg_class c ON c.oid = l.relation
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'relation' AND l.granted AND l.pid <> pg_catalog.pg_backend_pid()
   AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
   AND n.nspname <> ALL (ARRAY['pg_catalog', 'information_schema']) AND n.nspname !~ '^pg_toast'
 ORDER BY l.pid, relation, l.mode]]

local function escape_pattern(text)
  return (text:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"))
end

-- Whether statement names the relation: its name as a word (any case for
-- a name that needs no quotes).
local function names(statement, relname)
  local text, name = statement, relname
  if relname:match("^[a-z_][a-z0-9_$]*$") then text, name = statement:lower(), relname end
  return text:find("%f[%w_$]" .. escape_pattern(name) .. "%f[^%w_$]") ~= nil
end

-- retry.blockers(conn, statement) -> list of {relation, mode, pid, state,
-- query, user, seconds} | nil, message, details
-- Who holds locks that the statement may have waited for: once the
-- statement has given up its place in the lock queue, the server no longer
-- says which lock it wanted, so these are the sessions holding locks on
-- the relations the statement names (all of them when it names none of
-- them, or is not known: a Lua delta).
function retry.blockers(conn, statement)
  local rows, message, details = catalog.query(conn, HOLDERS)
  if not rows then return nil, message, details end
  local named = {}
  for _, row in ipairs(rows) do
    if statement and names(statement, row.relname) then named[#named + 1] = row end
  end
  local list = {}
  for _, row in ipairs(#named > 0 and named or rows) do
    list[#list + 1] = { relation = row.relation, mode = row.mode, pid = row.pid, state = row.state,
      query = row.query, user = row.usename, seconds = tonumber(row.seconds) }
  end
  return list
end

-- One line about a blocker: "pid 4242 (alice, idle in transaction for
-- 12.5 s: UPDATE accounts SET ...) holding ROW EXCLUSIVE on public.accounts".
function retry.describe_blocker(b)
  local query = (b.query or ""):gsub("%s+", " "):gsub("^ ", "")
  if #query > 120 then query = query:sub(1, 117) .. "..." end
  local doing = {}
  if b.user then doing[#doing + 1] = b.user .. ", " end
  doing[#doing + 1] = b.state or "state unknown"
  if b.seconds then doing[#doing + 1] = string.format(" for %g s", b.seconds) end
  if query ~= "" then doing[#doing + 1] = ": " .. query end
  return string.format("pid %d (%s) holding %s on %s", b.pid, table.concat(doing), locks.sql_name(b.mode),
    b.relation)
end

return retry
