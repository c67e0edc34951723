-- Types: enums, composite types and range types (domains are their own
-- kind). Enums gain values in place; ladle.diff recreates one whose values
-- are removed or reordered, or whose new values the same script uses.

local ident = require "ladle.ident"
local sql = require "ladle.schema.sql"
local util = require "ladle.schema.util"

local kind = {
  name = "types", singular = "type", comment = "TYPE", owned = true, acl = "T",
  fields = { "type", "labels", "attributes", "subtype", "subtype_opclass", "collation", "canonical", "subtype_diff",
             "multirange" },
}

function kind.query(q)
  return ([[
SELECT t.oid, t.typnamespace AS nsp, pg_catalog.format_type(t.oid, NULL) AS name, t.typtype,
       t.typrelid, NULLIF(t.typarray, 0) AS typarray, %s AS owner, %s AS acl,
       CASE WHEN t.typtype = 'e' THEN ARRAY(
         SELECT e.enumlabel FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) END AS labels,
       CASE WHEN t.typtype = 'r' THEN %s END AS collation,
       pg_catalog.format_type(r.rngsubtype, NULL) AS subtype,
       CASE WHEN r.rngsubopc IS NOT NULL AND NOT oc.opcdefault THEN
         pg_catalog.quote_ident(ocn.nspname) || '.' || pg_catalog.quote_ident(oc.opcname) END AS subtype_opclass,
       CASE WHEN r.rngcanonical <> 0 THEN r.rngcanonical::pg_catalog.regproc::pg_catalog.text END AS canonical,
       CASE WHEN r.rngsubdiff <> 0 THEN r.rngsubdiff::pg_catalog.regproc::pg_catalog.text END AS subtype_diff,
       %s AS multirange_oid, %s AS multirange
  FROM pg_catalog.pg_type t
  LEFT JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid
  LEFT JOIN pg_catalog.pg_opclass oc ON oc.oid = r.rngsubopc
  LEFT JOIN pg_catalog.pg_namespace ocn ON ocn.oid = oc.opcnamespace
 WHERE t.typnamespace = ANY ($1::pg_catalog.oid[])
   AND (t.typtype IN ('e', 'r')
        OR (t.typtype = 'c' AND t.typrelid IN (SELECT c.oid FROM pg_catalog.pg_class c
             WHERE c.relkind = 'c' AND c.relnamespace = ANY ($1::pg_catalog.oid[]))))]])
    :format(q.owner("t.typowner"), q.acl("t.typacl", "t.typowner"),
      q.collation("r.rngcollation", "(SELECT st.typcollation FROM pg_catalog.pg_type st WHERE st.oid = r.rngsubtype)"),
      q.since(140000, "NULLIF(r.rngmultitypid, 0)", "NULL::pg_catalog.oid"),
      q.since(140000, "CASE WHEN r.rngmultitypid IS NOT NULL THEN pg_catalog.format_type(r.rngmultitypid, NULL) END",
        "NULL::pg_catalog.text"))
end

function kind.read(r, rows)
  local types = r.snap.types
  for _, row in ipairs(rows) do
    if not r.member(r.class.pg_type, row.oid) then
      local obj = { kind = "types", name = row.name, schema = r.nsp_name[row.nsp], owner = row.owner, acl = row.acl }
      if row.typtype == "e" then
        obj.type = "enum"
        obj.labels = row.labels or {}
      elseif row.typtype == "c" then
        obj.type = "composite"
        obj.attributes, obj.attribute_names = {}, {}
        r.composite_rel[row.typrelid] = obj
        r.by_class[row.typrelid] = obj
      else
        obj.type = "range"
        obj.subtype = row.subtype
        obj.subtype_opclass = row.subtype_opclass
        obj.collation = row.collation
        obj.canonical = row.canonical
        obj.subtype_diff = row.subtype_diff
        obj.multirange = row.multirange
      end
      types[row.name] = obj
      r.type_obj[row.oid] = obj
      if row.typarray then r.type_obj[row.typarray] = obj end
      if row.multirange_oid then r.type_obj[row.multirange_oid] = obj end
    end
  end
end

-- every type OID read (types, domains, rowtypes) stands for its object
function kind.finish(r)
  local refs = r.refs[r.class.pg_type]
  for oid, obj in pairs(r.type_obj) do
    if refs[oid] == nil then refs[oid] = obj end
  end
end

function kind.privilege_target(obj) return "TYPE " .. obj.name end

function kind.summary(obj)
  if obj.type == "enum" then return "enum " .. util.show(obj.labels) end
  if obj.type == "composite" then return "composite " .. util.show(obj.attributes) end
  return "range of " .. tostring(obj.subtype)
end

local function create_type(o)
  if o.type == "enum" then
    local labels = {}
    for i, l in ipairs(o.labels) do labels[i] = sql.literal(l) end
    return string.format("CREATE TYPE %s AS ENUM (%s);", o.name, table.concat(labels, ", "))
  elseif o.type == "composite" then
    return string.format("CREATE TYPE %s AS (%s);", o.name, table.concat(o.attributes, ", "))
  end
  local parts = { "SUBTYPE = " .. o.subtype }
  if o.subtype_opclass then parts[#parts + 1] = "SUBTYPE_OPCLASS = " .. o.subtype_opclass end
  if o.collation then parts[#parts + 1] = "COLLATION = " .. o.collation end
  if o.canonical then parts[#parts + 1] = "CANONICAL = " .. o.canonical end
  if o.subtype_diff then parts[#parts + 1] = "SUBTYPE_DIFF = " .. o.subtype_diff end
  if o.multirange then parts[#parts + 1] = "MULTIRANGE_TYPE_NAME = " .. o.multirange end
  return string.format("CREATE TYPE %s AS RANGE (%s);", o.name, table.concat(parts, ", "))
end

-- true when every label of a is in b, in the same order
local function is_subsequence(a, b)
  local j = 1
  for _, label in ipairs(b) do
    if a[j] == label then j = j + 1 end
  end
  return j > #a
end

-- ALTER TYPE ... ADD VALUE for each label of b that a lacks
local function add_values(a, b)
  local have, out, added = {}, {}, {}
  for _, l in ipairs(a.labels) do have[l] = true end
  for i, l in ipairs(b.labels) do
    if not have[l] then
      local where
      if i > 1 then where = " AFTER " .. sql.literal(b.labels[i - 1])
      elseif b.labels[i + 1] then where = " BEFORE " .. sql.literal(b.labels[i + 1]) end
      out[#out + 1] = sql.stmt(string.format("ALTER TYPE %s ADD VALUE %s%s;", b.name, sql.literal(l), where or ""))
      added[#added + 1] = l
    end
  end
  return out, added
end

-- The name an object is renamed to while a new one replaces it.
function kind.old_name(name)
  local parts = ident.split(name)
  parts[#parts] = parts[#parts] .. "__ladle_old"
  for i, p in ipairs(parts) do parts[i] = ident.quote(p) end
  return table.concat(parts, ".")
end

-- A composite type's attributes -> map name -> "type [COLLATE c]" and the
-- names in order (attribute_names: the names as the server quotes them).
local function parse_attributes(o)
  local m, order = {}, {}
  for i, attr in ipairs(o.attributes) do
    local n = o.attribute_names[i]
    m[n] = attr:sub(#n + 2)
    order[i] = n
  end
  return m, order
end

local function alter_enum(a, b, ctx)
  local oa, ob = a.obj, b.obj
  if util.same(oa.labels, ob.labels) then return nil end
  -- ADD VALUE can run in a transaction from PostgreSQL 12 on, and the new
  -- values cannot be used before it commits: ladle.diff falls back to
  -- recreating the type when the script uses them
  if is_subsequence(oa.labels, ob.labels) and (ctx.a.server_version or 0) >= 120000
      and not ctx.recreate_enum[b.key] then
    local out, added = add_values(oa, ob)
    return { statements = out, added_labels = added }
  end
  local old = kind.old_name(ob.name)
  return {
    recreate = true, breaks = true,
    -- a column of the type (or an array of it) goes through text
    recast = function(col)
      if col.type == ob.name then return "text" end
      if col.type == ob.name .. "[]" then return "text[]" end
    end,
    statements = {
      sql.stmt(string.format("ALTER TYPE %s RENAME TO %s;", oa.name, ident.last(old))),
      sql.stmt(create_type(ob)),
    },
    finish = { sql.stmt("DROP TYPE " .. old .. ";") },
  }
end

local function alter_composite(a, b)
  local oa, ob = a.obj, b.obj
  if util.same(oa.attributes, ob.attributes) then return nil end
  local ma, order_a = parse_attributes(oa)
  local mb, order_b = parse_attributes(ob)
  -- attributes are added at the end: when that does not give B's order,
  -- only a new type will
  local result = {}
  for _, n in ipairs(order_a) do if mb[n] ~= nil then result[#result + 1] = n end end
  for _, n in ipairs(order_b) do if ma[n] == nil then result[#result + 1] = n end end
  if not util.same(result, order_b) then return "rebuild" end
  local out = {}
  for _, n in ipairs(order_a) do
    if mb[n] == nil then
      out[#out + 1] = sql.stmt(string.format("ALTER TYPE %s DROP ATTRIBUTE %s;", ob.name, n), "deletes_data")
    elseif mb[n] ~= ma[n] then
      out[#out + 1] = sql.stmt(string.format("ALTER TYPE %s ALTER ATTRIBUTE %s TYPE %s;", ob.name, n, mb[n]))
    end
  end
  for _, n in ipairs(order_b) do
    if ma[n] == nil then
      out[#out + 1] = sql.stmt(string.format("ALTER TYPE %s ADD ATTRIBUTE %s %s;", ob.name, n, mb[n]))
    end
  end
  return { statements = out }
end

function kind.create(item) return { sql.stmt(create_type(item.obj)) } end
function kind.drop(item) return { sql.stmt("DROP TYPE " .. item.name .. ";") } end

function kind.alter(a, b, ctx)
  local oa, ob = a.obj, b.obj
  if oa.type ~= ob.type then return "rebuild" end
  if oa.type == "enum" then return alter_enum(a, b, ctx) end
  if oa.type == "composite" then return alter_composite(a, b) end
  for _, f in ipairs(kind.fields) do
    if not util.same(oa[f], ob[f]) then return "rebuild" end
  end
  return nil
end

return kind
