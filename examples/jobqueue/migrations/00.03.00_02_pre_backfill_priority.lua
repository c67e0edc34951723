-- A Lua delta: ladle runs it inside the delta's transaction with the open
-- connection, and commits it together with its tracking row.
local conn, delta = ...

-- Queues that matter more than others; everything else gets 0.
local priorities = { emails = 10, payments = 20 }

for queue, priority in pairs(priorities) do
  assert(conn:query("UPDATE jobs SET priority = $1 WHERE queue_name = $2 AND priority IS NULL", priority, queue))
end
assert(conn:query("UPDATE jobs SET priority = 0 WHERE priority IS NULL"))

-- `delta` describes this file (path, version, phase, ...); a failure names it.
assert(delta.version == "0.3.0" and delta.phase == "pre")
