-- ladle.diff: what turns one schema into another, as ordered SQL.
--
--   local changes = assert(ladle.diff(conn_a, conn_b))
--   print(changes:sql())
--
-- a and b are connections, snapshots (ladle.schema.snapshot) or anything
-- ladle.connect takes. The result is a list of changes, one per object
-- that is created, dropped or changed:
--   { kind, name, sign = "+"|"-"|"~", what, before, after, sql = {...},
--     hazards = {...} }
-- and changes:sql() is the whole script in dependency order.
--
-- How the order is found: every object (and the parts that can change on
-- their own: a column's default, a sequence's OWNED BY, privileges,
-- comments) is an item; an item is kept, created, dropped, altered in
-- place, or rebuilt (dropped and created again). Whatever depends on an
-- item that goes away, or on a column whose type changes, is rebuilt
-- around it. Each item then gives drop / alter / create steps, ordered by
-- pg_depend: in the source database what depends is dropped first, in the
-- target what is needed is created first; among steps that are free to go,
-- drops come before alters before creates, by kind and then by name.

local schema = require "ladle.schema"
local kinds = require "ladle.diff.kinds"

local diff = {}

diff.hazards = kinds.hazards

-- The check category an item's differences belong to.
local category_of = { defaults = "columns", owners = "sequences" }
local function category(kind) return category_of[kind] or kind end

-- Creation order among steps that are free to go (drops use the reverse).
local rank = {}
for i, k in ipairs({ "schemas", "extensions", "types", "domains", "functions", "sequences", "tables",
  "columns", "defaults", "owners", "constraints", "indexes", "views", "materialized_views", "triggers",
  "rules", "policies", "privileges", "comments" }) do
  rank[k] = i
end

local phase_rank = { D = 1, A = 2, C = 3, F = 4 }

-- Items ------------------------------------------------------------------------

local function display_name(kind, obj)
  return schema.singular[kind] .. " " .. obj.name
end

-- Every object of a snapshot as items keyed "kind name", with their
-- dependencies (pg_depend plus structure: parent, schema, partitions).
local function build_items(snap)
  local items, columns_of, default_of = {}, {}, {}
  local function add(item)
    item.deps = item.deps or {}
    items[item.key] = item
    return item
  end
  local depends = snap.depends or {}
  -- "kind name" strings made once per schema and parent, not per item
  local schema_keys, parent_keys = {}, {}
  for name in pairs(snap.schemas or {}) do schema_keys[name] = "schemas " .. name end
  for _, kind in ipairs(schema.kinds) do
    for name, obj in pairs(snap[kind] or {}) do
      local key = kind .. " " .. name
      local item = add { key = key, kind = kind, name = name, obj = obj }
      for ref, deptype in pairs(depends[key] or {}) do item.deps[ref] = deptype end
      if kind == "sequences" then
        if obj.owned_by then
          local column = "columns " .. obj.owned_by
          item.deps[column] = nil  -- the OWNED BY item holds this one
          item.owner_column = column
          add { key = "owners " .. name, kind = "owners", name = name, sequence = name, parent = key,
                value = obj.owned_by, deps = { [column] = "a", [key] = "p" } }
        end
      else
        local owner = obj.table or obj.domain
        if owner then
          local pk = parent_keys[owner]
          if not pk then pk = schema.parent_key(obj); parent_keys[owner] = pk end
          item.parent = pk
          item.deps[pk] = "p"
        end
      end
      local sk = obj.schema and schema_keys[obj.schema]
      if sk then item.deps[sk] = "s" end
      if kind == "tables" then
        if obj.partition_of then item.deps["tables " .. obj.partition_of] = "p" end
        for _, parent in ipairs(obj.inherits or {}) do item.deps["tables " .. parent] = "p" end
      elseif kind == "columns" then
        local list = columns_of[obj.table]
        if not list then list = {}; columns_of[obj.table] = list end
        list[#list + 1] = obj
        if obj.default then
          default_of[name] = obj.default
          local dkey = "defaults " .. name
          local d = add { key = dkey, kind = "defaults", name = name, parent = key, value = obj.default,
                          table = obj.table, column = obj.column }
          for ref, deptype in pairs(depends[dkey] or {}) do d.deps[ref] = deptype end
          d.deps[key] = "p"
        end
      end
      if schema.acl_kind[kind] then
        add { key = "privileges " .. key, kind = "privileges", name = display_name(kind, obj), parent = key,
              target = item, value = schema.privileges(snap, obj),
              default = snap.acl_defaults and snap.acl_defaults[schema.acl_kind[kind]] or {},
              deps = { [key] = "p" } }
      end
      if obj.comment then
        add { key = "comments " .. key, kind = "comments", name = display_name(kind, obj), parent = key,
              target = item, value = obj.comment, deps = { [key] = "p" } }
      end
    end
  end
  for _, list in pairs(columns_of) do
    table.sort(list, function(x, y) return x.position < y.position end)
  end
  return { items = items, columns_of = columns_of, default_of = default_of }
end

-- Who depends on key (sorted), from the reverse of the items' deps, made
-- when first asked for.
local function dependents(side, key)
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

-- A min-heap of steps ordered by (phase, kind, name).
local function step_less(x, y)
  if x.order[1] ~= y.order[1] then return x.order[1] < y.order[1] end
  if x.order[2] ~= y.order[2] then return x.order[2] < y.order[2] end
  return x.order[3] < y.order[3]
end

local function heap_push(heap, v)
  heap[#heap + 1] = v
  local i = #heap
  while i > 1 do
    local p = i // 2
    if step_less(heap[i], heap[p]) then heap[i], heap[p] = heap[p], heap[i]; i = p else break end
  end
end

local function heap_pop(heap)
  local top = heap[1]
  local last = table.remove(heap)
  if #heap > 0 then
    heap[1] = last
    local i, n = 1, #heap
    while true do
      local l, r, m = 2 * i, 2 * i + 1, i
      if l <= n and step_less(heap[l], heap[m]) then m = l end
      if r <= n and step_less(heap[r], heap[m]) then m = r end
      if m == i then break end
      heap[i], heap[m] = heap[m], heap[i]
      i = m
    end
  end
  return top
end

-- Planning -------------------------------------------------------------------------

local function text_of(item)
  local parts = { item.value }
  local o = item.obj
  if o then
    for _, f in ipairs({ "definition", "default", "generated", "using", "with_check" }) do
      if type(o[f]) == "string" then parts[#parts + 1] = o[f] end
    end
  end
  local out = {}
  for _, p in ipairs(parts) do if type(p) == "string" then out[#out + 1] = p end end
  return table.concat(out, "\n")
end

-- Decides what happens to each item. Returns state, alters, reasons.
local function decide(A, B, ctx, opts)
  local ignored = {}
  for _, k in ipairs(opts.ignore or {}) do ignored[k] = true end
  local state, alters, reasons = {}, {}, {}
  -- what a kind's alter() said: nil (equal), "rebuild", or the statements
  local function outcome(key, r)
    if r == nil then
      state[key] = "keep"
    elseif r == "rebuild" then
      state[key] = "rebuild"
    else
      state[key] = "alter"
      alters[key] = r
    end
  end
  for key, ia in pairs(A.items) do
    local ib = B.items[key]
    if not ib then
      state[key] = ignored[category(ia.kind)] and "ignored" or "drop"
    elseif ignored[category(ib.kind)] then
      state[key] = "keep"
    else
      outcome(key, kinds[ib.kind].alter(ia, ib, ctx))
    end
  end
  for key, ib in pairs(B.items) do
    if not A.items[key] then
      state[key] = ignored[category(ib.kind)] and "ignored" or "create"
    end
  end

  local function gone(k) return state[k] == "drop" or state[k] == "rebuild" end
  local queue, queued = {}, {}
  local function push(k)
    if not queued[k] then queued[k] = true; queue[#queue + 1] = k end
  end
  local start = {}
  for k, st in pairs(state) do
    if st == "drop" or st == "rebuild" or (st == "alter" and alters[k].breaks) then start[#start + 1] = k end
  end
  table.sort(start)
  for _, k in ipairs(start) do push(k) end
  local head = 1
  while head <= #queue do
    local x = queue[head]
    head = head + 1
    local recreated = alters[x] and alters[x].recreate
    for _, y in ipairs(dependents(A, x)) do
      local st = state[y]
      if st == "drop" or st == "rebuild" then
        -- already goes
      elseif not B.items[y] then
        state[y] = "drop"
        push(y)
      elseif st == "alter" and gone(x) and not B.items[y].deps[x] then
        -- its own change lets go of x first
      elseif recreated and B.items[y].kind == "columns" and A.items[y].obj.type == B.items[y].obj.type
          and (B.items[y].obj.type == B.items[x].name or B.items[y].obj.type == B.items[x].name .. "[]") then
        -- a column of an enum that is recreated: recast its values
        local ib = B.items[y]
        ib.recast = true
        ib.recast_text = ib.obj.type:sub(-2) == "[]" and "text[]" or "text"
        outcome(y, kinds.columns.alter(A.items[y], ib, ctx))
        reasons[y] = x
        push(y)
      else
        state[y] = "rebuild"
        reasons[y] = x
        push(y)
      end
    end
  end
  return state, alters, reasons
end

-- diff.plan(a, b, opts) -> changes (see the top of this file). a and b are
-- snapshots read with dependencies.
function diff.plan(a, b, opts)
  opts = opts or {}
  if not a.depends or not b.depends then
    error("ladle.diff needs snapshots read with dependencies (the default of ladle.schema.snapshot)", 2)
  end
  local A, B = build_items(a), build_items(b)
  local ctx = { a = a, b = b, columns_b = B.columns_of, default_b = B.default_of, recreate_enum = {} }

  -- An enum gains values with ADD VALUE unless the same script uses a new
  -- value (it cannot before the transaction commits): then it is recreated.
  local state, alters, reasons
  for _ = 1, 100 do
    for _, item in pairs(B.items) do item.recast = nil; item.recast_text = nil end
    state, alters, reasons = decide(A, B, ctx, opts)
    local again = false
    for key, al in pairs(alters) do
      if al.added_labels then
        for _, y in ipairs(dependents(B, key)) do
          local st = state[y]
          if st == "create" or st == "rebuild" or st == "alter" then
            local text = text_of(B.items[y])
            for _, label in ipairs(al.added_labels) do
              if text:find("'" .. label:gsub("'", "''") .. "'", 1, true) then
                ctx.recreate_enum[key] = true
                again = true
              end
            end
          end
        end
      end
    end
    if not again then break end
  end

  -- Steps: D (drop), A (alter), C (create), F (finish: an enum's old
  -- copy), each kept by item key in its phase's table.
  local D, Al, C, F = {}, {}, {}, {}
  local by_phase = { D = D, A = Al, C = C, F = F }
  local changed = {}
  local function gone(k) return state[k] == "drop" or state[k] == "rebuild" end
  local function new_step(key, phase, item, statements)
    local s = { key = key, phase = phase, item = item, statements = statements or {},
                order = { phase_rank[phase], phase == "D" and -rank[item.kind] or rank[item.kind], item.name } }
    by_phase[phase][key] = s
    return s
  end
  for key, st in pairs(state) do
    if st == "drop" or st == "rebuild" then new_step(key, "D", A.items[key]) end
    if st == "create" or st == "rebuild" then new_step(key, "C", B.items[key]) end
    if st == "alter" then
      new_step(key, "A", B.items[key], alters[key].statements)
      if alters[key].finish then new_step(key, "F", B.items[key], alters[key].finish) end
    end
    if st ~= "keep" and st ~= "ignored" then changed[#changed + 1] = key end
  end
  table.sort(changed)

  -- What goes with its parent: a dropped table's columns and indexes, an
  -- owned sequence with its column; a new table's columns and defaults
  -- are written into CREATE TABLE (ADD COLUMN for a new column).
  -- A foreign key to another table that goes too is dropped on its own
  -- (two tables that refer to each other could not be dropped otherwise).
  local function refers_to_gone(it)
    if it.kind ~= "constraints" or it.obj.type ~= "f" then return false end
    for x in pairs(it.deps) do
      local target = A.items[x]
      local owner = target and (target.kind == "tables" and target.name or target.obj and target.obj.table)
      if owner and owner ~= it.obj.table and gone(x) then return true end
    end
    return false
  end
  for key, s in pairs(D) do
    local it = A.items[key]
    if it.parent and gone(it.parent) and not refers_to_gone(it) then
      s.covered_by = D[it.parent]
    elseif it.owner_column and gone(it.owner_column) then
      s.covered_by = D[it.owner_column]
    end
  end
  for key, s in pairs(C) do
    local it = B.items[key]
    if kinds[it.kind].inline and it.parent and C[it.parent] then s.covered_by = C[it.parent] end
  end
  local function resolve(s)
    while s and s.covered_by do s = s.covered_by end
    return s
  end
  for _, s in pairs(D) do
    if not s.covered_by then s.statements = kinds[s.item.kind].drop(s.item, ctx) end
  end
  for _, s in pairs(C) do
    if not s.covered_by then s.statements = kinds[s.item.kind].create(s.item, ctx) end
  end

  -- Edges between steps, on the steps that write the SQL.
  local after, indegree = {}, {}
  local function edge(from, to)
    from, to = resolve(from), resolve(to)
    if not from or not to or from == to then return end
    local list = after[from]
    if not list then list = {}; after[from] = list end
    if not list[to] then
      list[to] = true
      indegree[to] = (indegree[to] or 0) + 1
    end
  end
  local function breaking(k) return state[k] == "alter" and alters[k].breaks end
  for _, y in ipairs(changed) do
    local ia, ib = A.items[y], B.items[y]
    -- in A, what depends goes (or lets go) first
    local last_y = ia and (D[y] or Al[y])
    if last_y then
      for x in pairs(ia.deps) do
        local end_x = D[x] or F[x] or (breaking(x) and Al[x])
        if end_x then edge(last_y, end_x) end
      end
    end
    -- in B, what is needed comes first
    local first_y = ib and (C[y] or Al[y])
    if first_y then
      for x in pairs(ib.deps) do
        local start_x = C[x] or Al[x]
        if start_x then edge(start_x, first_y) end
      end
    end
    if D[y] and C[y] then edge(D[y], C[y]) end
    if Al[y] and F[y] then edge(Al[y], F[y]) end
  end

  -- Kahn's algorithm, smallest (phase, kind, name) first; a dependency
  -- loop (which pg_depend should not allow) is broken at its smallest step.
  local heap, pending = {}, {}
  for _, key in ipairs(changed) do
    for _, phase in ipairs({ D, Al, C, F }) do
      local s = phase[key]
      if s and not s.covered_by then
        pending[s] = true
        if (indegree[s] or 0) == 0 then heap_push(heap, s) end
      end
    end
  end
  local ordered, loops = {}, 0
  while next(pending) do
    local s
    if #heap > 0 then
      s = heap_pop(heap)
    else
      loops = loops + 1
      for candidate in pairs(pending) do
        if not s or step_less(candidate, s) then s = candidate end
      end
    end
    if pending[s] then
      pending[s] = nil
      ordered[#ordered + 1] = s
      for t in pairs(after[s] or {}) do
        indegree[t] = indegree[t] - 1
        if indegree[t] == 0 and pending[t] then heap_push(heap, t) end
      end
    end
  end

  -- Changes, in the order of their first statement.
  local changes, by_key = {}, {}
  local function describe(key)
    local st = state[key]
    local ia, ib = A.items[key], B.items[key]
    local it = ib or ia
    local kind = it.kind
    local function summary(x)
      if x.kind == "defaults" then return "default " .. x.value end
      if x.kind == "owners" then return "owned by " .. x.value end
      if x.kind == "privileges" then return table.concat(x.value, " ") end
      if x.kind == "comments" then return x.value end
      return schema.summary(x.obj)
    end
    if st == "create" then return "+", summary(ib) end
    if st == "drop" then return "-", summary(ia) end
    local what = {}
    if kind == "defaults" or kind == "owners" or kind == "comments" then
      if ia.value ~= ib.value then
        what[1] = string.format("%s: %s -> %s", kind == "owners" and "owned by" or kind:gsub("s$", ""),
          schema.show(ia.value), schema.show(ib.value))
      end
    elseif kind == "privileges" then
      local added, removed = schema.set_diff(ia.value, ib.value)
      local parts = {}
      for _, p in ipairs(removed) do parts[#parts + 1] = "-" .. p end
      for _, p in ipairs(added) do parts[#parts + 1] = "+" .. p end
      if #parts > 0 then what[1] = table.concat(parts, " ") end
    else
      for _, d in ipairs(schema.describe(kind, ia.obj, ib.obj, opts)) do
        if not d:match("^default:") then what[#what + 1] = d end
      end
    end
    if reasons[key] then
      local rk, rn = reasons[key]:match("^(%S+) (.*)$")
      local around = rk == "defaults" and ("the default of column " .. rn)
        or rk == "owners" and ("the owner of sequence " .. rn)
        or ((schema.singular[rk] or rk) .. " " .. rn)
      what[#what + 1] = (st == "rebuild" and "recreated" or "recast") .. " around " .. around
    elseif st == "rebuild" then
      what[#what + 1] = "dropped and created again"
    end
    local text = table.concat(what, "; ")
    if kind == "defaults" and not text:match("^default") then text = "default " .. text end
    return "~", text
  end
  for position, s in ipairs(ordered) do
    if #s.statements > 0 then
      local c = by_key[s.key]
      if not c then
        local ia, ib = A.items[s.key], B.items[s.key]
        local it = ib or ia
        local sign, what = describe(s.key)
        c = { kind = category(it.kind), item = it.kind, name = it.name, sign = sign, what = what,
              before = ia and (ia.obj or ia.value), after = ib and (ib.obj or ib.value),
              sql = {}, hazards = {}, position = position }
        by_key[s.key] = c
        changes[#changes + 1] = c
      end
      local seen = {}
      for _, h in ipairs(c.hazards) do seen[h] = true end
      for _, st in ipairs(s.statements) do
        c.sql[#c.sql + 1] = st.sql
        for _, h in ipairs(st.hazards) do
          if not seen[h] then seen[h] = true; c.hazards[#c.hazards + 1] = h end
        end
      end
      s.change = c
    end
  end
  for _, c in ipairs(changes) do
    local order = {}
    for i, h in ipairs(kinds.hazards) do order[h] = i end
    table.sort(c.hazards, function(x, y) return order[x] < order[y] end)
    c.line = string.format("%s %s %s%s", c.sign, c.kind, c.name, c.what ~= "" and (": " .. c.what) or "")
  end
  local result = setmetatable(changes, diff.Changes)
  rawset(result, "steps", ordered)
  rawset(result, "loops", loops)
  return result
end

-- The list of changes --------------------------------------------------------------

diff.Changes = { __name = "ladle.diff.changes" }
diff.Changes.__index = diff.Changes

-- The statements in order: { sql, hazards, change }.
function diff.Changes:statements()
  local out = {}
  for _, s in ipairs(self.steps) do
    for _, st in ipairs(s.statements) do
      out[#out + 1] = { sql = st.sql, hazards = st.hazards, change = s.change }
    end
  end
  return out
end

-- Every hazard: { hazard, change, sql }, in script order.
function diff.Changes:hazards(wanted)
  local out = {}
  for _, st in ipairs(self:statements()) do
    for _, h in ipairs(st.hazards) do
      if not wanted or wanted == h then out[#out + 1] = { hazard = h, change = st.change, sql = st.sql } end
    end
  end
  return out
end

-- The whole script. opts.comments (default true) puts a line naming the
-- change (and its hazards) before its statements.
function diff.Changes:sql(opts)
  opts = opts or {}
  local comments = opts.comments ~= false
  local parts = {}
  for _, s in ipairs(self.steps) do
    if s.item.kind == "functions" and #s.statements > 0 then
      parts[1] = "SET check_function_bodies = false;\n"
      break
    end
  end
  for _, s in ipairs(self.steps) do
    if #s.statements > 0 then
      local lines = {}
      if comments and s.change then
        local hz, seen = {}, {}
        for _, st in ipairs(s.statements) do
          for _, h in ipairs(st.hazards) do
            if not seen[h] then seen[h] = true; hz[#hz + 1] = h end
          end
        end
        lines[1] = string.format("-- %s %s %s%s", s.change.sign, s.change.kind, s.change.name,
          #hz > 0 and ("  [" .. table.concat(hz, ", ") .. "]") or "")
      end
      for _, st in ipairs(s.statements) do lines[#lines + 1] = st.sql end
      parts[#parts + 1] = table.concat(lines, "\n") .. "\n"
    end
  end
  return table.concat(parts, "\n")
end

function diff.Changes:is_empty()
  return #self == 0
end

-- diff(a, b, opts) -> changes | nil, message
-- opts: ignore (categories), schemas, exclude_schemas, exclude_tables,
-- column_order.
function diff.diff(a, b, opts)
  opts = opts or {}
  for _, k in ipairs(opts.ignore or {}) do
    if not schema.kind_rank[k] then
      error(string.format("bad argument #3 to 'diff' (unknown kind '%s'; known: %s)",
        tostring(k), table.concat(schema.kinds, ", ")), 2)
    end
  end
  local snap_opts = { schemas = opts.schemas, exclude_schemas = opts.exclude_schemas,
                      exclude_tables = opts.exclude_tables }
  local sa, sb = schema.resolve_pair(a, b, snap_opts)
  if not sa then return nil, sb end
  return diff.plan(sa, sb, opts)
end

return setmetatable(diff, { __call = function(_, ...) return diff.diff(...) end })
