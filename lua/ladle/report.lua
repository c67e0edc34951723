-- ladle.report: what applying deltas prints, in a form callers replace.
--
-- A reporter is a table of optional methods; a plan calls them as it works:
--   start(delta, index, total)  before a delta (or hook) runs
--   done(delta, ms)             after it committed
--   failed(delta, failure)      after it failed (nothing of it was kept)
--   interrupted(delta)          after Ctrl-C stopped it (nothing of it was kept)
--   waiting(holder_text)        when another upgrade holds the upgrades
--                               table's lock
--   retrying(delta, info)       after a lock timeout, before waiting to try
--                               the delta again (start follows); info:
--                               attempt, retries, wait (s), message, line,
--                               lock_timeout (s), blockers ({relation, mode,
--                               pid, state, query, user, seconds})
--   observed(delta, observation) after done, when the plan has an observer
--                               (ladle.rehearse: locks, rewrites, changes,
--                               findings, unobserved)
--   would(delta)                in a dry run, instead of start/done
--   note(text)                  anything else worth a line (what a Python delta printed)
--   warning(text)               what goes on but should not pass unseen (an
--                               applied delta that changed, with on_changed: warn)
--   finish(summary)             at the end of plan:apply(): {applied =,
--                               current_version =}, or in a dry run
--                               {would_apply =, current_version =, dry_run = true}
--
--   report.console{out = io.stdout, progress = nil, warnings = io.stderr}
--       pum-like lines; a progress bar when `progress` is true, or by
--       default when out is a terminal; warnings on `warnings`
--   report.json{out = io.stdout}  one JSON object per line and event
--   report.silent()               nothing

local errors = require "ladle.errors"
local json = require "ladle.json"
local retry = require "ladle.plan.retry"
local sys = require "ladle.sys"

local report = {}

-- "delta 0.5.0 001_drop_started_at_column", as pum says it (control
-- characters in a name shown escaped).
function report.label(d)
  if d.layout == "hook" then return errors.printable(d.file) end
  if d.layout == "install" then return "install script " .. errors.printable(d.file) end
  return errors.printable(string.format("delta %s %s", d.version, d.description))
end

-- "pid 4242 (alice, idle in transaction for 12.5 s: UPDATE ...) holding
-- ROW EXCLUSIVE on public.accounts"
report.describe_blocker = retry.describe_blocker

-- Console ---------------------------------------------------------------------------

local Console = {}
Console.__index = Console

-- On a terminal the line of the running delta carries a progress bar,
-- which the result then replaces:
--   Applying delta 1.2.0 03_backfill... [########..........] 12/40
--   Applying delta 1.2.0 03_backfill... OK (1520 ms)
function report.console(opts)
  opts = opts or {}
  local out = opts.out or io.stdout
  local progress = opts.progress
  if progress == nil then progress = sys.isatty(out) == true end
  return setmetatable({ out = out, progress = progress, warnings = opts.warnings or io.stderr }, Console)
end

local function bar(index, total)
  local width = 24
  local filled = math.floor(width * (index - 1) / total + 0.5)
  return string.format("[%s%s] %d/%d", string.rep("#", filled), string.rep(".", width - filled), index, total)
end

function Console:start(d, index, total)
  self.line = "Applying " .. report.label(d) .. "... "
  self.out:write(self.line)
  self.bar_shown = self.progress and index ~= nil and total ~= nil and total > 1
  if self.bar_shown then self.out:write(bar(index, total)) end
  self.out:flush()
end

-- Replaces the bar, if any, by what happened to the delta.
function Console:outcome(text)
  if self.bar_shown then
    self.out:write("\r\27[K", self.line or "")
    self.bar_shown = false
  end
  self.out:write(text, "\n")
  self.out:flush()
end

function Console:done(d, ms)
  self:outcome(string.format("OK (%d ms)", ms))
end

function Console:failed(d, failure)
  self:outcome("FAILED")
end

function Console:interrupted(d)
  self:outcome("INTERRUPTED")
end

function Console:would(d)
  self.out:write(d.layout == "hook" and "Would run " or "Would apply ", report.label(d),
    d.transaction == false and " (outside a transaction)" or "", "\n")
  self.out:flush()
end

function Console:waiting(holder)
  io.stderr:write("ladle: waiting for the lock, held by ", holder, "\n")
end

function Console:warning(text)
  self.warnings:write("ladle: warning: ", errors.printable(text), "\n")
  self.warnings:flush()
end

function Console:retrying(d, info)
  self:outcome("LOCK TIMEOUT")
  local lines = { string.format("ladle: %s; rolled back", info.message) }
  for _, b in ipairs(info.blockers) do lines[#lines + 1] = "ladle:   waiting for " .. report.describe_blocker(b) end
  if #info.blockers == 0 then lines[#lines + 1] = "ladle:   the session holding the lock is gone" end
  lines[#lines + 1] = string.format("ladle:   retry %d of %d in %s", info.attempt, info.retries,
    info.wait < 1 and string.format("%d ms", math.floor(info.wait * 1000 + 0.5)) or string.format("%.1f s", info.wait))
  io.stderr:write(table.concat(lines, "\n"), "\n")
end

-- Under the delta's line: what the observer saw (ladle.rehearse).
function Console:observed(d, o)
  local lines = {}
  for _, l in ipairs(o.locks or {}) do
    lines[#lines + 1] = string.format("  lock %s on %s%s", l.mode, l.relation,
      #l.blocks > 0 and (" (blocks " .. table.concat(l.blocks, ", ") .. ")") or "")
  end
  for _, r in ipairs(o.rewrites or {}) do lines[#lines + 1] = "  rewrote " .. r end
  for _, f in ipairs(o.findings or {}) do lines[#lines + 1] = string.format("  %s: %s", f.rule, f.message) end
  for _, u in ipairs(o.unobserved or {}) do lines[#lines + 1] = "  not observed: " .. u end
  if #lines > 0 then self.out:write(table.concat(lines, "\n"), "\n") end
  self.out:flush()
end

function Console:note(text)
  self.out:write(errors.printable(text), "\n")
  self.out:flush()
end

function Console:finish()
  self.out:flush()
end

-- JSON lines ------------------------------------------------------------------------

local Json = {}
Json.__index = Json

function report.json(opts)
  opts = opts or {}
  return setmetatable({ out = opts.out or io.stdout }, Json)
end

function Json:emit(event)
  self.out:write(json.encode(event), "\n")
  self.out:flush()
end

local function delta_fields(d, event)
  event.file = d.path
  event.script = d.script
  event.version = d.version
  event.phase = d.hook or (d.layout == "install" and "install") or d.phase
  event.description = d.description
  event.kind = d.kind
  return event
end

function Json:start(d, index, total)
  self:emit(delta_fields(d, { event = "start", index = index, total = total }))
end

function Json:done(d, ms)
  self:emit(delta_fields(d, { event = "applied", ms = ms }))
end

-- report.failure_fields(failure, event) -> event with what a failure says,
-- for JSON: message, exit, line, column, sqlstate, the statement's line,
-- the server's detail, hint and context, and what the run applied.
function report.failure_fields(f, event)
  event = event or {}
  for _, key in ipairs { "message", "exit", "line", "column", "sqlstate", "statement_line", "server_message",
                         "detail", "hint", "context", "applied_in_run" } do
    if event[key] == nil then event[key] = f[key] end
  end
  return event
end

function Json:failed(d, failure)
  self:emit(delta_fields(d, report.failure_fields(failure, { event = "failed" })))
end

function Json:interrupted(d)
  self:emit(delta_fields(d, { event = "interrupted" }))
end

function Json:would(d)
  self:emit(delta_fields(d, { event = "would_apply" }))
end

function Json:waiting(holder)
  self:emit { event = "waiting", holder = holder }
end

function Json:warning(text)
  self:emit { event = "warning", message = text }
end

function Json:retrying(d, info)
  self:emit(delta_fields(d, { event = "retrying", attempt = info.attempt, retries = info.retries,
    wait_ms = math.floor(info.wait * 1000 + 0.5), message = info.message, line = info.line,
    blockers = info.blockers }))
end

function Json:observed(d, o)
  self:emit(delta_fields(d, { event = "observed", ms = o.ms, locks = o.locks, rewrites = o.rewrites,
    changes = o.changes, findings = o.findings, unobserved = o.unobserved }))
end

function Json:note(text)
  self:emit { event = "note", message = text }
end

function Json:finish(summary)
  local event = { event = "finish" }
  for k, v in pairs(summary or {}) do event[k] = v end
  self:emit(event)
end

-- Silence ---------------------------------------------------------------------------

function report.silent()
  return {}
end

return report
