-- ladle repair: accept applied deltas whose files changed.

local common = require "ladle.commands.common"
local session = require "ladle.session"
local json = require "ladle.json"

local repair = {
  summary = "record the new checksums of applied deltas whose files changed",
  usage = "ladle repair [-p SERVICE] [-t TABLE] -d DIR [--dry-run] [--json]",
  description = [[
An applied delta whose file changed stops 'ladle upgrade' (checksum drift).
When the change is deliberate (a comment fixed, a statement made idempotent),
repair shows each such delta and records the file's checksum in the upgrades
table. Nothing is run. --dry-run only shows them.]],
  examples = [[
  ladle repair -p prod -t public.pum -d sql/migrations --dry-run
  ladle repair -c db.yaml]],
  flags = common.flags { "pg_service", "table", "dir", "config", "dry_run", "json" },
}

function repair.run(opts, _, global)
  local o = common.options(opts, global)
  common.need(o, "dir", "-d/--dir", "delta_dir", "repair")
  local conn <close> = session.connect(o)
  local plan = session.plan(o, conn, { reporter = false })
  local changed = plan:changed()
  local listed = json.array {}
  for _, d in ipairs(changed) do
    listed[#listed + 1] = { file = d.path, version = d.version, recorded = d.row.checksum, checksum = d.checksum,
      installed_on = d.installed_on }
  end
  if not o.json then
    for _, d in ipairs(changed) do
      print(string.format("%s: applied on %s with checksum %s; the file's is now %s", d.path, d.installed_on or "?",
        d.row.checksum, d.checksum))
    end
  end
  if #changed > 0 and not o.dry_run then plan:repair() end
  if o.json then
    io.stdout:write(json.encode { changed = listed, repaired = not o.dry_run and #changed > 0 }, "\n")
  elseif #changed == 0 then
    print("Nothing to repair: every applied delta matches its file.")
  elseif o.dry_run then
    print(string.format("%d delta%s would be repaired (dry run: nothing was changed).", #changed,
      #changed == 1 and "" or "s"))
  else
    print(string.format("Recorded the new checksum%s of %d delta%s in %s.", #changed == 1 and "" or "s", #changed,
      #changed == 1 and "" or "s", plan.table))
  end
  return 0
end

return repair
