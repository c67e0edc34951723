-- ladle.schema.inheritance: the columns a table inherits, as a snapshot
-- holds them. A table's own columns are snap.columns; a column it
-- inherits is its parent's, unless its default or NOT NULL was set on the
-- child: then snap.inherited_columns holds what the child has (see
-- ladle.schema.kinds.inherited_columns).

local inheritance = {}

-- The parents of a table object, nearest first (inheritance or partition).
function inheritance.parents(t)
  if not t then return {} end
  if t.partition_of then return { t.partition_of } end
  return t.inherits or {}
end

-- Whether a table's parents differ between two snapshots.
function inheritance.moved(a, b, table_name)
  local ta, tb = a.tables[table_name], b.tables[table_name]
  if not ta or not tb then return false end
  local pa, pb = inheritance.parents(ta), inheritance.parents(tb)
  if #pa ~= #pb then return true end
  for i = 1, #pa do
    if pa[i] ~= pb[i] then return true end
  end
  return false
end

-- What a table's column is, own or inherited: { type, collation, default,
-- notnull, generated, identity } or nil when the table has no such column.
-- The default and NOT NULL come from the nearest table that sets them.
function inheritance.effective(snap, table_name, column)
  local out, seen, pending = nil, {}, { table_name }
  while #pending > 0 do
    local t = table.remove(pending, 1)
    if not seen[t] then
      seen[t] = true
      local name = t .. "." .. column
      local own, override = snap.columns[name], snap.inherited_columns and snap.inherited_columns[name]
      if override and not out then
        out = { default = override.default, notnull = override.notnull }
      end
      if own then
        out = out or { default = own.default, notnull = own.notnull or false }
        out.type, out.collation, out.generated, out.identity = own.type, own.collation, own.generated, own.identity
        return out
      end
      for _, p in ipairs(inheritance.parents(snap.tables[t])) do pending[#pending + 1] = p end
    end
  end
  return nil
end

-- The names of the columns a table inherits: a set. columns_of[table]
-- lists each table's own columns (ladle.diff.items).
function inheritance.inherited_names(snap, columns_of, table_name)
  local names, seen = {}, {}
  local function collect(t)
    if seen[t] then return end
    seen[t] = true
    for _, p in ipairs(inheritance.parents(snap.tables[t])) do
      for _, col in ipairs(columns_of[p] or {}) do names[col.column] = true end
      collect(p)
    end
  end
  collect(table_name)
  return names
end

return inheritance
