-- Comments: COMMENT ON for every kind, read from pg_description. An
-- object's comment is obj.comment.

local catalog = require "ladle.catalog"
local sql = require "ladle.schema.sql"

local kind = { name = "comments", singular = "comments", attribute = true }

-- comments of user objects (and of schemas: public is older); the reader
-- keeps those whose objects it read
function kind.query()
  return ([[
SELECT d.classoid, d.objoid, d.objsubid, d.description
  FROM pg_catalog.pg_description d
 WHERE d.objoid >= %d OR d.classoid = 'pg_catalog.pg_namespace'::pg_catalog.regclass]])
    :format(catalog.FIRST_NORMAL_OID)
end

-- the rows wait until every kind has finished its maps
function kind.read(r, rows)
  r.comment_rows = rows
end

-- (an extension member's comment is not its extension's)
function kind.finish(r)
  local class, snap = r.class, r.snap
  local rows = r.comment_rows
  r.comment_rows = nil
  for _, row in ipairs(rows) do
    local obj
    if row.objsubid > 0 then
      if row.classoid == class.pg_class then
        obj = r.columns_of[row.objoid] and r.columns_of[row.objoid][row.objsubid]
        if obj and (obj.inherited or obj.kind ~= "columns") then obj = nil end
      end
    else
      obj = r.refs[row.classoid] and r.refs[row.classoid][row.objoid]
    end
    if obj and snap[obj.kind] and snap[obj.kind][obj.name] == obj
        and (obj.kind ~= "extensions" or row.classoid == class.pg_extension) then
      obj.comment = row.description
    end
  end
end

-- Planner items: { target = the object's item, what = "TABLE app.t", value = text }.
function kind.create(item)
  return { sql.stmt(string.format("COMMENT ON %s IS %s;", item.what, sql.literal(item.value))) }
end

function kind.drop(item)
  return { sql.stmt(string.format("COMMENT ON %s IS NULL;", item.what)) }
end

function kind.alter(a, b)
  if a.value == b.value then return nil end
  return { statements = kind.create(b) }
end

return kind
