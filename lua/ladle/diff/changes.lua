-- ladle.diff.changes: the list of changes a plan returns, with the script.
--
--   changes[i] = { kind, name, sign, what, line, before, after, sql = {...},
--                  hazards = {...} }
--   changes:sql(opts), changes:statements(), changes:hazards(name),
--   changes:is_empty()

local kinds = require "ladle.schema.kinds"
local sql = require "ladle.schema.sql"
local describe = require "ladle.diff.describe"

local Changes = { __name = "ladle.diff.changes" }
Changes.__index = Changes

local hazard_order = {}
for i, h in ipairs(sql.hazards) do hazard_order[h] = i end

-- Changes.build(ordered, plan) -> changes, one per item that has
-- statements, in the order of its first statement. plan: { A, B, state,
-- reasons, opts } (ladle.diff.plan).
function Changes.build(ordered, plan)
  local changes, by_key = {}, {}
  for position, s in ipairs(ordered) do
    if s.rename then
      local c = { kind = kinds.category[s.rename.kind], item = s.rename.kind, name = s.item.name, sign = "~",
                  what = "renamed from " .. s.rename.from .. " (inferred)", sql = { s.statements[1].sql },
                  hazards = { table.unpack(s.statements[1].hazards) }, position = position }
      changes[#changes + 1] = c
      s.change = c
    elseif #s.statements > 0 then
      local c = by_key[s.key]
      if not c then
        local ia, ib = plan.A.items[s.key], plan.B.items[s.key]
        local it = ib or ia
        local sign, what = describe.change(plan.state[s.key], ia, ib, plan.reasons[s.key], plan.opts)
        c = { kind = kinds.category[it.kind], item = it.kind, name = it.name, sign = sign, what = what,
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
    table.sort(c.hazards, function(x, y) return hazard_order[x] < hazard_order[y] end)
    c.line = string.format("%s %s %s%s", c.sign, c.kind, c.name, c.what ~= "" and (": " .. c.what) or "")
  end
  return setmetatable(changes, Changes)
end

-- The statements in order: { sql, hazards, change }.
function Changes:statements()
  local out = {}
  for _, s in ipairs(self.steps) do
    for _, st in ipairs(s.statements) do
      out[#out + 1] = { sql = st.sql, hazards = st.hazards, change = s.change }
    end
  end
  return out
end

-- Every hazard: { hazard, change, sql }, in script order.
function Changes:hazards(wanted)
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
function Changes:sql(opts)
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

function Changes:is_empty()
  return #self == 0
end

return Changes
