-- Sequences, with their options and OWNED BY (a part of its own: the
-- planner hands a sequence to a new column before the old one goes). An
-- identity column's sequence belongs to its column.

local sql = require "ladle.schema.sql"

local kind = {
  name = "sequences", singular = "sequence", acl = "s", comment = "SEQUENCE", owned = true,
  fields = { "data_type", "start", "increment", "min", "max", "cache", "cycle", "owned_by", "value" },
  flags = { cycle = true },
}

-- ownership: 'a' is OWNED BY, 'i' an identity column's own sequence
function kind.query(q)
  return ([[
SELECT c.oid, c.relnamespace AS nsp, pg_catalog.quote_ident(c.relname) AS relname, %s AS owner, %s AS acl,
       pg_catalog.format_type(s.seqtypid, NULL) AS data_type,
       s.seqstart, s.seqincrement, s.seqmax, s.seqmin, s.seqcache, s.seqcycle,
       d.refobjid AS owner_rel, d.refobjsubid AS owner_col, d.deptype AS owner_type, %s AS value
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid
  LEFT JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
       AND d.objid = c.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
       AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
 WHERE c.relnamespace = ANY ($1::pg_catalog.oid[]) AND c.relkind = 'S']])
    :format(q.owner("c.relowner"), q.acl("c.relacl", "c.relowner"),
      -- the last value handed out; NULL before the first (or without the
      -- privilege to see it)
      q.opts.sequence_values and "pg_catalog.pg_sequence_last_value(c.oid)" or "NULL::pg_catalog.int8")
end

function kind.read(r, rows)
  local sequences = r.snap.sequences
  r.identity_sequence = {}
  local values = r.opts.sequence_values
  for _, row in ipairs(rows) do
    if values and row.value == nil then row.value = "unused" end
    if not r.member(r.class.pg_class, row.oid) then
      if row.owner_type == "i" then
        r.identity_sequence[row.oid] = row
      else
        local name = r.nsp_name[row.nsp] .. "." .. row.relname
        local obj = {
          kind = "sequences", name = name, schema = r.nsp_name[row.nsp], owner = row.owner, acl = row.acl,
          data_type = row.data_type, start = row.seqstart, increment = row.seqincrement, min = row.seqmin,
          max = row.seqmax, cache = row.seqcache, cycle = row.seqcycle or nil, value = row.value,
          -- with sequence_values: the last value, or "unused"
          owner_rel = row.owner_rel, owner_col = row.owner_col,
        }
        sequences[name] = obj
        r.by_class[row.oid] = obj
      end
    end
  end
end

-- The bounds of the integer types a sequence can have.
local type_bounds = {
  smallint = { -32768, 32767 },
  integer = { -2147483648, 2147483647 },
  bigint = { math.mininteger, math.maxinteger },
}

-- The options a sequence of data_type gets when they are not given,
-- given the increment (and the bounds, for the start).
local function defaults(data_type, increment, min, max)
  local bounds = type_bounds[data_type] or type_bounds.bigint
  local up = increment > 0
  local d = { increment = 1, cache = 1, cycle = false }
  d.min = up and 1 or bounds[1]
  d.max = up and bounds[2] or -1
  d.start = up and (min or d.min) or (max or d.max)
  return d
end

-- An identity sequence's options that differ from the defaults, in the
-- order CREATE writes them: { "START WITH 10", "INCREMENT BY 5" }.
function kind.identity_options(row)
  local d = defaults(row.data_type, row.seqincrement, row.seqmin, row.seqmax)
  local out = {}
  if row.seqstart ~= d.start then out[#out + 1] = "START WITH " .. row.seqstart end
  if row.seqincrement ~= d.increment then out[#out + 1] = "INCREMENT BY " .. row.seqincrement end
  if row.seqmin ~= d.min then out[#out + 1] = "MINVALUE " .. row.seqmin end
  if row.seqmax ~= d.max then out[#out + 1] = "MAXVALUE " .. row.seqmax end
  if row.seqcache ~= d.cache then out[#out + 1] = "CACHE " .. row.seqcache end
  if row.seqcycle then out[#out + 1] = "CYCLE" end
  return #out > 0 and out or nil
end

-- identity_options -> every option's value, the defaults filled in.
function kind.identity_values(options, data_type)
  local given = {}
  for _, o in ipairs(options or {}) do
    local word, value = o:match("^(%u[%u ]-) (%-?%d+)$")
    if word then given[word] = math.tointeger(tonumber(value)) end
    if o == "CYCLE" then given.CYCLE = true end
  end
  local increment = given["INCREMENT BY"] or 1
  local d = defaults(data_type, increment, given.MINVALUE, given.MAXVALUE)
  return {
    increment = increment, min = given.MINVALUE or d.min, max = given.MAXVALUE or d.max,
    start = given["START WITH"] or d.start, cache = given.CACHE or d.cache, cycle = given.CYCLE or false,
  }
end

-- ALTER COLUMN ... SET clauses that turn identity options a into b, and
-- whether they RESTART the sequence: when the bounds narrow or the
-- direction turns, the current value may lie outside them (this loses the
-- sequence's position).
function kind.identity_changes(a, b, data_type)
  local va, vb = kind.identity_values(a, data_type), kind.identity_values(b, data_type)
  local out = {}
  if va.increment ~= vb.increment then out[#out + 1] = "SET INCREMENT BY " .. vb.increment end
  if va.min ~= vb.min then out[#out + 1] = "SET MINVALUE " .. vb.min end
  if va.max ~= vb.max then out[#out + 1] = "SET MAXVALUE " .. vb.max end
  if va.start ~= vb.start then out[#out + 1] = "SET START WITH " .. vb.start end
  if va.cache ~= vb.cache then out[#out + 1] = "SET CACHE " .. vb.cache end
  if va.cycle ~= vb.cycle then out[#out + 1] = vb.cycle and "SET CYCLE" or "SET NO CYCLE" end
  local restart = vb.min > va.min or vb.max < va.max or (va.increment > 0) ~= (vb.increment > 0)
  if restart then out[#out + 1] = "RESTART" end
  return out, restart
end

-- after the columns: OWNED BY as a column name, identity sequences'
-- options on their column, and identity sequences standing for their
-- column in pg_depend
function kind.finish(r)
  local sequences, columns_of = r.snap.sequences, r.columns_of
  for oid, row in pairs(r.identity_sequence) do
    local col = columns_of[row.owner_rel] and columns_of[row.owner_rel][row.owner_col]
    if col then
      r.by_class[oid] = col.inherited and col.table or col
      if col.kind == "columns" then
        col.identity_options = kind.identity_options(row)
        col.identity_value = row.value
      end
    end
  end
  for name, obj in pairs(sequences) do
    if obj.owner_rel then
      local col = columns_of[obj.owner_rel] and columns_of[obj.owner_rel][obj.owner_col]
      if col and col.kind == "columns" then
        obj.owned_by = col.name
      elseif not r.by_class[obj.owner_rel] then
        -- owned by a column of a table left out: left out with it
        sequences[name] = nil
      end
    end
    obj.owner_rel, obj.owner_col = nil, nil
  end
end

function kind.summary(obj)
  return obj.owned_by and ("owned by " .. obj.owned_by) or obj.data_type
end

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

-- SELECT setval(...) that puts a sequence where `value` says ("unused":
-- back at its start). sequence: an SQL expression naming it.
function kind.set_value(sequence, value, start)
  if value == "unused" then
    return sql.stmt(string.format("SELECT pg_catalog.setval(%s, %s, false);", sequence, start or 1))
  end
  return sql.stmt(string.format("SELECT pg_catalog.setval(%s, %s, true);", sequence, value))
end

function kind.create(item)
  local o = item.obj
  local out = { sql.stmt("CREATE SEQUENCE " .. item.name .. " " .. sequence_options(o) .. ";") }
  if o.value then out[2] = kind.set_value(sql.literal(o.name), o.value) end
  return out
end

function kind.drop(item) return { sql.stmt("DROP SEQUENCE " .. item.name .. ";", "deletes_data") } end

function kind.alter(a, b)
  local changed, any = {}, false
  for _, f in ipairs({ "data_type", "increment", "min", "max", "start", "cache", "cycle" }) do
    if a.obj[f] ~= b.obj[f] then changed[f] = true; any = true end
  end
  local out = {}
  if any then out[1] = sql.stmt("ALTER SEQUENCE " .. b.name .. " " .. sequence_options(b.obj, changed) .. ";") end
  if a.obj.value ~= b.obj.value then
    out[#out + 1] = kind.set_value(sql.literal(b.name), b.obj.value, b.obj.start)
  end
  return sql.changes(out)
end

-- OWNED BY, as a part: { sequence = name, value = "app.t.c" }
kind.parts = {
  owned_by = {
    -- the OWNED BY item holds the sequence's dependency on its column
    item = function(obj, sequence)
      if not obj.owned_by then return nil end
      local column = "columns " .. obj.owned_by
      sequence.deps[column] = nil
      sequence.owner_column = column
      return { sequence = obj.name, value = obj.owned_by, deps = { [column] = "a", [sequence.key] = "p" } }
    end,
    summary = function(item) return "owned by " .. item.value end,
    create = function(item)
      return { sql.stmt(string.format("ALTER SEQUENCE %s OWNED BY %s;", item.sequence, item.value)) }
    end,
    drop = function(item)
      return { sql.stmt(string.format("ALTER SEQUENCE %s OWNED BY NONE;", item.sequence)) }
    end,
    alter = function(a, b)
      if a.value == b.value then return nil end
      return { statements = { sql.stmt(string.format("ALTER SEQUENCE %s OWNED BY %s;", b.sequence, b.value)) } }
    end,
  },
}

return kind
