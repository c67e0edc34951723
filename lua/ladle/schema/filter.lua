-- ladle.schema.filter: the options that leave parts of a schema out
-- (schemas, exclude_schemas, exclude_tables, exclude_field_patterns), for
-- the reader and for a snapshot taken before.
--
-- Names are given as they are stored ("Audit" is the schema Audit, public
-- is public) or quoted as the server prints them ('"My App".t').

local ident = require "ladle.ident"

local filter = {}

-- A set of names as given and as the server prints them.
local function name_set(names)
  local set = {}
  for _, n in ipairs(names or {}) do
    set[n] = true
    set[ident.quote(n)] = true
  end
  return set
end

-- opts -> function(name, raw) -> whether a schema is read (name: as the
-- server quotes it; raw: as stored, when known).
function filter.schema_matcher(opts)
  local wanted = opts.schemas and name_set(opts.schemas)
  local excluded = name_set(opts.exclude_schemas)
  return function(name, raw)
    raw = raw or name
    if excluded[name] or excluded[raw] then return false end
    return not wanted or wanted[name] == true or wanted[raw] == true
  end
end

-- "public.t", "t", '"My Schema".t' -> a matcher of qualified table names.
function filter.table_matcher(names)
  if not names or #names == 0 then return function() return false end end
  local exact, bare = {}, {}
  for _, n in ipairs(names) do
    if n:find(".", 1, true) then
      exact[n] = true
      local s, t = n:match("^([^.\"]+)%.([^.\"]+)$")
      if s then exact[ident.qualify(s, t)] = true end
    else
      bare[ident.quote(n)] = true
      bare[n] = true
    end
  end
  return function(qualified)
    if exact[qualified] then return true end
    local last = qualified:match("%.([^.]+)$") or qualified
    return bare[last] == true
  end
end

-- SQL LIKE patterns -> a matcher of raw names (% any run of characters,
-- _ one character, \ takes the next one as it is). Nil without patterns.
function filter.like_matcher(patterns)
  if not patterns or #patterns == 0 then return nil end
  local lua_patterns = {}
  for i, like in ipairs(patterns) do
    local out, j = { "^" }, 1
    while j <= #like do
      local ch = like:sub(j, j)
      if ch == "\\" and j < #like then
        j = j + 1
        out[#out + 1] = "%" .. like:sub(j, j)
      elseif ch == "%" then
        out[#out + 1] = ".*"
      elseif ch == "_" then
        out[#out + 1] = "."
      elseif ch:match("%W") then
        out[#out + 1] = "%" .. ch
      else
        out[#out + 1] = ch
      end
      j = j + 1
    end
    out[#out + 1] = "$"
    lua_patterns[i] = table.concat(out)
  end
  return function(name)
    for _, p in ipairs(lua_patterns) do
      if name:find(p) then return true end
    end
    return false
  end
end

-- A copy of snap without the schemas, tables and kinds opts leaves out
-- (objects are shared, not copied). Same options as the snapshot's.
-- object_kinds: the kinds to filter (ladle.schema.kinds.object_kinds).
function filter.apply(snap, opts, metatable, object_kinds)
  opts = opts or {}
  if not (opts.schemas or opts.exclude_schemas or opts.exclude_tables or opts.exclude_field_patterns) then
    return snap
  end
  local schema_kept = filter.schema_matcher(opts)
  local excluded_table = filter.table_matcher(opts.exclude_tables)
  local excluded_field = filter.like_matcher(opts.exclude_field_patterns)
  local function keep(obj)
    if excluded_field and obj.kind == "columns" and excluded_field(ident.unquote(obj.column)) then return false end
    local s = obj.schema
    if obj.kind == "schemas" then s = obj.name end
    if s and not schema_kept(s) then return false end
    if (obj.kind == "tables" or obj.kind == "foreign_tables") and excluded_table(obj.name) then return false end
    if obj.table and excluded_table(obj.table) then return false end
    if obj.kind == "sequences" and obj.owned_by then
      local t = obj.owned_by:match("^(.*)%.[^.]+$")
      if t and excluded_table(t) then return false end
    end
    return true
  end
  local out = setmetatable({}, metatable)
  for k, v in pairs(snap) do out[k] = v end
  for _, kind in ipairs(object_kinds) do
    if snap[kind] then
      local t = {}
      for name, obj in pairs(snap[kind]) do
        if keep(obj) then t[name] = obj end
      end
      out[kind] = t
    end
  end
  -- what belongs to a table or domain goes with it (its schema, say)
  for _, kind in ipairs(object_kinds) do
    for name, obj in pairs(out[kind] or {}) do
      local parent = obj.table and out[obj.table_kind or "tables"] or obj.domain and out.domains
      if parent and not parent[obj.table or obj.domain] then out[kind][name] = nil end
    end
  end
  return out
end

return filter
