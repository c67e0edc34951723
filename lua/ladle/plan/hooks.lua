-- ladle.plan.hooks: pum's pre-all / post-all hooks, and the context that
-- Lua deltas and hooks receive.
--
-- As pum runs them: on every upgrade, whether or not a delta is pending;
-- pre-all over the folders in reverse order, post-all in the given order;
-- in each folder the .py hook before the .sql one (then a .lua one).
-- delta.scan already lists them in that order. Hooks are never recorded.

local pyformat = require "ladle.plan.pyformat"
local python = require "ladle.plan.python"

local hooks = {}

hooks.NAMES = { "pre-all", "post-all" }

-- hooks.prepare(plan) reads and checks every hook before anything runs.
function hooks.prepare(plan)
  for _, name in ipairs(hooks.NAMES) do
    for _, d in ipairs(plan.hooks[name] or {}) do plan:_prepare(d) end
  end
end

-- hooks.run(plan, name) -> number run. The caller holds the lock.
function hooks.run(plan, name)
  local list = plan.hooks[name] or {}
  for _, d in ipairs(list) do plan:_execute(d, false) end
  return #list
end

-- hooks.context(plan) -> what a Lua delta or hook gets as its third
-- argument (a Python one gets the same through DeltaPy):
--   service          the target: a service name, or the conninfo without
--                    its password (nil for the PG* defaults)
--   table            the upgrades table, schema.table
--   dirs, dir        the delta folders, the first one
--   current_version  the version the database is at now
--   variables        {NAME = value} (-v TYPE NAME VALUE)
function hooks.context(plan)
  local dirs = {}
  for i, dir in ipairs(plan.dirs or {}) do dirs[i] = dir end
  return {
    service = (python.target(plan.service)), table = plan.table, dirs = dirs, dir = dirs[1],
    current_version = plan.current_version, variables = pyformat.values(plan.variables),
  }
end

return hooks
