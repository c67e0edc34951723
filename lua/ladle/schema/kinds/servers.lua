-- Foreign servers: wrapper, type, version, options. (User mappings hold
-- passwords and are left out.)

local catalog = require "ladle.catalog"
local sql = require "ladle.schema.sql"
local util = require "ladle.schema.util"

local kind = {
  name = "servers", singular = "server", acl = "S", owned = true, comment = "SERVER",
  fields = { "wrapper", "type", "version", "options" }, unordered = { options = true },
}

function kind.query(q)
  return ([[
SELECT s.oid, pg_catalog.quote_ident(s.srvname) AS name, pg_catalog.quote_ident(w.fdwname) AS wrapper,
       s.srvtype, s.srvversion, s.srvoptions, %s AS owner, %s AS acl
  FROM pg_catalog.pg_foreign_server s
  JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw
 WHERE s.oid >= %d]]):format(q.owner("s.srvowner"), q.acl("s.srvacl", "s.srvowner"), catalog.FIRST_NORMAL_OID)
end

function kind.read(r, rows)
  for _, row in ipairs(rows) do
    r.add("pg_foreign_server", row.oid, {
      kind = "servers", name = row.name, owner = row.owner, acl = row.acl, wrapper = row.wrapper,
      type = row.srvtype, version = row.srvversion, options = row.srvoptions,
    })
  end
end

function kind.privilege_target(obj) return "FOREIGN SERVER " .. obj.name end

function kind.summary(obj) return "foreign data wrapper " .. obj.wrapper end

function kind.create(item)
  local o = item.obj
  return { sql.stmt(string.format("CREATE SERVER %s%s%s FOREIGN DATA WRAPPER %s%s;", o.name,
    o.type and (" TYPE " .. sql.literal(o.type)) or "", o.version and (" VERSION " .. sql.literal(o.version)) or "",
    o.wrapper, sql.options_clause(o.options))) }
end

function kind.drop(item) return { sql.stmt("DROP SERVER " .. item.name .. ";") } end

function kind.alter(a, b)
  local oa, ob = a.obj, b.obj
  if oa.wrapper ~= ob.wrapper or oa.type ~= ob.type or (oa.version and not ob.version) then return "rebuild" end
  local parts = {}
  if oa.version ~= ob.version then parts[#parts + 1] = "VERSION " .. sql.literal(ob.version) end
  local options = not util.same(util.sorted(oa.options), util.sorted(ob.options))
    and sql.options_change(oa.options, ob.options)
  if options then parts[#parts + 1] = options end
  if #parts == 0 then return nil end
  return { statements = { sql.stmt(string.format("ALTER SERVER %s %s;", ob.name, table.concat(parts, " "))) } }
end

return kind
