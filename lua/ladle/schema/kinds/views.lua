-- Views: definition (pg_get_viewdef) and options. CREATE OR REPLACE keeps
-- what depends on a view when its old columns are the first new ones.

local sql = require "ladle.schema.sql"
local util = require "ladle.schema.util"

local kind = {
  name = "views", singular = "view", acl = "r", comment = "VIEW", owned = true,
  fields = { "definition", "options" }, long = { definition = true }, unordered = { options = true },
}

-- The query for views (relkind v) or materialized views (m).
function kind.relation_query(q, relkind)
  return ([[
SELECT c.oid, c.relnamespace AS nsp, pg_catalog.quote_ident(c.relname) AS relname,
       c.reloptions, %s AS owner, %s AS acl, pg_catalog.pg_get_viewdef(c.oid) AS viewdef%s
  FROM pg_catalog.pg_class c
 WHERE c.relnamespace = ANY ($1::pg_catalog.oid[]) AND c.relkind = '%s']])
    :format(q.owner("c.relowner"), q.acl("c.relacl", "c.relowner"), q.deps and [[,
       (SELECT w.oid FROM pg_catalog.pg_rewrite w WHERE w.ev_class = c.oid AND w.rulename = '_RETURN') AS rule,
       c.reltype, (SELECT NULLIF(rt.typarray, 0) FROM pg_catalog.pg_type rt WHERE rt.oid = c.reltype) AS rowtype_array]]
      or "", relkind)
end

-- Rows of relation_query -> objects of kind `name`; their columns are
-- filled by the columns kind.
function kind.read_relations(r, name, rows)
  local out = r.snap[name]
  local rules = r.refs[r.class.pg_rewrite]
  for _, row in ipairs(rows) do
    if not r.member(r.class.pg_class, row.oid) then
      local qualified = r.nsp_name[row.nsp] .. "." .. row.relname
      local obj = {
        kind = name, name = qualified, schema = r.nsp_name[row.nsp], owner = row.owner, acl = row.acl,
        definition = (row.viewdef or ""):gsub("^%s+", ""):gsub(";%s*$", ""), options = row.reloptions, columns = {},
      }
      out[qualified] = obj
      r.by_class[row.oid] = obj
      if row.rule then rules[row.rule] = obj end
      if row.reltype then r.type_obj[row.reltype] = obj end
      if row.rowtype_array then r.type_obj[row.rowtype_array] = obj end
    end
  end
end

function kind.query(q) return kind.relation_query(q, "v") end
function kind.read(r, rows) kind.read_relations(r, "views", rows) end

function kind.summary() return "view" end

function kind.create(item)
  local o = item.obj
  return { sql.stmt(string.format("CREATE VIEW %s%s AS\n %s;", o.name, sql.with_options(o.options), o.definition)) }
end

function kind.drop(item) return { sql.stmt("DROP VIEW " .. item.name .. ";") } end

function kind.alter(a, b)
  local oa, ob = a.obj, b.obj
  if oa.definition == ob.definition and util.same(util.sorted(oa.options), util.sorted(ob.options)) then
    return nil
  end
  -- CREATE OR REPLACE keeps what depends on the view, when the new
  -- columns start with the old ones
  if #oa.columns > #ob.columns then return "rebuild" end
  for i, col in ipairs(oa.columns) do
    if ob.columns[i] ~= col then return "rebuild" end
  end
  return { statements = {
    sql.stmt(string.format("CREATE OR REPLACE VIEW %s%s AS\n %s;", ob.name, sql.with_options(ob.options), ob.definition)),
  } }
end

return kind
