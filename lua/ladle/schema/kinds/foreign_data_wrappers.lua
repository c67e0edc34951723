-- Foreign-data wrappers users create (those of an extension, such as
-- postgres_fdw's, come with it): handler, validator, options.

local catalog = require "ladle.catalog"
local sql = require "ladle.schema.sql"
local util = require "ladle.schema.util"

local kind = {
  name = "foreign_data_wrappers", singular = "foreign-data wrapper", acl = "F", owned = true,
  comment = "FOREIGN DATA WRAPPER", fields = { "handler", "validator", "options" }, unordered = { options = true },
}

function kind.query(q)
  return ([[
SELECT w.oid, pg_catalog.quote_ident(w.fdwname) AS name, %s AS owner, %s AS acl, w.fdwoptions AS options,
       CASE WHEN w.fdwhandler <> 0 THEN w.fdwhandler::pg_catalog.regproc::pg_catalog.text END AS handler,
       CASE WHEN w.fdwvalidator <> 0 THEN w.fdwvalidator::pg_catalog.regproc::pg_catalog.text END AS validator
  FROM pg_catalog.pg_foreign_data_wrapper w
 WHERE w.oid >= %d]]):format(q.owner("w.fdwowner"), q.acl("w.fdwacl", "w.fdwowner"), catalog.FIRST_NORMAL_OID)
end

function kind.read(r, rows)
  for _, row in ipairs(rows) do
    r.add("pg_foreign_data_wrapper", row.oid, {
      kind = "foreign_data_wrappers", name = row.name, owner = row.owner, acl = row.acl,
      handler = row.handler, validator = row.validator, options = row.options,
    })
  end
end

function kind.privilege_target(obj) return "FOREIGN DATA WRAPPER " .. obj.name end

function kind.summary(obj)
  return obj.handler and ("handler " .. obj.handler) or "no handler"
end

function kind.create(item)
  local o = item.obj
  return { sql.stmt(string.format("CREATE FOREIGN DATA WRAPPER %s%s%s%s;", o.name,
    o.handler and (" HANDLER " .. o.handler) or "", o.validator and (" VALIDATOR " .. o.validator) or "",
    sql.options_clause(o.options))) }
end

function kind.drop(item) return { sql.stmt("DROP FOREIGN DATA WRAPPER " .. item.name .. ";") } end

function kind.alter(a, b)
  local oa, ob = a.obj, b.obj
  local parts = {}
  if oa.handler ~= ob.handler then parts[#parts + 1] = ob.handler and ("HANDLER " .. ob.handler) or "NO HANDLER" end
  if oa.validator ~= ob.validator then
    parts[#parts + 1] = ob.validator and ("VALIDATOR " .. ob.validator) or "NO VALIDATOR"
  end
  local options = not util.same(util.sorted(oa.options), util.sorted(ob.options))
    and sql.options_change(oa.options, ob.options)
  if options then parts[#parts + 1] = options end
  if #parts == 0 then return nil end
  return { statements = {
    sql.stmt(string.format("ALTER FOREIGN DATA WRAPPER %s %s;", ob.name, table.concat(parts, " "))),
  } }
end

return kind
