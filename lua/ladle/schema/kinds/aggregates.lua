-- Aggregates, compared by their whole definition (what CREATE AGGREGATE
-- takes, put together from pg_aggregate as pg_dump does). Any change drops
-- and creates the aggregate.

local sql = require "ladle.schema.sql"

local kind = {
  name = "aggregates", singular = "aggregate", acl = "f", owned = true,
  fields = { "arguments", "definition" }, long = { definition = true },
}

-- "a function" (regproc prints user functions qualified: the session's
-- search_path is empty) -> its part of the definition when it is set
local function fn(label, column)
  return ([[CASE WHEN %s <> 0 THEN ', %s = ' || %s::pg_catalog.regproc::pg_catalog.text ELSE '' END]])
    :format(column, label, column)
end

function kind.query(q)
  local modify = [[CASE WHEN %s <> CASE WHEN a.aggkind = 'n' THEN 'r' ELSE 'w' END
    THEN ', %s = ' || CASE %s WHEN 'r' THEN 'READ_ONLY' WHEN 's' THEN 'SHAREABLE' ELSE 'READ_WRITE' END ELSE '' END]]
  return ([[
SELECT p.oid, p.pronamespace AS nsp, p.oid::pg_catalog.regprocedure::pg_catalog.text AS name,
       pg_catalog.pg_get_function_arguments(p.oid) AS arguments, %s AS owner, %s AS acl,
       'SFUNC = ' || a.aggtransfn::pg_catalog.regproc::pg_catalog.text
       || ', STYPE = ' || pg_catalog.format_type(a.aggtranstype, NULL)
       || CASE WHEN a.aggtransspace <> 0 THEN ', SSPACE = ' || a.aggtransspace ELSE '' END
       || %s || CASE WHEN a.aggfinalextra THEN ', FINALFUNC_EXTRA' ELSE '' END || %s
       || %s || %s || %s
       || CASE WHEN a.agginitval IS NOT NULL THEN ', INITCOND = ' || pg_catalog.quote_literal(a.agginitval) ELSE '' END
       || %s || %s
       || CASE WHEN a.aggmtransfn <> 0 THEN ', MSTYPE = ' || pg_catalog.format_type(a.aggmtranstype, NULL) ELSE '' END
       || CASE WHEN a.aggmtransspace <> 0 THEN ', MSSPACE = ' || a.aggmtransspace ELSE '' END
       || %s || CASE WHEN a.aggmfinalextra THEN ', MFINALFUNC_EXTRA' ELSE '' END || %s
       || CASE WHEN a.aggminitval IS NOT NULL THEN ', MINITCOND = ' || pg_catalog.quote_literal(a.aggminitval) ELSE '' END
       || CASE WHEN a.aggsortop <> 0 THEN (SELECT ', SORTOP = OPERATOR(' || pg_catalog.quote_ident(n.nspname) || '.'
            || o.oprname || ')' FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
            WHERE o.oid = a.aggsortop) ELSE '' END
       || CASE p.proparallel WHEN 's' THEN ', PARALLEL = SAFE' WHEN 'r' THEN ', PARALLEL = RESTRICTED' ELSE '' END
       || CASE WHEN a.aggkind = 'h' THEN ', HYPOTHETICAL' ELSE '' END AS def
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_aggregate a ON a.aggfnoid = p.oid
 WHERE p.pronamespace = ANY ($1::pg_catalog.oid[])]])
    :format(q.owner("p.proowner"), q.acl("p.proacl", "p.proowner"),
      fn("FINALFUNC", "a.aggfinalfn"),
      q.since(110000, modify:format("a.aggfinalmodify", "FINALFUNC_MODIFY", "a.aggfinalmodify"), "''"),
      fn("COMBINEFUNC", "a.aggcombinefn"), fn("SERIALFUNC", "a.aggserialfn"), fn("DESERIALFUNC", "a.aggdeserialfn"),
      fn("MSFUNC", "a.aggmtransfn"), fn("MINVFUNC", "a.aggminvtransfn"), fn("MFINALFUNC", "a.aggmfinalfn"),
      q.since(110000, [[CASE WHEN a.aggmtransfn <> 0 THEN ]]
        .. modify:format("a.aggmfinalmodify", "MFINALFUNC_MODIFY", "a.aggmfinalmodify") .. [[ ELSE '' END]], "''"))
end

function kind.read(r, rows)
  for _, row in ipairs(rows) do
    r.add("pg_proc", row.oid, {
      kind = "aggregates", name = row.name, schema = r.nsp_name[row.nsp], owner = row.owner, acl = row.acl,
      arguments = row.arguments, definition = row.def,
    })
  end
end

function kind.privilege_target(obj) return "FUNCTION " .. obj.name end
function kind.comment_target(obj) return "AGGREGATE " .. obj.name end

function kind.summary(obj) return obj.definition end

function kind.create(item)
  local o = item.obj
  local name = o.name:match("^(.-)%(")
  return { sql.stmt(string.format("CREATE AGGREGATE %s(%s) (%s);", name, o.arguments, o.definition)) }
end

function kind.drop(item) return { sql.stmt("DROP AGGREGATE " .. item.name .. ";") } end

function kind.alter(a, b)
  if a.obj.definition == b.obj.definition and a.obj.arguments == b.obj.arguments then return nil end
  return "rebuild"
end

return kind
