-- Columns a table inherits (from a parent, or as a partition) whose
-- default or NOT NULL is not its parent's: set on the child with ALTER
-- TABLE child ALTER COLUMN. The rest of such a column is its parent's
-- (ladle.schema.kinds.columns). Differences are reported as columns.
--
-- An object holds what the child has (default, notnull) and what its
-- nearest parent has (parent_default, parent_notnull). A statement on
-- the parent's column goes down to its children (no ONLY), so the SQL
-- here starts from the parent's value when that changes, and comes after
-- every statement on the columns above it.

local sql = require "ladle.schema.sql"
local util = require "ladle.schema.util"
local inheritance = require "ladle.schema.inheritance"

local kind = {
  name = "inherited_columns", singular = "inherited column", category = "columns",
  fields = { "default", "notnull" }, flags = { notnull = true },
}

-- The columns were read by ladle.schema.kinds.columns (r.columns_of);
-- a child's column is compared with the first parent that has it.
function kind.finish(r)
  local snap = r.snap
  -- only children and their parents (most tables are neither)
  local involved, any = {}, false
  for name, t in pairs(snap.tables) do
    local parents = inheritance.parents(t)
    if #parents > 0 then
      involved[name], any = true, true
      for _, p in ipairs(parents) do involved[p] = true end
    end
  end
  if not any then return end
  local by_table, attrdef = {}, r.refs[r.class.pg_attrdef]
  for rel, cols in pairs(r.columns_of) do
    local owner = r.by_class[rel]
    if owner and owner.kind == "tables" and involved[owner.name] then
      local map = {}
      for _, entry in pairs(cols) do
        if entry.column then map[entry.column] = entry end
      end
      by_table[owner.name] = map
    end
  end
  -- the nearest parent that has a column, and those above it
  local function ancestors(t, column)
    local chain, seen = {}, {}
    while t and not seen[t] do
      seen[t] = true
      local next_t
      for _, p in ipairs(inheritance.parents(snap.tables[t])) do
        if by_table[p] and by_table[p][column] then next_t = p break end
      end
      if next_t then chain[#chain + 1] = next_t end
      t = next_t
    end
    return chain
  end
  for t, map in pairs(by_table) do
    for column, entry in pairs(map) do
      if entry.inherited and not entry.generated then
        local chain = ancestors(t, column)
        local parent = chain[1] and by_table[chain[1]][column]
        if parent and not parent.generated and not parent.identity then
          local pdefault, pnotnull = parent.default, parent.notnull or false
          if entry.default ~= pdefault or entry.notnull ~= pnotnull then
            local name = t .. "." .. column
            -- what the child's default uses (pg_depend is read last)
            if entry.defoid then attrdef[entry.defoid] = r.pseudo("inherited_columns", name) end
            snap.inherited_columns[name] = {
              kind = "inherited_columns", name = name, table = t, column = column,
              default = entry.default, notnull = entry.notnull, parent = chain[1],
              parent_default = pdefault, parent_notnull = pnotnull, ancestors = chain,
            }
          end
        end
      end
    end
  end
end

-- After the columns above it, their defaults and their own settings.
function kind.depends(obj, deps)
  for _, t in ipairs(obj.ancestors) do
    local name = t .. "." .. obj.column
    deps["columns " .. name] = deps["columns " .. name] or "n"
    deps["defaults " .. name] = "n"
    deps["inherited_columns " .. name] = "n"
  end
end

function kind.summary(obj)
  local parts = {}
  if obj.default ~= obj.parent_default then
    parts[#parts + 1] = string.format("default %s (%s: %s)", util.show(obj.default), obj.parent,
      util.show(obj.parent_default))
  end
  if obj.notnull ~= obj.parent_notnull then
    parts[#parts + 1] = string.format("%s (%s: %s)", obj.notnull and "not null" or "null", obj.parent,
      obj.parent_notnull and "not null" or "null")
  end
  return table.concat(parts, ", ")
end

-- what differs, and a setting made again after its parent's changed
function kind.describe(a, b)
  local out = {}
  if a.default ~= b.default then
    out[#out + 1] = string.format("default: %s -> %s", util.show(a.default), util.show(b.default))
  end
  if a.notnull ~= b.notnull then
    out[#out + 1] = string.format("not null: %s -> %s", util.show(a.notnull), util.show(b.notnull))
  end
  if #out == 0 and (a.parent_default ~= b.parent_default or a.parent_notnull ~= b.parent_notnull) then
    out[1] = "set again after " .. b.parent .. "'s change"
  end
  return out
end

local function set_default(o, value)
  if value == nil then
    return sql.stmt(string.format("ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT;", o.table, o.column))
  end
  return sql.stmt(string.format("ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s;", o.table, o.column, value))
end

local function set_notnull(o, value)
  if value then
    return sql.stmt(string.format("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL;", o.table, o.column),
      "validation_scan", "access_exclusive_lock")
  end
  return sql.stmt(string.format("ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL;", o.table, o.column),
    "access_exclusive_lock")
end

-- From `now` (what the child has when the statements run) to `o`.
local function statements(o, now_default, now_notnull)
  local out = {}
  if o.default ~= now_default then out[#out + 1] = set_default(o, o.default) end
  if o.notnull ~= now_notnull then out[#out + 1] = set_notnull(o, o.notnull) end
  return out
end

-- A table whose parents change is seen to by its ALTER TABLE
-- (ladle.schema.kinds.tables).
local function moved(o, ctx) return inheritance.moved(ctx.a, ctx.b, o.table) end

-- the child had its parent's value, which the parent's statements gave it
function kind.create(item, ctx)
  local o = item.obj
  if moved(o, ctx) then return {} end
  return statements(o, o.parent_default, o.parent_notnull)
end

-- back to the parent's value, unless the parent's own change brings it
function kind.drop(item, ctx)
  local o = item.obj
  if not ctx.b.tables[o.table] or moved(o, ctx) then return {} end
  local now = inheritance.effective(ctx.b, o.parent, o.column)
  if not now then return {} end
  local out = {}
  if o.default ~= o.parent_default and now.default == o.parent_default then
    out[#out + 1] = set_default(o, o.parent_default)
  end
  if o.notnull ~= o.parent_notnull and now.notnull == o.parent_notnull then
    out[#out + 1] = set_notnull(o, o.parent_notnull)
  end
  return out
end

function kind.alter(a, b, ctx)
  local oa, ob = a.obj, b.obj
  if moved(ob, ctx) then return nil end
  -- a parent's change came down to the child first
  local now_default, now_notnull = oa.default, oa.notnull
  if oa.parent_default ~= ob.parent_default then now_default = ob.parent_default end
  if oa.parent_notnull ~= ob.parent_notnull then now_notnull = ob.parent_notnull end
  return sql.changes(statements(ob, now_default, now_notnull))
end

return kind
