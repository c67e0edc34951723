-- Schemas. pg_catalog, information_schema, pg_toast and temporary schemas
-- are left out, and so are schemas an extension creates.

local filter = require "ladle.schema.filter"
local sql = require "ladle.schema.sql"

local kind = { name = "schemas", singular = "schema", first = true, fields = {},
               acl = "n", comment = "SCHEMA", owned = true }

function kind.query(q)
  return ([[
SELECT n.oid, pg_catalog.quote_ident(n.nspname) AS name, n.nspname AS raw,
       %s AS owner, %s AS acl
  FROM pg_catalog.pg_namespace n
 WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema']])
    :format(q.owner("n.nspowner"), q.acl("n.nspacl", "n.nspowner"))
end

function kind.read(r, rows)
  local kept = filter.schema_matcher(r.opts)
  local refs = r.refs[r.class.pg_namespace]
  for _, row in ipairs(rows) do
    if kept(row.name, row.raw) and not r.member(r.class.pg_namespace, row.oid) then
      r.nsp_name[row.oid] = row.name
      r.nsp_oids[#r.nsp_oids + 1] = row.oid
      local obj = { kind = "schemas", name = row.name, owner = row.owner, acl = row.acl }
      r.snap.schemas[row.name] = obj
      refs[row.oid] = obj
    end
  end
end

function kind.privilege_target(obj) return "SCHEMA " .. obj.name end

function kind.summary() return "" end

function kind.create(item) return { sql.stmt("CREATE SCHEMA " .. item.name .. ";") } end
function kind.drop(item) return { sql.stmt("DROP SCHEMA " .. item.name .. ";") } end
function kind.alter() return nil end

return kind
