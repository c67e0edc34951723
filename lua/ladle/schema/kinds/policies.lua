-- Row-level security policies: permissive or restrictive, command, roles,
-- USING and WITH CHECK. Any change drops and creates the policy.

local sql = require "ladle.schema.sql"
local util = require "ladle.schema.util"

local kind = {
  name = "policies", singular = "policy",
  fields = { "permissive", "command", "roles", "using", "with_check" }, unordered = { roles = true },
}

function kind.query()
  return [[
SELECT p.oid, p.polrelid AS rel, pg_catalog.quote_ident(p.polname) AS name, p.polpermissive,
       CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                     WHEN 'd' THEN 'DELETE' ELSE 'ALL' END AS command,
       ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC'
                                    ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r)) END
                          FROM pg_catalog.unnest(p.polroles) r ORDER BY 1) AS roles,
       pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS qual,
       pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS with_check
  FROM pg_catalog.pg_policy p
  JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
 WHERE c.relnamespace = ANY ($1::pg_catalog.oid[])]]
end

function kind.read(r, rows)
  local refs = r.refs[r.class.pg_policy]
  for _, row in ipairs(rows) do
    local parent = r.by_class[row.rel]
    if parent then
      refs[row.oid] = r.child("policies", parent, row.name, {
        policy = row.name, permissive = row.polpermissive, command = row.command, roles = row.roles or {},
        using = row.qual, with_check = row.with_check,
      })
    end
  end
end

function kind.comment_target(o) return string.format("POLICY %s ON %s", o.policy, o.table) end

function kind.summary(obj)
  return (obj.permissive and "permissive" or "restrictive") .. " for " .. obj.command
end

function kind.create(item)
  local o = item.obj
  local s = string.format("CREATE POLICY %s ON %s AS %s FOR %s TO %s", o.policy, o.table,
    o.permissive and "PERMISSIVE" or "RESTRICTIVE", o.command, table.concat(o.roles, ", "))
  if o.using then s = s .. " USING (" .. o.using .. ")" end
  if o.with_check then s = s .. " WITH CHECK (" .. o.with_check .. ")" end
  return { sql.stmt(s .. ";") }
end

function kind.drop(item)
  return { sql.stmt(string.format("DROP POLICY %s ON %s;", item.obj.policy, item.obj.table)) }
end

function kind.alter(a, b)
  for _, f in ipairs(kind.fields) do
    local va, vb = a.obj[f], b.obj[f]
    if kind.unordered[f] then va, vb = util.sorted(va), util.sorted(vb) end
    if not util.same(va, vb) then return "rebuild" end
  end
  return nil
end

return kind
