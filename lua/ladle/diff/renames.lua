-- ladle.diff.renames: with opts.renames, a table (or a column) that is
-- only in A and one that is only in B, with the same definition, are taken
-- for one object renamed. The plan then works from A as the renames leave
-- it, after ALTER ... RENAME statements that say they were inferred.
--
--   local list = renames.infer(a, b)        -- { {kind, from, to, table}, ... }
--   local renamed = renames.apply(a, list)  -- a snapshot of A after them
--   local steps = renames.statements(list)
--
-- Only one-to-one matches count: two dropped tables that look alike, or
-- two added ones, are left as drops and creates.

local ident = require "ladle.ident"
local sql = require "ladle.schema.sql"
local kinds = require "ladle.schema.kinds"

local renames = {}

local table_fields = kinds.by_name.tables.fields
local column_fields = { "type", "collation", "notnull", "default", "identity", "identity_options", "generated" }

local function field_text(obj, fields)
  local parts = {}
  for i, f in ipairs(fields) do
    local v = obj[f]
    parts[i] = type(v) == "table" and table.concat(v, ",") or tostring(v)
  end
  return table.concat(parts, "|")
end

-- the columns of each table, by table name
local function columns_by_table(snap)
  local out = {}
  for _, col in pairs(snap.columns or {}) do
    local list = out[col.table]
    if not list then list = {}; out[col.table] = list end
    list[#list + 1] = col
  end
  return out
end

local function table_signature(t, cols)
  local lines = {}
  for _, col in ipairs(cols or {}) do lines[#lines + 1] = col.column .. " " .. field_text(col, column_fields) end
  table.sort(lines)
  return (t.schema or "") .. "\n" .. field_text(t, table_fields) .. "\n" .. table.concat(lines, "\n")
end

-- Pairs the keys of `gone` and `new` (key -> signature) whose signature
-- matches exactly one on each side.
local function match(gone, new)
  local by_sig_gone, by_sig_new = {}, {}
  -- false: more than one
  for k, sig in pairs(gone) do by_sig_gone[sig] = by_sig_gone[sig] == nil and k end
  for k, sig in pairs(new) do by_sig_new[sig] = by_sig_new[sig] == nil and k end
  local out = {}
  for sig, from in pairs(by_sig_gone) do
    local to = by_sig_new[sig]
    if from and to then out[#out + 1] = { from = from, to = to } end
  end
  table.sort(out, function(x, y) return x.from < y.from end)
  return out
end

function renames.infer(a, b)
  local list = {}
  local cols_a, cols_b = columns_by_table(a), columns_by_table(b)
  local gone, new = {}, {}
  for name, t in pairs(a.tables or {}) do
    if not b.tables[name] then gone[name] = table_signature(t, cols_a[name]) end
  end
  for name, t in pairs(b.tables or {}) do
    if not a.tables[name] then new[name] = table_signature(t, cols_b[name]) end
  end
  local renamed_to = {}
  for _, m in ipairs(match(gone, new)) do
    list[#list + 1] = { kind = "tables", from = m.from, to = m.to }
    renamed_to[m.from] = m.to
  end
  -- columns of tables on both sides (renamed ones under their new name)
  for name in pairs(a.tables or {}) do
    local target = renamed_to[name] or name
    if b.tables[target] and not (renamed_to[name] == nil and not b.tables[name]) then
      local in_b = {}
      for _, col in ipairs(cols_b[target] or {}) do in_b[col.column] = col end
      local in_a = {}
      for _, col in ipairs(cols_a[name] or {}) do in_a[col.column] = col end
      local cgone, cnew = {}, {}
      for c, col in pairs(in_a) do if not in_b[c] then cgone[c] = field_text(col, column_fields) end end
      for c, col in pairs(in_b) do if not in_a[c] then cnew[c] = field_text(col, column_fields) end end
      for _, m in ipairs(match(cgone, cnew)) do
        list[#list + 1] = { kind = "columns", table = target, from = m.from, to = m.to }
      end
    end
  end
  return list
end

-- a qualified table name as a whole token in a text
local function replace_name(text, from, to)
  if type(text) ~= "string" then return text end
  local out, i = {}, 1
  while true do
    local s, e = text:find(from, i, true)
    if not s then break end
    local before, after = text:sub(s - 1, s - 1), text:sub(e + 1, e + 1)
    if not before:match("[%w_$\".]") and not after:match("[%w_$\"]") then
      out[#out + 1] = text:sub(i, s - 1) .. to
    else
      out[#out + 1] = text:sub(i, e)
    end
    i = e + 1
  end
  out[#out + 1] = text:sub(i)
  return table.concat(out)
end

-- fields that name a table, and texts the server prints from references
-- (not function bodies, which keep what was written)
local name_fields = { "table", "partition_of", "owned_by" }
local list_fields = { "inherits", "tables" }
local text_fields = { constraints = true, indexes = true, triggers = true, rules = true, statistics = true }

-- A copy of snapshot a as the renames leave it: objects renamed and the
-- references to them rewritten (the objects are copied).
function renames.apply(a, list)
  local table_map, column_map = {}, {}
  for _, r in ipairs(list) do
    if r.kind == "tables" then
      table_map[r.from] = r.to
    else
      column_map[r.table .. "." .. r.from] = { name = r.table .. "." .. r.to, column = r.to }
    end
  end
  local column_kinds = { columns = true, defaults = true, identity_values = true }
  -- the name of an object (of kind `kind`) after the renames
  local function new_name(name, kind)
    for from, to in pairs(table_map) do
      if name == from then return to end
      if name:sub(1, #from + 1) == from .. "." then name = to .. name:sub(#from + 1); break end
    end
    local c = column_kinds[kind] and column_map[name]
    return c and c.name or name
  end
  local out = setmetatable({}, getmetatable(a))
  for k, v in pairs(a) do out[k] = v end
  for _, kind in ipairs(kinds.object_kinds) do
    if a[kind] then
      local dst = {}
      for name, obj in pairs(a[kind]) do
        local copy = {}
        for f, v in pairs(obj) do copy[f] = v end
        for _, f in ipairs(name_fields) do
          if copy[f] then copy[f] = new_name(copy[f], f == "owned_by" and "columns" or "tables") end
        end
        for _, f in ipairs(list_fields) do
          if type(copy[f]) == "table" then
            local l = {}
            for i, v in ipairs(copy[f]) do
              local first, rest = v:match("^(%S+)(.*)$")
              l[i] = first and (new_name(first, "tables") .. rest) or v
            end
            copy[f] = l
          end
        end
        if text_fields[kind] and copy.definition then
          for from, to in pairs(table_map) do copy.definition = replace_name(copy.definition, from, to) end
        end
        if kind == "tables" or copy.table then copy.name = new_name(name, "tables") end
        local c = kind == "columns" and column_map[copy.name]
        if c then copy.name, copy.column = c.name, c.column end
        dst[copy.name] = copy
      end
      out[kind] = dst
    end
  end
  if a.depends then
    local function key_of(k)
      local kind, name = k:match("^(%S+) (.*)$")
      return kind .. " " .. new_name(name, kind)
    end
    local depends = {}
    for k, refs in pairs(a.depends) do
      local r = {}
      for ref, deptype in pairs(refs) do r[key_of(ref)] = deptype end
      depends[key_of(k)] = r
    end
    out.depends = depends
  end
  return out
end

-- The RENAME statements, each saying it was inferred.
function renames.statements(list)
  local out = {}
  for _, r in ipairs(list) do
    local text
    if r.kind == "tables" then
      text = string.format("-- ladle: inferred rename (same definition), from --renames\nALTER TABLE %s RENAME TO %s;",
        r.from, ident.last(r.to))
    else
      text = string.format("-- ladle: inferred rename (same definition), from --renames\n"
        .. "ALTER TABLE %s RENAME COLUMN %s TO %s;", r.table, r.from, r.to)
    end
    out[#out + 1] = { rename = r, statement = sql.stmt(text, "access_exclusive_lock") }
  end
  return out
end

return renames
