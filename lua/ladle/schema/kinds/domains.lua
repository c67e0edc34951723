-- Domains: base type, collation, default and NOT NULL; their check
-- constraints are constraints of the domain.

local sql = require "ladle.schema.sql"

local kind = {
  name = "domains", singular = "domain", comment = "DOMAIN", owned = true, acl = "T",
  fields = { "base", "collation", "notnull", "default" }, flags = { notnull = true },
}

function kind.query(q)
  return ([[
SELECT t.oid, t.typnamespace AS nsp, pg_catalog.format_type(t.oid, NULL) AS name,
       NULLIF(t.typarray, 0) AS typarray, NULLIF(t.typnotnull, false) AS typnotnull,
       %s AS owner, %s AS acl, pg_catalog.format_type(t.typbasetype, t.typtypmod) AS base,
       pg_catalog.format_type(t.typbasetype, NULL) AS base_type,
       pg_catalog.pg_get_expr(t.typdefaultbin, 0) AS default, %s AS collation
  FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype
 WHERE t.typnamespace = ANY ($1::pg_catalog.oid[]) AND t.typtype = 'd']])
    :format(q.owner("t.typowner"), q.acl("t.typacl", "t.typowner"), q.collation("t.typcollation", "bt.typcollation"))
end

function kind.read(r, rows)
  local domains = r.snap.domains
  for _, row in ipairs(rows) do
    if not r.member(r.class.pg_type, row.oid) then
      local obj = {
        kind = "domains", name = row.name, schema = r.nsp_name[row.nsp], base = row.base, base_type = row.base_type,
        notnull = row.typnotnull, default = row.default, collation = row.collation,
        owner = row.owner, acl = row.acl,
      }
      domains[row.name] = obj
      r.type_obj[row.oid] = obj
      if row.typarray then r.type_obj[row.typarray] = obj end
    end
  end
end

function kind.privilege_target(obj) return "DOMAIN " .. obj.name end

function kind.summary(obj) return "domain over " .. obj.base end

function kind.create(item)
  local o = item.obj
  local s = "CREATE DOMAIN " .. o.name .. " AS " .. o.base
  if o.collation then s = s .. " COLLATE " .. o.collation end
  if o.default then s = s .. " DEFAULT " .. o.default end
  if o.notnull then s = s .. " NOT NULL" end
  return { sql.stmt(s .. ";") }
end

function kind.drop(item) return { sql.stmt("DROP DOMAIN " .. item.name .. ";") } end

function kind.alter(a, b)
  local oa, ob = a.obj, b.obj
  if oa.base ~= ob.base or oa.collation ~= ob.collation then return "rebuild" end
  local out = {}
  if oa.default ~= ob.default then
    out[#out + 1] = sql.stmt(ob.default and string.format("ALTER DOMAIN %s SET DEFAULT %s;", ob.name, ob.default)
      or string.format("ALTER DOMAIN %s DROP DEFAULT;", ob.name))
  end
  if oa.notnull ~= ob.notnull then
    out[#out + 1] = ob.notnull and sql.stmt(string.format("ALTER DOMAIN %s SET NOT NULL;", ob.name), "validation_scan")
      or sql.stmt(string.format("ALTER DOMAIN %s DROP NOT NULL;", ob.name))
  end
  return sql.changes(out)
end

return kind
