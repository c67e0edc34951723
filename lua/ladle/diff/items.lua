-- ladle.diff.items: a snapshot as the planner's items.
--
-- Every object is an item, and so is every part of an object that changes
-- on its own: a column's default, a sequence's OWNED BY (the kinds'
-- `parts`), an object's privileges and its comment. An item:
--   { key = "kind name", kind, name, obj, deps = { ["kind name"] = deptype },
--     parent = key, value = ... (parts), target = item (privileges, comments) }
-- deps are pg_depend's plus the structure: parent ("p"), schema ("s"),
-- and what the kind's depends() adds (partitions under their parent).

local kinds = require "ladle.schema.kinds"
local privileges = require "ladle.schema.kinds.privileges"

local items = {}

local function privilege_target(k, obj)
  if k.privilege_target then return k.privilege_target(obj) end
  return "TABLE " .. obj.name
end

local function comment_target(k, obj)
  if k.comment_target then return k.comment_target(obj) end
  return k.comment .. " " .. obj.name
end

-- items.build(snap) -> { items = {key -> item}, columns_of = {table -> columns
-- in order}, default_of = {column -> default} }
function items.build(snap)
  local all, columns_of, default_of = {}, {}, {}
  local function add(item)
    item.deps = item.deps or {}
    all[item.key] = item
    return item
  end
  local depends = snap.depends or {}
  -- "kind name" strings made once per schema and parent, not per item
  local schema_keys, parent_keys = {}, {}
  for name in pairs(snap.schemas or {}) do schema_keys[name] = "schemas " .. name end
  for _, kind in ipairs(kinds.object_kinds) do
    local k = kinds.by_name[kind]
    for name, obj in pairs(snap[kind] or {}) do
      local key = kind .. " " .. name
      local item = add { key = key, kind = kind, name = name, obj = obj }
      for ref, deptype in pairs(depends[key] or {}) do item.deps[ref] = deptype end
      if kind == "sequences" then
        if obj.owned_by then
          local column = "columns " .. obj.owned_by
          item.deps[column] = nil  -- the OWNED BY item holds this one
          item.owner_column = column
          add { key = "owned_by " .. name, kind = "owned_by", name = name, sequence = name, parent = key,
                value = obj.owned_by, deps = { [column] = "a", [key] = "p" } }
        end
      else
        local owner = obj.table or obj.domain
        if owner then
          local pk = parent_keys[owner]
          if not pk then pk = kinds.parent_key(obj); parent_keys[owner] = pk end
          item.parent = pk
          item.deps[pk] = "p"
        end
      end
      local sk = obj.schema and schema_keys[obj.schema]
      if sk then item.deps[sk] = "s" end
      if k.depends then k.depends(obj, item.deps) end
      if kind == "columns" then
        local list = columns_of[obj.table]
        if not list then list = {}; columns_of[obj.table] = list end
        list[#list + 1] = obj
        if obj.default then
          default_of[name] = obj.default
          local dkey = "defaults " .. name
          local d = add { key = dkey, kind = "defaults", name = name, parent = key, value = obj.default,
                          table = obj.table, column = obj.column, table_kind = obj.table_kind }
          for ref, deptype in pairs(depends[dkey] or {}) do d.deps[ref] = deptype end
          d.deps[key] = "p"
        end
      end
      if k.acl then
        add { key = "privileges " .. key, kind = "privileges", name = k.singular .. " " .. name, parent = key,
              target = item, what = privilege_target(k, obj), value = privileges.of(snap, obj, k.acl),
              column = k.privilege_column and k.privilege_column(obj),
              default = snap.acl_defaults and snap.acl_defaults[k.acl] or {}, deps = { [key] = "p" } }
      end
      if obj.comment then
        add { key = "comments " .. key, kind = "comments", name = k.singular .. " " .. name, parent = key,
              target = item, what = comment_target(k, obj), value = obj.comment, deps = { [key] = "p" } }
      end
    end
  end
  for _, list in pairs(columns_of) do
    table.sort(list, function(x, y) return x.position < y.position end)
  end
  return { items = all, columns_of = columns_of, default_of = default_of }
end

-- Who depends on key (sorted), from the reverse of the items' deps, made
-- when first asked for.
function items.dependents(side, key)
  local index = side.dependents
  if not index then
    index = {}
    for k, item in pairs(side.items) do
      for ref in pairs(item.deps) do
        local d = index[ref]
        if not d then d = {}; index[ref] = d end
        d[#d + 1] = k
      end
    end
    side.dependents = index
    side.sorted = {}
  end
  local list = index[key]
  if list and not side.sorted[key] then
    table.sort(list)
    side.sorted[key] = true
  end
  return list or {}
end

return items
