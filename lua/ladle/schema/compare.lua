-- ladle.schema.compare: the differences between two snapshots, in the
-- kinds' order, one line each (what `ladle check` prints).
--
--   { sign = "+"|"-"|"~", category = kind, name = identity, what = text,
--     before = object in a, after = object in b, line = "~ columns ..." }
--
-- "+" exists only in b, "-" only in a, "~" in both but different. An
-- object that exists on one side only stands for what belongs to it
-- (columns of a missing table are not listed again) unless its own
-- category is ignored.

local kinds = require "ladle.schema.kinds"
local privileges = require "ladle.schema.kinds.privileges"
local util = require "ladle.schema.util"

local compare = {}

local function field_value(k, obj, field)
  local value = obj[field]
  if k.unordered and k.unordered[field] then return util.sorted(value) end
  return value
end

-- What differs between two versions of one object of kind `kind`: a list
-- of short descriptions, empty when they are the same. opts.column_order
-- compares column positions too.
function compare.describe(kind, a, b, opts)
  local k = kinds.by_name[kind]
  if k and k.describe then return k.describe(a, b) end
  local out = {}
  for _, field in ipairs(k and k.fields or {}) do
    local va, vb = field_value(k, a, field), field_value(k, b, field)
    if not util.same(va, vb) then
      if k.long and k.long[field] then
        local d = util.describe_definition(va, vb)
        out[#out + 1] = field .. (d:match("^differs") and " " or ": ") .. d
      elseif k.flags and k.flags[field] then
        out[#out + 1] = string.format("%s: %s -> %s", field == "notnull" and "not null" or field:gsub("_", " "),
          va and "yes" or "no", vb and "yes" or "no")
      else
        out[#out + 1] = string.format("%s: %s -> %s", field:gsub("_", " "), util.show(va), util.show(vb))
      end
    end
  end
  if kind == "columns" and opts and opts.column_order and a.position ~= b.position then
    out[#out + 1] = string.format("position: %d -> %d", a.position, b.position)
  end
  return out
end

-- A one-line summary of an object that exists on one side only.
function compare.summary(obj)
  local k = kinds.by_name[obj.kind]
  return k and k.summary and k.summary(obj) or ""
end

-- The privileges of an object as a sorted list (the built-in default
-- spelled out), or nil for a kind without privileges.
function compare.privileges(snap, obj)
  local k = kinds.by_name[obj.kind]
  if not (k and k.acl) then return nil end
  return privileges.of(snap, obj, k.acl)
end

-- whether two objects of kind k differ in a compared field (most objects
-- are equal: this looks before describe() describes)
local function differs(k, oa, ob, opts)
  if opts.column_order and k.name == "columns" and oa.position ~= ob.position then return true end
  local fields, unordered = k.fields, k.unordered
  for i = 1, #fields do
    local f = fields[i]
    local va, vb = oa[f], ob[f]
    if va ~= vb and (type(va) ~= "table" or type(vb) ~= "table" or not util.same(va, vb)
        or (unordered and unordered[f])) then
      return true
    end
  end
  return false
end

-- compare.compare(a, b, opts) -> list of differences (see the top).
-- opts.ignore: categories to leave out; opts.column_order: compare column
-- positions too; opts.owners: compare owners (the snapshots must have
-- been read with it, or for a diff).
function compare.compare(a, b, opts)
  opts = opts or {}
  local ignored = util.set(opts.ignore)
  local out = {}
  local function emit(sign, category, name, what, before, after)
    if not ignored[category] then
      out[#out + 1] = { sign = sign, category = category, name = name, what = what, before = before, after = after }
    end
  end
  -- an object on one side only folds its sub-objects into its own line
  local function folded(snap, other, obj)
    local pk = kinds.parent_key(obj)
    while pk do
      local kind, name = pk:match("^(%S+) (.*)$")
      if ignored[kinds.category[kind] or kind] then return false end
      local parent = snap[kind] and snap[kind][name]
      if not parent then return false end
      if not (other[kind] and other[kind][name]) then return true end
      pk = kinds.parent_key(parent)
    end
    return false
  end
  for _, kind in ipairs(kinds.object_kinds) do
    local k = kinds.by_name[kind]
    local category = kinds.category[kind]
    local ta, tb = a[kind] or {}, b[kind] or {}
    for name, oa in pairs(ta) do
      local ob = tb[name]
      if not ob then
        if not folded(a, b, oa) then emit("-", category, name, compare.summary(oa), oa, nil) end
      else
        if differs(k, oa, ob, opts) then
          local what = compare.describe(kind, oa, ob, opts)
          if #what > 0 then emit("~", category, name, table.concat(what, "; "), oa, ob) end
        end
        if k.acl and (oa.acl or ob.acl) then
          local changes = util.set_changes(privileges.of(a, oa, k.acl), privileges.of(b, ob, k.acl))
          if changes ~= "" then emit("~", "privileges", k.singular .. " " .. name, changes, oa, ob) end
        end
        if opts.owners and k.owned and oa.owner ~= ob.owner then
          emit("~", "owners", k.singular .. " " .. name, string.format("%s -> %s", oa.owner, ob.owner), oa, ob)
        end
        if oa.comment ~= ob.comment then
          local sign = oa.comment == nil and "+" or ob.comment == nil and "-" or "~"
          emit(sign, "comments", k.singular .. " " .. name, string.format("%s -> %s",
            oa.comment and util.quote_text(oa.comment) or "none",
            ob.comment and util.quote_text(ob.comment) or "none"), oa, ob)
        end
      end
    end
    for name, ob in pairs(tb) do
      if not ta[name] and not folded(b, a, ob) then emit("+", category, name, compare.summary(ob), nil, ob) end
    end
  end
  local rank = kinds.rank
  table.sort(out, function(x, y)
    if x.category ~= y.category then return rank[x.category] < rank[y.category] end
    if x.name ~= y.name then return x.name < y.name end
    return x.sign < y.sign
  end)
  for _, d in ipairs(out) do
    d.line = string.format("%s %s %s%s", d.sign, d.category, d.name, d.what ~= "" and (": " .. d.what) or "")
  end
  return out
end

return compare
