-- ladle.plan.locks: PostgreSQL's table lock modes, what each one stops,
-- and their names as people write them (the LOCK TABLE spelling).
--
-- What a mode blocks, in the three words the reports use, is read from the
-- server's conflict table (the manual's "Conflicting Lock Modes"):
--   reads   plain SELECTs (ACCESS SHARE): only ACCESS EXCLUSIVE blocks them
--   writes  INSERT/UPDATE/DELETE (ROW EXCLUSIVE): SHARE and above
--   DDL     VACUUM, ANALYZE, CREATE INDEX CONCURRENTLY and every stronger
--           schema change (SHARE UPDATE EXCLUSIVE): SHARE UPDATE EXCLUSIVE
--           and above
-- Every mode blocks the schema changes that take ACCESS EXCLUSIVE.

local locks = {}

-- Weakest first: pg_locks's name, the SQL name, what it blocks.
locks.modes = {
  { name = "AccessShareLock", sql = "ACCESS SHARE", blocks = {} },
  { name = "RowShareLock", sql = "ROW SHARE", blocks = {} },
  { name = "RowExclusiveLock", sql = "ROW EXCLUSIVE", blocks = {} },
  { name = "ShareUpdateExclusiveLock", sql = "SHARE UPDATE EXCLUSIVE", blocks = { "DDL" } },
  { name = "ShareLock", sql = "SHARE", blocks = { "writes", "DDL" } },
  { name = "ShareRowExclusiveLock", sql = "SHARE ROW EXCLUSIVE", blocks = { "writes", "DDL" } },
  { name = "ExclusiveLock", sql = "EXCLUSIVE", blocks = { "writes", "DDL" } },
  { name = "AccessExclusiveLock", sql = "ACCESS EXCLUSIVE", blocks = { "reads", "writes", "DDL" } },
}

local by_name = {}
for rank, mode in ipairs(locks.modes) do
  mode.rank = rank
  by_name[mode.name] = mode
  by_name[mode.sql] = mode
end

-- locks.mode(name) -> the mode entry for pg_locks's or the SQL name, or nil.
function locks.mode(name)
  return by_name[name]
end

-- locks.sql_name("AccessExclusiveLock") -> "ACCESS EXCLUSIVE" (other text
-- as it is).
function locks.sql_name(name)
  local mode = by_name[name]
  return mode and mode.sql or name
end

-- locks.stronger(a, b) -> the stronger of two mode names (either may be nil).
function locks.stronger(a, b)
  if not a then return b end
  if not b then return a end
  return by_name[b].rank > by_name[a].rank and b or a
end

-- locks.blocks(name) -> a fresh list of what the mode blocks.
function locks.blocks(name)
  local mode = by_name[name]
  return mode and table.move(mode.blocks, 1, #mode.blocks, 1, {}) or {}
end

return locks
