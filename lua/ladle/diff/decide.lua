-- ladle.diff.decide: what happens to each item of a plan.
--
-- An item is kept, created, dropped, altered in place, or rebuilt (dropped
-- and created again); "ignored" when its category is left out. Whatever
-- depends on an item that goes away, or on a column whose type changes, is
-- rebuilt around it; a column of a type or collation that is recreated in
-- place (its alter says recreate, and recast(column) which columns hold
-- it) is recast.
--
--   decide.run(A, B, ctx, opts) -> state, alters, reasons
--     state[key]   "keep" | "create" | "drop" | "alter" | "rebuild" | "ignored"
--     alters[key]  what the kind's alter() returned
--     reasons[key] the key of the item it is rebuilt or recast around

local kinds = require "ladle.schema.kinds"
local items = require "ladle.diff.items"
local util = require "ladle.schema.util"

local decide = {}

local function once(A, B, ctx, opts)
  local ignored = util.set(opts.ignore)
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
  local category = kinds.category
  for key, ia in pairs(A.items) do
    local ib = B.items[key]
    if not ib then
      state[key] = ignored[category[ia.kind]] and "ignored" or "drop"
    elseif ignored[category[ib.kind]] then
      state[key] = "keep"
    else
      outcome(key, kinds.items[ib.kind].alter(ia, ib, ctx))
    end
  end
  for key, ib in pairs(B.items) do
    if not A.items[key] then
      state[key] = ignored[category[ib.kind]] and "ignored" or "create"
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
    for _, y in ipairs(items.dependents(A, x)) do
      local st = state[y]
      if st == "drop" or st == "rebuild" then
        -- already goes
      elseif not B.items[y] then
        state[y] = "drop"
        push(y)
      elseif st == "alter" and gone(x) and not B.items[y].deps[x] then
        -- its own change lets go of x first
      elseif recreated and B.items[y].kind == "columns" and A.items[y].obj.type == B.items[y].obj.type
          and A.items[y].obj.collation == B.items[y].obj.collation and alters[x].recast(B.items[y].obj) then
        -- a column of a type or collation that is recreated: recast it
        local ib = B.items[y]
        ib.recast = alters[x].recast(ib.obj)
        outcome(y, kinds.items.columns.alter(A.items[y], ib, ctx))
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

-- The texts of an item where an enum's label could be used.
local function text_of(item)
  local parts = {}
  if type(item.value) == "string" then parts[1] = item.value end
  local o = item.obj
  if o then
    for _, f in ipairs({ "definition", "default", "generated", "using", "with_check" }) do
      if type(o[f]) == "string" then parts[#parts + 1] = o[f] end
    end
  end
  return table.concat(parts, "\n")
end

-- An enum gains values with ADD VALUE unless the same script uses a new
-- value (it cannot before the transaction commits): then it is recreated,
-- and everything is decided again.
function decide.run(A, B, ctx, opts)
  local state, alters, reasons
  for _ = 1, 100 do
    for _, item in pairs(B.items) do item.recast = nil end
    state, alters, reasons = once(A, B, ctx, opts)
    local again = false
    for key, al in pairs(alters) do
      if al.added_labels then
        for _, y in ipairs(items.dependents(B, key)) do
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
  return state, alters, reasons
end

return decide
