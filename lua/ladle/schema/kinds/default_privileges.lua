-- Default privileges (ALTER DEFAULT PRIVILEGES): what a role's future
-- tables, sequences, functions, types and schemas get, everywhere or in
-- one schema. Reported in the privileges category.

local sql = require "ladle.schema.sql"
local util = require "ladle.schema.util"

local kind = {
  name = "default_privileges", singular = "default privileges", category = "privileges",
  fields = { "acl" }, unordered = { acl = true },
}

local words = { r = "TABLES", S = "SEQUENCES", f = "FUNCTIONS", T = "TYPES", n = "SCHEMAS" }

-- grantees as names (PUBLIC for everyone), no OWNER: the role is named
local function acl(column)
  return ([[ARRAY(SELECT CASE WHEN x.grantee = 0 THEN 'PUBLIC'
                        ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(x.grantee)) END
                   || '=' || x.privilege_type || CASE WHEN x.is_grantable THEN '*' ELSE '' END
              FROM pg_catalog.aclexplode(%s) x ORDER BY 1)]]):format(column)
end

-- a default for all schemas replaces the built-in one (base); one for a
-- schema adds to it (base: none)
function kind.query()
  return ([[
SELECT d.oid, pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(d.defaclrole)) AS role,
       CASE WHEN d.defaclnamespace <> 0 THEN pg_catalog.quote_ident(n.nspname) END AS schema,
       d.defaclobjtype AS objtype, %s AS acl,
       CASE WHEN d.defaclnamespace = 0 THEN %s ELSE '{}'::pg_catalog.text[] END AS base
  FROM pg_catalog.pg_default_acl d
  LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace
 WHERE d.defaclnamespace = 0 OR d.defaclnamespace = ANY ($1::pg_catalog.oid[])]])
    :format(acl("d.defaclacl"), acl([[pg_catalog.acldefault(CASE d.defaclobjtype WHEN 'S' THEN 's'
      ELSE d.defaclobjtype END, d.defaclrole)]]))
end

function kind.read(r, rows)
  local refs = r.refs[r.class.pg_default_acl]
  for _, row in ipairs(rows) do
    local word = words[row.objtype] or row.objtype
    local name = string.format("for role %s%s on %s", row.role, row.schema and (" in schema " .. row.schema) or "",
      word:lower())
    local obj = { kind = "default_privileges", name = name, role = row.role, schema = row.schema, on = word,
                  acl = row.acl or {}, base = row.base or {} }
    r.snap.default_privileges[name] = obj
    refs[row.oid] = obj
  end
end

function kind.describe(a, b)
  local changes = util.set_changes(util.sorted(a.acl), util.sorted(b.acl))
  return changes ~= "" and { changes } or {}
end

function kind.summary(obj) return table.concat(obj.acl, " ") end

local function statements(o, from, to)
  local prefix = string.format("ALTER DEFAULT PRIVILEGES FOR ROLE %s%s ", o.role,
    o.schema and (" IN SCHEMA " .. o.schema) or "")
  local out = sql.grants(o.on, util.sorted(from), util.sorted(to))
  for _, st in ipairs(out) do st.sql = prefix .. st.sql end
  return out
end

function kind.create(item) return statements(item.obj, item.obj.base, item.obj.acl) end
function kind.drop(item) return statements(item.obj, item.obj.acl, item.obj.base) end

function kind.alter(a, b)
  if util.same(util.sorted(a.obj.acl), util.sorted(b.obj.acl)) then return nil end
  return { statements = statements(b.obj, a.obj.acl, b.obj.acl) }
end

return kind
