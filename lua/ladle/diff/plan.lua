-- ladle.diff.plan: from two snapshots to the ordered steps of a script.
--
-- Items (ladle.diff.items) are decided (ladle.diff.decide); each item then
-- gives drop / alter / create steps, with the SQL of its kind's module.
-- The steps are ordered by pg_depend: in the source database what depends
-- is dropped first, in the target what is needed is created first; among
-- steps that are free to go, drops come before alters before creates, by
-- kind and then by name (ladle.diff.toposort).

local kinds = require "ladle.schema.kinds"
local columns = require "ladle.schema.kinds.columns"
local items = require "ladle.diff.items"
local decide = require "ladle.diff.decide"
local toposort = require "ladle.diff.toposort"
local Changes = require "ladle.diff.changes"
local renames = require "ladle.diff.renames"

local plan = {}

-- Creation order among steps that are free to go (drops use the reverse).
local rank = {}
for i, k in ipairs({
  "schemas", "extensions", "collations", "types", "domains", "functions", "aggregates", "operators", "casts",
  "transforms", "text_search_dictionaries", "text_search_configurations", "foreign_data_wrappers", "servers",
  "sequences", "tables", "foreign_tables", "columns", "defaults", "inherited_columns", "owned_by", "identity_values",
  "constraints", "indexes", "replica_identity", "cluster_on", "statistics", "views", "materialized_views", "triggers", "rules", "policies", "event_triggers", "publications",
  "default_privileges", "privileges", "comments", "owners",
}) do
  rank[k] = i
end

-- D drop, A alter, C create, F finish (an enum's old copy)
local phase_rank = { D = 1, A = 2, C = 3, F = 4 }

local function step_less(x, y)
  if x.order[1] ~= y.order[1] then return x.order[1] < y.order[1] end
  if x.order[2] ~= y.order[2] then return x.order[2] < y.order[2] end
  return x.order[3] < y.order[3]
end

-- The planning context the kinds' create/drop/alter get.
local function context(a, b, A, B)
  local ctx = { a = a, b = b, columns_a = A.columns_of, columns_b = B.columns_of, default_b = B.default_of,
                recreate_enum = {} }
  function ctx.column_definitions(table_name)
    local out = {}
    for i, col in ipairs(B.columns_of[table_name] or {}) do out[i] = columns.definition(col, B.default_of[col.name]) end
    return out
  end
  return ctx
end

-- plan.run(a, b, opts) -> changes. a and b are snapshots read with
-- dependencies. opts.renames: infer renames (ladle.diff.renames) and start
-- with them.
function plan.run(a, b, opts)
  local renamed = {}
  if opts.renames then
    local list = renames.infer(a, b)
    if #list > 0 then
      a = renames.apply(a, list)
      for i, r in ipairs(renames.statements(list)) do
        local name = r.rename.kind == "tables" and r.rename.to or (r.rename.table .. "." .. r.rename.to)
        renamed[i] = { key = "renames " .. i, phase = "R", rename = r.rename, statements = { r.statement },
                       item = { kind = r.rename.kind, name = name } }
      end
    end
  end
  local A, B = items.build(a, opts), items.build(b, opts)
  local ctx = context(a, b, A, B)
  local state, alters, reasons = decide.run(A, B, ctx, opts)

  -- Steps, each kept by item key in its phase's table.
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
    if kinds.items[it.kind].inline and it.parent and C[it.parent] then s.covered_by = C[it.parent] end
  end
  local function resolve(s)
    while s and s.covered_by do s = s.covered_by end
    return s
  end
  for _, s in pairs(D) do
    if not s.covered_by then s.statements = kinds.items[s.item.kind].drop(s.item, ctx) end
  end
  for _, s in pairs(C) do
    if not s.covered_by then s.statements = kinds.items[s.item.kind].create(s.item, ctx) end
  end

  -- Edges between steps, on the steps that write the SQL.
  local after = {}
  local function edge(from, to)
    from, to = resolve(from), resolve(to)
    if not from or not to or from == to then return end
    local list = after[from]
    if not list then list = {}; after[from] = list end
    list[to] = true
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

  local nodes = {}
  for _, key in ipairs(changed) do
    for _, phase in ipairs({ D, Al, C, F }) do
      local s = phase[key]
      if s and not s.covered_by then nodes[#nodes + 1] = s end
    end
  end
  local ordered, loops = toposort.sort(nodes, after, step_less)
  -- the renames come first: the rest is planned from A as they leave it
  for i = #renamed, 1, -1 do table.insert(ordered, 1, renamed[i]) end

  local changes = Changes.build(ordered, { A = A, B = B, state = state, reasons = reasons, opts = opts })
  rawset(changes, "steps", ordered)
  rawset(changes, "loops", loops)
  return changes
end

return plan
