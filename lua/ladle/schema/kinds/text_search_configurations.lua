-- Text search configurations: parser and the dictionaries of each token
-- type ("asciiword: public.english_stem, simple").

local catalog = require "ladle.catalog"
local sql = require "ladle.schema.sql"
local util = require "ladle.schema.util"

local kind = {
  name = "text_search_configurations", singular = "text search configuration",
  comment = "TEXT SEARCH CONFIGURATION", owned = true, fields = { "parser", "mappings" },
}

-- dictionaries print qualified (regdictionary with an empty search_path)
function kind.query(q)
  return ([[
SELECT c.oid, c.cfgnamespace AS nsp, pg_catalog.quote_ident(c.cfgname) AS cfgname, %s AS owner,
       pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(p.prsname) AS parser,
       ARRAY(SELECT t.alias || ': ' || pg_catalog.string_agg(m.mapdict::pg_catalog.regdictionary::pg_catalog.text, ', '
                                                            ORDER BY m.mapseqno)
               FROM pg_catalog.pg_ts_config_map m
               JOIN pg_catalog.ts_token_type(c.cfgparser) t ON t.tokid = m.maptokentype
              WHERE m.mapcfg = c.oid
              GROUP BY t.alias ORDER BY 1) AS mappings
  FROM pg_catalog.pg_ts_config c
  JOIN pg_catalog.pg_ts_parser p ON p.oid = c.cfgparser
  JOIN pg_catalog.pg_namespace pn ON pn.oid = p.prsnamespace
 WHERE c.cfgnamespace = ANY ($1::pg_catalog.oid[]) AND c.oid >= %d]])
    :format(q.owner("c.cfgowner"), catalog.FIRST_NORMAL_OID)
end

function kind.read(r, rows)
  for _, row in ipairs(rows) do
    local name = r.nsp_name[row.nsp] .. "." .. row.cfgname
    r.add("pg_ts_config", row.oid, {
      kind = "text_search_configurations", name = name, schema = r.nsp_name[row.nsp], owner = row.owner,
      parser = row.parser, mappings = row.mappings or {},
    })
  end
end

function kind.summary(obj) return "parser " .. obj.parser end

-- "token: dicts" -> map token -> dicts
local function mapping(list)
  local m = {}
  for _, e in ipairs(list) do
    local token, dicts = e:match("^(.-): (.*)$")
    m[token] = dicts
  end
  return m
end

local function map_statements(name, before, after)
  local ma, mb = mapping(before), mapping(after)
  local out = {}
  for _, e in ipairs(after) do
    local token = e:match("^(.-): ")
    if ma[token] == nil then
      out[#out + 1] = sql.stmt(string.format("ALTER TEXT SEARCH CONFIGURATION %s ADD MAPPING FOR %s WITH %s;",
        name, token, mb[token]))
    elseif ma[token] ~= mb[token] then
      out[#out + 1] = sql.stmt(string.format("ALTER TEXT SEARCH CONFIGURATION %s ALTER MAPPING FOR %s WITH %s;",
        name, token, mb[token]))
    end
  end
  for _, e in ipairs(before) do
    local token = e:match("^(.-): ")
    if mb[token] == nil then
      out[#out + 1] = sql.stmt(string.format("ALTER TEXT SEARCH CONFIGURATION %s DROP MAPPING FOR %s;", name, token))
    end
  end
  return out
end

function kind.create(item)
  local o = item.obj
  local out = { sql.stmt(string.format("CREATE TEXT SEARCH CONFIGURATION %s (PARSER = %s);", o.name, o.parser)) }
  for _, st in ipairs(map_statements(o.name, {}, o.mappings)) do out[#out + 1] = st end
  return out
end

function kind.drop(item) return { sql.stmt("DROP TEXT SEARCH CONFIGURATION " .. item.name .. ";") } end

function kind.alter(a, b)
  if a.obj.parser ~= b.obj.parser then return "rebuild" end
  if util.same(a.obj.mappings, b.obj.mappings) then return nil end
  return sql.changes(map_statements(b.name, a.obj.mappings, b.obj.mappings))
end

return kind
