-- ladle.schema.kinds: the object kinds a snapshot holds, one module each
-- under ladle.schema.kinds.<name>. The snapshot reader, the comparer and
-- the planner (ladle.diff) loop over this list; adding a kind is adding
-- its module here and its fixtures (doc/schema-diff.md, "Adding a kind").
--
-- A kind module is a table:
--
--   name, singular       "tables", "table"
--   fields               the fields compared, in the order they are described
--   flags, unordered, long   fields that are yes/no, lists whose order does
--                        not matter, long texts ("definition differs")
--   acl                  acldefault's letter when objects have privileges
--   owned                objects have owners (obj.owner; ALTER names them as
--                        COMMENT ON does)
--   comment              "TABLE": what COMMENT ON names (or comment_target(obj))
--   privilege_target(obj)  "TABLE app.t": what GRANT names
--   privilege_column(obj)  the column GRANT names, for column privileges
--   first                its queries go out before the schemas are known
--   query(q) -> sql, ... its catalog queries (ladle.schema.query); $1 in
--                        one is the array of the schemas' OIDs
--   read(r, rows, ...)   turns their rows into objects (ladle.schema.reader)
--   finish(r)            after every kind was read
--   summary(obj)         a one-line summary of an object on one side only
--   depends(obj, deps)   dependencies that pg_depend does not record
--   create(item, ctx), drop(item, ctx), alter(a, b, ctx)
--                        the SQL (ladle.diff: items and ctx); alter returns
--                        nil when equal, "rebuild", or { statements, ... }
--   inline               created as part of its parent when the parent is new
--   parts                item kinds of its own: a column's default, a table's
--                        replica identity, ...; each handler's item(obj,
--                        parent_item) gives its item or nil (deps it fills
--                        are kept), label names its value in a change line
--   describe(a, b)       what differs, when fields alone do not say it
--
-- Privileges and comments are attributes of the objects (acl, comment);
-- their modules read and write them for every kind.

local kinds = {}

-- The categories of differences, in the order check reports them (and
-- -i takes them); pum's (tables columns constraints views sequences
-- indexes triggers functions rules) are among them.
kinds.order = {
  "schemas", "extensions", "collations", "types", "domains", "sequences", "tables", "foreign_tables",
  "columns", "constraints", "indexes", "statistics", "views", "materialized_views", "functions", "aggregates",
  "operators", "casts", "transforms", "triggers", "rules", "policies", "event_triggers",
  "foreign_data_wrappers", "servers", "publications", "text_search_dictionaries",
  "text_search_configurations", "privileges", "comments", "owners",
}

-- Every kind's module, in the order the catalog is read: each reads what
-- the ones before it left in the reader's maps.
kinds.read_order = {
  "privileges", "schemas", "extensions", "foreign_data_wrappers", "servers", "collations", "types", "domains",
  "tables", "foreign_tables", "views", "materialized_views", "sequences", "columns", "inherited_columns",
  "constraints", "indexes", "statistics", "functions", "aggregates", "operators", "casts", "transforms", "triggers", "rules", "policies",
  "event_triggers", "publications", "text_search_dictionaries", "text_search_configurations",
  "default_privileges", "comments", "owners",
}

kinds.rank = {}
for i, name in ipairs(kinds.order) do kinds.rank[name] = i end

-- by_name[kind] = module; category[kind] = the category its differences
-- are reported in (a kind's own name unless it says otherwise)
kinds.by_name, kinds.category = {}, {}
local seen_later = false
for _, name in ipairs(kinds.read_order) do
  local k = require("ladle.schema.kinds." .. name)
  kinds.by_name[name] = k
  kinds.category[name] = k.category or name
  -- the reader reads answers in the order it sent the queries
  assert(not (k.first and seen_later), "kinds sent first must come first in read_order: " .. name)
  seen_later = seen_later or not k.first
end

-- Kinds whose objects a snapshot holds (privileges and comments are
-- attributes of those objects), in the order of their categories.
kinds.object_kinds = {}
for _, name in ipairs(kinds.read_order) do
  if not kinds.by_name[name].attribute then kinds.object_kinds[#kinds.object_kinds + 1] = name end
end
local read_position = {}
for i, name in ipairs(kinds.read_order) do read_position[name] = i end
table.sort(kinds.object_kinds, function(x, y)
  local rx, ry = kinds.rank[kinds.category[x]], kinds.rank[kinds.category[y]]
  if rx ~= ry then return rx < ry end
  return read_position[x] < read_position[y]
end)

-- Item kinds of the planner: every kind, and the parts kinds have of their
-- own (a column's default, a sequence's OWNED BY).
kinds.items = {}
for _, name in ipairs(kinds.read_order) do
  local k = kinds.by_name[name]
  kinds.items[name] = k
  for part, handler in pairs(k.parts or {}) do
    kinds.items[part] = handler
    kinds.category[part] = kinds.category[name]
  end
end

function kinds.singular(name)
  local k = kinds.by_name[name]
  return k and k.singular or name
end

-- The object a sub-object belongs to, as "kind name" (nil for top level).
function kinds.parent_key(obj)
  if obj.table then
    return (obj.table_kind or "tables") .. " " .. obj.table
  elseif obj.domain then
    return "domains " .. obj.domain
  elseif obj.kind == "sequences" and obj.owned_by then
    return "columns " .. obj.owned_by
  end
  return nil
end

-- For command-line flags: true, or false and the known kinds.
function kinds.known(value)
  if kinds.rank[value] then return true end
  return false, "known kinds: " .. table.concat(kinds.order, " ")
end

return kinds
