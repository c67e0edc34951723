-- Publications (logical replication): all tables or a list of tables
-- (with column lists and row filters) and schemas, what they publish, and
-- whether partitions publish through their root. Subscriptions hold
-- connection strings and are left out.

local catalog = require "ladle.catalog"
local sql = require "ladle.schema.sql"
local util = require "ladle.schema.util"

local kind = {
  name = "publications", singular = "publication", comment = "PUBLICATION", owned = true,
  fields = { "all_tables", "tables", "schemas", "publish", "via_root" },
  flags = { all_tables = true, via_root = true }, unordered = { tables = true, schemas = true },
}

function kind.query(q)
  local entry = q.since(150000, [[pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname)
           || CASE WHEN r.prattrs IS NOT NULL THEN ' (' || (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname),
                ', ' ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
                WHERE a.attrelid = r.prrelid AND a.attnum = ANY (r.prattrs::pg_catalog.int2[])) || ')' ELSE '' END
           || CASE WHEN r.prqual IS NOT NULL THEN ' WHERE (' || pg_catalog.pg_get_expr(r.prqual, r.prrelid) || ')'
                   ELSE '' END]],
    [[pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname)]])
  return ([[
SELECT p.oid, pg_catalog.quote_ident(p.pubname) AS name, p.puballtables, %s AS owner,
       pg_catalog.concat_ws(', ', CASE WHEN p.pubinsert THEN 'insert' END, CASE WHEN p.pubupdate THEN 'update' END,
         CASE WHEN p.pubdelete THEN 'delete' END, CASE WHEN p.pubtruncate THEN 'truncate' END) AS publish,
       %s AS via_root,
       ARRAY(SELECT %s
               FROM pg_catalog.pg_publication_rel r
               JOIN pg_catalog.pg_class c ON c.oid = r.prrelid
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE r.prpubid = p.oid ORDER BY 1) AS tables,
       %s AS schemas
  FROM pg_catalog.pg_publication p
 WHERE p.oid >= %d]]):format(q.owner("p.pubowner"), q.since(130000, "p.pubviaroot", "false"), entry,
    q.since(150000, [[ARRAY(SELECT pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_publication_namespace s
               JOIN pg_catalog.pg_namespace n ON n.oid = s.pnnspid WHERE s.pnpubid = p.oid ORDER BY 1)]],
      "'{}'::pg_catalog.text[]"), catalog.FIRST_NORMAL_OID)
end

function kind.read(r, rows)
  local refs = r.refs[r.class.pg_publication]
  for _, row in ipairs(rows) do
    local obj = {
      kind = "publications", name = row.name, owner = row.owner, all_tables = row.puballtables or nil,
      publish = row.publish, via_root = row.via_root or nil, tables = row.tables or {}, schemas = row.schemas or {},
    }
    r.snap.publications[row.name] = obj
    refs[row.oid] = obj
  end
end

function kind.summary(obj)
  if obj.all_tables then return "all tables" end
  return util.show(obj.tables)
end

-- "publish = '...', ..."; all: also the defaults (for SET)
local function options(o, all)
  local s = "publish = " .. sql.literal(o.publish)
  if o.via_root or all then s = s .. ", publish_via_partition_root = " .. tostring(o.via_root or false) end
  return s
end

-- "app.t (a, b) WHERE (...)" -> "app.t"
local function table_names(entries)
  local out = {}
  for i, e in ipairs(entries) do out[i] = e:match("^(%S+)") end
  return out
end

local function targets(tables, schemas)
  local parts = {}
  for _, t in ipairs(tables) do parts[#parts + 1] = "TABLE " .. t end
  for _, s in ipairs(schemas) do parts[#parts + 1] = "TABLES IN SCHEMA " .. s end
  return table.concat(parts, ", ")
end

-- a publication of a table that is dropped and created again must add it
-- again: it depends on its tables
function kind.depends(obj, deps)
  for _, name in ipairs(table_names(obj.tables)) do deps["tables " .. name] = "n" end
end

function kind.create(item)
  local o = item.obj
  local what = o.all_tables and " FOR ALL TABLES"
    or ((#o.tables + #o.schemas > 0) and (" FOR " .. targets(o.tables, o.schemas)) or "")
  return { sql.stmt(string.format("CREATE PUBLICATION %s%s WITH (%s);", o.name, what, options(o))) }
end

function kind.drop(item) return { sql.stmt("DROP PUBLICATION " .. item.name .. ";") } end

-- entries that changed (a new column list or filter) are dropped and added
function kind.alter(a, b)
  local oa, ob = a.obj, b.obj
  if (oa.all_tables or false) ~= (ob.all_tables or false) then return "rebuild" end
  local out = {}
  local added_t, removed_t = util.set_diff(oa.tables, ob.tables)
  local added_s, removed_s = util.set_diff(oa.schemas, ob.schemas)
  if #removed_t + #removed_s > 0 then
    out[#out + 1] = sql.stmt(string.format("ALTER PUBLICATION %s DROP %s;", ob.name,
      targets(table_names(removed_t), removed_s)))
  end
  if #added_t + #added_s > 0 then
    out[#out + 1] = sql.stmt(string.format("ALTER PUBLICATION %s ADD %s;", ob.name, targets(added_t, added_s)))
  end
  if oa.publish ~= ob.publish or (oa.via_root or false) ~= (ob.via_root or false) then
    out[#out + 1] = sql.stmt(string.format("ALTER PUBLICATION %s SET (%s);", ob.name, options(ob, true)))
  end
  return sql.changes(out)
end

return kind
