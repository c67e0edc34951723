-- Foreign tables: server and options; their columns (with options of
-- their own) and check constraints are columns and constraints.

local sql = require "ladle.schema.sql"
local util = require "ladle.schema.util"

local kind = {
  name = "foreign_tables", singular = "foreign table", acl = "r", owned = true, comment = "FOREIGN TABLE",
  fields = { "server", "options" }, unordered = { options = true },
}

function kind.query(q)
  return ([[
SELECT c.oid, c.relnamespace AS nsp, pg_catalog.quote_ident(c.relname) AS relname, %s AS owner, %s AS acl,
       pg_catalog.quote_ident(s.srvname) AS server, f.ftoptions%s
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_foreign_table f ON f.ftrelid = c.oid
  JOIN pg_catalog.pg_foreign_server s ON s.oid = f.ftserver
 WHERE c.relnamespace = ANY ($1::pg_catalog.oid[]) AND c.relkind = 'f']])
    :format(q.owner("c.relowner"), q.acl("c.relacl", "c.relowner"), q.deps and [[,
       c.reltype, (SELECT NULLIF(rt.typarray, 0) FROM pg_catalog.pg_type rt WHERE rt.oid = c.reltype) AS rowtype_array]]
      or "")
end

function kind.read(r, rows)
  for _, row in ipairs(rows) do
    local name = r.nsp_name[row.nsp] .. "." .. row.relname
    if not r.excluded_table(name) and not r.member(r.class.pg_class, row.oid) then
      local obj = { kind = "foreign_tables", name = name, schema = r.nsp_name[row.nsp], owner = row.owner,
                    acl = row.acl, server = row.server, options = row.ftoptions }
      r.snap.foreign_tables[name] = obj
      r.by_class[row.oid] = obj
      if row.reltype then r.type_obj[row.reltype] = obj end
      if row.rowtype_array then r.type_obj[row.rowtype_array] = obj end
    end
  end
end

function kind.summary(obj) return "server " .. obj.server end

-- ctx.column_definitions(table) gives the new table's column lines
function kind.create(item, ctx)
  local o = item.obj
  local cols = ctx.column_definitions(o.name)
  return { sql.stmt(string.format("CREATE FOREIGN TABLE %s (%s) SERVER %s%s;", o.name,
    #cols > 0 and ("\n    " .. table.concat(cols, ",\n    ") .. "\n") or "", o.server, sql.options_clause(o.options))) }
end

function kind.drop(item)
  return { sql.stmt("DROP FOREIGN TABLE " .. item.name .. ";") }
end

function kind.alter(a, b)
  local oa, ob = a.obj, b.obj
  if oa.server ~= ob.server then return "rebuild" end
  local options = not util.same(util.sorted(oa.options), util.sorted(ob.options))
    and sql.options_change(oa.options, ob.options)
  if not options then return nil end
  return { statements = { sql.stmt(string.format("ALTER FOREIGN TABLE %s %s;", ob.name, options)) } }
end

return kind
