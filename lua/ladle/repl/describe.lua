-- ladle.repl.describe: relations as psql's \d shows them, and tables().
--
--   describe.describe(db, name) -> description | nil, message
--   describe.tables(db, pattern) -> rows
--
-- Catalog queries as pg_dump writes them: pg_catalog-qualified, one per
-- object kind, columns gated on the server version.

local format = require "ladle.repl.format"
local query = require "ladle.repl.query"

local describe = {}

local must = query.must

local relation_kinds = {
  r = "Table", p = "Partitioned table", v = "View", m = "Materialized view",
  f = "Foreign table", i = "Index", I = "Partitioned index", S = "Sequence",
  c = "Composite type", t = "TOAST table",
}

local Description = {}
Description.__index = Description
Description.__name = "ladle.repl.description"

local function plain(v) return v == nil and "" or v end

function Description:render(opts)
  opts = opts or {}
  local out = {}
  local grid_opts = { colour = opts.colour, footer = false, null = "" }
  out[#out + 1] = format.colour(opts, "1",
    string.format('%s "%s.%s"', relation_kinds[self.kind] or "Relation", self.schema, self.name))
  local rows = {}
  for i, c in ipairs(self.columns) do
    rows[i] = { Column = c.name, Type = c.type, Collation = plain(c.collation),
      Nullable = c.not_null and "not null" or "", Default = plain(c.default) }
  end
  if #rows > 0 then
    out[#out + 1] = (format.grid(rows, { "Column", "Type", "Collation", "Nullable", "Default" }, grid_opts)
      :gsub("\n$", ""))
  end
  local function section(title, lines)
    if #lines == 0 then return end
    out[#out + 1] = title .. ":"
    for _, line in ipairs(lines) do out[#out + 1] = "    " .. line end
  end
  if self.partition_key then out[#out + 1] = "Partition key: " .. self.partition_key end
  if self.partition_of then out[#out + 1] = "Partition of: " .. self.partition_of end
  local lines = {}
  for _, ix in ipairs(self.indexes) do
    local what = ix.primary and "PRIMARY KEY, " or ix.constraint and "UNIQUE CONSTRAINT, "
      or ix.unique and "UNIQUE, " or ""
    lines[#lines + 1] = string.format('"%s" %s%s%s', ix.name, what, ix.method_and_columns,
      ix.valid and "" or " INVALID")
  end
  section("Indexes", lines)
  local checks, fkeys = {}, {}
  for _, c in ipairs(self.constraints) do
    local line = string.format('"%s" %s', c.name, c.definition)
    if c.type == "c" then checks[#checks + 1] = line
    elseif c.type == "f" then fkeys[#fkeys + 1] = line end
  end
  section("Check constraints", checks)
  section("Foreign-key constraints", fkeys)
  lines = {}
  for _, r in ipairs(self.referenced_by) do
    lines[#lines + 1] = string.format('TABLE "%s" CONSTRAINT "%s" %s', r.table, r.name, r.definition)
  end
  section("Referenced by", lines)
  lines = {}
  for _, t in ipairs(self.triggers) do
    lines[#lines + 1] = t.definition .. (t.enabled and "" or " (disabled)")
  end
  section("Triggers", lines)
  if self.view_definition then
    out[#out + 1] = "View definition:"
    out[#out + 1] = self.view_definition
  end
  if self.comment then out[#out + 1] = "Comment: " .. self.comment end
  return table.concat(out, "\n")
end

Description.__tostring = function(d) return d:render() end
Description.__repl = function(d, opts) return d:render(opts) end

-- describe(db, name) -> description | nil, message
-- Catalog queries as pg_dump writes them: pg_catalog-qualified, one per
-- object kind, columns gated on the server version.
function describe.describe(db, name)
  local version = db:server_version()
  -- an exact name first, so that "Mixed Case" needs no quoting
  local rows, message, err = db:query([[
    select coalesce(
             (select c.oid from pg_catalog.pg_class c
               where c.relname = $1 and pg_catalog.pg_table_is_visible(c.oid) limit 1),
             pg_catalog.to_regclass($1))::oid as oid]], name)
  if not rows and err.sqlstate ~= "42602" then return nil, message end  -- 42602: not a name
  if not rows or rows[1].oid == nil then
    return nil, string.format('no relation named "%s"', name)
  end
  local oid = rows[1].oid
  local rel = must(db, [[
    select c.relname, n.nspname, c.relkind::text as relkind,
           pg_catalog.obj_description(c.oid, 'pg_class') as comment
      from pg_catalog.pg_class c
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where c.oid = $1]], oid)[1]
  local d = setmetatable({
    name = rel.relname, schema = rel.nspname, kind = rel.relkind, comment = rel.comment,
    columns = {}, indexes = {}, constraints = {}, referenced_by = {}, triggers = {},
  }, Description)

  local identity = version >= 100000 and "a.attidentity::text" or "''"
  local generated = version >= 120000 and "a.attgenerated::text" or "''"
  for _, c in ipairs(must(db, string.format([[
    select a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) as type,
           case when a.attcollation <> t.typcollation then co.collname end as collation,
           a.attnotnull, pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true) as default_expr,
           %s as identity, %s as generated
      from pg_catalog.pg_attribute a
      join pg_catalog.pg_type t on t.oid = a.atttypid
      left join pg_catalog.pg_attrdef ad on ad.adrelid = a.attrelid and ad.adnum = a.attnum
      left join pg_catalog.pg_collation co on co.oid = a.attcollation
     where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped
     order by a.attnum]], identity, generated), oid)) do
    local default = c.default_expr
    if c.identity == "a" then default = "generated always as identity"
    elseif c.identity == "d" then default = "generated by default as identity"
    elseif c.generated == "s" then default = "generated always as (" .. default .. ") stored" end
    d.columns[#d.columns + 1] = { name = c.attname, type = c.type, collation = c.collation,
      not_null = c.attnotnull, default = default }
  end

  for _, ix in ipairs(must(db, [[
    select i.relname, x.indisprimary, x.indisunique, x.indisvalid,
           pg_catalog.pg_get_indexdef(x.indexrelid, 0, true) as definition,
           (select con.conname from pg_catalog.pg_constraint con
             where con.conindid = x.indexrelid and con.conrelid = x.indrelid
               and con.contype in ('p', 'u', 'x') limit 1) as constraint_name
      from pg_catalog.pg_index x
      join pg_catalog.pg_class i on i.oid = x.indexrelid
     where x.indrelid = $1
     order by x.indisprimary desc, i.relname]], oid)) do
    d.indexes[#d.indexes + 1] = {
      name = ix.relname, primary = ix.indisprimary, unique = ix.indisunique, valid = ix.indisvalid,
      constraint = (not ix.indisprimary and ix.indisunique and ix.constraint_name) or nil,
      definition = ix.definition,
      method_and_columns = ix.definition:match(" USING (.*)$") or ix.definition,
    }
  end

  for _, c in ipairs(must(db, [[
    select c.conname, c.contype::text as contype, pg_catalog.pg_get_constraintdef(c.oid, true) as definition
      from pg_catalog.pg_constraint c
     where c.conrelid = $1 and c.contype in ('c', 'f')
     order by c.contype, c.conname]], oid)) do
    d.constraints[#d.constraints + 1] = { name = c.conname, type = c.contype, definition = c.definition }
  end

  for _, r in ipairs(must(db, [[
    select c.conname, c.conrelid::pg_catalog.regclass::text as tbl,
           pg_catalog.pg_get_constraintdef(c.oid, true) as definition
      from pg_catalog.pg_constraint c
     where c.confrelid = $1 and c.contype = 'f'
     order by 2, 1]], oid)) do
    d.referenced_by[#d.referenced_by + 1] = { name = r.conname, table = r.tbl, definition = r.definition }
  end

  for _, t in ipairs(must(db, [[
    select t.tgname, pg_catalog.pg_get_triggerdef(t.oid, true) as definition, t.tgenabled::text as enabled
      from pg_catalog.pg_trigger t
     where t.tgrelid = $1 and not t.tgisinternal
     order by t.tgname]], oid)) do
    d.triggers[#d.triggers + 1] = { name = t.tgname, enabled = t.enabled ~= "D",
      definition = t.definition:gsub("^CREATE ", ""):gsub("^CONSTRAINT ", ""):gsub("^TRIGGER ", "") }
  end

  if d.kind == "v" or d.kind == "m" then
    d.view_definition = must(db, "select pg_catalog.pg_get_viewdef($1::oid, true) as def", oid)[1].def
  end
  if version >= 100000 then
    local p = must(db, [[
      select case when c.relkind = 'p' then pg_catalog.pg_get_partkeydef(c.oid) end as key,
             (select i.inhparent::pg_catalog.regclass::text || ' ' || pg_catalog.pg_get_expr(c.relpartbound, c.oid)
                from pg_catalog.pg_inherits i where i.inhrelid = c.oid and c.relispartition) as parent
        from pg_catalog.pg_class c where c.oid = $1]], oid)[1]
    d.partition_key, d.partition_of = p.key, p.parent
  end
  return d
end

-- tables(db, pattern) -> rows: schema, name, kind, estimated rows, size.
-- pattern as psql's \dt takes it: `*` and `?` wildcards, `schema.name`.
function describe.tables(db, pattern)
  local schema_re, name_re = nil, nil
  if pattern then
    local function regex(p)
      p = p:lower():gsub("[%^%$%(%)%%%.%[%]%+%-|{}\\]", "\\%0"):gsub("%*", ".*"):gsub("%?", ".")
      return "^(" .. p .. ")$"
    end
    local s, n = pattern:match("^([^.]*)%.(.*)$")
    if s then schema_re, name_re = regex(s), regex(n ~= "" and n or "*")
    else name_re = regex(pattern) end
  end
  return must(db, [[
    select n.nspname as schema, c.relname as name,
           case c.relkind when 'r' then 'table' when 'p' then 'partitioned table'
                          when 'v' then 'view' when 'm' then 'materialized view'
                          when 'f' then 'foreign table' end as kind,
           case when c.relkind in ('r', 'm') and c.reltuples >= 0 then c.reltuples::bigint end as rows,
           pg_catalog.pg_size_pretty(pg_catalog.pg_total_relation_size(c.oid)) as size
      from pg_catalog.pg_class c
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p', 'v', 'm', 'f')
       and n.nspname <> 'information_schema' and n.nspname !~ '^pg_'
       and ($1::text is null or n.nspname ~ $1)
       and ($2::text is null or c.relname ~ $2)
     order by 1, 2]], schema_re, name_re)
end

return describe
