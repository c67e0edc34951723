-- ladle.plan.steps: the steps of an upgrade, one per version, and which
-- deltas an upgrade of one phase takes.
--
-- A step is what a blue-green recipe works with: a version's pre deltas,
-- then the deploy of that version, then its post deltas. Steps hold the
-- plan's entries, so a step built before the lock sees the statuses read
-- after it.

local version = require "ladle.version"

local steps = {}

local Step = {}
Step.__index = Step
steps.Step = Step

local PHASES = { pre = true, post = true, all = true }

-- Pending, and within the target.
function steps.is_pending(e)
  return e.status == "pending" and not e.beyond_target
end
local is_pending = steps.is_pending

local function matches_phase(e, phase)
  return phase == "all" or e.phase == "install" or e.phase == phase
end

-- step:pending(phase) -> this version's pending deltas of that phase
-- ("pre", "post" or "all"; the install script belongs to every phase).
function Step:pending(phase)
  phase = phase or "all"
  assert(PHASES[phase], "step:pending: phase must be \"pre\", \"post\" or \"all\"")
  local list = {}
  for _, e in ipairs(self.deltas) do
    if is_pending(e) and matches_phase(e, phase) then list[#list + 1] = e end
  end
  return list
end

-- step:apply(phase) -> number of deltas applied. Raises a failure.
function Step:apply(phase)
  phase = phase or "all"
  assert(PHASES[phase], "step:apply: phase must be \"pre\", \"post\" or \"all\"")
  local p = self.plan
  return p:_apply_checked(function() return self:pending(phase) end)
end

function Step:__tostring()
  return string.format("step %s (%d pending)", self.version, #self:pending())
end

-- steps.versions(plan) -> one step per version that has pending deltas,
-- by version; a step's deltas are in the plan's order (folder by folder
-- with several folders). Flyway repeatables belong to no version.
function steps.versions(plan)
  local list, by_version = {}, {}
  for _, e in ipairs(plan.deltas) do
    if e.status ~= "missing" and e.version and not e.repeatable then
      local step = by_version[e.version]
      if not step then
        step = setmetatable({ plan = plan, version = e.version, deltas = {} }, Step)
        by_version[e.version] = step
        list[#list + 1] = step
      end
      step.deltas[#step.deltas + 1] = e
    end
  end
  table.sort(list, function(a, b) return version.compare(a.version, b.version) < 0 end)
  local pending = {}
  for _, step in ipairs(list) do
    if #step:pending("all") > 0 then pending[#pending + 1] = step end
  end
  return pending
end

-- steps.repeatables(plan) -> the pending Flyway repeatables, in order.
function steps.repeatables(plan)
  local list = {}
  for _, e in ipairs(plan.deltas) do
    if e.repeatable and is_pending(e) then list[#list + 1] = e end
  end
  return list
end

-- What plan:apply(phase) would apply: for "all", every pending delta in
-- the plan's order (pum's: folder by folder), Flyway repeatables last;
-- for "pre", the pre deltas of each version, stopping after the first
-- version whose post deltas are still pending; for "post", the post
-- deltas of each version, stopping at the first version whose pre deltas
-- are pending, then the repeatables when it did not stop.
-- Returns the list and the step it stopped at (or nil).
function steps.selection(plan, phase)
  phase = phase or "all"
  assert(PHASES[phase], "plan:selection: phase must be \"pre\", \"post\" or \"all\"")
  local list, stopped = {}, nil
  if phase == "all" then
    for _, e in ipairs(plan.deltas) do
      if is_pending(e) and not e.repeatable then list[#list + 1] = e end
    end
  else
    for _, step in ipairs(steps.versions(plan)) do
      if phase == "post" and #step:pending("pre") > 0 then stopped = step; break end
      local chosen = step:pending(phase)
      table.move(chosen, 1, #chosen, #list + 1, list)
      if phase == "pre" and #step:pending("post") > 0 then
        stopped = step
        break
      end
    end
  end
  if phase ~= "pre" and not stopped then
    local repeatables = steps.repeatables(plan)
    table.move(repeatables, 1, #repeatables, #list + 1, list)
  end
  return list, stopped
end

return steps
