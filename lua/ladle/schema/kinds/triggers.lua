-- Triggers: definition (pg_get_triggerdef) and whether they fire. Triggers
-- cloned onto partitions are compared on the parent. The same shape serves
-- rules (kind.relation_part).

local sql = require "ladle.schema.sql"

local kind = {
  name = "triggers", singular = "trigger",
  fields = { "definition", "enabled" }, long = { definition = true },
}

-- triggers cloned onto partitions come back with their parent's OID
function kind.query(q)
  return ([[
SELECT g.oid, g.tgrelid AS rel, pg_catalog.quote_ident(g.tgname) AS name,
       pg_catalog.pg_get_triggerdef(g.oid) AS def, g.tgenabled, NULLIF(%s, 0) AS tgparentid
  FROM pg_catalog.pg_trigger g
  JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid
 WHERE c.relnamespace = ANY ($1::pg_catalog.oid[]) AND NOT g.tgisinternal]])
    :format(q.since(130000, "g.tgparentid", "0::pg_catalog.oid"))
end

function kind.read(r, rows)
  local refs = r.refs[r.class.pg_trigger]
  for _, row in ipairs(rows) do
    local parent = r.by_class[row.rel]
    if parent and not r.member(r.class.pg_trigger, row.oid) then
      if row.tgparentid then
        refs[row.oid] = parent
      else
        refs[row.oid] = r.child("triggers", parent, row.name,
          { trigger = row.name, definition = row.def, enabled = row.tgenabled })
      end
    end
  end
end

function kind.comment_target(o) return string.format("TRIGGER %s ON %s", o.trigger, o.table) end

local states = { D = "DISABLE", R = "ENABLE REPLICA", A = "ENABLE ALWAYS", O = "ENABLE" }

-- Triggers and rules: created by their definition, dropped ON their table,
-- enabled and disabled with ALTER TABLE; any other change rebuilds them.
-- word: TRIGGER or RULE; field: the object's own name.
function kind.relation_part(word, field, hazard)
  local function enable(o)
    return sql.stmt(string.format("ALTER TABLE %s %s %s %s;", o.table, states[o.enabled], word, o[field]), hazard)
  end
  return {
    create = function(item)
      local o = item.obj
      local out = { sql.stmt(sql.strip_semicolon(o.definition) .. ";") }
      if o.enabled ~= "O" then out[#out + 1] = enable(o) end
      return out
    end,
    drop = function(item)
      return { sql.stmt(string.format("DROP %s %s ON %s;", word, item.obj[field], item.obj.table)) }
    end,
    alter = function(a, b)
      if a.obj.definition ~= b.obj.definition then return "rebuild" end
      if a.obj.enabled == b.obj.enabled then return nil end
      return { statements = { enable(b.obj) } }
    end,
  }
end

local handlers = kind.relation_part("TRIGGER", "trigger", "access_exclusive_lock")
kind.create, kind.drop, kind.alter = handlers.create, handlers.drop, handlers.alter

function kind.summary() return "" end

return kind
