-- Extended statistics objects (CREATE STATISTICS): definition and
-- statistics target. They belong to their table and go with it.

local sql = require "ladle.schema.sql"

local kind = {
  name = "statistics", singular = "statistics", comment = "STATISTICS", owned = true,
  fields = { "definition", "target" },
}

function kind.query(q)
  return ([[
SELECT s.oid, s.stxrelid AS rel, pg_catalog.quote_ident(n.nspname) AS schema,
       pg_catalog.quote_ident(s.stxname) AS stxname, pg_catalog.pg_get_statisticsobjdef(s.oid) AS def,
       %s AS target, %s AS owner
  FROM pg_catalog.pg_statistic_ext s
  JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace
 WHERE s.stxnamespace = ANY ($1::pg_catalog.oid[])]])
    :format(q.since(170000, "s.stxstattarget", q.since(130000, "NULLIF(s.stxstattarget, -1)", "NULL::pg_catalog.int4")),
      q.owner("s.stxowner"))
end

function kind.read(r, rows)
  local refs = r.refs[r.class.pg_statistic_ext]
  for _, row in ipairs(rows) do
    local parent = r.by_class[row.rel]
    if parent and not r.member(r.class.pg_statistic_ext, row.oid) then
      local name = row.schema .. "." .. row.stxname
      local obj = {
        kind = "statistics", name = name, schema = row.schema, table = parent.name, owner = row.owner,
        table_kind = parent.kind ~= "tables" and parent.kind or nil, definition = row.def, target = row.target,
      }
      r.snap.statistics[name] = obj
      refs[row.oid] = obj
    end
  end
end

function kind.summary(obj) return obj.definition end

local function set_target(o)
  return sql.stmt(string.format("ALTER STATISTICS %s SET STATISTICS %d;", o.name, o.target or -1))
end

function kind.create(item)
  local out = { sql.stmt(item.obj.definition .. ";") }
  if item.obj.target then out[2] = set_target(item.obj) end
  return out
end

function kind.drop(item) return { sql.stmt("DROP STATISTICS " .. item.name .. ";") } end

function kind.alter(a, b)
  if a.obj.definition ~= b.obj.definition then return "rebuild" end
  if a.obj.target == b.obj.target then return nil end
  return { statements = { set_target(b.obj) } }
end

return kind
