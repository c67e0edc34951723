-- Materialized views: definition and storage options; created WITH DATA.

local sql = require "ladle.schema.sql"
local views = require "ladle.schema.kinds.views"

local kind = {
  name = "materialized_views", singular = "materialized view", acl = "r", comment = "MATERIALIZED VIEW", owned = true,
  fields = { "definition", "options" }, long = { definition = true }, unordered = { options = true },
}

function kind.query(q) return views.relation_query(q, "m") end
function kind.read(r, rows) views.read_relations(r, "materialized_views", rows) end

function kind.summary() return "materialized view" end

function kind.create(item)
  local o = item.obj
  return { sql.stmt(string.format("CREATE MATERIALIZED VIEW %s%s AS\n %s\n  WITH DATA;", o.name,
    sql.with_options(o.options), o.definition), "table_rewrite") }
end

function kind.drop(item) return { sql.stmt("DROP MATERIALIZED VIEW " .. item.name .. ";") } end

function kind.alter(a, b)
  local oa, ob = a.obj, b.obj
  if oa.definition ~= ob.definition then return "rebuild" end
  return sql.changes(sql.option_statements("ALTER MATERIALIZED VIEW " .. ob.name, oa.options, ob.options))
end

return kind
