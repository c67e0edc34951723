-- Event triggers whose function lives in a schema read: event, tags,
-- function, and whether they fire.

local sql = require "ladle.schema.sql"

local kind = {
  name = "event_triggers", singular = "event trigger", comment = "EVENT TRIGGER", owned = true,
  fields = { "event", "tags", "function", "enabled" }, unordered = { tags = true },
}

function kind.query(q)
  return ([[
SELECT e.oid, pg_catalog.quote_ident(e.evtname) AS name, e.evtevent, e.evttags, e.evtenabled,
       e.evtfoid::pg_catalog.regproc::pg_catalog.text AS func, %s AS owner
  FROM pg_catalog.pg_event_trigger e
  JOIN pg_catalog.pg_proc p ON p.oid = e.evtfoid
 WHERE p.pronamespace = ANY ($1::pg_catalog.oid[])]]):format(q.owner("e.evtowner"))
end

function kind.read(r, rows)
  for _, row in ipairs(rows) do
    r.add("pg_event_trigger", row.oid, {
      kind = "event_triggers", name = row.name, owner = row.owner, event = row.evtevent,
      tags = row.evttags, ["function"] = row.func, enabled = row.evtenabled,
    })
  end
end

function kind.summary(obj) return "on " .. obj.event end

local states = { D = "DISABLE", R = "ENABLE REPLICA", A = "ENABLE ALWAYS", O = "ENABLE" }

local function enable(o)
  return sql.stmt(string.format("ALTER EVENT TRIGGER %s %s;", o.name, states[o.enabled]))
end

function kind.create(item)
  local o = item.obj
  local tags = {}
  for i, t in ipairs(o.tags or {}) do tags[i] = sql.literal(t) end
  local out = { sql.stmt(string.format("CREATE EVENT TRIGGER %s ON %s%s EXECUTE FUNCTION %s();", o.name, o.event,
    #tags > 0 and (" WHEN TAG IN (" .. table.concat(tags, ", ") .. ")") or "", o["function"])) }
  if o.enabled ~= "O" then out[2] = enable(o) end
  return out
end

function kind.drop(item) return { sql.stmt("DROP EVENT TRIGGER " .. item.name .. ";") } end

function kind.alter(a, b)
  local oa, ob = a.obj, b.obj
  local ta, tb = table.concat(oa.tags or {}, ","), table.concat(ob.tags or {}, ",")
  if oa.event ~= ob.event or oa["function"] ~= ob["function"] or ta ~= tb then return "rebuild" end
  if oa.enabled == ob.enabled then return nil end
  return { statements = { enable(ob) } }
end

return kind
