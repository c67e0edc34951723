-- Operators users create, compared by their definition. Any change drops
-- and creates the operator (a commutator or negator that does not exist
-- yet is made as a shell and filled in when it is created).

local catalog = require "ladle.catalog"
local sql = require "ladle.schema.sql"

local kind = {
  name = "operators", singular = "operator", comment = "OPERATOR", owned = true,
  fields = { "definition" },
}

-- OPERATOR(schema.name) for a referenced operator
local function op_ref(column)
  return ([[(SELECT 'OPERATOR(' || pg_catalog.quote_ident(n.nspname) || '.' || r.oprname || ')'
             FROM pg_catalog.pg_operator r JOIN pg_catalog.pg_namespace n ON n.oid = r.oprnamespace
            WHERE r.oid = %s)]]):format(column)
end

function kind.query(q)
  return ([[
SELECT o.oid, o.oprnamespace AS nsp, o.oid::pg_catalog.regoperator::pg_catalog.text AS name,
       pg_catalog.quote_ident(n.nspname) || '.' || o.oprname AS opname, %s AS owner,
       'FUNCTION = ' || o.oprcode::pg_catalog.regproc::pg_catalog.text
       || CASE WHEN o.oprleft <> 0 THEN ', LEFTARG = ' || pg_catalog.format_type(o.oprleft, NULL) ELSE '' END
       || CASE WHEN o.oprright <> 0 THEN ', RIGHTARG = ' || pg_catalog.format_type(o.oprright, NULL) ELSE '' END
       || COALESCE(', COMMUTATOR = ' || %s, '') || COALESCE(', NEGATOR = ' || %s, '')
       || CASE WHEN o.oprrest <> 0 THEN ', RESTRICT = ' || o.oprrest::pg_catalog.regproc::pg_catalog.text ELSE '' END
       || CASE WHEN o.oprjoin <> 0 THEN ', JOIN = ' || o.oprjoin::pg_catalog.regproc::pg_catalog.text ELSE '' END
       || CASE WHEN o.oprcanhash THEN ', HASHES' ELSE '' END
       || CASE WHEN o.oprcanmerge THEN ', MERGES' ELSE '' END AS def
  FROM pg_catalog.pg_operator o
  JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
 WHERE o.oprnamespace = ANY ($1::pg_catalog.oid[]) AND o.oid >= %d AND o.oprcode <> 0]])
    :format(q.owner("o.oprowner"), op_ref("NULLIF(o.oprcom, 0)"), op_ref("NULLIF(o.oprnegate, 0)"),
      catalog.FIRST_NORMAL_OID)
end

function kind.read(r, rows)
  for _, row in ipairs(rows) do
    r.add("pg_operator", row.oid, {
      kind = "operators", name = row.name, schema = r.nsp_name[row.nsp], owner = row.owner,
      operator = row.opname, definition = row.def,
    })
  end
end

function kind.summary(obj) return obj.definition end

function kind.create(item)
  local o = item.obj
  return { sql.stmt(string.format("CREATE OPERATOR %s (%s);", o.operator, o.definition)) }
end

function kind.drop(item) return { sql.stmt("DROP OPERATOR " .. item.name .. ";") } end

function kind.alter(a, b)
  if a.obj.definition == b.obj.definition then return nil end
  return "rebuild"
end

return kind
