-- Constraints of tables and domains: primary key, unique, foreign key,
-- check and exclusion, as pg_get_constraintdef writes them (NOT VALID
-- included). NOT NULL lives in the column; constraint triggers are
-- triggers. Constraints a table inherits are compared on the parent.

local sql = require "ladle.schema.sql"

local kind = {
  name = "constraints", singular = "constraint",
  fields = { "definition" }, long = { definition = true },
}

-- inh: 'y' inherited (from a parent or a partitioned table's own
-- constraint), 'p' inherited when its table is a partition
function kind.query(q)
  return ([[
SELECT k.oid, NULLIF(k.conrelid, 0) AS rel, NULLIF(k.contypid, 0) AS typ,
       pg_catalog.quote_ident(k.conname) AS name, k.contype,
       pg_catalog.pg_get_constraintdef(k.oid) AS def,
       CASE WHEN k.contype IN ('p', 'u', 'x') THEN k.conindid END AS conindid,
       CASE WHEN %s <> 0 OR (k.coninhcount > 0 AND NOT k.conislocal) THEN 'y'
            WHEN k.coninhcount > 0 THEN 'p' END AS inh
  FROM pg_catalog.pg_constraint k
 WHERE k.connamespace = ANY ($1::pg_catalog.oid[])
   AND k.contype NOT IN ('n', 't')]])
    :format(q.since(110000, "k.conparentid", "0"))
end

function kind.read(r, rows)
  local constraints, by_class = r.snap.constraints, r.by_class
  local refs = r.refs[r.class.pg_constraint]
  r.constraint_index = {}
  for _, row in ipairs(rows) do
    local parent = row.rel and by_class[row.rel]
    if parent then
      local inherited = row.inh == "y" or (row.inh == "p" and r.partition_children[row.rel])
      if inherited then
        refs[row.oid] = parent
      elseif parent.kind == "tables" or parent.kind == "foreign_tables" then
        local name = parent.name .. "." .. row.name
        local obj = { kind = "constraints", name = name, table = parent.name, constraint = row.name,
                      type = row.contype, definition = row.def }
        if parent.kind ~= "tables" then obj.table_kind = parent.kind end
        constraints[name] = obj
        refs[row.oid] = obj
        if row.conindid then r.constraint_index[row.conindid] = obj end
      end
    elseif row.typ then
      local domain = r.type_obj[row.typ]
      if domain and domain.kind == "domains" then
        local name = domain.name .. "." .. row.name
        local obj = { kind = "constraints", name = name, domain = domain.name, constraint = row.name,
                      type = row.contype, definition = row.def }
        constraints[name] = obj
        refs[row.oid] = obj
      end
    end
  end
  -- an index that backs a constraint stands for it in pg_depend
  for oid, obj in pairs(r.constraint_index) do by_class[oid] = obj end
end

function kind.comment_target(o)
  return string.format("CONSTRAINT %s ON %s", o.constraint, o.domain and ("DOMAIN " .. o.domain) or o.table)
end

function kind.summary(obj) return obj.definition end

local function target(o)
  if o.domain then return "DOMAIN " .. o.domain end
  if o.table_kind == "foreign_tables" then return "FOREIGN TABLE " .. o.table end
  return "TABLE " .. o.table
end

-- (a foreign table's constraints are not checked: its rows live elsewhere)
local function hazards(o)
  local not_valid = o.definition:find(" NOT VALID$") ~= nil
  if o.domain then return not_valid and {} or { "validation_scan" } end
  if o.table_kind == "foreign_tables" then return {} end
  if o.type == "p" or o.type == "u" or o.type == "x" then return { "index_build", "access_exclusive_lock" } end
  if o.type == "f" then return not_valid and {} or { "validation_scan" } end
  if not_valid then return { "access_exclusive_lock" } end
  return { "validation_scan", "access_exclusive_lock" }
end

function kind.create(item)
  local o = item.obj
  return { { sql = string.format("ALTER %s ADD CONSTRAINT %s %s;", target(o), o.constraint, o.definition),
             hazards = hazards(o) } }
end

function kind.drop(item)
  local o = item.obj
  local s = string.format("ALTER %s DROP CONSTRAINT %s;", target(o), o.constraint)
  if o.domain then return { sql.stmt(s) } end
  return { sql.stmt(s, "access_exclusive_lock") }
end

function kind.alter(a, b)
  local oa, ob = a.obj, b.obj
  if oa.definition == ob.definition then return nil end
  if oa.definition == ob.definition .. " NOT VALID" then
    return { statements = { sql.stmt(string.format("ALTER %s VALIDATE CONSTRAINT %s;", target(ob), ob.constraint),
      "validation_scan") } }
  end
  return "rebuild"
end

return kind
