-- ladle upgrade: apply what is pending, in order, each delta exactly once.

local common = require "ladle.commands.common"
local session = require "ladle.session"
local sys = require "ladle.sys"

local upgrade = {
  summary = "apply the pending deltas (each in its own transaction with its tracking row)",
  usage = "ladle upgrade [-p SERVICE] [-t TABLE] -d DIR... [--to VERSION] [--phase pre|post|all] [--dry-run]\n"
    .. "                     [-v TYPE NAME VALUE]... [--on-changed fail|warn] [--no-wait] [--wait-timeout DURATION]\n"
    .. "                     [--lock-timeout DURATION --retries N [--retry-wait DURATION]] [--json]",
  description = [[
Applies the pending deltas of DIR in order: by version, then pre, unmarked,
post, then serial (pum's names: description). With several folders (-d A B)
they run folder by folder, as pum runs them. Each delta runs in its own
transaction together with its row in the upgrades table, so the database
holds both or neither whatever happens; a delta whose first line is
'-- ladle: no-transaction' runs outside a transaction (CREATE INDEX
CONCURRENTLY), and so does a pum Python delta (python3; its row is written
after it succeeds). pre-all/post-all hooks run on every upgrade, as pum's:
pre-all over the folders in reverse order, post-all in order, .py before
.sql. Flyway repeatables (R__x.sql) run after the versioned deltas when
their file changed since their last run.

-v TYPE NAME VALUE (TYPE int, float or str; repeat it) substitutes
%(NAME)s in pum's SQL deltas and hooks as pum does (%% is a %), and reaches
Python deltas (DeltaPy.variables) and Lua ones (the third argument). A
%(NAME)s without its variable is exit 2 before anything runs.

On an empty database the table is created and the upgrade starts from the
newest install script (baseline-X.Y.Z.sql) at or below the target, or from
the first delta. A database with objects but no upgrades table is refused:
record its version with 'ladle baseline' first.

One upgrade at a time: a second one waits for the first (--no-wait: exit 3
at once; --wait-timeout: exit 3 after that long) and then applies only what
is still pending.

Without blocking production: --lock-timeout sets each delta's lock_timeout,
so that a statement waiting for a table lock (behind a long transaction)
gives up instead of queueing every query on that table behind it. With
--retries N the delta's transaction is rolled back, ladle prints which
relation is locked and by which pid and query, waits (--retry-wait, doubled
each time, with jitter) and tries the delta again, up to N times. Other
errors are not retried. See doc/migrations.md.

--phase pre applies the pre deltas of each version up to the first version
whose post deltas are pending (deploy, then run --phase post); --phase post
applies post deltas up to the first version whose pre deltas are pending.

An applied delta whose file changed stops the upgrade (exit 2) until
'ladle repair' records it; --on-changed warn (on_changed: warn in the config
file) reports it and goes on, which is how pum treats edited deltas.

Exit status: 0 done; 2 bad input (changed applied deltas, duplicate files,
bad config, a delta refused before it ran, no python3 for a Python delta);
3 a delta failed (its transaction rolled back, earlier ones stay applied)
or the database could not be reached; 130 interrupted.]],
  examples = [[
  ladle upgrade -p prod -t public.pum -d sql/migrations
  ladle upgrade -p qwat_prod -t qwat_sys.info -d delta/ delta_custom/ -v int SRID 2056
  ladle -c db.yaml upgrade --to 2.1.0 --phase pre
  ladle upgrade -p "host=db1 dbname=app" -d migrations --dry-run
  ladle upgrade -d migrations --no-wait --json
  ladle upgrade -p prod -d migrations --lock-timeout 2s --retries 5 --retry-wait 5s]],
  flags = common.flags { "pg_service", "table", "dir", "config", "to", "phase", "dry_run", "variables", "variables_in",
    "python", "on_changed",
    "no_wait", "wait_timeout", "lock_timeout", "retries", "retry_wait", "out_of_order", "ignore_missing", "unmarked",
    "json" },
}

-- The plan, built as a dry run, reports each delta as it would apply it
-- (JSON lines with --json) and changes nothing.
local function dry_run(plan, phase, o)
  local count, stopped = plan:apply(phase)
  if o.json then return 0 end
  if count == 0 then
    print(string.format("Nothing to apply: %s is at version %s.", plan.table, plan.current_version or "none"))
  else
    print(string.format("%d delta%s would be applied (dry run: nothing was changed).", count, count == 1 and "" or "s"))
  end
  if stopped then
    print(string.format("Would stop at %s: its %s deltas must run first.", stopped.version,
      phase == "pre" and "post" or "pre"))
  end
  return 0
end

function upgrade.run(opts, _, global)
  local o = common.options(opts, global)
  common.need(o, "dir", "-d/--dir", "delta_dir", "upgrade")
  local phase = o.phase or "all"
  local conn <close> = session.connect(o)
  local plan = session.plan(o, conn)
  session.warn_ignored(plan)
  if o.json then
    -- where the upgrade starts, for programs that follow it (ladle run fleet)
    plan.reporter:emit { event = "plan", current_version = plan.current_version, target = plan.target,
      pending = #plan:selection(phase), table = plan.table, dry_run = o.dry_run or nil }
  end
  if o.dry_run then return dry_run(plan, phase, o) end
  -- the lock first, then what it allows (a refused upgrade does not announce itself)
  session.lock_and_check(plan, phase)

  local started = sys.now()
  if not o.json then
    local pending = #plan:pending()
    if pending > 0 then
      print(string.format("Upgrading %s (%s) from %s%s: %d pending delta%s", session.describe_conn(conn), plan.table,
        plan.current_version or (plan.fresh and "an empty database" or "nothing"),
        plan.target and (" to " .. plan.target) or "", pending, pending == 1 and "" or "s"))
    end
  end
  local count, stopped = plan:apply(phase)
  if o.json then return 0 end
  local ms = math.floor((sys.now() - started) * 1000 + 0.5)
  if count == 0 and not stopped then
    print(string.format("Nothing to apply: %s is at version %s.", plan.table, plan.current_version or "none"))
  else
    print(string.format("Applied %d delta%s in %d ms; %s is at version %s.", count, count == 1 and "" or "s", ms,
      plan.table, plan.current_version or "none"))
  end
  if stopped then
    if phase == "pre" then
      print(string.format("Stopped at %s: its post deltas are pending. Deploy %s, then run '%s'.",
        stopped.version, stopped.version, o.suggest("upgrade", "--phase post")))
    else
      print(string.format("Stopped at %s: its pre deltas are pending; run '%s' first.",
        stopped.version, o.suggest("upgrade", "--phase pre")))
    end
  end
  return 0
end

return upgrade
