-- ladle.rehearse.findings: the rules that turn what a rehearsal observed
-- about one delta into findings, each {rule, relation, message}.
--
--   breaks-old-code  a delta that runs while the old code still does (a pre
--                    delta; any delta with phase "pre") drops or renames
--                    something that existed before it, changes a column's
--                    type (widening a varchar's limit aside), or makes a
--                    column NOT NULL without a default (an existing one, or
--                    a new one on an existing table)
--   blocks-reads     ACCESS EXCLUSIVE held on a pre-existing table or view
--   blocks-writes    a SHARE-level lock (SHARE, SHARE ROW EXCLUSIVE,
--                    EXCLUSIVE) held on a pre-existing table
--   rewrite          a pre-existing table got a new relfilenode
--   not-concurrent   an index built on a pre-existing table without
--                    CONCURRENTLY
-- Only relations that existed before the delta count: what a delta creates
-- nobody else uses yet.
-- doc/rehearse.md has an example of each.

local findings = {}

-- Object kinds the old code refers to by name.
local NAMED = {
  schemas = true, tables = true, columns = true, views = true, materialized_views = true, sequences = true,
  functions = true, types = true, domains = true,
}

local singular = {
  schemas = "schema", tables = "table", columns = "column", views = "view", materialized_views = "materialized view",
  sequences = "sequence", functions = "function", types = "type", domains = "domain",
}

-- varchar(10) -> varchar(20), or -> text: no value the old code writes
-- stops fitting, so it is not a breaking type change.
local function widens(before, after)
  local old = before:match("^character varying%((%d+)%)$")
  if not old then return false end
  if after == "text" or after == "character varying" then return true end
  local new = after:match("^character varying%((%d+)%)$")
  return new ~= nil and tonumber(new) >= tonumber(old)
end

local function table_of(change)
  local obj = change.after or change.before or {}
  return obj.table or (change.name or ""):match("^(.*)%.[^.]+$")
end

-- What in one change breaks the old code, or nil. dropped: tables dropped
-- by the delta; losing: tables that lose a column in it (a new NOT NULL
-- column there is most likely the other half of a rename, already found).
local function breaking(change, existed, dropped, losing)
  local kind, before, after = change.kind, change.before, change.after
  if change.sign == "-" and NAMED[kind] then
    if kind == "columns" and dropped[table_of(change)] then return nil end
    return string.format("drops or renames %s %s, which the old code may still use", singular[kind], change.name)
  end
  if kind ~= "columns" or type(after) ~= "table" then return nil end
  if change.sign == "~" and type(before) == "table" then
    if before.type ~= after.type and not widens(before.type, after.type) then
      return string.format("changes the type of column %s from %s to %s", change.name, before.type, after.type)
    end
    if not before.notnull and after.notnull and after.default == nil then
      return string.format("makes column %s NOT NULL without a default: the old code's INSERTs that leave it "
        .. "out fail", change.name)
    end
  elseif change.sign == "+" and existed[table_of(change)] and not losing[table_of(change)] and after.notnull
    and after.default == nil and not after.identity and not after.generated then
    return string.format("adds column %s NOT NULL without a default: the old code's INSERTs fail", change.name)
  end
end

local function held(lock, with_data)
  if not with_data or not lock.held_ms then return "" end
  return string.format(" (held %d ms)", lock.held_ms)
end

-- findings.evaluate(o) -> list of findings
--   o.old_code   the old code runs while the delta does
--   o.locks      {relation, mode (SQL name), blocks, held_ms} on pre-existing relations
--   o.rewrites   names of rewritten pre-existing tables
--   o.indexes    {name, table, concurrent} built on pre-existing tables
--   o.changes    the snapshot diff's changes (kind, name, sign, before, after)
--   o.existed    set of the names of relations that existed before
--   o.with_data  the copy holds production's rows, so times mean something
function findings.evaluate(o)
  local list = {}
  local function add(rule, relation, message)
    list[#list + 1] = { rule = rule, relation = relation, message = message }
  end
  if o.old_code then
    local dropped, losing = {}, {}
    for _, c in ipairs(o.changes) do
      if c.sign == "-" and c.kind == "tables" then dropped[c.name] = true end
      if c.sign == "-" and c.kind == "columns" then losing[table_of(c)] = true end
    end
    for _, c in ipairs(o.changes) do
      local why = breaking(c, o.existed, dropped, losing)
      if why then add("breaks-old-code", c.kind == "columns" and table_of(c) or c.name, why) end
    end
  end
  for _, l in ipairs(o.locks) do
    local blocks = {}
    for _, b in ipairs(l.blocks) do blocks[b] = true end
    if blocks.reads then
      add("blocks-reads", l.relation, string.format("%s on %s blocks its reads and writes until the delta commits%s",
        l.mode, l.relation, held(l, o.with_data)))
    elseif blocks.writes then
      add("blocks-writes", l.relation, string.format("%s on %s blocks its writes until the delta commits%s",
        l.mode, l.relation, held(l, o.with_data)))
    end
  end
  for _, name in ipairs(o.rewrites) do
    add("rewrite", name, string.format("%s was rewritten (a new relfilenode): every row copied, under ACCESS "
      .. "EXCLUSIVE, with its indexes rebuilt", name))
  end
  for _, ix in ipairs(o.indexes) do
    if not ix.concurrent then
      add("not-concurrent", ix.table, string.format("index %s on %s is built without CONCURRENTLY: writes to "
        .. "%s wait for the whole build", ix.name, ix.table, ix.table))
    end
  end
  return list
end

return findings
