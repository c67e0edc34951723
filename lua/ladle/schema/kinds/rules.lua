-- Rules other than a view's own: definition (pg_get_ruledef) and whether
-- they fire.

local triggers = require "ladle.schema.kinds.triggers"

local kind = {
  name = "rules", singular = "rule",
  fields = { "definition", "enabled" }, long = { definition = true },
}

function kind.query()
  return [[
SELECT w.oid, w.ev_class AS rel, pg_catalog.quote_ident(w.rulename) AS name,
       pg_catalog.pg_get_ruledef(w.oid) AS def, w.ev_enabled
  FROM pg_catalog.pg_rewrite w
  JOIN pg_catalog.pg_class c ON c.oid = w.ev_class
 WHERE c.relnamespace = ANY ($1::pg_catalog.oid[]) AND w.rulename <> '_RETURN']]
end

function kind.read(r, rows)
  local refs = r.refs[r.class.pg_rewrite]
  for _, row in ipairs(rows) do
    local parent = r.by_class[row.rel]
    if parent then
      refs[row.oid] = r.child("rules", parent, row.name, { rule = row.name, definition = row.def, enabled = row.ev_enabled })
    end
  end
end

function kind.comment_target(o) return string.format("RULE %s ON %s", o.rule, o.table) end

local handlers = triggers.relation_part("RULE", "rule")
kind.create, kind.drop, kind.alter = handlers.create, handlers.drop, handlers.alter

function kind.summary() return "" end

return kind
