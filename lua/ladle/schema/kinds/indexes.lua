-- Indexes that back no constraint, as pg_get_indexdef writes them. Indexes
-- a partition gets from its parent are compared on the parent.

local sql = require "ladle.schema.sql"

local kind = {
  name = "indexes", singular = "index", comment = "INDEX",
  fields = { "definition" }, long = { definition = true },
}

-- A plain index (columns only, default operator classes, collations and
-- order, no INCLUDE, options or predicate) is written out here exactly as
-- pg_get_indexdef writes it, at a third of the cost on a large catalog;
-- every other index goes through pg_get_indexdef.
function kind.query(q)
  return ([[
SELECT i.indexrelid AS oid, pg_catalog.quote_ident(c.relname) AS relname, i.indrelid AS rel,
       COALESCE(CASE WHEN i.indexprs IS NULL AND i.indpred IS NULL AND i.indnatts = i.indnkeyatts
                          AND c.reloptions IS NULL%s THEN
         (SELECT CASE WHEN pg_catalog.bool_and(oc.opcdefault AND oc.opcintype = a.atttypid
                                               AND k.coll = a.attcollation AND k.opt = 0)
                           AND pg_catalog.count(*) = i.indnatts THEN
                   'CREATE ' || CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END || 'INDEX '
                   || pg_catalog.quote_ident(c.relname) || ' ON ' || CASE WHEN c.relkind = 'I' THEN 'ONLY ' ELSE '' END
                   || pg_catalog.quote_ident(tn.nspname) || '.' || pg_catalog.quote_ident(t.relname)
                   || ' USING ' || pg_catalog.quote_ident(am.amname)
                   || ' (' || pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY k.n) || ')' END
            FROM ROWS FROM (pg_catalog.unnest(i.indkey::pg_catalog.int2[]), pg_catalog.unnest(i.indclass::pg_catalog.oid[]),
                            pg_catalog.unnest(i.indcollation::pg_catalog.oid[]), pg_catalog.unnest(i.indoption::pg_catalog.int2[]))
                 WITH ORDINALITY AS k(attnum, opclass, coll, opt, n)
            JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
            JOIN pg_catalog.pg_opclass oc ON oc.oid = k.opclass) END,
         pg_catalog.pg_get_indexdef(i.indexrelid)) AS def,
       NULLIF(%s, false) AS relispartition
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
  JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
  JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
  JOIN pg_catalog.pg_am am ON am.oid = c.relam
  LEFT JOIN pg_catalog.pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid
       AND k.contype IN ('p', 'u', 'x')
 WHERE c.relnamespace = ANY ($1::pg_catalog.oid[]) AND k.oid IS NULL]])
    :format(q.since(150000, " AND NOT i.indnullsnotdistinct", ""), q.since(110000, "c.relispartition", "false"))
end

function kind.read(r, rows)
  local indexes, by_class = r.snap.indexes, r.by_class
  for _, row in ipairs(rows) do
    local parent = by_class[row.rel]
    if parent and not r.member(r.class.pg_class, row.oid) and not r.constraint_index[row.oid] then
      if row.relispartition then
        by_class[row.oid] = parent
      else
        local name = parent.schema .. "." .. row.relname
        local obj = { kind = "indexes", name = name, table = parent.name, schema = parent.schema, definition = row.def }
        if parent.kind ~= "tables" then obj.table_kind = parent.kind end
        if parent.partitioned then obj.on_partitioned = true end
        indexes[name] = obj
        by_class[row.oid] = obj
      end
    end
  end
end

function kind.summary(obj) return obj.definition end

function kind.create(item)
  local def = item.obj.definition
  -- an index on a partitioned table is created on its partitions too
  if item.obj.on_partitioned then def = def:gsub(" ON ONLY ", " ON ", 1) end
  return { sql.stmt(def .. ";", "index_build") }
end

function kind.drop(item) return { sql.stmt("DROP INDEX " .. item.name .. ";", "access_exclusive_lock") } end

function kind.alter(a, b)
  if a.obj.definition == b.obj.definition then return nil end
  return "rebuild"
end

return kind
