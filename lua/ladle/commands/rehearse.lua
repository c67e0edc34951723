-- ladle rehearse: apply the pending deltas to a throwaway copy and report
-- what each one really did (ladle.rehearse).

local common = require "ladle.commands.common"
local errors = require "ladle.errors"
local json = require "ladle.json"
local pg = require "ladle.pg"
local rehearse = require "ladle.rehearse"
local report = require "ladle.report"
local session = require "ladle.session"
local svg = require "ladle.report.svg"

local fail = errors.fail

local function check_phase(value)
  if value == "pre" or value == "post" or value == "all" then return true end
  return false, "expected pre, post or all"
end

-- the plan's flags as upgrade has them, so that the rehearsal applies what
-- the upgrade would
local flag_names = { "pg_service", "table", "dir", "config", "to", "unmarked", "variables", "variables_in", "python",
  "on_changed", "out_of_order", "ignore_missing", "pg_dump_exe", "pg_restore_exe" }

local command = {
  summary = "apply the pending deltas to a throwaway copy and report locks, rewrites and old-code breakage",
  usage = "ladle rehearse [-p SERVICE] [-t TABLE] -d DIR [--to VERSION] [--phase pre|post|all] [--with-data]\n"
    .. "                      [-v TYPE NAME VALUE]... [--on-changed fail|warn] [--scratch SERVICE] [--json] [--svg FILE]",
  description = [[
Copies the database's schema (pg_dump --schema-only, plus the upgrades
table's rows; with --with-data every row) into a throwaway database on a
private cluster, or on --scratch SERVICE, applies the pending deltas there
with the real runner, and reports for each delta: its time; the locks its
transaction held at COMMIT on tables that existed before it, with what each
blocks (reads, writes, DDL); the tables it rewrote; the schema changes;
and findings:
  breaks-old-code  a pre delta (with --phase pre: any delta) drops, renames
                   or retypes something, or makes a column NOT NULL without
                   a default: the old code still runs at that moment
  blocks-reads     ACCESS EXCLUSIVE held on an existing table
  blocks-writes    SHARE, SHARE ROW EXCLUSIVE or EXCLUSIVE held on one
  rewrite          an existing table was rewritten
  not-concurrent   an index built on an existing table without CONCURRENTLY
Tables created by the delta itself never produce findings. A delta marked
'-- ladle: no-transaction' is reported without locks, and says so.

The database itself is only read. --phase pre: every delta runs while the
old code does; post: none does (the interrupting order); all (default):
each delta's own phase says. --svg FILE writes a timeline picture.

Exit status: 0 no findings; 1 findings; 2 bad usage or input; 3 a delta
failed in the rehearsal (production is untouched) or the copy could not be
made. See doc/rehearse.md.]],
  examples = [[
  ladle rehearse -p prod -d migrations
  ladle rehearse -p prod -d migrations --with-data --svg rehearsal.svg
  ladle rehearse -p prod -d migrations --phase pre --json | jq '.deltas[].findings']],
  flags = common.flags(flag_names),
}
for _, flag in ipairs({
  { "--phase", arg = "PHASE", check = check_phase,
    help = "pre: every delta runs while the old code does; post: none does; all (default): each delta's phase" },
  { "--with-data", key = "with_data", help = "copy every row, not only the schema (times then mean something)" },
  { "--scratch", arg = "SERVICE", key = "scratch",
    help = "make the copy on this server (default: a throwaway cluster)" },
  { "--json", help = "print {deltas: [...], failed: null|{...}} as JSON" },
  { "--svg", arg = "FILE", key = "svg", help = "write a timeline picture, one row per delta" },
}) do
  command.flags[#command.flags + 1] = flag
end

local function json_result(result)
  local deltas = json.array {}
  for _, o in ipairs(result.deltas) do
    local locks = json.array {}
    for _, l in ipairs(o.locks) do
      locks[#locks + 1] = { relation = l.relation, mode = l.mode, blocks = json.array(l.blocks), held_ms = l.held_ms }
    end
    local changes = json.array {}
    for _, c in ipairs(o.changes) do
      changes[#changes + 1] = { kind = c.kind, name = c.name, change = c.change, what = c.what,
        hazards = json.array(c.hazards), sql = json.array(c.sql) }
    end
    local findings = json.array {}
    for _, f in ipairs(o.findings) do findings[#findings + 1] = f end
    deltas[#deltas + 1] = { file = o.file, version = o.version, phase = o.phase or pg.null, ms = o.ms,
      transaction = o.transaction, locks = locks, rewrites = json.array(o.rewrites), changes = changes,
      findings = findings, unobserved = json.array(o.unobserved) }
  end
  return json.encode { deltas = deltas, failed = result.failed or pg.null, findings = result.findings,
    pending = result.pending }
end

function command.run(opts, _, global)
  local o = common.options(opts, global)
  -- one folder (-d DIR), or several where the command line takes them
  if not o.dir and not (o.dirs and #o.dirs > 0) then
    fail("usage", "rehearse: -d/--dir is required (or delta_dir in the config file)")
  end
  local phase = o.phase ~= "all" and o.phase or nil
  if not o.json then
    print(string.format("Rehearsing on a copy of %s (%s) on %s:", common.target_name(o.pg_service),
      o.with_data and "schema and rows" or "schema and upgrades table",
      o.scratch and common.target_name(o.scratch) or "a throwaway cluster"))
  end
  local result = rehearse.run {
    source = o.pg_service, dir = o.dir, dirs = o.dirs, table = o.table, to = o.to, unmarked = o.unmarked, phase = phase,
    with_data = o.with_data, scratch = o.scratch, pg_dump_exe = o.pg_dump_exe, pg_restore_exe = o.pg_restore_exe,
    reporter = o.json and report.silent() or report.console { out = io.stdout },
    plan = session.plan_options(o),
  }
  if o.svg then
    local ok, why = svg.write(o.svg, result)
    if not ok then fail("system", "writing %s: %s", o.svg, why) end
  end
  if o.json then
    io.stdout:write(json_result(result), "\n")
  elseif result.pending == 0 then
    print("Nothing to rehearse: no pending deltas.")
  else
    print(string.format("Rehearsed %d of %d pending delta%s on %s: %d finding%s.", #result.deltas, result.pending,
      result.pending == 1 and "" or "s", result.where, result.findings, result.findings == 1 and "" or "s"))
  end
  if result.failed then
    -- with --json, the document above says it already
    error(errors.failure("database", string.format("rehearsal failed: %s (production is untouched)",
      result.failed.message), { json_reported = o.json or nil }), 0)
  end
  return result.findings > 0 and 1 or 0
end

return command
