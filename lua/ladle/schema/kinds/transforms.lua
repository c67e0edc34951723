-- Transforms (CREATE TRANSFORM) for types in the schemas read.

local sql = require "ladle.schema.sql"

local kind = {
  name = "transforms", singular = "transform", fields = { "from_sql", "to_sql" },
}

function kind.query()
  return [[
SELECT t.oid, 'FOR ' || pg_catalog.format_type(t.trftype, NULL) || ' LANGUAGE '
              || pg_catalog.quote_ident(l.lanname) AS name,
       CASE WHEN t.trffromsql <> 0 THEN t.trffromsql::pg_catalog.regprocedure::pg_catalog.text END AS from_sql,
       CASE WHEN t.trftosql <> 0 THEN t.trftosql::pg_catalog.regprocedure::pg_catalog.text END AS to_sql
  FROM pg_catalog.pg_transform t
  JOIN pg_catalog.pg_type ty ON ty.oid = t.trftype
  JOIN pg_catalog.pg_language l ON l.oid = t.trflang
 WHERE ty.typnamespace = ANY ($1::pg_catalog.oid[])]]
end

function kind.read(r, rows)
  for _, row in ipairs(rows) do
    r.add("pg_transform", row.oid, {
      kind = "transforms", name = row.name, from_sql = row.from_sql, to_sql = row.to_sql,
    })
  end
end

function kind.comment_target(obj) return "TRANSFORM " .. obj.name end

function kind.summary(obj) return obj.name end

local function definition(o, replace)
  local parts = {}
  if o.from_sql then parts[#parts + 1] = "FROM SQL WITH FUNCTION " .. o.from_sql end
  if o.to_sql then parts[#parts + 1] = "TO SQL WITH FUNCTION " .. o.to_sql end
  return sql.stmt(string.format("CREATE %sTRANSFORM %s (%s);", replace and "OR REPLACE " or "", o.name,
    table.concat(parts, ", ")))
end

function kind.create(item) return { definition(item.obj) } end
function kind.drop(item) return { sql.stmt("DROP TRANSFORM " .. item.name .. ";") } end

-- CREATE OR REPLACE cannot take a function away
function kind.alter(a, b)
  local oa, ob = a.obj, b.obj
  if oa.from_sql == ob.from_sql and oa.to_sql == ob.to_sql then return nil end
  if (oa.from_sql and not ob.from_sql) or (oa.to_sql and not ob.to_sql) then return "rebuild" end
  return { statements = { definition(ob, true) } }
end

return kind
