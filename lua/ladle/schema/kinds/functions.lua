-- Functions and procedures, compared by their whole definition
-- (pg_get_functiondef). Aggregates are their own kind; the functions a
-- range type makes for itself (its constructors) are left out.

local sql = require "ladle.schema.sql"

local kind = {
  name = "functions", singular = "function", acl = "f", owned = true,
  fields = { "definition" }, long = { definition = true },
}

local proc_kinds = { f = "function", p = "procedure", w = "window function" }

function kind.query(q)
  local prokind = q.since(110000, "p.prokind",
    "CASE WHEN p.proisagg THEN 'a' WHEN p.proiswindow THEN 'w' ELSE 'f' END")
  return ([[
SELECT p.oid, p.pronamespace AS nsp, p.oid::pg_catalog.regprocedure::pg_catalog.text AS name,
       %s AS prokind, pg_catalog.pg_get_functiondef(p.oid) AS def,
       pg_catalog.pg_get_function_result(p.oid) AS result,
       pg_catalog.pg_get_function_arguments(p.oid) AS arguments,
       %s AS owner, %s AS acl
  FROM pg_catalog.pg_proc p
 WHERE p.pronamespace = ANY ($1::pg_catalog.oid[]) AND %s <> 'a'
   AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid
                      AND d.deptype = 'i')]])
    :format(prokind, q.owner("p.proowner"), q.acl("p.proacl", "p.proowner"), prokind)
end

function kind.read(r, rows)
  for _, row in ipairs(rows) do
    r.add("pg_proc", row.oid, {
      kind = "functions", name = row.name, schema = r.nsp_name[row.nsp],
      type = proc_kinds[row.prokind] or "function", definition = row.def,
      result = row.result, arguments = row.arguments, owner = row.owner, acl = row.acl,
    })
  end
end

local function routine_word(o)
  return o.type == "procedure" and "PROCEDURE" or "FUNCTION"
end

function kind.privilege_target(obj) return routine_word(obj) .. " " .. obj.name end
kind.comment_target = kind.privilege_target

function kind.summary(obj)
  return obj.type == "procedure" and "procedure" or ("returns " .. (obj.result or "?"))
end

function kind.create(item) return { sql.stmt(sql.strip_semicolon(item.obj.definition) .. ";") } end
function kind.drop(item) return { sql.stmt("DROP " .. routine_word(item.obj) .. " " .. item.name .. ";") } end

function kind.alter(a, b)
  local oa, ob = a.obj, b.obj
  if oa.definition == ob.definition then return nil end
  -- CREATE OR REPLACE cannot change the result type or the parameters'
  -- names and defaults
  if oa.type ~= ob.type or oa.result ~= ob.result or oa.arguments ~= ob.arguments then return "rebuild" end
  return { statements = { sql.stmt(sql.strip_semicolon(ob.definition) .. ";") } }
end

return kind
