-- Tables: plain, partitioned, partitions, inheriting and unlogged tables,
-- with their storage options, row-level security, replica identity and
-- the index CLUSTER uses. Columns, constraints and the rest are kinds of
-- their own; a new table's columns are written into its CREATE TABLE.

local sql = require "ladle.schema.sql"
local util = require "ladle.schema.util"
local inheritance = require "ladle.schema.inheritance"

local kind = {
  name = "tables", singular = "table", acl = "r", comment = "TABLE", owned = true,
  fields = { "partitioned", "partition_key", "unlogged", "partition_of", "partition_bound", "inherits",
             "options", "row_security", "force_row_security", "replica_identity", "cluster_on" },
  flags = { unlogged = true, partitioned = true, row_security = true, force_row_security = true },
  unordered = { options = true },
}

-- names are put together by the reader: schema name and
-- quote_ident(relname) is what regclass prints. flags: p partitioned, u
-- unlogged, c a partition, r row security, f forced, N and F replica
-- identity NOTHING and FULL (USING INDEX, and CLUSTER ON, come with the
-- few indexes marked so, from a query of their own). A check of a large
-- database reads tens of thousands of tables: the row is kept narrow, and
-- what only partitions and partitioned tables have comes with the
-- inheritance query and a query of partition keys.
function kind.query(q)
  return ([[
SELECT c.oid, c.relnamespace AS nsp, pg_catalog.quote_ident(c.relname) AS relname,
       NULLIF(CASE WHEN c.relkind = 'p' THEN 'p' ELSE '' END || CASE WHEN c.relpersistence = 'u' THEN 'u' ELSE '' END
              || CASE WHEN c.relispartition THEN 'c' ELSE '' END || CASE WHEN c.relrowsecurity THEN 'r' ELSE '' END
              || CASE WHEN c.relforcerowsecurity THEN 'f' ELSE '' END
              || CASE c.relreplident WHEN 'n' THEN 'N' WHEN 'f' THEN 'F' ELSE '' END, '') AS flags,
       c.reloptions, %s AS acl%s%s
  FROM pg_catalog.pg_class c
 WHERE c.relnamespace = ANY ($1::pg_catalog.oid[]) AND c.relkind IN ('r', 'p')]])
    :format(q.acl("c.relacl", "c.relowner"), (q.deps or q.opts.owners) and (", " .. q.owner("c.relowner") .. " AS owner")
      or "", q.deps and [[,
       c.reltype, (SELECT NULLIF(rt.typarray, 0) FROM pg_catalog.pg_type rt WHERE rt.oid = c.reltype) AS rowtype_array]]
      or ""),
  [[
SELECT i.inhrelid AS rel, i.inhparent::pg_catalog.regclass::pg_catalog.text AS parent,
       CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END AS bound
  FROM pg_catalog.pg_inherits i
  JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
 WHERE c.relnamespace = ANY ($1::pg_catalog.oid[]) AND c.relkind IN ('r', 'p')
 ORDER BY i.inhrelid, i.inhseqno]],
  [[
SELECT c.oid, pg_catalog.pg_get_partkeydef(c.oid) AS partkey
  FROM pg_catalog.pg_class c
 WHERE c.relnamespace = ANY ($1::pg_catalog.oid[]) AND c.relkind = 'p']],
  [[
SELECT i.indrelid AS rel, i.indexrelid AS index, pg_catalog.quote_ident(ic.relname) AS name,
       i.indisreplident AS replica, i.indisclustered AS clustered
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
 WHERE ic.relnamespace = ANY ($1::pg_catalog.oid[]) AND (i.indisreplident OR i.indisclustered)]]
end

function kind.read(r, rows, inherits, keys, marked)
  local tables, by_class = r.snap.tables, r.by_class
  for _, row in ipairs(rows) do
    local name = r.nsp_name[row.nsp] .. "." .. row.relname
    if not r.excluded_table(name) and not r.member(r.class.pg_class, row.oid) then
      -- only the fields a table has (see columns)
      local obj = { kind = "tables", name = name, schema = r.nsp_name[row.nsp] }
      if row.owner then obj.owner = row.owner end
      if row.acl then obj.acl = row.acl end
      if row.reloptions then obj.options = row.reloptions end
      local flags = row.flags
      if flags then
        if flags:find("p", 1, true) then obj.partitioned = true end
        if flags:find("u", 1, true) then obj.unlogged = true end
        if flags:find("c", 1, true) then r.partition_children[row.oid] = true end
        if flags:find("r", 1, true) then obj.row_security = true end
        if flags:find("f", 1, true) then obj.force_row_security = true end
        if flags:find("N", 1, true) then obj.replica_identity = "nothing" end
        if flags:find("F", 1, true) then obj.replica_identity = "full" end
      end
      tables[name] = obj
      by_class[row.oid] = obj
      if row.reltype then r.type_obj[row.reltype] = obj end
      if row.rowtype_array then r.type_obj[row.rowtype_array] = obj end
    end
  end
  -- partitions and inheritance
  for _, row in ipairs(inherits) do
    local obj = by_class[row.rel]
    if obj and obj.kind == "tables" then
      if r.partition_children[row.rel] then
        obj.partition_of, obj.partition_bound = row.parent, row.bound
      else
        obj.inherits = obj.inherits or {}
        obj.inherits[#obj.inherits + 1] = row.parent
      end
    end
  end
  for _, row in ipairs(keys) do
    local obj = by_class[row.oid]
    if obj and obj.kind == "tables" then obj.partition_key = row.partkey end
  end
  -- the index is an index or a constraint's: finish() knows which
  r.marked_indexes = {}
  for _, row in ipairs(marked) do
    local obj = by_class[row.rel]
    if obj and obj.kind == "tables" then
      if row.replica then obj.replica_identity = "using index " .. row.name end
      if row.clustered then obj.cluster_on = row.name end
      r.marked_indexes[#r.marked_indexes + 1] = { table = obj, index = row.index, replica = row.replica,
                                                  clustered = row.clustered }
    end
  end
end

-- The item the replica identity or CLUSTER ON index is, as "kind name"
-- (the parts below depend on it): an index, or the constraint it backs.
function kind.finish(r)
  for _, m in ipairs(r.marked_indexes or {}) do
    local index = r.by_class[m.index]
    if index and (index.kind == "indexes" or index.kind == "constraints") then
      local key = index.kind .. " " .. index.name
      if m.replica then m.table.replica_identity_index = key end
      if m.clustered then m.table.cluster_index = key end
    end
  end
end

function kind.depends(obj, deps)
  if obj.partition_of then deps["tables " .. obj.partition_of] = "p" end
  for _, parent in ipairs(obj.inherits or {}) do deps["tables " .. parent] = "p" end
end

function kind.summary(obj)
  if obj.partition_of then return "partition of " .. obj.partition_of .. " " .. (obj.partition_bound or "") end
  return (obj.unlogged and "unlogged " or "") .. (obj.partitioned and "partitioned table" or "table")
end

local function row_security(o, before)
  local out = {}
  before = before or {}
  if (o.row_security or false) ~= (before.row_security or false) then
    out[#out + 1] = sql.stmt(string.format("ALTER TABLE %s %s ROW LEVEL SECURITY;", o.name,
      o.row_security and "ENABLE" or "DISABLE"), "access_exclusive_lock")
  end
  if (o.force_row_security or false) ~= (before.force_row_security or false) then
    out[#out + 1] = sql.stmt(string.format("ALTER TABLE %s %s ROW LEVEL SECURITY;", o.name,
      o.force_row_security and "FORCE" or "NO FORCE"), "access_exclusive_lock")
  end
  return out
end

-- ctx.column_definitions(table) gives the new table's column lines
function kind.create(item, ctx)
  local o = item.obj
  local s
  if o.partition_of then
    s = string.format("CREATE TABLE %s PARTITION OF %s %s", o.name, o.partition_of, o.partition_bound)
  else
    local cols = ctx.column_definitions(o.name)
    s = string.format("CREATE %sTABLE %s (%s)", o.unlogged and "UNLOGGED " or "", o.name,
      #cols > 0 and ("\n    " .. table.concat(cols, ",\n    ") .. "\n") or "")
    if o.inherits then s = s .. " INHERITS (" .. table.concat(o.inherits, ", ") .. ")" end
  end
  if o.partition_key then s = s .. " PARTITION BY " .. o.partition_key end
  s = s .. sql.with_options(o.options) .. ";"
  local out = { sql.stmt(s) }
  for _, st in ipairs(row_security(o)) do st.hazards = {}; out[#out + 1] = st end
  return out
end

function kind.drop(item)
  return { sql.stmt("DROP TABLE " .. item.name .. ";", "deletes_data", "access_exclusive_lock") }
end

-- ALTER TABLE ... REPLICA IDENTITY and CLUSTER ON come after the index
-- they name is made, and go before it is dropped: parts of the table that
-- depend on the index.
local function index_part(field, index_field, set, reset, ...)
  local hazards = { ... }
  local function statement(item, value)
    return sql.stmt(string.format("ALTER TABLE %s %s;", item.table, value and set(value) or reset),
      table.unpack(hazards))
  end
  return {
    item = function(obj)
      local value = obj[field]
      if not value then return nil end
      local index = obj[index_field]
      return { value = value, table = obj.name, deps = index and { [index] = "n" } or {} }
    end,
    label = field:gsub("_", " "),
    summary = function(item) return field:gsub("_", " ") .. " " .. item.value end,
    create = function(item) return { statement(item, item.value) } end,
    drop = function(item) return { statement(item, nil) } end,
    alter = function(a, b)
      if a.value == b.value then return nil end
      return { statements = { statement(b, b.value) } }
    end,
  }
end

kind.parts = {
  replica_identity = index_part("replica_identity", "replica_identity_index",
    function(value)
      local index = value:match("^using index (.*)$")
      return index and ("REPLICA IDENTITY USING INDEX " .. index) or ("REPLICA IDENTITY " .. value:upper())
    end,
    "REPLICA IDENTITY DEFAULT", "access_exclusive_lock"),
  cluster_on = index_part("cluster_on", "cluster_index",
    function(value) return "CLUSTER ON " .. value end, "SET WITHOUT CLUSTER"),
}

-- Whether a parent has CHECK constraints its children must have too
-- (INHERIT wants them on the child, NO INHERIT leaves them there).
local function has_checks(snap, parent)
  for _, k in pairs(snap.constraints) do
    if k.table == parent and k.type == "c" and not k.definition:find(" NO INHERIT", 1, true) then return true end
  end
  return false
end

-- The parents to leave and to join to turn list a into list b: the
-- common beginning stays (INHERIT adds a parent at the end).
local function parent_changes(a, b)
  local in_b = util.set(b)
  local kept = {}
  for _, p in ipairs(a) do if in_b[p] then kept[#kept + 1] = p end end
  local n = 0
  while kept[n + 1] and kept[n + 1] == b[n + 1] do n = n + 1 end
  local leave, join = {}, {}
  for _, p in ipairs(a) do
    if not in_b[p] then leave[#leave + 1] = p end
  end
  for i = n + 1, #kept do leave[#leave + 1] = kept[i] end
  for i = n + 1, #b do join[#join + 1] = b[i] end
  return leave, join
end

-- The columns of a table whose parents change: what it has before (its
-- own or inherited) against what it has after. Returns the statements
-- that go before the change (NOT NULL that a new parent wants) and after
-- it, or nil when the table has to be rebuilt (a new parent's column the
-- table lacks or has with another type, CHECK constraints that move).
local function inherited_column_changes(ob, ctx, leave, join)
  for _, p in ipairs(leave) do if has_checks(ctx.a, p) then return nil end end
  for _, p in ipairs(join) do if has_checks(ctx.b, p) then return nil end end
  local t = ob.name
  local names_a = inheritance.inherited_names(ctx.a, ctx.columns_a, t)
  local names_b = inheritance.inherited_names(ctx.b, ctx.columns_b, t)
  local names = {}
  for n in pairs(names_a) do names[#names + 1] = n end
  for n in pairs(names_b) do if not names_a[n] then names[#names + 1] = n end end
  table.sort(names)
  local before, after = {}, {}
  for _, c in ipairs(names) do
    local ea, eb = inheritance.effective(ctx.a, t, c), inheritance.effective(ctx.b, t, c)
    local alter = string.format("ALTER TABLE %s ALTER COLUMN %s ", t, c)
    if not ea then
      return nil
    elseif not eb then
      after[#after + 1] = sql.stmt(string.format("ALTER TABLE %s DROP COLUMN %s;", t, c), "deletes_data",
        "access_exclusive_lock")
    elseif ea.type ~= eb.type or ea.collation ~= eb.collation or ea.generated ~= eb.generated
        or ea.identity ~= eb.identity then
      return nil
    else
      if eb.notnull and not ea.notnull then
        before[#before + 1] = sql.stmt(alter .. "SET NOT NULL;", "validation_scan", "access_exclusive_lock")
      elseif ea.notnull and not eb.notnull then
        after[#after + 1] = sql.stmt(alter .. "DROP NOT NULL;", "access_exclusive_lock")
      end
      if ea.default ~= eb.default then
        after[#after + 1] = sql.stmt(alter .. (eb.default and ("SET DEFAULT " .. eb.default .. ";") or "DROP DEFAULT;"))
      end
    end
  end
  return before, after
end

-- Partitioning changes rebuild the table; a partition moves with DETACH
-- and ATTACH, an inheriting table with NO INHERIT and INHERIT.
function kind.alter(a, b, ctx)
  local oa, ob = a.obj, b.obj
  if (oa.partitioned or false) ~= (ob.partitioned or false) or oa.partition_key ~= ob.partition_key
      or (oa.partition_of == nil) ~= (ob.partition_of == nil) then
    return "rebuild"
  end
  local leave, join = parent_changes(oa.inherits or {}, ob.inherits or {})
  local before, after = {}, {}
  if #leave > 0 or #join > 0 or oa.partition_of ~= ob.partition_of then
    before, after = inherited_column_changes(ob, ctx, leave, join)
    if not before then return "rebuild" end
  end
  local out = before
  for _, p in ipairs(leave) do
    out[#out + 1] = sql.stmt(string.format("ALTER TABLE %s NO INHERIT %s;", ob.name, p), "access_exclusive_lock")
  end
  for _, p in ipairs(join) do
    out[#out + 1] = sql.stmt(string.format("ALTER TABLE %s INHERIT %s;", ob.name, p), "access_exclusive_lock")
  end
  if oa.partition_of ~= ob.partition_of or oa.partition_bound ~= ob.partition_bound then
    out[#out + 1] = sql.stmt(string.format("ALTER TABLE %s DETACH PARTITION %s;", oa.partition_of, ob.name),
      "access_exclusive_lock")
    out[#out + 1] = sql.stmt(string.format("ALTER TABLE %s ATTACH PARTITION %s %s;", ob.partition_of, ob.name,
      ob.partition_bound), "validation_scan")
  end
  for _, st in ipairs(after) do out[#out + 1] = st end
  if (oa.unlogged or false) ~= (ob.unlogged or false) then
    out[#out + 1] = sql.stmt(string.format("ALTER TABLE %s SET %s;", ob.name, ob.unlogged and "UNLOGGED" or "LOGGED"),
      "table_rewrite", "access_exclusive_lock")
  end
  for _, st in ipairs(sql.option_statements("ALTER TABLE " .. ob.name, oa.options, ob.options)) do
    out[#out + 1] = st
  end
  for _, st in ipairs(row_security(ob, oa)) do out[#out + 1] = st end
  return sql.changes(out)
end

return kind
