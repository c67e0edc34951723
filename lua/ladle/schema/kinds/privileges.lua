-- Privileges: the acl of every object that has one, compared and granted
-- here for all kinds. An object's acl is a sorted list of
-- "grantee=PRIVILEGE[*]" (ladle.schema.query.acl), NULL for the built-in
-- default; snap.acl_defaults[letter] spells the defaults out.

local sql = require "ladle.schema.sql"
local util = require "ladle.schema.util"

local kind = { name = "privileges", singular = "privileges", attribute = true, first = true }

-- the built-in privileges of a new table, sequence, function, schema,
-- column (none), foreign-data wrapper, server and type
function kind.query()
  return [[
SELECT k::pg_catalog.text AS objkind, ARRAY(
         SELECT CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE 'OWNER' END || '=' || x.privilege_type || CASE WHEN x.is_grantable THEN '*' ELSE '' END
           FROM pg_catalog.aclexplode(pg_catalog.acldefault(k, 10::pg_catalog.oid)) x ORDER BY 1) AS acl
  FROM pg_catalog.unnest('{r,s,f,n,c,F,S,T}'::"char"[]) AS k]]
end

function kind.read(r, rows)
  r.snap.acl_defaults = {}
  for _, row in ipairs(rows) do
    local acl = row.acl or {}
    table.sort(acl)
    r.snap.acl_defaults[row.objkind] = acl
  end
end

-- The privileges of obj (of a kind whose acldefault letter is `letter`)
-- as a sorted list; NULL in the catalog means the built-in default.
function kind.of(snap, obj, letter)
  if obj.acl then return util.sorted(obj.acl) end
  return snap.acl_defaults and snap.acl_defaults[letter] or {}
end

-- Planner items: { target = the object's item, what = "TABLE app.t",
-- value = privileges, default = the built-in ones, column = name }.

-- on a new object: from the built-in default, for the role running the script
function kind.create(item)
  return sql.grants(item.what, item.default, item.value, "CURRENT_USER", item.column)
end

function kind.drop() return {} end  -- the object goes, and its privileges with it

function kind.alter(a, b)
  if util.same(a.value, b.value) then return nil end
  return { statements = sql.grants(b.what, a.value, b.value, a.target.obj.owner or "CURRENT_USER", b.column) }
end

return kind
