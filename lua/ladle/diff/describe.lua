-- ladle.diff.describe: what a change says about its item, the text after
-- "~ columns public.t.c: " in a change's line.

local kinds = require "ladle.schema.kinds"
local compare = require "ladle.schema.compare"
local util = require "ladle.schema.util"

local describe = {}

local function summary(x)
  local handler = kinds.items[x.kind]
  if x.obj then return compare.summary(x.obj) end
  if handler.summary then return handler.summary(x) end
  if type(x.value) == "table" then return table.concat(x.value, " ") end
  return tostring(x.value or "")
end

-- The item a change was rebuilt or recast around, in words.
local function around(key)
  local rk, rn = key:match("^(%S+) (.*)$")
  if rk == "defaults" then return "the default of column " .. rn end
  if rk == "owned_by" then return "the owner of sequence " .. rn end
  return kinds.singular(rk) .. " " .. rn
end

-- describe.change(st, ia, ib, reason, opts) -> sign, what
-- st: the item's state (ladle.diff.decide); ia, ib: the item in A and B.
function describe.change(st, ia, ib, reason, opts)
  if st == "create" then return "+", summary(ib) end
  if st == "drop" then return "-", summary(ia) end
  local kind = (ib or ia).kind
  local what = {}
  if kind == "defaults" or kind == "owned_by" or kind == "comments" or kind == "owners" then
    if ia.value ~= ib.value then
      what[1] = string.format("%s: %s -> %s", kind == "owned_by" and "owned by" or kind:gsub("s$", ""),
        util.show(ia.value), util.show(ib.value))
    end
  elseif kind == "privileges" then
    local changes = util.set_changes(ia.value, ib.value)
    if changes ~= "" then what[1] = changes end
  elseif not ia.obj and kinds.items[kind].label then
    -- a part of an object: a table's replica identity, ...
    if ia.value ~= ib.value then
      what[1] = string.format("%s: %s -> %s", kinds.items[kind].label, util.show(ia.value), util.show(ib.value))
    end
  else
    for _, d in ipairs(compare.describe(kind, ia.obj, ib.obj, opts)) do
      if not d:match("^default:") then what[#what + 1] = d end
    end
  end
  if reason then
    what[#what + 1] = (st == "rebuild" and "recreated" or "recast") .. " around " .. around(reason)
  elseif st == "rebuild" then
    what[#what + 1] = "dropped and created again"
  end
  local text = table.concat(what, "; ")
  if kind == "defaults" and not text:match("^default") then text = "default " .. text end
  return "~", text
end

return describe
