-- Columns of tables: type, collation, NOT NULL, default (a part of its
-- own), identity and generated expression. Columns a table inherits, and
-- all columns of partitions, are compared on the parent (a default or NOT
-- NULL of the child's own: ladle.schema.kinds.inherited_columns). The same query
-- fills composite types' attributes and views' column lists.

local filter = require "ladle.schema.filter"
local ident = require "ladle.ident"
local sql = require "ladle.schema.sql"
local util = require "ladle.schema.util"
local sequences = require "ladle.schema.kinds.sequences"
local casts = require "ladle.schema.kinds.casts"
local inheritance = require "ladle.schema.inheritance"

local kind = {
  name = "columns", singular = "column", comment = "COLUMN", inline = true, acl = "c",
  fields = { "type", "collation", "notnull", "default", "identity", "identity_options", "identity_value",
             "generated", "options" },
  flags = { notnull = true }, unordered = { options = true },
}

-- One row per column, kept to eight fields (a check of a large database
-- reads tens of thousands of columns): flags holds n (NOT NULL), a or d
-- (identity always or by default), s (stored generated) and h
-- (inherited). The options of foreign tables' columns come from a query
-- of their own.
function kind.query(q)
  local relkinds = q.deps and "'r', 'p', 'f', 'v', 'm', 'c'" or "'r', 'p', 'f', 'c'"
  local main = ([[
SELECT a.attrelid AS rel, a.attnum, pg_catalog.quote_ident(a.attname) AS name,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
       NULLIF(CASE WHEN a.attnotnull THEN 'n' ELSE '' END || a.attidentity::pg_catalog.text || %s
              || CASE WHEN a.attinhcount > 0 THEN 'h' ELSE '' END, '') AS flags,
       CASE WHEN a.attcollation <> 0 THEN %s END AS collation, %s AS acl,%s
       -- a default without column references is printed without opening
       -- its table, which saves building a relcache entry per table
       pg_catalog.pg_get_expr(d.adbin, CASE WHEN d.adbin::pg_catalog.text LIKE '%%{VAR %%'
                                            THEN d.adrelid ELSE 0 END) AS default
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE c.relnamespace = ANY ($1::pg_catalog.oid[])
   AND c.relkind IN (%s)
   AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attrelid, a.attnum]])
    :format(q.since(120000, "a.attgenerated::pg_catalog.text", "''"), q.collation("a.attcollation", "t.typcollation"),
      q.acl("a.attacl", "c.relowner"),
      q.deps and " d.oid AS defoid, pg_catalog.format_type(a.atttypid, NULL) AS base_type," or "", relkinds)
  local options = [[
SELECT a.attrelid AS rel, a.attnum, a.attfdwoptions AS options
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
 WHERE c.relnamespace = ANY ($1::pg_catalog.oid[]) AND c.relkind = 'f'
   AND a.attnum > 0 AND a.attfdwoptions IS NOT NULL]]
  return options, main
end

function kind.read(r, rows_options, rows)
  local columns, by_class, composite_rel = r.snap.columns, r.by_class, r.composite_rel
  local attrdef = r.refs[r.class.pg_attrdef]
  local options = {}
  for _, o in ipairs(rows_options) do options[o.rel .. ":" .. o.attnum] = o.options end
  -- exclude_field_patterns: columns of tables left out by name (pum's -P)
  local excluded = filter.like_matcher(r.opts.exclude_field_patterns)
  local last_rel, owner, cols, composite
  for _, row in ipairs(rows) do
    local rel = row.rel
    if rel ~= last_rel then
      last_rel, owner, composite = rel, by_class[rel], composite_rel[rel]
      cols = {}
      r.columns_of[rel] = cols
    end
    local flags = row.flags
    if owner == nil then
      -- a relation left out
    elseif composite then
      composite.attributes[#composite.attributes + 1] = row.collation
        and (row.name .. " " .. row.type .. " COLLATE " .. row.collation) or (row.name .. " " .. row.type)
      composite.attribute_names[#composite.attribute_names + 1] = row.name
    elseif owner.kind ~= "tables" and owner.kind ~= "foreign_tables" then
      owner.columns[#owner.columns + 1] = row.name .. " " .. row.type
      cols[row.attnum] = owner
    elseif excluded and excluded(ident.unquote(row.name)) then
      -- left out
    elseif (flags and flags:find("h", 1, true)) or r.partition_children[rel] then
      -- what depends on it depends on the parent's column (see the reader);
      -- its default and NOT NULL are compared with the parent's
      -- (ladle.schema.kinds.inherited_columns)
      local entry = { inherited = true, table = owner, column = row.name, default = row.default,
                      notnull = flags ~= nil and flags:find("n", 1, true) ~= nil }
      if flags and flags:find("s", 1, true) then entry.generated = true end
      entry.defoid = row.defoid
      cols[row.attnum] = entry
    else
      -- only the fields a column has: most columns fit a table of 8 slots
      local name = owner.name .. "." .. row.name
      local col = { kind = "columns", name = name, table = owner.name, column = row.name, position = row.attnum,
                    type = row.type }
      if row.collation then col.collation = row.collation end
      if row.acl then col.acl = row.acl end
      if row.base_type then col.base_type = row.base_type end
      if owner.kind ~= "tables" then
        col.table_kind = owner.kind
        col.options = options[rel .. ":" .. row.attnum]
      end
      local generated = false
      if flags then
        if flags:find("n", 1, true) then col.notnull = true end
        if flags:find("a", 1, true) then col.identity = "always" elseif flags:find("d", 1, true) then
          col.identity = "by default"
        end
        generated = flags:find("s", 1, true) ~= nil
      end
      if generated then
        col.generated = row.default
        if row.defoid then attrdef[row.defoid] = col end
      else
        col.default = row.default
        if row.defoid then attrdef[row.defoid] = r.pseudo("defaults", name) end
      end
      columns[name] = col
      cols[row.attnum] = col
    end
  end
end

-- column privileges: GRANT SELECT (c) ON TABLE t
function kind.privilege_target(obj) return "TABLE " .. obj.table end
function kind.privilege_column(obj) return obj.column end

function kind.summary(obj)
  local s = obj.type
  if obj.collation then s = s .. " COLLATE " .. obj.collation end
  if obj.notnull then s = s .. " NOT NULL" end
  if obj.default then s = s .. " DEFAULT " .. obj.default end
  if obj.generated then s = s .. " GENERATED ALWAYS AS (" .. obj.generated .. ")" end
  if obj.identity then s = s .. " identity" end
  if obj.identity_options then s = s .. " (" .. table.concat(obj.identity_options, " ") .. ")" end
  return s
end

-- GENERATED ... AS IDENTITY, with the sequence's options.
local function identity_clause(col)
  local s = "GENERATED " .. (col.identity == "always" and "ALWAYS" or "BY DEFAULT") .. " AS IDENTITY"
  if col.identity_options then s = s .. " (" .. table.concat(col.identity_options, " ") .. ")" end
  return s
end

-- ALTER TABLE, or ALTER FOREIGN TABLE for a foreign table's column.
local function alter_table(col)
  return col.table_kind == "foreign_tables" and "ALTER FOREIGN TABLE " or "ALTER TABLE "
end
kind.alter_table = alter_table

-- "name type ..." as CREATE TABLE and ADD COLUMN write it.
function kind.definition(col, default)
  local s = col.column .. " " .. col.type .. sql.options_clause(col.options)
  if col.collation then s = s .. " COLLATE " .. col.collation end
  -- pg_get_expr leaves a bare function call without parentheses
  if col.generated then s = s .. " GENERATED ALWAYS AS (" .. col.generated .. ") STORED" end
  if col.identity then s = s .. " " .. identity_clause(col) end
  if default then s = s .. " DEFAULT " .. default end
  if col.notnull then s = s .. " NOT NULL" end
  return s
end

-- Defaults that make ADD COLUMN fill every row (PostgreSQL 11+ stores a
-- constant default without touching the table).
local volatile_calls = { "nextval%(", "random%(", "clock_timestamp%(", "timeofday%(",
  "gen_random_uuid%(", "uuid_generate_v", "txid_current%(", "setseed%(" }
local function volatile(expr)
  if not expr then return false end
  for _, p in ipairs(volatile_calls) do
    if expr:find(p) then return true end
  end
  return false
end

-- ALTER COLUMN ... TYPE, with USING when no assignment cast converts the
-- old type to the new (ladle.schema.kinds.casts).
local function change_type(oa, ob, b, ctx)
  local t, c = ob.table, ob.column
  local s = string.format("%s%s ALTER COLUMN %s TYPE %s", alter_table(ob), t, c, ob.type)
  if ob.collation then s = s .. " COLLATE " .. ob.collation end
  -- a foreign table's values are converted where they are stored
  if ob.table_kind == "foreign_tables" then return sql.stmt(s .. ";", "access_exclusive_lock") end
  -- b.recast: around a recreated type, "text" or "text[]" (its values go
  -- through text), or true (a collation: no conversion)
  if b.recast then
    if b.recast == true then return sql.stmt(s .. ";", "table_rewrite", "access_exclusive_lock") end
    return sql.stmt(s .. string.format(" USING %s::%s::%s;", c, b.recast, ob.type), "table_rewrite",
      "access_exclusive_lock")
  end
  local how = oa.type == ob.type and "assign"
    or casts.conversion(oa.base_type or oa.type, ob.base_type or ob.type, ctx.a, ctx.b)
  if how == "cast" then
    s = s .. string.format(" USING %s::%s", c, ob.type)
  elseif how == "text" then
    s = s .. string.format(" USING %s::text::%s", c, ob.type)
  elseif how == "unknown" then
    local note = sql.printable(string.format("-- ladle: no conversion from %s to %s is known; check the USING expression",
      oa.type, ob.type))
    return sql.stmt(string.format("%s\n%s USING %s::text::%s;", note, s, c, ob.type), "manual_step", "table_rewrite",
      "access_exclusive_lock")
  end
  return sql.stmt(s .. ";", "table_rewrite", "access_exclusive_lock")
end

-- ctx.default_b[column]: the target's defaults
-- A column a table stops inheriting (NO INHERIT leaves it there) or
-- starts to inherit (INHERIT takes the table's own): the table's ALTER
-- TABLE sees to it (ladle.schema.kinds.tables).
local function taken_over(col, ctx, snap, columns_of)
  return col.table_kind == nil and inheritance.moved(ctx.a, ctx.b, col.table)
    and inheritance.inherited_names(snap, columns_of, col.table)[col.column] == true
end

function kind.create(item, ctx)
  local col = item.obj
  if taken_over(col, ctx, ctx.a, ctx.columns_a) then return {} end
  local default = ctx.default_b[col.name]
  local hazards = { "access_exclusive_lock" }
  if col.generated or col.identity or volatile(default) then hazards[#hazards + 1] = "table_rewrite" end
  return { { sql = string.format("%s%s ADD COLUMN %s;", alter_table(col), col.table, kind.definition(col, default)),
             hazards = hazards } }
end

function kind.drop(item, ctx)
  local col = item.obj
  if taken_over(col, ctx, ctx.b, ctx.columns_b) then return {} end
  local s = string.format("%s%s DROP COLUMN %s;", alter_table(col), col.table, col.column)
  if col.generated then return { sql.stmt(s, "access_exclusive_lock") } end
  return { sql.stmt(s, "deletes_data", "access_exclusive_lock") }
end

function kind.alter(a, b, ctx)
  local oa, ob = a.obj, b.obj
  local t, c = alter_table(ob) .. ob.table, ob.column
  if (oa.generated or ob.generated) and oa.generated ~= ob.generated then
    if oa.generated and not ob.generated and (ctx.a.server_version or 0) >= 130000 then
      return { statements = { sql.stmt(string.format("%s ALTER COLUMN %s DROP EXPRESSION;", t, c),
        "access_exclusive_lock") } }
    end
    return "rebuild"
  end
  local out, breaks = {}, false
  -- an identity column cannot lose its NOT NULL: the identity goes first
  if oa.identity and not ob.identity then
    out[#out + 1] = sql.stmt(string.format("%s ALTER COLUMN %s DROP IDENTITY;", t, c), "access_exclusive_lock")
  end
  if oa.notnull and not ob.notnull then
    out[#out + 1] = sql.stmt(string.format("%s ALTER COLUMN %s DROP NOT NULL;", t, c), "access_exclusive_lock")
  end
  if oa.type ~= ob.type or oa.collation ~= ob.collation or b.recast then
    out[#out + 1] = change_type(oa, ob, b, ctx)
    breaks = true
  end
  if ob.notnull and not oa.notnull then
    out[#out + 1] = sql.stmt(string.format("%s ALTER COLUMN %s SET NOT NULL;", t, c),
      "validation_scan", "access_exclusive_lock")
  end
  if ob.identity and not oa.identity then
    out[#out + 1] = sql.stmt(string.format("%s ALTER COLUMN %s ADD %s;", t, c, identity_clause(ob)),
      "access_exclusive_lock")
  elseif ob.identity then
    local clauses = {}
    if oa.identity ~= ob.identity then
      clauses[1] = "SET GENERATED " .. (ob.identity == "always" and "ALWAYS" or "BY DEFAULT")
    end
    -- the sequence's type follows the column's
    local changes, restart = sequences.identity_changes(oa.identity_options, ob.identity_options, ob.type)
    for _, clause in ipairs(changes) do clauses[#clauses + 1] = clause end
    if #clauses > 0 then
      local st = sql.stmt(string.format("%s ALTER COLUMN %s %s;", t, c, table.concat(clauses, " ")),
        "access_exclusive_lock")
      if restart then table.insert(st.hazards, 1, "deletes_data") end
      out[#out + 1] = st
    end
  end
  local options = not util.same(util.sorted(oa.options), util.sorted(ob.options))
    and sql.options_change(oa.options, ob.options)
  if options then out[#out + 1] = sql.stmt(string.format("%s ALTER COLUMN %s %s;", t, c, options)) end
  return sql.changes(out, { breaks = breaks })
end

-- An identity column's sequence, for setval()
local function identity_sequence(item)
  return string.format("pg_catalog.pg_get_serial_sequence(%s, %s)", sql.literal(item.table),
    sql.literal(ident.unquote(item.column)))
end

-- A column's default, as a part: { table, column, value }; an identity
-- column's current value (read with sequence_values), as a part too: it is
-- set once the column exists
kind.parts = {
  identity_values = {
    item = function(col)
      if col.identity and col.identity_value then
        return { value = col.identity_value, table = col.table, column = col.column,
                 start = sequences.identity_values(col.identity_options, col.type).start }
      end
    end,
    summary = function(item) return "value " .. item.value end,
    create = function(item) return { sequences.set_value(identity_sequence(item), item.value, item.start) } end,
    drop = function() return {} end,
    alter = function(a, b)
      if a.value == b.value then return nil end
      return { statements = { sequences.set_value(identity_sequence(b), b.value, b.start) } }
    end,
  },
  defaults = {
    inline = true,
    item = function(col)
      if col.default then
        return { value = col.default, table = col.table, column = col.column, table_kind = col.table_kind }
      end
    end,
    summary = function(item) return "default " .. item.value end,
    create = function(item)
      return { sql.stmt(string.format("%s ALTER COLUMN %s SET DEFAULT %s;", alter_table(item) .. item.table, item.column,
        item.value)) }
    end,
    drop = function(item)
      return { sql.stmt(string.format("%s ALTER COLUMN %s DROP DEFAULT;", alter_table(item) .. item.table,
        item.column)) }
    end,
    alter = function(a, b)
      if a.value == b.value then return nil end
      return { statements = { sql.stmt(string.format("%s ALTER COLUMN %s SET DEFAULT %s;", alter_table(b) .. b.table,
        b.column, b.value)) } }
    end,
  },
}

return kind
