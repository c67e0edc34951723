-- ladle.diff.items: a snapshot as the planner's items.
--
-- Every object is an item, and so is every part of an object that changes
-- on its own: a column's default, a sequence's OWNED BY (the kinds'
-- `parts`), an object's privileges, its comment and (when compared) its
-- owner. An item:
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

-- items.build(snap, opts) -> { items = {key -> item}, columns_of = {table
-- -> columns in order}, default_of = {column -> default} }. opts.owners:
-- owners are items too.
function items.build(snap, opts)
  local all, columns_of, default_of = {}, {}, {}
  local function add(item)
    item.deps = item.deps or {}
    all[item.key] = item
    return item
  end
  local depends = snap.depends or {}
  local owners = opts and opts.owners
  -- "kind name" strings made once per schema and parent, not per item
  local schema_keys, parent_keys = {}, {}
  for name in pairs(snap.schemas or {}) do schema_keys[name] = "schemas " .. name end
  for _, kind in ipairs(kinds.object_kinds) do
    local k = kinds.by_name[kind]
    for name, obj in pairs(snap[kind] or {}) do
      local key = kind .. " " .. name
      local item = add { key = key, kind = kind, name = name, obj = obj }
      for ref, deptype in pairs(depends[key] or {}) do item.deps[ref] = deptype end
      local owner = obj.table or obj.domain
      if owner then
        local pk = parent_keys[owner]
        if not pk then pk = kinds.parent_key(obj); parent_keys[owner] = pk end
        item.parent = pk
        item.deps[pk] = "p"
      end
      local sk = obj.schema and schema_keys[obj.schema]
      if sk then item.deps[sk] = "s" end
      if k.depends then k.depends(obj, item.deps) end
      -- the parts a kind has of its own: a column's default, ...
      for part, handler in pairs(k.parts or {}) do
        local p = handler.item(obj, item)
        if p then
          p.key, p.kind, p.name, p.parent = part .. " " .. name, part, name, key
          add(p)
          for ref, deptype in pairs(depends[p.key] or {}) do p.deps[ref] = deptype end
          p.deps[key] = p.deps[key] or "p"
        end
      end
      if kind == "columns" then
        local list = columns_of[obj.table]
        if not list then list = {}; columns_of[obj.table] = list end
        list[#list + 1] = obj
        default_of[name] = obj.default
      end
      local display = k.singular .. " " .. name
      if k.acl then
        add { key = "privileges " .. key, kind = "privileges", name = display, parent = key,
              target = item, what = privilege_target(k, obj), value = privileges.of(snap, obj, k.acl),
              column = k.privilege_column and k.privilege_column(obj),
              default = snap.acl_defaults and snap.acl_defaults[k.acl] or {}, deps = { [key] = "p" } }
      end
      if obj.comment then
        add { key = "comments " .. key, kind = "comments", name = display, parent = key,
              target = item, what = comment_target(k, obj), value = obj.comment, deps = { [key] = "p" } }
      end
      if owners and k.owned and obj.owner then
        add { key = "owners " .. key, kind = "owners", name = display, parent = key,
              target = item, what = comment_target(k, obj), value = obj.owner, deps = { [key] = "p" } }
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
