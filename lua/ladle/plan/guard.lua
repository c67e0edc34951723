-- ladle.plan.guard: what stops a plan before anything runs (plan:check).
--
-- A wrong target is refused loudly rather than taken for a fresh start:
--   - a folder without deltas, or without deltas the table records as
--     applied (a wrong -d, or its parent), unless ignore_missing;
--   - a database with objects but not the upgrades table named, pointing at
--     the upgrades tables it does have (a mistyped -t), or at baseline;
--   - changed applied deltas, a table the user may not write, an
--     out-of-order delta, and (read and checked here, before the first
--     one runs) every delta of the list and every hook.

local delta = require "ladle.delta"
local errors = require "ladle.errors"
local tracker = require "ladle.tracker"

local guard = {}
local fail = errors.fail

guard.MAX_NAMED = 10

-- "a, b, c and 2 more": at most MAX_NAMED of names.
function guard.named(names)
  local shown = table.move(names, 1, math.min(#names, guard.MAX_NAMED), 1, {})
  local text = table.concat(shown, ", ")
  if #names > #shown then text = text .. string.format(" and %d more", #names - #shown) end
  return text
end

local function plural(n, word)
  return string.format("%d %s%s", n, word, n == 1 and "" or "s")
end

-- guard.deltas_below(p) -> " DIR/sql holds 3: is that the folder (-d DIR/sql)?"
-- or "": the subfolders of a folder that hold deltas when it holds none
-- of its own (a parent folder given as -d).
function guard.deltas_below(p)
  local hints = {}
  for _, item in ipairs(p.ignored or {}) do
    if item.folder then
      local below = delta.scan(item.path, { lenient = true, unmarked = p.unmarked })
      local count = below and (#below + #below.install) or 0
      if count > 0 then
        hints[#hints + 1] = string.format("%s holds %d: is that the folder (-d %s)?", item.path, count, item.path)
      end
    end
  end
  return #hints > 0 and (" " .. table.concat(hints, " ")) or ""
end

-- The folder holds no delta at all.
local function check_folder(p)
  if #p.files + #p.install_scripts == 0 then
    local below = guard.deltas_below(p)
    fail("input", "%s holds no deltas%s", p.dir, below ~= "" and (";" .. below) or ": is -d the right folder?")
  end
end

-- Applied deltas whose file changed: the history and the folder disagree.
local function check_changed(p)
  local changed = p:changed()
  if #changed > 0 then
    local names = {}
    for _, e in ipairs(changed) do names[#names + 1] = e.path or e.script end
    fail("input", "%s changed since applied, nothing was run: %s (accept with '%s')", plural(#changed, "applied delta"),
      guard.named(names), p:suggest("repair"))
  end
end

-- Applied deltas that the folder lacks: a wrong -d, or its parent.
local function check_missing(p)
  if p.ignore_missing then return end
  local missing = {}
  for _, e in ipairs(p.deltas) do
    if e.status == "missing" then missing[#missing + 1] = e.file ~= "" and e.file or e.script end
  end
  if #missing > 0 then
    fail("input", "%s recorded as applied in %s %s not in %s: %s. Is -d the right folder?%s If the files were removed "
      .. "on purpose, pass --ignore-missing (ignore_missing: true in the config file)", plural(#missing, "delta"),
      p.table, #missing == 1 and "is" or "are", p.dir, guard.named(missing), guard.deltas_below(p))
  end
end

-- No upgrades table on a database with objects: another upgrades table
-- is the likelier story than a database to baseline.
local function check_table(p)
  if p.table_exists or p.fresh then return end
  local others, message, details = tracker.find_tables(p.conn)
  if not others then errors.raise(message, details, "database") end
  if #others > 0 then
    fail("input", "database %s has no upgrades table %s; its upgrades tables: %s (-t %s)", p.conn:info().dbname,
      p.table, table.concat(others, ", "), others[1])
  end
  fail("input", "database %s has no upgrades table %s and is not empty: record the version it is at with "
    .. "'%s' first", p.conn:info().dbname, p.table, p:suggest("baseline", "-b VERSION"))
end

-- guard.check(p, list): plan:check. Raises the failure that stops p.
function guard.check(p, list)
  check_folder(p)
  check_table(p)
  check_changed(p)
  check_missing(p)
  if p.table_exists and p.can_write == false and #(list or {}) > 0 then
    local info = p.conn:info()
    fail("database", "%s: user %s may not insert into and update %s; nothing was run", info.dbname, info.user, p.table)
  end
  for _, e in ipairs(list or {}) do
    if e.out_of_order and not p.out_of_order then
      fail("input", "%s was never applied but is labelled below the current version %s; rename it to a newer "
        .. "version, or allow it with --out-of-order", e.path, p.current_version)
    end
    p:_prepare(e)
  end
  for _, name in ipairs { "pre-all", "post-all" } do
    for _, d in ipairs(p.hooks[name]) do p:_prepare(d) end
  end
end

return guard
