-- Text search dictionaries: template and options.

local catalog = require "ladle.catalog"
local sql = require "ladle.schema.sql"

local kind = {
  name = "text_search_dictionaries", singular = "text search dictionary", comment = "TEXT SEARCH DICTIONARY",
  owned = true, fields = { "template", "options" },
}

function kind.query(q)
  return ([[
SELECT d.oid, d.dictnamespace AS nsp, pg_catalog.quote_ident(d.dictname) AS dictname,
       pg_catalog.quote_ident(tn.nspname) || '.' || pg_catalog.quote_ident(t.tmplname) AS template,
       d.dictinitoption AS options, %s AS owner
  FROM pg_catalog.pg_ts_dict d
  JOIN pg_catalog.pg_ts_template t ON t.oid = d.dicttemplate
  JOIN pg_catalog.pg_namespace tn ON tn.oid = t.tmplnamespace
 WHERE d.dictnamespace = ANY ($1::pg_catalog.oid[]) AND d.oid >= %d]])
    :format(q.owner("d.dictowner"), catalog.FIRST_NORMAL_OID)
end

function kind.read(r, rows)
  for _, row in ipairs(rows) do
    local name = r.nsp_name[row.nsp] .. "." .. row.dictname
    r.add("pg_ts_dict", row.oid, {
      kind = "text_search_dictionaries", name = name, schema = r.nsp_name[row.nsp], owner = row.owner,
      template = row.template, options = row.options,
    })
  end
end

function kind.summary(obj) return "template " .. obj.template end

function kind.create(item)
  local o = item.obj
  return { sql.stmt(string.format("CREATE TEXT SEARCH DICTIONARY %s (TEMPLATE = %s%s);", o.name, o.template,
    o.options and (", " .. o.options) or "")) }
end

function kind.drop(item) return { sql.stmt("DROP TEXT SEARCH DICTIONARY " .. item.name .. ";") } end

-- "a = 'x', b = 'y'" -> { a = "a = 'x'", ... } and the names in order
local function parse(options)
  local m, order = {}, {}
  for part in ((options or "") .. ","):gmatch("%s*(.-)%s*,") do
    local name = part:match("^([%w_\"]+)")
    if name then m[name:lower()] = part; order[#order + 1] = name:lower() end
  end
  return m, order
end

-- options change in place: ALTER ... (name = value), a name alone drops one
function kind.alter(a, b)
  local oa, ob = a.obj, b.obj
  if oa.template ~= ob.template then return "rebuild" end
  if oa.options == ob.options then return nil end
  local ma = parse(oa.options)
  local mb, order_b = parse(ob.options)
  local parts = {}
  for _, n in ipairs(order_b) do
    if ma[n] ~= mb[n] then parts[#parts + 1] = mb[n] end
  end
  for n in pairs(ma) do
    if not mb[n] then parts[#parts + 1] = n end
  end
  table.sort(parts)
  return { statements = {
    sql.stmt(string.format("ALTER TEXT SEARCH DICTIONARY %s (%s);", ob.name, table.concat(parts, ", "))),
  } }
end

return kind
