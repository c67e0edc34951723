-- ladle.tracker: the upgrades table, with pum 0.x's columns.
--
--   local t = assert(ladle.tracker.open(conn, "public.ladle_upgrades"))
--   t:inspect()              -- does it exist, is it an upgrades table
--   t:create()               -- pum 0.10's DDL, exactly
--   t:baseline("1.0.0")      -- a type-0 row: the database is at 1.0.0
--   t:rows()                 -- every row, oldest first
--   t:current_version()      -- the highest version recorded
--   t:lock() ... t:unlock()  -- the advisory lock of this table
--
-- ladle reads and continues a table created by pum 0.x as it is, and
-- creates its own tables with the same columns, so pum can still read them.

local catalog = require "ladle.catalog"
local ident = require "ladle.ident"
local sys = require "ladle.sys"
local version = require "ladle.version"

local tracker = {}

tracker.DEFAULT = "public.ladle_upgrades"

-- The columns pum 0.x created, all of which ladle reads and writes.
tracker.COLUMNS = { "id", "version", "description", "type", "script", "checksum",
  "installed_by", "installed_on", "execution_time", "success" }

-- First key of the advisory lock: 'ladl'. The second is a hash of the
-- table's schema-qualified name.
tracker.LOCK_CLASS = 0x6c61646c

local Tracker = {}
Tracker.__index = Tracker
tracker.Tracker = Tracker

-- Parses `schema.table` (each part plain, folded to lower case, or
-- "quoted"); a bare name is in public. Returns schema, table or nil,
-- reason, details.
function tracker.parse_name(name)
  if type(name) ~= "string" or name == "" then
    return nil, "the upgrades table needs a name (schema.table)", { kind = "input" }
  end
  local parts = ident.parse(name)
  if not parts or #parts > 2 then
    return nil, string.format("bad table name '%s' (expected schema.table)", name), { kind = "input" }
  end
  if #parts == 1 then return "public", parts[1] end
  return parts[1], parts[2]
end

-- 32-bit FNV-1a, as a signed int4 for pg_advisory_lock(int4, int4).
local function lock_hash(text)
  local h = 0x811c9dc5
  for i = 1, #text do
    h = ((h ~ text:byte(i)) * 0x01000193) & 0xffffffff
  end
  if h >= 0x80000000 then h = h - 0x100000000 end
  return h
end

-- tracker.open(conn, name) -> tracker | nil, reason, details (a bad name)
function tracker.open(conn, name)
  assert(conn ~= nil, "tracker.open: a connection is required")
  local schema, tbl, details = tracker.parse_name(name or tracker.DEFAULT)
  if not schema then return nil, tbl, details end
  local self = setmetatable({ conn = conn, schema = schema, table = tbl }, Tracker)
  self.name = schema .. "." .. tbl
  self.qualified = conn:escape_identifier(schema) .. "." .. conn:escape_identifier(tbl)
  self.lock_key = lock_hash(self.name)
  self.locked = false
  return self
end

-- A failing query is a "database" failure.
local function database_result(rows, message, details)
  if rows then return rows end
  details = details or {}
  details.kind = "database"
  return nil, message, details
end

local function query(conn, sql, ...)
  return database_result(conn:query(sql, ...))
end

local function catalog_query(conn, sql, ...)
  return database_result(catalog.query(conn, sql, ...))
end

-- t:inspect() -> state | nil, message, details
-- state: {exists, schema_exists, columns = {name = true}, can_write}.
-- A table that lacks pum's columns is refused (details.kind "input"; a
-- database failure is "database").
function Tracker:inspect()
  local rows, message, details = catalog_query(self.conn, [[
SELECT (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = $1) IS NOT NULL AS schema_exists,
       t.oid::int8 AS oid, t.relkind::text AS relkind, t.columns,
       t.can_write
FROM (SELECT 1) AS one
LEFT JOIN (
  SELECT c.oid, c.relkind,
         pg_catalog.has_table_privilege(c.oid, 'INSERT, UPDATE') AS can_write,
         ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
               WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = $1 AND c.relname = $2
) AS t ON true]], self.schema, self.table)
  if not rows then return nil, message, details end
  local row = rows[1]
  local state = { exists = row.oid ~= nil, schema_exists = row.schema_exists, columns = {},
                  can_write = row.can_write }
  if state.exists then
    if row.relkind ~= "r" and row.relkind ~= "p" then
      return nil, string.format("%s is not a table", self.name), { kind = "input" }
    end
    for _, c in ipairs(row.columns or {}) do state.columns[c] = true end
    local missing = {}
    for _, c in ipairs(tracker.COLUMNS) do
      if not state.columns[c] then missing[#missing + 1] = c end
    end
    if #missing > 0 then
      return nil, string.format("%s is not an upgrades table: it has no column %s", self.name,
        table.concat(missing, ", ")), { kind = "input" }
    end
  end
  self.state = state
  self.exists = state.exists
  return state
end

-- tracker.find_tables(conn) -> {"schema.table", ...} | nil, message, details
-- The upgrades tables of the database: the tables that have every column
-- of pum's (names quoted where -t needs it), for pointing at the right
-- one when -t names none.
function tracker.find_tables(conn)
  local rows, message, details = catalog_query(conn, [[
SELECT n.nspname AS schema, c.relname AS name
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  AND (SELECT pg_catalog.count(*) FROM pg_catalog.pg_attribute a
       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         AND a.attname OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.name[])) = $2
ORDER BY 1, 2]], tracker.COLUMNS, #tracker.COLUMNS)
  if not rows then return nil, message, details end
  local names = {}
  for _, row in ipairs(rows) do names[#names + 1] = ident.qualify(row.schema, row.name) end
  return names
end

-- The DDL of a new upgrades table: pum 0.10's, exactly (a database
-- baselined by ladle compares equal to one baselined by pum). ladle reads
-- tables created by earlier ladle releases and pum versions as they are.
function Tracker:create_sql()
  local parts = {}
  if not (self.state and self.state.schema_exists) then
    parts[#parts + 1] = "CREATE SCHEMA IF NOT EXISTS " .. self.conn:escape_identifier(self.schema) .. ";\n"
  end
  parts[#parts + 1] = "CREATE TABLE IF NOT EXISTS " .. self.qualified .. [[ (
  id serial NOT NULL,
  version character varying(50) NOT NULL,
  description character varying(200) NOT NULL,
  type integer NOT NULL,
  script character varying(1000) NOT NULL,
  checksum character varying(32) NOT NULL,
  installed_by character varying(100) NOT NULL,
  installed_on timestamp without time zone NOT NULL DEFAULT now(),
  execution_time integer NOT NULL,
  success boolean NOT NULL,
  PRIMARY KEY (id),
  EXCLUDE (version WITH =) WHERE (type = 0)
);
]]
  return table.concat(parts)
end

-- Marks the table as created once the transaction that created it committed.
function Tracker:created()
  self.exists = true
  if self.state then
    self.state.exists, self.state.schema_exists = true, true
  end
end

-- t:create() -> true | nil, message, details
function Tracker:create()
  local ok, message, details = self.conn:exec(self:create_sql())
  if not ok then return nil, message, details end
  self:created()
  return true
end

-- t:rows() -> every row, ordered by id | nil, message
function Tracker:rows()
  return query(self.conn, "SELECT id, version, description, type, script, checksum, installed_by, "
    .. "pg_catalog.to_char(installed_on, 'YYYY-MM-DD HH24:MI:SS') AS installed_on, execution_time, success FROM "
    .. self.qualified .. " ORDER BY id")
end

local function max_version(rows, accept)
  local best
  for _, row in ipairs(rows) do
    if row.success and accept(row) and version.parse(row.version or "") then
      if not best or version.compare(row.version, best) > 0 then best = row.version end
    end
  end
  return best and version.normalize(best) or nil
end

-- The highest version recorded by a successful row (nil for none).
function tracker.current_version(rows)
  return max_version(rows, function() return true end)
end

-- The highest version recorded by a baseline (type 0) row.
function tracker.baseline_version(rows)
  return max_version(rows, function(row) return row.type == 0 end)
end

function Tracker:current_version()
  if self.exists == nil then
    local state, message, details = self:inspect()
    if not state then return nil, message, details end
  end
  if not self.exists then return nil end
  local rows, message, details = self:rows()
  if not rows then return nil, message, details end
  return tracker.current_version(rows)
end

-- The INSERT of one row. `fields`: version, description, type, script,
-- checksum, and execution_time (an integer, or SQL computing it).
function Tracker:insert_sql(fields)
  local conn = self.conn
  -- at most max characters, cut between two (scanning refuses names
  -- that do not fit; this keeps any other caller's text valid)
  local function lit(s, max)
    s = tostring(s or "")
    local chars = max and #s > max and (utf8.len(s) or #s)
    if chars and chars > max then s = s:sub(1, (utf8.len(s) and utf8.offset(s, max + 1) or max + 1) - 1) end
    return conn:escape_literal(s)
  end
  return string.format("INSERT INTO %s (version, description, type, script, checksum, installed_by, "
    .. "execution_time, success) VALUES (%s, %s, %d, %s, %s, session_user, %s, true)",
    self.qualified, lit(fields.version, 50), lit(fields.description, 200), fields.type,
    lit(fields.script, 1000), lit(fields.checksum, 32), tostring(fields.execution_time))
end

-- The execution time of the transaction so far in milliseconds, computed
-- by the server: now() is the start of the delta's transaction.
tracker.ELAPSED_SQL = "(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - pg_catalog.now()) * 1000)::integer"

-- t:baseline(version[, opts]) -> true | nil, message
-- Records, without running anything, that the database is at `version`
-- (pum's baseline row: type 0, description 'baseline', no script).
-- opts.replace: the baseline rows already there go, in the same
-- transaction (ladle.plan.records decides when that is safe).
function Tracker:baseline(v, opts)
  local normalized, why = version.normalize(v)
  if not normalized then return nil, why, { kind = "input" } end
  local sql = self:insert_sql { version = normalized, description = "baseline", type = 0, script = "",
                                checksum = "", execution_time = 0 }
  if not self.exists then sql = self:create_sql() .. sql end
  if opts and opts.replace and self.exists then
    sql = "DELETE FROM " .. self.qualified .. " WHERE type = 0 AND script = '';" .. sql
  end
  local ok, message, details = self.conn:exec("BEGIN;" .. sql .. ";COMMIT")
  if not ok then
    if self.conn:transaction_status() ~= "idle" then self.conn:exec("ROLLBACK") end
    return nil, message, details
  end
  self:created()
  return true
end

-- t:recorded(d) -> whether a successful row records delta d (its script
-- and checksum) | nil, message: after an interruption, whether the delta
-- committed before it.
function Tracker:recorded(d)
  local rows, message, details = query(self.conn, "SELECT pg_catalog.count(*) AS n FROM " .. self.qualified
    .. " WHERE script = $1 AND checksum = $2 AND success", d.script, d.checksum)
  if not rows then return nil, message, details end
  return rows[1].n > 0
end

-- t:set_checksum(id, checksum) -> true | nil, message (what repair does)
function Tracker:set_checksum(id, checksum)
  local rows, message, details = query(self.conn, "UPDATE " .. self.qualified .. " SET checksum = $1 WHERE id = $2",
    checksum, id)
  if not rows then return nil, message, details end
  return true
end

-- Locking ----------------------------------------------------------------------

-- Who holds this table's lock: {pid, application_name, since} or nil.
function Tracker:lock_holder()
  local objid = self.lock_key < 0 and self.lock_key + 0x100000000 or self.lock_key
  local rows = catalog_query(self.conn, [[
SELECT l.pid, a.application_name, pg_catalog.to_char(a.xact_start, 'HH24:MI:SS') AS since,
       pg_catalog.to_char(a.backend_start, 'HH24:MI:SS') AS connected
FROM pg_catalog.pg_locks l LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::oid AND l.objid = $2::oid
  AND l.objsubid = 2
  AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
LIMIT 1]], tracker.LOCK_CLASS, objid)
  return rows and rows[1] or nil
end

local function holder_text(holder)
  if not holder then return "another session" end
  local parts = { "pid " .. tostring(holder.pid) }
  if holder.application_name and holder.application_name ~= "" then parts[#parts + 1] = holder.application_name end
  if holder.connected then parts[#parts + 1] = "connected at " .. holder.connected end
  return table.concat(parts, ", ")
end

-- t:lock{wait = true, timeout = seconds, on_wait = fn(holder)} -> true | nil, message
-- A session-level advisory lock on this table's name, held until unlock()
-- or the end of the session. Without `wait` (or once `timeout` seconds
-- have passed) it fails naming the session that holds it. Waiting polls,
-- so Ctrl-C ends it at once.
function Tracker:lock(opts)
  opts = opts or {}
  if self.locked then return true end
  local started, announced, pause = sys.now(), false, 0.02
  while true do
    local rows, message, details = query(self.conn, "SELECT pg_catalog.pg_try_advisory_lock($1, $2) AS ok",
      tracker.LOCK_CLASS, self.lock_key)
    if not rows then return nil, message, details end
    if rows[1].ok then
      self.locked = true
      return true
    end
    local holder = self:lock_holder()
    if opts.wait == false then
      return nil, string.format("another upgrade holds the lock on %s (%s)", self.name, holder_text(holder)),
        { kind = "database", holder = holder }
    end
    local waited = sys.now() - started
    if opts.timeout and waited >= opts.timeout then
      return nil, string.format("gave up after %gs waiting for the lock on %s, held by %s", opts.timeout, self.name,
        holder_text(holder)), { kind = "database", holder = holder }
    end
    if not announced and opts.on_wait then opts.on_wait(holder, holder_text(holder)) end
    announced = true
    local nap = pause
    if opts.timeout then nap = math.min(nap, math.max(0.001, opts.timeout - waited)) end
    sys.sleep(nap)
    pause = math.min(pause * 2, 0.2)
  end
end

-- t:unlock() -> true | nil, message
function Tracker:unlock()
  if not self.locked then return true end
  if self.conn:is_closed() then
    self.locked = false  -- the session, and its lock, are gone
    return true
  end
  local rows, message, details = query(self.conn, "SELECT pg_catalog.pg_advisory_unlock($1, $2) AS ok",
    tracker.LOCK_CLASS, self.lock_key)
  if not rows then return nil, message, details end
  self.locked = false
  return true
end

-- Is the database empty apart from this table? No relation, function,
-- type or schema of the user's (extension members do not count).
function Tracker:database_is_empty()
  local rows, message, details = catalog_query(self.conn, [[
WITH tracking AS (
  SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = $1 AND c.relname = $2
), user_ns AS (
  SELECT n.oid, n.nspname FROM pg_catalog.pg_namespace n
  WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
), extension_member AS (
  SELECT d.classid, d.objid FROM pg_catalog.pg_depend d WHERE d.deptype = 'e'
)
SELECT
  (SELECT pg_catalog.count(*) FROM pg_catalog.pg_class c JOIN user_ns n ON n.oid = c.relnamespace
   WHERE c.oid NOT IN (SELECT oid FROM tracking)
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indexrelid = c.oid AND i.indrelid IN (SELECT oid FROM tracking))
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                     AND d.objid = c.oid AND d.refobjid IN (SELECT oid FROM tracking))
     AND NOT EXISTS (SELECT 1 FROM extension_member e WHERE e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND e.objid = c.oid))
+ (SELECT pg_catalog.count(*) FROM pg_catalog.pg_proc p JOIN user_ns n ON n.oid = p.pronamespace
   WHERE NOT EXISTS (SELECT 1 FROM extension_member e WHERE e.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND e.objid = p.oid))
+ (SELECT pg_catalog.count(*) FROM pg_catalog.pg_type t JOIN user_ns n ON n.oid = t.typnamespace
   WHERE t.typtype IN ('b', 'd', 'e', 'r') AND t.typrelid = 0 AND t.typcategory <> 'A'
     AND NOT EXISTS (SELECT 1 FROM extension_member e WHERE e.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND e.objid = t.oid))
+ (SELECT pg_catalog.count(*) FROM user_ns n WHERE n.nspname NOT IN ('public', $1)
     AND NOT EXISTS (SELECT 1 FROM extension_member e WHERE e.classid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND e.objid = n.oid))
  AS objects]], self.schema, self.table)
  if not rows then return nil, message, details end
  return rows[1].objects == 0
end

return tracker
