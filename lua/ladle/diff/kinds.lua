-- ladle.diff.kinds: the SQL that creates, drops and alters each kind of
-- object, and the hazards of each statement. ladle.diff decides what
-- happens to which object and in which order; this module only writes
-- statements.
--
-- Every handler gets items: { key, kind, name, obj, ... } where obj is the
-- snapshot's object, and ctx (the plan being built: ctx.a, ctx.b the two
-- snapshots, ctx.columns_b[table] the target's columns in order,
-- ctx.default_b[column] the target's defaults). A statement is
-- { sql = "...;", hazards = { "table_rewrite", ... } }.
--
--   create(item, ctx)      -> statements
--   drop(item, ctx)        -> statements
--   alter(a, b, ctx)       -> nil when equal, "rebuild" when only drop and
--                             create will do, or { statements, breaks = bool }
--                             (breaks: what depends on the object must be
--                             dropped before and created after)

local schema = require "ladle.schema"

local kinds = {}

-- The hazards a statement can carry, in the order they are listed.
kinds.hazards = {
  "deletes_data",           -- drops a table, a column, a sequence's position, an extension
  "table_rewrite",          -- rewrites or fills a whole table (column type, SET LOGGED, volatile default)
  "access_exclusive_lock",  -- blocks reads and writes of the table while it runs
  "index_build",            -- builds an index (blocks writes; CONCURRENTLY cannot run in a transaction)
  "validation_scan",        -- reads the whole table to check a constraint or NOT NULL
}

local function stmt(sql, ...)
  return { sql = sql, hazards = { ... } }
end
kinds.stmt = stmt

local function literal(s)
  return "'" .. tostring(s):gsub("'", "''") .. "'"
end
kinds.literal = literal

-- '"My Schema"."My Type"' -> '"My Schema"', '"My Type"'
local function split_name(qualified)
  local i, n = 1, #qualified
  local parts, current = {}, {}
  while i <= n do
    local ch = qualified:sub(i, i)
    if ch == '"' then
      local j = i + 1
      while j <= n do
        if qualified:sub(j, j) == '"' then
          if qualified:sub(j + 1, j + 1) == '"' then j = j + 2 else break end
        else
          j = j + 1
        end
      end
      current[#current + 1] = qualified:sub(i, j)
      i = j + 1
    elseif ch == "." then
      parts[#parts + 1] = table.concat(current)
      current = {}
      i = i + 1
    else
      current[#current + 1] = ch
      i = i + 1
    end
  end
  parts[#parts + 1] = table.concat(current)
  return parts
end
kinds.split_name = split_name

local function unquote(ident)
  if ident:sub(1, 1) == '"' then return (ident:sub(2, -2):gsub('""', '"')) end
  return ident
end

local function quote(raw)
  return '"' .. raw:gsub('"', '""') .. '"'
end

-- The last part of a qualified name (what RENAME TO and similar take).
local function last_part(qualified)
  local parts = split_name(qualified)
  return parts[#parts]
end
kinds.last_part = last_part

local function with_options(options)
  if not options or #options == 0 then return "" end
  return " WITH (" .. table.concat(options, ", ") .. ")"
end

local function option_changes(before, after)
  local function parse(list)
    local m = {}
    for _, o in ipairs(list or {}) do
      local k, v = o:match("^([^=]+)=(.*)$")
      if k then m[k] = v end
    end
    return m
  end
  local a, b = parse(before), parse(after)
  local set, reset = {}, {}
  for _, o in ipairs(after or {}) do
    local k = o:match("^([^=]+)=")
    if k and a[k] ~= b[k] then set[#set + 1] = o end
  end
  for _, o in ipairs(before or {}) do
    local k = o:match("^([^=]+)=")
    if k and b[k] == nil then reset[#reset + 1] = k end
  end
  return set, reset
end

local function strip_semicolon(sql)
  return (sql:gsub("%s+$", ""):gsub(";$", ""))
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

-- schemas --------------------------------------------------------------------

kinds.schemas = {
  create = function(item) return { stmt("CREATE SCHEMA " .. item.name .. ";") } end,
  drop = function(item) return { stmt("DROP SCHEMA " .. item.name .. ";") } end,
  alter = function() return nil end,
}

-- extensions -----------------------------------------------------------------

kinds.extensions = {
  create = function(item)
    local o = item.obj
    return { stmt(string.format("CREATE EXTENSION %s WITH SCHEMA %s VERSION %s;", o.name, o.schema, literal(o.version))) }
  end,
  drop = function(item)
    return { stmt("DROP EXTENSION " .. item.name .. ";", "deletes_data") }
  end,
  alter = function(a, b)
    local out = {}
    if a.obj.schema ~= b.obj.schema then
      out[#out + 1] = stmt(string.format("ALTER EXTENSION %s SET SCHEMA %s;", b.name, b.obj.schema))
    end
    if a.obj.version ~= b.obj.version then
      out[#out + 1] = stmt(string.format("ALTER EXTENSION %s UPDATE TO %s;", b.name, literal(b.obj.version)))
    end
    if #out == 0 then return nil end
    return { statements = out }
  end,
}

-- types: enums, composites, ranges ---------------------------------------------

local function create_type(o)
  if o.type == "enum" then
    local labels = {}
    for i, l in ipairs(o.labels) do labels[i] = literal(l) end
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
      if i > 1 then where = " AFTER " .. literal(b.labels[i - 1])
      elseif b.labels[i + 1] then where = " BEFORE " .. literal(b.labels[i + 1]) end
      out[#out + 1] = stmt(string.format("ALTER TYPE %s ADD VALUE %s%s;", b.name, literal(l), where or ""))
      added[#added + 1] = l
    end
  end
  return out, added
end

-- The name an enum is renamed to while a new one with its values replaces it.
function kinds.old_enum_name(name)
  local parts = split_name(name)
  parts[#parts] = quote(unquote(parts[#parts]) .. "__ladle_old")
  return table.concat(parts, ".")
end

kinds.types = {
  create = function(item) return { stmt(create_type(item.obj)) } end,
  drop = function(item) return { stmt("DROP TYPE " .. item.name .. ";") } end,
  alter = function(a, b, ctx)
    local oa, ob = a.obj, b.obj
    if oa.type ~= ob.type then return "rebuild" end
    if oa.type == "enum" then
      if schema.same(oa.labels, ob.labels) then return nil end
      -- ADD VALUE can run in a transaction from PostgreSQL 12 on, and the
      -- new values cannot be used before it commits: ladle.diff falls back
      -- to recreating the type when the script uses them
      if is_subsequence(oa.labels, ob.labels) and (ctx.a.server_version or 0) >= 120000
          and not ctx.recreate_enum[b.key] then
        local out, added = add_values(oa, ob)
        return { statements = out, added_labels = added }
      end
      local old = kinds.old_enum_name(ob.name)
      return {
        recreate = true, breaks = true,
        statements = {
          stmt(string.format("ALTER TYPE %s RENAME TO %s;", oa.name, last_part(old))),
          stmt(create_type(ob)),
        },
        finish = { stmt("DROP TYPE " .. old .. ";") },
      }
    elseif oa.type == "composite" then
      if schema.same(oa.attributes, ob.attributes) then return nil end
      -- "name type [COLLATE c]" with the name quoted as the server quotes it
      local function parse(list)
        local m, order = {}, {}
        for _, attr in ipairs(list) do
          local n = attr:match('^("[^"]*")') or attr:match("^(%S+)")
          if n:sub(1, 1) == '"' then
            local j = 2
            while j <= #attr do
              if attr:sub(j, j) == '"' then
                if attr:sub(j + 1, j + 1) == '"' then j = j + 2 else break end
              else
                j = j + 1
              end
            end
            n = attr:sub(1, j)
          end
          m[n] = attr:sub(#n + 2)
          order[#order + 1] = n
        end
        return m, order
      end
      local ma, order_a = parse(oa.attributes)
      local mb, order_b = parse(ob.attributes)
      local out = {}
      for _, n in ipairs(order_a) do
        if mb[n] == nil then
          out[#out + 1] = stmt(string.format("ALTER TYPE %s DROP ATTRIBUTE %s;", ob.name, n), "deletes_data")
        elseif mb[n] ~= ma[n] then
          out[#out + 1] = stmt(string.format("ALTER TYPE %s ALTER ATTRIBUTE %s TYPE %s;", ob.name, n, mb[n]))
        end
      end
      for _, n in ipairs(order_b) do
        if ma[n] == nil then
          out[#out + 1] = stmt(string.format("ALTER TYPE %s ADD ATTRIBUTE %s %s;", ob.name, n, mb[n]))
        end
      end
      if #out == 0 then return "rebuild" end  -- only the order changed
      return { statements = out }
    end
    for _, f in ipairs(schema.fields.types) do
      if not schema.same(oa[f], ob[f]) then return "rebuild" end
    end
    return nil
  end,
}

-- domains --------------------------------------------------------------------

kinds.domains = {
  create = function(item)
    local o = item.obj
    local s = "CREATE DOMAIN " .. o.name .. " AS " .. o.base
    if o.collation then s = s .. " COLLATE " .. o.collation end
    if o.default then s = s .. " DEFAULT " .. o.default end
    if o.notnull then s = s .. " NOT NULL" end
    return { stmt(s .. ";") }
  end,
  drop = function(item) return { stmt("DROP DOMAIN " .. item.name .. ";") } end,
  alter = function(a, b)
    local oa, ob = a.obj, b.obj
    if oa.base ~= ob.base or oa.collation ~= ob.collation then return "rebuild" end
    local out = {}
    if oa.default ~= ob.default then
      out[#out + 1] = stmt(ob.default and string.format("ALTER DOMAIN %s SET DEFAULT %s;", ob.name, ob.default)
        or string.format("ALTER DOMAIN %s DROP DEFAULT;", ob.name))
    end
    if oa.notnull ~= ob.notnull then
      out[#out + 1] = ob.notnull and stmt(string.format("ALTER DOMAIN %s SET NOT NULL;", ob.name), "validation_scan")
        or stmt(string.format("ALTER DOMAIN %s DROP NOT NULL;", ob.name))
    end
    if #out == 0 then return nil end
    return { statements = out }
  end,
}

-- sequences and their OWNED BY -------------------------------------------------

local function sequence_options(o, changed)
  local parts = {}
  local function want(f) return not changed or changed[f] end
  if want("data_type") then parts[#parts + 1] = "AS " .. o.data_type end
  if want("increment") then parts[#parts + 1] = "INCREMENT BY " .. o.increment end
  if want("min") then parts[#parts + 1] = "MINVALUE " .. o.min end
  if want("max") then parts[#parts + 1] = "MAXVALUE " .. o.max end
  if want("start") then parts[#parts + 1] = "START WITH " .. o.start end
  if want("cache") then parts[#parts + 1] = "CACHE " .. o.cache end
  if want("cycle") then parts[#parts + 1] = o.cycle and "CYCLE" or "NO CYCLE" end
  return table.concat(parts, " ")
end

kinds.sequences = {
  create = function(item)
    return { stmt("CREATE SEQUENCE " .. item.name .. " " .. sequence_options(item.obj) .. ";") }
  end,
  drop = function(item) return { stmt("DROP SEQUENCE " .. item.name .. ";", "deletes_data") } end,
  alter = function(a, b)
    local changed, any = {}, false
    for _, f in ipairs({ "data_type", "increment", "min", "max", "start", "cache", "cycle" }) do
      if a.obj[f] ~= b.obj[f] then changed[f] = true; any = true end
    end
    if not any then return nil end
    return { statements = { stmt("ALTER SEQUENCE " .. b.name .. " " .. sequence_options(b.obj, changed) .. ";") } }
  end,
}

kinds.owners = {
  create = function(item)
    return { stmt(string.format("ALTER SEQUENCE %s OWNED BY %s;", item.sequence, item.value)) }
  end,
  drop = function(item)
    return { stmt(string.format("ALTER SEQUENCE %s OWNED BY NONE;", item.sequence)) }
  end,
  alter = function(a, b)
    if a.value == b.value then return nil end
    return { statements = { stmt(string.format("ALTER SEQUENCE %s OWNED BY %s;", b.sequence, b.value)) } }
  end,
}

-- tables ---------------------------------------------------------------------

local function column_definition(col, default)
  local s = col.column .. " " .. col.type
  if col.collation then s = s .. " COLLATE " .. col.collation end
  if col.generated then s = s .. " GENERATED ALWAYS AS " .. col.generated .. " STORED" end
  if col.identity then
    s = s .. " GENERATED " .. (col.identity == "always" and "ALWAYS" or "BY DEFAULT") .. " AS IDENTITY"
  end
  if default then s = s .. " DEFAULT " .. default end
  if col.notnull then s = s .. " NOT NULL" end
  return s
end

local function row_security(o, before)
  local out = {}
  before = before or {}
  if (o.row_security or false) ~= (before.row_security or false) then
    out[#out + 1] = stmt(string.format("ALTER TABLE %s %s ROW LEVEL SECURITY;", o.name,
      o.row_security and "ENABLE" or "DISABLE"), "access_exclusive_lock")
  end
  if (o.force_row_security or false) ~= (before.force_row_security or false) then
    out[#out + 1] = stmt(string.format("ALTER TABLE %s %s ROW LEVEL SECURITY;", o.name,
      o.force_row_security and "FORCE" or "NO FORCE"), "access_exclusive_lock")
  end
  return out
end

kinds.tables = {
  create = function(item, ctx)
    local o = item.obj
    local s
    if o.partition_of then
      s = string.format("CREATE TABLE %s PARTITION OF %s %s", o.name, o.partition_of, o.partition_bound)
    else
      local cols = {}
      for _, col in ipairs(ctx.columns_b[o.name] or {}) do
        cols[#cols + 1] = "    " .. column_definition(col, ctx.default_b[col.name])
      end
      s = string.format("CREATE %sTABLE %s (%s)", o.unlogged and "UNLOGGED " or "", o.name,
        #cols > 0 and ("\n" .. table.concat(cols, ",\n") .. "\n") or "")
      if o.inherits then s = s .. " INHERITS (" .. table.concat(o.inherits, ", ") .. ")" end
    end
    if o.partition_key then s = s .. " PARTITION BY " .. o.partition_key end
    s = s .. with_options(o.options) .. ";"
    local out = { stmt(s) }
    for _, st in ipairs(row_security(o)) do st.hazards = {}; out[#out + 1] = st end
    return out
  end,
  drop = function(item)
    return { stmt("DROP TABLE " .. item.name .. ";", "deletes_data", "access_exclusive_lock") }
  end,
  alter = function(a, b)
    local oa, ob = a.obj, b.obj
    if (oa.partitioned or false) ~= (ob.partitioned or false) or oa.partition_key ~= ob.partition_key
        or (oa.partition_of == nil) ~= (ob.partition_of == nil)
        or not schema.same(oa.inherits, ob.inherits) then
      return "rebuild"
    end
    local out = {}
    if oa.partition_of ~= ob.partition_of or oa.partition_bound ~= ob.partition_bound then
      out[#out + 1] = stmt(string.format("ALTER TABLE %s DETACH PARTITION %s;", oa.partition_of, ob.name),
        "access_exclusive_lock")
      out[#out + 1] = stmt(string.format("ALTER TABLE %s ATTACH PARTITION %s %s;", ob.partition_of, ob.name,
        ob.partition_bound), "validation_scan")
    end
    if (oa.unlogged or false) ~= (ob.unlogged or false) then
      out[#out + 1] = stmt(string.format("ALTER TABLE %s SET %s;", ob.name, ob.unlogged and "UNLOGGED" or "LOGGED"),
        "table_rewrite", "access_exclusive_lock")
    end
    local set, reset = option_changes(oa.options, ob.options)
    if #reset > 0 then
      out[#out + 1] = stmt(string.format("ALTER TABLE %s RESET (%s);", ob.name, table.concat(reset, ", ")))
    end
    if #set > 0 then
      out[#out + 1] = stmt(string.format("ALTER TABLE %s SET (%s);", ob.name, table.concat(set, ", ")))
    end
    for _, st in ipairs(row_security(ob, oa)) do out[#out + 1] = st end
    if #out == 0 then return nil end
    return { statements = out }
  end,
}

-- columns and defaults -------------------------------------------------------

kinds.columns = {
  inline = true,
  create = function(item, ctx)
    local col = item.obj
    local default = ctx.default_b[col.name]
    local hazards = { "access_exclusive_lock" }
    if col.generated or col.identity or volatile(default) then hazards[#hazards + 1] = "table_rewrite" end
    return { { sql = string.format("ALTER TABLE %s ADD COLUMN %s;", col.table, column_definition(col, default)),
               hazards = hazards } }
  end,
  drop = function(item)
    local col = item.obj
    local s = string.format("ALTER TABLE %s DROP COLUMN %s;", col.table, col.column)
    if col.generated then return { stmt(s, "access_exclusive_lock") } end
    return { stmt(s, "deletes_data", "access_exclusive_lock") }
  end,
  alter = function(a, b, ctx)
    local oa, ob = a.obj, b.obj
    local t, c = ob.table, ob.column
    if (oa.generated or ob.generated) and oa.generated ~= ob.generated then
      if oa.generated and not ob.generated and (ctx.a.server_version or 0) >= 130000 then
        return { statements = { stmt(string.format("ALTER TABLE %s ALTER COLUMN %s DROP EXPRESSION;", t, c),
          "access_exclusive_lock") } }
      end
      return "rebuild"
    end
    local out, breaks = {}, false
    if oa.notnull and not ob.notnull then
      out[#out + 1] = stmt(string.format("ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL;", t, c), "access_exclusive_lock")
    end
    if oa.identity and oa.identity ~= ob.identity and not ob.identity then
      out[#out + 1] = stmt(string.format("ALTER TABLE %s ALTER COLUMN %s DROP IDENTITY;", t, c), "access_exclusive_lock")
    end
    if oa.type ~= ob.type or oa.collation ~= ob.collation or b.recast then
      local s = string.format("ALTER TABLE %s ALTER COLUMN %s TYPE %s", t, c, ob.type)
      if ob.collation then s = s .. " COLLATE " .. ob.collation end
      if b.recast then s = s .. string.format(" USING %s::%s::%s", c, b.recast_text, ob.type) end
      out[#out + 1] = stmt(s .. ";", "table_rewrite", "access_exclusive_lock")
      breaks = true
    end
    if ob.notnull and not oa.notnull then
      out[#out + 1] = stmt(string.format("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL;", t, c),
        "validation_scan", "access_exclusive_lock")
    end
    if ob.identity and oa.identity ~= ob.identity then
      local how = ob.identity == "always" and "ALWAYS" or "BY DEFAULT"
      if oa.identity then
        out[#out + 1] = stmt(string.format("ALTER TABLE %s ALTER COLUMN %s SET GENERATED %s;", t, c, how),
          "access_exclusive_lock")
      else
        out[#out + 1] = stmt(string.format("ALTER TABLE %s ALTER COLUMN %s ADD GENERATED %s AS IDENTITY;", t, c, how),
          "access_exclusive_lock")
      end
    end
    if #out == 0 then return nil end
    return { statements = out, breaks = breaks }
  end,
}

kinds.defaults = {
  inline = true,
  create = function(item)
    return { stmt(string.format("ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s;", item.table, item.column, item.value)) }
  end,
  drop = function(item)
    return { stmt(string.format("ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT;", item.table, item.column)) }
  end,
  alter = function(a, b)
    if a.value == b.value then return nil end
    return { statements = kinds.defaults.create(b) }
  end,
}

-- constraints ----------------------------------------------------------------

local function constraint_target(o)
  if o.domain then return "DOMAIN " .. o.domain end
  return "TABLE " .. o.table
end

local function constraint_hazards(o)
  local not_valid = o.definition:find(" NOT VALID$") ~= nil
  if o.domain then return not_valid and {} or { "validation_scan" } end
  if o.type == "p" or o.type == "u" or o.type == "x" then return { "index_build", "access_exclusive_lock" } end
  if o.type == "f" then return not_valid and {} or { "validation_scan" } end
  if not_valid then return { "access_exclusive_lock" } end
  return { "validation_scan", "access_exclusive_lock" }
end

kinds.constraints = {
  create = function(item)
    local o = item.obj
    return { { sql = string.format("ALTER %s ADD CONSTRAINT %s %s;", constraint_target(o), o.constraint, o.definition),
               hazards = constraint_hazards(o) } }
  end,
  drop = function(item)
    local o = item.obj
    local sql = string.format("ALTER %s DROP CONSTRAINT %s;", constraint_target(o), o.constraint)
    if o.domain then return { stmt(sql) } end
    return { stmt(sql, "access_exclusive_lock") }
  end,
  alter = function(a, b)
    local oa, ob = a.obj, b.obj
    if oa.definition == ob.definition then return nil end
    if oa.definition == ob.definition .. " NOT VALID" then
      return { statements = { stmt(string.format("ALTER %s VALIDATE CONSTRAINT %s;", constraint_target(ob), ob.constraint),
        "validation_scan") } }
    end
    return "rebuild"
  end,
}

-- indexes --------------------------------------------------------------------

kinds.indexes = {
  create = function(item)
    local def = item.obj.definition
    -- an index on a partitioned table is created on its partitions too
    if item.obj.on_partitioned then def = def:gsub(" ON ONLY ", " ON ", 1) end
    return { stmt(def .. ";", "index_build") }
  end,
  drop = function(item) return { stmt("DROP INDEX " .. item.name .. ";", "access_exclusive_lock") } end,
  alter = function(a, b)
    if a.obj.definition == b.obj.definition then return nil end
    return "rebuild"
  end,
}

-- views and materialized views -------------------------------------------------

kinds.views = {
  create = function(item)
    local o = item.obj
    return { stmt(string.format("CREATE VIEW %s%s AS\n %s;", o.name, with_options(o.options), o.definition)) }
  end,
  drop = function(item) return { stmt("DROP VIEW " .. item.name .. ";") } end,
  alter = function(a, b)
    local oa, ob = a.obj, b.obj
    if oa.definition == ob.definition and schema.same(schema.sorted_list(oa.options), schema.sorted_list(ob.options)) then
      return nil
    end
    -- CREATE OR REPLACE keeps what depends on the view, when the new
    -- columns start with the old ones
    if #oa.columns > #ob.columns then return "rebuild" end
    for i, col in ipairs(oa.columns) do
      if ob.columns[i] ~= col then return "rebuild" end
    end
    return { statements = {
      stmt(string.format("CREATE OR REPLACE VIEW %s%s AS\n %s;", ob.name, with_options(ob.options), ob.definition)),
    } }
  end,
}

kinds.materialized_views = {
  create = function(item)
    local o = item.obj
    return { stmt(string.format("CREATE MATERIALIZED VIEW %s%s AS\n %s\n  WITH DATA;", o.name, with_options(o.options),
      o.definition), "table_rewrite") }
  end,
  drop = function(item) return { stmt("DROP MATERIALIZED VIEW " .. item.name .. ";") } end,
  alter = function(a, b)
    local oa, ob = a.obj, b.obj
    if oa.definition ~= ob.definition then return "rebuild" end
    local set, reset = option_changes(oa.options, ob.options)
    local out = {}
    if #reset > 0 then
      out[#out + 1] = stmt(string.format("ALTER MATERIALIZED VIEW %s RESET (%s);", ob.name, table.concat(reset, ", ")))
    end
    if #set > 0 then
      out[#out + 1] = stmt(string.format("ALTER MATERIALIZED VIEW %s SET (%s);", ob.name, table.concat(set, ", ")))
    end
    if #out == 0 then return nil end
    return { statements = out }
  end,
}

-- functions and procedures ------------------------------------------------------

local function routine_word(o)
  return o.type == "procedure" and "PROCEDURE" or "FUNCTION"
end
kinds.routine_word = routine_word

kinds.functions = {
  create = function(item) return { stmt(strip_semicolon(item.obj.definition) .. ";") } end,
  drop = function(item) return { stmt("DROP " .. routine_word(item.obj) .. " " .. item.name .. ";") } end,
  alter = function(a, b)
    local oa, ob = a.obj, b.obj
    if oa.definition == ob.definition then return nil end
    -- CREATE OR REPLACE cannot change the result type or the parameters'
    -- names and defaults
    if oa.type ~= ob.type or oa.result ~= ob.result or oa.arguments ~= ob.arguments then return "rebuild" end
    return { statements = { stmt(strip_semicolon(ob.definition) .. ";") } }
  end,
}

-- triggers and rules -----------------------------------------------------------

local trigger_states = { D = "DISABLE", R = "ENABLE REPLICA", A = "ENABLE ALWAYS", O = "ENABLE" }

-- Triggers and rules: created by their definition, dropped ON their table,
-- enabled and disabled with ALTER TABLE; any other change rebuilds them.
local function table_part(word, field, hazard)
  local function enable(o)
    return stmt(string.format("ALTER TABLE %s %s %s %s;", o.table, trigger_states[o.enabled], word, o[field]), hazard)
  end
  return {
    create = function(item)
      local o = item.obj
      local out = { stmt(strip_semicolon(o.definition) .. ";") }
      if o.enabled ~= "O" then out[#out + 1] = enable(o) end
      return out
    end,
    drop = function(item)
      return { stmt(string.format("DROP %s %s ON %s;", word, item.obj[field], item.obj.table)) }
    end,
    alter = function(a, b)
      if a.obj.definition ~= b.obj.definition then return "rebuild" end
      if a.obj.enabled == b.obj.enabled then return nil end
      return { statements = { enable(b.obj) } }
    end,
  }
end

kinds.triggers = table_part("TRIGGER", "trigger", "access_exclusive_lock")
kinds.rules = table_part("RULE", "rule")

-- row-level security policies ----------------------------------------------------

kinds.policies = {
  create = function(item)
    local o = item.obj
    local s = string.format("CREATE POLICY %s ON %s AS %s FOR %s TO %s", o.policy, o.table,
      o.permissive and "PERMISSIVE" or "RESTRICTIVE", o.command, table.concat(o.roles, ", "))
    if o.using then s = s .. " USING (" .. o.using .. ")" end
    if o.with_check then s = s .. " WITH CHECK (" .. o.with_check .. ")" end
    return { stmt(s .. ";") }
  end,
  drop = function(item)
    return { stmt(string.format("DROP POLICY %s ON %s;", item.obj.policy, item.obj.table)) }
  end,
  alter = function(a, b)
    for _, f in ipairs(schema.fields.policies) do
      local va, vb = a.obj[f], b.obj[f]
      if f == "roles" then va, vb = schema.sorted_list(va), schema.sorted_list(vb) end
      if not schema.same(va, vb) then return "rebuild" end
    end
    return nil
  end,
}

-- privileges ---------------------------------------------------------------------

local function privilege_target(target)
  local o = target.obj
  if o.kind == "sequences" then return "SEQUENCE " .. o.name end
  if o.kind == "functions" then return routine_word(o) .. " " .. o.name end
  if o.kind == "schemas" then return "SCHEMA " .. o.name end
  return "TABLE " .. o.name
end

-- GRANT and REVOKE statements that turn the privileges `from` into `to`
-- (lists of "grantee=PRIVILEGE[*]"). owner: who OWNER stands for.
function kinds.grants(target, from, to, owner)
  local function parse(list)
    local m = {}
    for _, e in ipairs(list or {}) do
      local grantee, priv = e:match("^(.-)=([^=]+)$")
      local grantable = priv:sub(-1) == "*"
      if grantable then priv = priv:sub(1, -2) end
      m[grantee] = m[grantee] or {}
      m[grantee][priv] = grantable and "grant" or "plain"
    end
    return m
  end
  local a, b = parse(from), parse(to)
  local grantees, seen = {}, {}
  for g in pairs(a) do if not seen[g] then seen[g] = true; grantees[#grantees + 1] = g end end
  for g in pairs(b) do if not seen[g] then seen[g] = true; grantees[#grantees + 1] = g end end
  table.sort(grantees)
  local what = privilege_target(target)
  local out = {}
  for _, g in ipairs(grantees) do
    local role = g == "OWNER" and owner or g
    local pa, pb = a[g] or {}, b[g] or {}
    local revoke, revoke_option, grant, grant_option = {}, {}, {}, {}
    local privs = {}
    for p in pairs(pa) do privs[p] = true end
    for p in pairs(pb) do privs[p] = true end
    local names = {}
    for p in pairs(privs) do names[#names + 1] = p end
    table.sort(names)
    for _, p in ipairs(names) do
      local x, y = pa[p], pb[p]
      if x and not y then revoke[#revoke + 1] = p
      elseif y and not x then
        if y == "grant" then grant_option[#grant_option + 1] = p else grant[#grant + 1] = p end
      elseif x == "grant" and y == "plain" then revoke_option[#revoke_option + 1] = p
      elseif x == "plain" and y == "grant" then grant_option[#grant_option + 1] = p
      end
    end
    if #revoke > 0 then
      out[#out + 1] = stmt(string.format("REVOKE %s ON %s FROM %s;", table.concat(revoke, ", "), what, role))
    end
    if #revoke_option > 0 then
      out[#out + 1] = stmt(string.format("REVOKE GRANT OPTION FOR %s ON %s FROM %s;", table.concat(revoke_option, ", "), what, role))
    end
    if #grant > 0 then
      out[#out + 1] = stmt(string.format("GRANT %s ON %s TO %s;", table.concat(grant, ", "), what, role))
    end
    if #grant_option > 0 then
      out[#out + 1] = stmt(string.format("GRANT %s ON %s TO %s WITH GRANT OPTION;", table.concat(grant_option, ", "), what, role))
    end
  end
  return out
end

kinds.privileges = {
  -- on a new object: from the built-in default, for the role running the script
  create = function(item, ctx)
    return kinds.grants(item.target, item.default, item.value, "CURRENT_USER")
  end,
  drop = function() return {} end,  -- the object goes, and its privileges with it
  alter = function(a, b)
    if schema.same(a.value, b.value) then return nil end
    return { statements = kinds.grants(b.target, a.value, b.value, a.target.obj.owner or "CURRENT_USER") }
  end,
}

-- comments -------------------------------------------------------------------------

local comment_words = {
  schemas = "SCHEMA", extensions = "EXTENSION", types = "TYPE", domains = "DOMAIN", sequences = "SEQUENCE",
  tables = "TABLE", columns = "COLUMN", indexes = "INDEX", views = "VIEW",
  materialized_views = "MATERIALIZED VIEW",
}

local function comment_target(target)
  local o = target.obj
  local k = o.kind
  if k == "constraints" then
    return string.format("CONSTRAINT %s ON %s", o.constraint, o.domain and ("DOMAIN " .. o.domain) or o.table)
  elseif k == "functions" then
    return routine_word(o) .. " " .. o.name
  elseif k == "triggers" then
    return string.format("TRIGGER %s ON %s", o.trigger, o.table)
  elseif k == "rules" then
    return string.format("RULE %s ON %s", o.rule, o.table)
  elseif k == "policies" then
    return string.format("POLICY %s ON %s", o.policy, o.table)
  end
  return comment_words[k] .. " " .. o.name
end

kinds.comments = {
  create = function(item)
    return { stmt(string.format("COMMENT ON %s IS %s;", comment_target(item.target), literal(item.value))) }
  end,
  drop = function(item)
    return { stmt(string.format("COMMENT ON %s IS NULL;", comment_target(item.target))) }
  end,
  alter = function(a, b)
    if a.value == b.value then return nil end
    return { statements = kinds.comments.create(b) }
  end,
}

return kinds
