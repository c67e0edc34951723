-- ladle.plan.check: what stops a plan, or one of its deltas, from running,
-- found before anything runs (as Flyway's validate). A wrong target is
-- refused loudly rather than taken for a fresh start:
--   folders without deltas (naming a subfolder that has them), or without
--     deltas the table records as applied (a wrong -d, or its parent),
--     unless ignore_missing
--   a database with objects but not the upgrades table named: the upgrades
--     tables it has (a mistyped -t), or else 'ladle baseline'
--   the user may not write the table
--   applied deltas whose file changed: a failure naming 'ladle repair',
--     or with on_changed = "warn" one warning each, and the plan goes on
--   a delta labelled below the current version, without out_of_order
--   a delta or hook that cannot run as it is (plan:_prepare reads and
--     checks it: a %(NAME)s without its variable, psql meta-commands, no
--     python3, ...)

local delta = require "ladle.delta"
local errors = require "ladle.errors"
local tracker = require "ladle.tracker"

local check = {}
local fail = errors.fail

check.MAX_NAMED = 10

-- "a, b, c and 2 more": at most MAX_NAMED of names.
function check.named(names)
  local shown = table.move(names, 1, math.min(#names, check.MAX_NAMED), 1, {})
  local text = table.concat(shown, ", ")
  if #names > #shown then text = text .. string.format(" and %d more", #names - #shown) end
  return text
end

local function plural(n, word)
  return string.format("%d %s%s", n, word, n == 1 and "" or "s")
end

local function warn(plan, text)
  local reporter = plan.reporter
  if reporter.warning then reporter:warning(text) end
end

-- check.deltas_below(plan) -> " DIR/sql holds 3: is that the folder (-d DIR/sql)?"
-- or "": the subfolders that hold deltas when the folders hold none of
-- their own (a parent folder given as -d).
function check.deltas_below(plan)
  local hints = {}
  for _, item in ipairs(plan.ignored or {}) do
    if item.folder then
      local below = delta.scan(item.path, { lenient = true, unmarked = plan.unmarked })
      local count = below and (#below + #below.install) or 0
      if count > 0 then
        hints[#hints + 1] = string.format("%s holds %d: is that the folder (-d %s)?", item.path, count, item.path)
      end
    end
  end
  return #hints > 0 and (" " .. table.concat(hints, " ")) or ""
end

local function folders(plan)
  return table.concat(plan.dirs or { plan.dir }, ", ")
end

-- The folders hold no delta at all.
local function check_folder(plan)
  if #plan.files + #plan.install_scripts == 0 then
    local below = check.deltas_below(plan)
    fail("input", "%s holds no deltas%s", folders(plan), below ~= "" and (";" .. below) or ": is -d the right folder?")
  end
end

-- No upgrades table on a database with objects: another upgrades table
-- is the likelier story than a database to baseline.
local function check_table(plan)
  if plan.table_exists or plan.fresh then return end
  local others, message, details = tracker.find_tables(plan.conn)
  if not others then errors.raise(message, details, "database") end
  if #others > 0 then
    fail("input", "database %s has no upgrades table %s; its upgrades tables: %s (-t %s)", plan.conn:info().dbname,
      plan.table, table.concat(others, ", "), others[1])
  end
  fail("input", "database %s has no upgrades table %s and is not empty: record the version it is at with "
    .. "'%s' first", plan.conn:info().dbname, plan.table, plan:suggest("baseline", "-b VERSION"))
end

-- Applied deltas whose file changed: the history and the folder disagree.
local function check_changed(plan)
  local changed = plan:changed()
  if #changed > 0 and plan.on_changed == "warn" then
    for _, e in ipairs(changed) do
      if not plan.warned[e.delta] then
        plan.warned[e.delta] = true
        warn(plan, string.format("%s changed since it was applied on %s; going on (on_changed: warn)",
          e.path or e.script, e.installed_on or "?"))
      end
    end
  elseif #changed > 0 then
    local names = {}
    for _, e in ipairs(changed) do names[#names + 1] = e.path or e.script end
    fail("input", "%s changed since applied, nothing was run: %s (accept the new content with '%s', or go on "
      .. "regardless with --on-changed warn)", plural(#changed, "applied delta"), check.named(names),
      plan:suggest("repair"))
  end
end

-- Applied deltas that the folders lack: a wrong -d, or its parent.
local function check_missing(plan)
  if plan.ignore_missing then return end
  local missing = {}
  for _, e in ipairs(plan.deltas) do
    if e.status == "missing" then missing[#missing + 1] = e.file ~= "" and e.file or e.script end
  end
  if #missing > 0 then
    fail("input", "%s recorded as applied in %s %s not in %s: %s. Is -d the right folder?%s If the files were removed "
      .. "on purpose, pass --ignore-missing (ignore_missing: true in the config file)", plural(#missing, "delta"),
      plan.table, #missing == 1 and "is" or "are", folders(plan), check.named(missing), check.deltas_below(plan))
  end
end

-- check.run(plan, list) raises the failure; returns nothing.
function check.run(plan, list)
  check_folder(plan)
  check_table(plan)
  if plan.table_exists and plan.can_write == false and #(list or {}) > 0 then
    local info = plan.conn:info()
    fail("database", "%s: user %s may not insert into and update %s; nothing was run", info.dbname, info.user,
      plan.table)
  end
  check_changed(plan)
  check_missing(plan)
  for _, e in ipairs(list or {}) do
    if e.out_of_order and not plan.out_of_order then
      fail("input", "%s was never applied but is labelled below the current version %s; rename it to a newer "
        .. "version, or allow it with --out-of-order", e.path, plan.current_version)
    end
    plan:_prepare(e)
  end
  for _, name in ipairs { "pre-all", "post-all" } do
    for _, d in ipairs(plan.hooks[name] or {}) do plan:_prepare(d) end
  end
end

return check
