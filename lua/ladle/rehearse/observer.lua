-- ladle.rehearse.observer: what a delta really did, read from the server
-- around and inside its transaction. A plan given an observer calls it
-- (ladle.plan.execute, ladle.plan.runner):
--   begin(d, prepared)  before the delta, on the idle connection: the user
--                       relations (oid, name, kind, relfilenode), the
--                       indexes, a schema snapshot
--   statement(d, i)     after statement i, inside the transaction: the
--                       relation locks this backend holds, so that each one
--                       is known from the statement that took it
--   commit(d)           just before the tracking row and COMMIT: the locks
--                       held at commit
--   finish(d, ms)       after COMMIT: relfilenodes again, a snapshot and
--                       its diff, then the findings (ladle.rehearse.findings)
-- finish returns the observation, which the plan reports as `observed`:
--   {file, script, description, version, phase, ms, transaction, locks = {{relation, mode,
--    blocks, held_ms}}, rewrites = {names}, changes = {{kind, name, change,
--    what, hazards, sql}}, findings = {{rule, relation, message}},
--    unobserved = {what could not be seen}}

local catalog = require "ladle.catalog"
local diff = require "ladle.diff"
local findings = require "ladle.rehearse.findings"
local locks = require "ladle.plan.locks"
local schema = require "ladle.schema"
local sys = require "ladle.sys"

local observer = {}

local Observer = {}
Observer.__index = Observer

local RELATIONS = [[
SELECT c.oid, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS name,
       c.relkind, c.relfilenode
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'm', 'v', 'f') AND c.relpersistence <> 't' AND c.oid >= $1
   AND n.nspname <> ALL (ARRAY['pg_catalog', 'information_schema']) AND n.nspname !~ '^pg_toast']]

local INDEXES = [[
SELECT i.indexrelid AS oid, i.indrelid AS rel, pg_catalog.quote_ident(c.relname) AS name
  FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
 WHERE i.indexrelid >= $1]]

-- Relation locks this backend holds in this database.
local HELD = [[
SELECT l.relation AS oid, l.mode FROM pg_catalog.pg_locks l
 WHERE l.pid = pg_catalog.pg_backend_pid() AND l.locktype = 'relation' AND l.granted AND l.relation >= $1
   AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())]]

local function must(rows, message)
  if not rows then error(string.format("rehearsal: reading the server's state failed: %s", message), 0) end
  return rows
end

local function query(conn, sql)
  return must(catalog.query(conn, sql, catalog.FIRST_NORMAL_OID))
end

-- observer.new{conn =, table =, phase =, with_data =} -> observer
--   table      the upgrades table ("public.ladle_upgrades"): left out
--   phase      "pre": every delta runs while the old code does; "post":
--              none does; nil: each delta's own phase says
--   with_data  the copy holds production's rows (times mean something)
-- observer.observations lists the observations in order.
function observer.new(opts)
  return setmetatable({ conn = opts.conn, table = opts.table, phase = opts.phase, with_data = opts.with_data,
    observations = {} }, Observer)
end

function Observer:_snapshot()
  local snap, message = schema.snapshot(self.conn, { exclude_tables = { self.table } })
  return must(snap, message)
end

-- Marks each lock held now that was not held before as taken by the
-- statement that started at self.mark. Time spent here is the observer's,
-- not the delta's: it is kept apart (self.overhead) and left out of the
-- delta's time and of how long its locks were held.
function Observer:_read_locks()
  local started = sys.now()
  local rows = query(self.conn, HELD)
  for _, row in ipairs(rows) do
    local key = row.oid .. " " .. row.mode
    if not self.first_seen[key] then self.first_seen[key] = { at = self.mark, overhead = self.overhead } end
  end
  self.mark = sys.now()
  self.overhead = self.overhead + (self.mark - started)
  return rows
end

function Observer:begin(d, prepared)
  self.relations = {}
  for _, row in ipairs(query(self.conn, RELATIONS)) do self.relations[row.oid] = row end
  self.indexes = {}
  for _, row in ipairs(query(self.conn, INDEXES)) do self.indexes[row.oid] = true end
  -- nothing runs between two deltas: the last one's after is this one's before
  self.snap_before = self.snap_after or self:_snapshot()
  self.prepared, self.first_seen, self.held, self.overhead, self.mark = prepared, {}, nil, 0, sys.now()
end

function Observer:statement()
  self:_read_locks()
end

function Observer:commit()
  self.held = self:_read_locks()
  self.committing = sys.now()
end

-- The strongest lock on each pre-existing relation, weakest relations last.
function Observer:_locks()
  local strongest, since = {}, {}
  for _, row in ipairs(self.held or {}) do
    local rel = self.relations[row.oid]
    if rel and rel.name ~= self.table then
      local mode = locks.stronger(strongest[row.oid], row.mode)
      strongest[row.oid] = mode
      since[row.oid] = self.first_seen[row.oid .. " " .. mode]
    end
  end
  local list = {}
  for oid, mode in pairs(strongest) do
    local held = self.committing - since[oid].at - (self.overhead - since[oid].overhead)
    list[#list + 1] = { relation = self.relations[oid].name, mode = locks.sql_name(mode), blocks = locks.blocks(mode),
      held_ms = math.max(0, math.floor(held * 1000 + 0.5)), rank = locks.mode(mode).rank }
  end
  table.sort(list, function(a, b)
    if a.rank ~= b.rank then return a.rank > b.rank end
    return a.relation < b.relation
  end)
  for _, l in ipairs(list) do l.rank = nil end
  return list
end

-- Whether a statement of a no-transaction delta built the index
-- concurrently (inside a transaction it cannot have been).
local function built_concurrently(prepared, index, table_name)
  for _, stmt in ipairs(prepared and prepared.statements or {}) do
    local text = stmt.text:lower():gsub("%-%-[^\n]*", ""):gsub("%s+", " ")
    local rest = text:match("create unique index concurrently (.*)") or text:match("create index concurrently (.*)")
    local unnamed_on = rest and rest:match("^on ") and rest:find(table_name:match("[^.]+$"):lower(), 1, true)
    if rest and (rest:find(index:lower(), 1, true) or unnamed_on) then
      return true
    end
  end
  return false
end

function Observer:finish(d, ms)
  local existed, rewrites, built = {}, {}, {}
  for _, rel in pairs(self.relations) do existed[rel.name] = true end
  local after = {}
  for _, row in ipairs(query(self.conn, RELATIONS)) do after[row.oid] = row end
  for oid, rel in pairs(self.relations) do
    local now = after[oid]
    if now and (rel.relkind == "r" or rel.relkind == "m") and now.relfilenode ~= rel.relfilenode
      and rel.name ~= self.table then
      rewrites[#rewrites + 1] = rel.name
    end
  end
  table.sort(rewrites)
  for _, row in ipairs(query(self.conn, INDEXES)) do
    local rel = self.relations[row.rel]
    if not self.indexes[row.oid] and rel and rel.name ~= self.table then
      built[#built + 1] = { name = row.name, table = rel.name,
        concurrent = d.transaction == false and built_concurrently(self.prepared, row.name, rel.name) }
    end
  end
  self.snap_after = self:_snapshot()
  local changes = {}
  for _, c in ipairs(must(diff(self.snap_before, self.snap_after))) do changes[#changes + 1] = c end
  local lock_list = d.transaction == false and {} or self:_locks()
  local old_code = self.phase == "pre" or (self.phase == nil and d.phase == "pre" and not d.hook)
  local o = {
    file = d.path, script = d.script, description = d.description, version = d.version, phase = d.hook or d.phase,
    ms = math.max(0, ms - math.floor(self.overhead * 1000 + 0.5)),
    transaction = d.transaction ~= false, locks = lock_list, rewrites = rewrites,
    findings = findings.evaluate { old_code = old_code, locks = lock_list, rewrites = rewrites, indexes = built,
      changes = changes, existed = existed, with_data = self.with_data },
    changes = {}, unobserved = {},
  }
  for _, c in ipairs(changes) do
    o.changes[#o.changes + 1] = { kind = c.kind, name = c.name, change = c.sign, what = c.what, line = c.line,
      hazards = c.hazards, sql = c.sql }
  end
  if d.transaction == false then
    o.unobserved[1] = "locks: the delta runs outside a transaction, so each statement's locks end with it and "
      .. "cannot be read before a commit"
  end
  self.observations[#self.observations + 1] = o
  return o
end

return observer
