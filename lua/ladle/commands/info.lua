-- ladle info: every delta with its status, the current version, what is pending.

local common = require "ladle.commands.common"
local errors = require "ladle.errors"
local session = require "ladle.session"
local tracker = require "ladle.tracker"
local json = require "ladle.json"

local info = {
  summary = "show every delta's status, the current version and what is pending",
  usage = "ladle info [-p SERVICE] [-t TABLE] -d DIR... [--to VERSION] [--json] [--exit-code]",
  description = [[
Reads the delta folders and the upgrades table and prints each delta with
its status (pending, applied, below baseline, changed, missing), the reason
when the status needs one, and when it was installed; with several folders
(-d A B), the folder each delta comes from. Nothing is written.

Exit status: 0; with --exit-code, 1 when anything is pending. 2 for bad input
(unreadable folder, duplicate deltas, bad config file), 3 when the database
cannot be read.]],
  examples = [[
  ladle info -p prod -t public.pum -d sql/migrations
  ladle info -c db.yaml --json | jq '.pending'
  ladle info -p prod -d migrations --exit-code || echo "migrations pending"]],
  flags = common.flags { "pg_service", "table", "dir", "config", "to", "unmarked", "on_changed", "json" },
}
table.insert(info.flags, { "--exit-code", help = "exit 1 when deltas are pending" })

local function phase_text(d)
  if d.repeatable then return "repeatable" end
  if d.layout == "install" or d.phase == "install" then return "install" end
  if d.phase_marked then return d.phase_marked end
  if d.phase then return "(" .. d.phase .. ")" end
  return "?"
end

-- Statuses in JSON are snake_case, as keys are ("below_baseline").
local function status_key(status)
  return status and (status:gsub(" ", "_"))
end

local function delta_json(d)
  return {
    file = d.path, script = d.script, dir = d.dir, version = d.version, label = d.label, phase = d.phase,
    repeatable = d.repeatable or nil,
    unmarked = d.unmarked or nil, serial = d.serial, description = d.description, kind = d.kind,
    layout = d.layout, checksum = d.checksum, transaction = d.transaction, status = status_key(d.status),
    reason = d.reason,
    installed_on = d.installed_on, installed_by = d.installed_by, execution_time = d.execution_time,
    beyond_target = d.beyond_target or nil, out_of_order = d.out_of_order or nil,
  }
end

-- The JSON document of `info --json` (also what the REPL can print).
function info.document(plan)
  local counts = plan:counts()
  local doc = {
    table = plan.table, table_exists = plan.table_exists, empty_database = plan.fresh, dirs = json.array(plan.dirs),
    current_version = plan.current_version, baseline = plan.baseline, target = plan.target,
    pending = counts.pending, counts = counts, deltas = json.array {}, install_scripts = json.array {},
    hooks = json.array {}, ignored = json.array {},
  }
  for _, d in ipairs(plan.deltas) do doc.deltas[#doc.deltas + 1] = delta_json(d) end
  for _, d in ipairs(plan.install_scripts) do
    doc.install_scripts[#doc.install_scripts + 1] = { file = d.path, version = d.version, status = status_key(d.status),
      checksum = d.checksum }
  end
  for _, name in ipairs { "pre-all", "post-all" } do
    for _, d in ipairs(plan.hooks[name]) do doc.hooks[#doc.hooks + 1] = { file = d.path, hook = name, kind = d.kind } end
  end
  for _, item in ipairs(plan.ignored) do doc.ignored[#doc.ignored + 1] = { file = item.path, reason = item.reason } end
  return doc
end

-- Human output.
function info.print(plan, conn, out)
  out = out or io.stdout
  local counts = plan:counts()
  local header = string.format("Upgrades table %s in %s", plan.table, session.describe_conn(conn))
  out:write(header, "\n")
  if not plan.table_exists then
    if plan.fresh then
      out:write("The table does not exist yet and the database is empty: '", plan:suggest("upgrade"), "' creates it",
        plan.install and (" and starts from " .. plan.install.file) or "", ".\n")
    else
      local others = tracker.find_tables(conn) or {}
      if #others > 0 then
        out:write("The table does not exist; its upgrades tables: ", table.concat(others, ", "), " (-t ", others[1],
          ").\n")
      else
        out:write("The table does not exist and the database is not empty: record its version with ",
          "'", plan:suggest("baseline", "-b VERSION"), "' first.\n")
      end
    end
  end
  out:write(string.format("Current version: %s%s%s\n", plan.current_version or "none",
    plan.baseline and (" (baseline " .. plan.baseline .. ")") or "",
    plan.target and ("; target " .. plan.target) or ""))
  out:write("\n")
  if #plan.deltas == 0 then
    out:write("No deltas in ", errors.printable(table.concat(plan.dirs, ", ")), ".\n")
  else
    local several = #plan.dirs > 1
    local rows = { { "VERSION", "PHASE", "FILE", "STATUS", "INSTALLED ON", "MS", "NOTE" } }
    if several then table.insert(rows[1], 1, "FOLDER") end
    local any_note = false
    for _, d in ipairs(plan.deltas) do
      local note = d.reason or ""
      if d.transaction == false and d.status == "pending" then
        note = (note ~= "" and note .. "; " or "") .. "runs outside a transaction"
      end
      any_note = any_note or note ~= ""
      -- names are shown with their control characters escaped
      rows[#rows + 1] = { d.version or (d.repeatable and "-") or "?", phase_text(d),
        errors.printable(d.script or d.file or "?"), d.status, d.installed_on or "",
        d.execution_time and tostring(d.execution_time) or "", errors.printable(note) }
      if several then table.insert(rows[#rows], 1, errors.printable(d.dir or "(gone)")) end
    end
    if not any_note then
      for _, row in ipairs(rows) do row[#row] = nil end
    end
    common.print_table(rows, out)
  end
  local extras = {}
  local unused = {}
  for _, d in ipairs(plan.install_scripts) do
    if not d.status then unused[#unused + 1] = d.file end
  end
  if #unused > 0 then
    extras[#extras + 1] = "Install scripts (run only on an empty database): " .. table.concat(unused, ", ")
  end
  local hooks = {}
  for _, name in ipairs { "pre-all", "post-all" } do
    for _, d in ipairs(plan.hooks[name]) do hooks[#hooks + 1] = #plan.dirs > 1 and d.path or d.file end
  end
  if #hooks > 0 then
    extras[#extras + 1] = "Hooks (run around every upgrade, in this order): " .. table.concat(hooks, ", ")
  end
  for _, item in ipairs(plan.ignored) do
    extras[#extras + 1] = string.format("Ignored: %s (%s)", item.script or item.path, item.reason)
  end
  for i, line in ipairs(extras) do extras[i] = errors.printable(line) end
  if #extras > 0 then out:write("\n", table.concat(extras, "\n"), "\n") end
  local parts = { string.format("%d pending", counts.pending) }
  for _, status in ipairs { "applied", "below baseline", "changed", "missing" } do
    local n = counts[status:gsub(" ", "_")]
    if n > 0 then parts[#parts + 1] = string.format("%d %s", n, status) end
  end
  if counts.beyond_target > 0 then parts[#parts + 1] = string.format("%d above the target", counts.beyond_target) end
  out:write("\n", table.concat(parts, ", "), ".\n")
  if counts.changed > 0 then
    if plan.on_changed == "warn" then
      out:write("Changed deltas are reported and left as they are (on_changed: warn); '", plan:suggest("repair"),
        "' records their new checksums.\n")
    else
      out:write("Changed deltas stop 'ladle upgrade'; '", plan:suggest("repair"), "' records their new checksums (or ",
        "go on with --on-changed warn).\n")
    end
  end
end

function info.run(opts, _, global)
  local o = common.options(opts, global)
  common.need(o, "dir", "-d/--dir", "delta_dir", "info")
  local conn <close> = session.connect(o)
  local plan = session.plan(o, conn)
  if o.json then
    io.stdout:write(json.encode(info.document(plan)), "\n")
  else
    info.print(plan, conn)
  end
  if opts.exit_code and plan:counts().pending > 0 then return 1 end
  return 0
end

return info
