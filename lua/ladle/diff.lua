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
-- The work is done by ladle.diff.items (a snapshot as items),
-- ladle.diff.decide (what happens to each), ladle.diff.plan (steps and
-- their order), ladle.diff.changes (the result) and the kinds' modules
-- (ladle.schema.kinds.*: the SQL).

local schema = require "ladle.schema"
local sql = require "ladle.schema.sql"
local plan = require "ladle.diff.plan"
local Changes = require "ladle.diff.changes"

local diff = {}

diff.hazards = sql.hazards
diff.Changes = Changes

-- diff.plan(a, b, opts) -> changes. a and b are snapshots read with
-- dependencies (the default of ladle.schema.snapshot). opts: ignore,
-- column_order.
function diff.plan(a, b, opts)
  if not a.depends or not b.depends then
    error("ladle.diff needs snapshots read with dependencies (the default of ladle.schema.snapshot)", 2)
  end
  return plan.run(a, b, opts or {})
end

-- diff(a, b, opts) -> changes | nil, message, details
-- opts: ignore (categories), schemas, exclude_schemas, exclude_tables,
-- column_order.
function diff.diff(a, b, opts)
  opts = opts or {}
  local sa, sb, details = schema.pair(a, b, opts, "diff")
  if not sa then return nil, sb, details end
  return diff.plan(sa, sb, opts)
end

return setmetatable(diff, { __call = function(_, ...) return diff.diff(...) end })
