-- Owners, compared and changed only when asked (opts.owners, --owners):
-- between two real databases owners often differ on purpose. Every kind
-- marked `owned` has obj.owner; ALTER ... OWNER TO names the object as
-- COMMENT ON does.

local sql = require "ladle.schema.sql"

local kind = { name = "owners", singular = "owner", attribute = true }

-- Planner items: { target = the object's item, what = "TABLE app.t", value = role }.

-- a new object belongs to whoever runs the script: hand it over
function kind.create(item)
  return { sql.stmt(string.format("ALTER %s OWNER TO %s;", item.what, item.value)) }
end

function kind.drop() return {} end  -- the object goes, and its owner with it

function kind.alter(a, b)
  if a.value == b.value then return nil end
  return { statements = kind.create(b) }
end

return kind
