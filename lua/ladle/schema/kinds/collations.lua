-- Collations users create: provider, locales, determinism (and ICU rules).
-- Nothing about one changes in place: a new one takes the place of the
-- old (renamed, and dropped at the end), and the columns that use it are
-- moved to the new one.

local catalog = require "ladle.catalog"
local ident = require "ladle.ident"
local sql = require "ladle.schema.sql"
local types = require "ladle.schema.kinds.types"

local kind = {
  name = "collations", singular = "collation", comment = "COLLATION", owned = true,
  fields = { "provider", "collate", "ctype", "locale", "rules", "deterministic" },
}

local providers = { c = "libc", i = "icu", d = "default", b = "builtin" }

function kind.query(q)
  return ([[
SELECT c.oid, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.collname) AS name,
       pg_catalog.quote_ident(n.nspname) AS schema, c.collprovider, c.collcollate, c.collctype,
       %s AS locale, %s AS rules, c.collisdeterministic, %s AS owner
  FROM pg_catalog.pg_collation c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.collnamespace
 WHERE c.collnamespace = ANY ($1::pg_catalog.oid[]) AND c.oid >= %d]])
    :format(q.since(170000, "c.colllocale", q.since(150000, "c.colliculocale", "NULL::pg_catalog.text")),
      q.since(160000, "c.collicurules", "NULL::pg_catalog.text"), q.owner("c.collowner"), catalog.FIRST_NORMAL_OID)
end

function kind.read(r, rows)
  for _, row in ipairs(rows) do
    local provider = providers[row.collprovider] or row.collprovider
    r.add("pg_collation", row.oid, {
      kind = "collations", name = row.name, schema = row.schema, owner = row.owner, provider = provider,
      -- before 15, an ICU collation's locale is in collcollate
      collate = provider ~= "icu" and row.collcollate or nil, ctype = provider ~= "icu" and row.collctype or nil,
      locale = row.locale or (provider == "icu" and row.collcollate or nil), rules = row.rules,
      deterministic = row.collisdeterministic,
    })
  end
end

function kind.summary(obj)
  return obj.provider .. " " .. (obj.locale or obj.collate or "")
end

function kind.create(item)
  local o = item.obj
  local parts = { "provider = " .. o.provider }
  if o.locale then parts[#parts + 1] = "locale = " .. sql.literal(o.locale) end
  if o.collate then parts[#parts + 1] = "lc_collate = " .. sql.literal(o.collate) end
  if o.ctype then parts[#parts + 1] = "lc_ctype = " .. sql.literal(o.ctype) end
  if o.rules then parts[#parts + 1] = "rules = " .. sql.literal(o.rules) end
  if o.deterministic == false then parts[#parts + 1] = "deterministic = false" end
  return { sql.stmt(string.format("CREATE COLLATION %s (%s);", o.name, table.concat(parts, ", "))) }
end

function kind.drop(item) return { sql.stmt("DROP COLLATION " .. item.name .. ";") } end

function kind.alter(a, b)
  local differs = false
  for _, f in ipairs(kind.fields) do
    if a.obj[f] ~= b.obj[f] then differs = true end
  end
  if not differs then return nil end
  local old = types.old_name(b.name)
  return {
    recreate = true, breaks = true,
    recast = function(col) return col.collation == b.name end,
    statements = {
      sql.stmt(string.format("ALTER COLLATION %s RENAME TO %s;", a.name, ident.last(old))),
      kind.create(b)[1],
    },
    finish = { sql.stmt("DROP COLLATION " .. old .. ";") },
  }
end

return kind
