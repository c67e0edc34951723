-- Extensions, with their version and schema. What an extension creates is
-- left out of the snapshot and stands for the extension in pg_depend.

local sql = require "ladle.schema.sql"

local kind = { name = "extensions", singular = "extension", first = true,
               fields = { "version", "schema" }, comment = "EXTENSION" }

function kind.query()
  return [[
SELECT e.oid, pg_catalog.quote_ident(e.extname) AS name, e.extversion AS version,
       e.extnamespace AS nsp, pg_catalog.quote_ident(n.nspname) AS schema, e.extrelocatable
  FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace]]
end

-- extensions in the schemas read, and those in pg_catalog such as plpgsql
function kind.read(r, rows)
  local extension_obj = {}
  local refs = r.refs[r.class.pg_extension]
  for _, row in ipairs(rows) do
    local obj = { kind = "extensions", name = row.name, version = row.version, schema = row.schema,
                  relocatable = row.extrelocatable }
    extension_obj[row.oid] = obj
    if r.nsp_name[row.nsp] or row.schema == "pg_catalog" then
      r.snap.extensions[row.name] = obj
      refs[row.oid] = obj
    end
  end
  -- members: from here on r.member() gives the extension object
  for _, m in pairs(r.members) do
    for oid, ext in pairs(m) do m[oid] = extension_obj[ext] or false end
  end
end

-- members stand for their extension in pg_depend
function kind.finish(r)
  for classid, m in pairs(r.members) do
    local refs = r.refs[classid]
    if refs then
      for oid, ext in pairs(m) do refs[oid] = ext or nil end
    end
  end
end

function kind.summary(obj) return "version " .. obj.version end

function kind.create(item)
  local o = item.obj
  return { sql.stmt(string.format("CREATE EXTENSION %s WITH SCHEMA %s VERSION %s;", o.name, o.schema,
    sql.literal(o.version))) }
end

function kind.drop(item)
  return { sql.stmt("DROP EXTENSION " .. item.name .. ";", "deletes_data") }
end

function kind.alter(a, b)
  local out = {}
  if a.obj.schema ~= b.obj.schema then
    out[#out + 1] = sql.stmt(string.format("ALTER EXTENSION %s SET SCHEMA %s;", b.name, b.obj.schema))
  end
  if a.obj.version ~= b.obj.version then
    out[#out + 1] = sql.stmt(string.format("ALTER EXTENSION %s UPDATE TO %s;", b.name, sql.literal(b.obj.version)))
  end
  return sql.changes(out)
end

return kind
