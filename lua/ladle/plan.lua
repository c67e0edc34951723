-- ladle.plan: what a folder of deltas means for one database, and applying it.
--
--   local plan = assert(ladle.plan { conn = db, dir = "migrations", to = "2.1.0" })
--   for _, step in ipairs(plan:versions()) do
--     step:apply("pre")
--     deploy(step.version)
--     step:apply("post")
--   end
--
-- plan.deltas lists every delta with its status ("pending", "applied",
-- "below baseline", "changed", "missing") and the reason. Applying takes the
-- table's advisory lock unless it is already held (plan:lock()), re-reads
-- what is applied once it has it, runs each delta in its own transaction
-- together with its tracking row, and raises a ladle.errors failure when a
-- delta fails (exit 3) or the plan cannot run (exit 2). doc/migrations.md
-- is the manual.

local delta = require "ladle.delta"
local errors = require "ladle.errors"
local report = require "ladle.report"
local sys = require "ladle.sys"
local tracker = require "ladle.tracker"
local version = require "ladle.version"

local plan = {}

local Plan = {}
Plan.__index = Plan
plan.Plan = Plan

local Step = {}
Step.__index = Step
plan.Step = Step

local PHASES = { pre = true, post = true, all = true }

local fail = errors.fail

local function basename(path)
  return (path or ""):match("([^/\\]*)$")
end

local vcompare = version.compare

-- plan.new(opts) -> plan | nil, message, exit_code
--   conn      an open connection (required)
--   dir       the delta folder (required)
--   table     the upgrades table, "schema.table" (default public.ladle_upgrades)
--   to        the target version: deltas labelled above it stay pending
--   unmarked  the phase of deltas whose name has none: "post" (default) or "pre"
--   out_of_order  allow applying a delta labelled below the current version
--   reporter  a reporter (ladle.report); default report.console(); false for none
--   lock      defaults for plan:lock(): {wait = true, timeout = seconds}
-- Bad input (an unreadable folder, two deltas in one slot, a bad version or
-- table name, a table that is not an upgrades table) gives exit code 2; a
-- database failure 3.
function plan.new(opts)
  assert(type(opts) == "table", "ladle.plan: expected a table of options")
  local conn = opts.conn
  assert(conn ~= nil and type(conn.query) == "function", "ladle.plan: conn (an open connection) is required")
  assert(type(opts.dir) == "string", "ladle.plan: dir (the delta folder) is required")
  local unmarked = opts.unmarked or "post"
  assert(unmarked == "pre" or unmarked == "post", "ladle.plan: unmarked must be \"pre\" or \"post\"")
  local target
  if opts.to ~= nil then
    local why
    target, why = version.normalize(opts.to)
    if not target then return nil, "target: " .. why, 2 end
  end
  local files, why = delta.scan(opts.dir)
  if not files then return nil, why, 2 end
  local t
  t, why = tracker.open(conn, opts.table)
  if not t then return nil, why, 2 end
  local reporter = opts.reporter
  if reporter == nil then reporter = report.console() end
  -- `ladle run --dry-run` makes every plan of the process a dry run, so a
  -- recipe that builds its own plan cannot apply anything by mistake
  local dry_run = opts.dry_run
  if dry_run == nil then dry_run = require("ladle.recipe").dry_run end
  local self = setmetatable({
    conn = conn, tracker = t, table = t.name, dir = opts.dir, target = target, unmarked = unmarked,
    out_of_order = opts.out_of_order == true, reporter = reporter or report.silent(), files = files,
    hooks = files.hooks, install_scripts = files.install, ignored = files.ignored,
    lock_options = opts.lock or {}, applied_count = 0, dry_run = dry_run == true,
  }, Plan)
  for _, d in ipairs(files) do
    d.unmarked = d.phase_marked == nil
    d.phase = d.phase_marked or unmarked
  end
  for _, d in ipairs(files.install) do d.phase = "install" end
  local ok, message, code = self:refresh()
  if not ok then return nil, message, code end
  return self
end

-- Reading the database ---------------------------------------------------------------

local function set_row(d, row)
  d.row = row
  d.installed_on = row.installed_on
  d.installed_by = row.installed_by
  d.execution_time = row.execution_time
end

local function clear(d)
  d.status, d.reason, d.row, d.installed_on, d.installed_by, d.execution_time = nil, nil, nil, nil, nil, nil
  d.out_of_order, d.beyond_target = nil, nil
end

local kind_of_type = { [4] = "lua", [5] = "lua", [6] = "lua", [8] = "sql", [9] = "sql", [10] = "sql" }
local phase_of_type = { [5] = "pre", [9] = "pre", [6] = "post", [10] = "post" }

-- An entry for a recorded delta whose file is gone.
local function missing_entry(self, row)
  local v = version.normalize(row.version or "") or (row.version or "?")
  local entry = setmetatable({
    status = "missing", version = v, label = row.version, file = basename(row.script), script = row.script,
    description = row.description, kind = kind_of_type[row.type], phase = phase_of_type[row.type],
    checksum = row.checksum,
    reason = string.format("recorded in %s, but %s has no such file", self.table, self.dir),
  }, delta.Delta)
  entry.phase_marked = entry.phase
  if not entry.phase then entry.phase, entry.unmarked = self.unmarked, true end
  set_row(entry, row)
  return entry
end

-- plan:refresh() -> true | nil, message, exit_code
-- Re-reads the upgrades table and recomputes every status (applying does
-- it after taking the lock).
function Plan:refresh()
  local state, message, code = self.tracker:inspect()
  if not state then return nil, message, code end
  local rows = {}
  if state.exists then
    rows, message = self.tracker:rows()
    if not rows then return nil, message, 3 end
  end
  self.rows = rows
  self.table_exists = state.exists
  self.can_write = state.can_write
  self.current_version = tracker.current_version(rows)
  self.baseline = tracker.baseline_version(rows)
  self.fresh = false
  local any = false
  for _, row in ipairs(rows) do any = any or row.success end
  if not any then
    local empty
    empty, message = self.tracker:database_is_empty()
    if empty == nil then return nil, message, 3 end
    self.fresh = empty
  end
  self:_classify()
  return true
end

function Plan:_classify()
  local files = self.files
  local by_key, by_install, claimed = {}, {}, {}
  for _, row in ipairs(self.rows) do
    if row.success then
      local file = basename(row.script)
      if row.type == delta.BASELINE_TYPE then
        if file ~= "" then by_install[file] = by_install[file] or row end
      else
        local v = version.normalize(row.version or "")
        if v and file ~= "" then
          local key = v .. "/" .. file
          by_key[key] = by_key[key] or row
        end
      end
    end
  end

  -- 1. A row with the file's version and name.
  for _, d in ipairs(files) do
    clear(d)
    local row = by_key[d.version .. "/" .. d.file]
    if row then
      claimed[row] = true
      set_row(d, row)
      if row.checksum == d.checksum or row.checksum == "" then
        d.status = "applied"
      else
        d.status = "changed"
        d.reason = string.format("the file changed after it was applied on %s (recorded checksum %s, now %s)",
          row.installed_on or "?", row.checksum, d.checksum)
      end
    end
  end
  -- 2. pum's rule: a row with the same version and checksum is that delta,
  --    whatever its name was then.
  local by_sum = {}
  for _, row in ipairs(self.rows) do
    if row.success and not claimed[row] and row.type ~= delta.BASELINE_TYPE and row.checksum ~= "" then
      local v = version.normalize(row.version or "")
      if v then by_sum[v .. "/" .. row.checksum] = by_sum[v .. "/" .. row.checksum] or row end
    end
  end
  for _, d in ipairs(files) do
    if not d.status then
      local row = by_sum[d.version .. "/" .. d.checksum]
      if row and not claimed[row] then
        claimed[row] = true
        set_row(d, row)
        d.status = "applied"
        d.reason = "recorded under the name " .. row.script
      end
    end
  end

  -- Install scripts: recorded ones, or the one an empty database starts from.
  self.install = nil
  local deltas = {}
  for _, d in ipairs(self.install_scripts) do
    clear(d)
    local row = by_install[d.file]
    if row then
      claimed[row] = true
      set_row(d, row)
      d.status = row.checksum == d.checksum and "applied" or "changed"
      if d.status == "changed" then
        d.reason = string.format("the install script changed after it ran on %s", row.installed_on or "?")
      end
      deltas[#deltas + 1] = d
    end
  end
  local floor, floor_reason = self.baseline, self.baseline and ("below the baseline " .. self.baseline)
  if self.fresh then
    for _, d in ipairs(self.install_scripts) do
      if not self.target or vcompare(d.version, self.target) <= 0 then self.install = d end
    end
    if self.install then
      local d = self.install
      d.status = "pending"
      d.reason = "the database is empty: it starts from this install script"
      deltas[#deltas + 1] = d
      floor, floor_reason = d.version, "below the install script " .. d.file
    end
  end

  -- 3. Everything else, by the version rules.
  for _, d in ipairs(files) do
    if not d.status then
      if floor and vcompare(d.version, floor) < 0 then
        d.status, d.reason = "below baseline", floor_reason
      else
        d.status = "pending"
        if self.current_version and vcompare(d.version, self.current_version) < 0 then
          d.out_of_order = true
          d.reason = "out of order: labelled below the current version " .. self.current_version
        end
      end
    end
    if d.status == "pending" and self.target and vcompare(d.version, self.target) > 0 then
      d.beyond_target = true
      d.reason = (d.reason and d.reason .. "; " or "") .. "above the target " .. self.target
    end
    deltas[#deltas + 1] = d
  end
  for _, row in ipairs(self.rows) do
    if row.success and not claimed[row] and row.type ~= delta.BASELINE_TYPE then
      deltas[#deltas + 1] = missing_entry(self, row)
    end
  end
  table.sort(deltas, delta.before)
  self.deltas = deltas
end

-- Questions --------------------------------------------------------------------------------

-- plan:pending() -> the deltas an upgrade to the target would apply, in order.
function Plan:pending()
  local list = {}
  for _, d in ipairs(self.deltas) do
    if d.status == "pending" and not d.beyond_target then list[#list + 1] = d end
  end
  return list
end

-- plan:counts() -> {pending = n, applied = n, ["below baseline"] = n, changed = n, missing = n}
-- (pending counts what an upgrade to the target would apply).
function Plan:counts()
  local counts = { pending = 0, applied = 0, ["below baseline"] = 0, changed = 0, missing = 0, beyond_target = 0 }
  for _, d in ipairs(self.deltas) do
    if d.beyond_target then
      counts.beyond_target = counts.beyond_target + 1
    else
      counts[d.status] = counts[d.status] + 1
    end
  end
  return counts
end

-- plan:changed() -> the applied deltas whose file changed.
function Plan:changed()
  local list = {}
  for _, d in ipairs(self.deltas) do
    if d.status == "changed" then list[#list + 1] = d end
  end
  return list
end

local function matches_phase(d, phase)
  if phase == "all" or d.phase == "install" then return true end
  return d.phase == phase
end

-- step:pending(phase) -> this version's pending deltas of that phase
-- ("pre", "post" or "all"; the install script belongs to every phase).
function Step:pending(phase)
  phase = phase or "all"
  assert(PHASES[phase], "step:pending: phase must be \"pre\", \"post\" or \"all\"")
  local list = {}
  for _, d in ipairs(self.deltas) do
    if d.status == "pending" and not d.beyond_target and matches_phase(d, phase) then list[#list + 1] = d end
  end
  return list
end

-- step:apply(phase) -> number of deltas applied. Raises a failure.
function Step:apply(phase)
  phase = phase or "all"
  assert(PHASES[phase], "step:apply: phase must be \"pre\", \"post\" or \"all\"")
  local p = self.plan
  return p:_locked(function()
    local list = self:pending(phase)
    p:check(list)
    local count = p:_apply_list(list)
    if count > 0 then p:_restore_session() end
    return count
  end)
end

function Step:__tostring()
  return string.format("step %s (%d pending)", self.version, #self:pending())
end

-- plan:versions() -> the steps of an upgrade: one per version that has
-- pending deltas, in order, each with .version, .deltas (all of that
-- version's deltas), step:pending(phase) and step:apply(phase).
function Plan:versions()
  local steps, by_version = {}, {}
  for _, d in ipairs(self.deltas) do
    if d.status ~= "missing" and d.version then
      local step = by_version[d.version]
      if not step then
        step = setmetatable({ plan = self, version = d.version, deltas = {} }, Step)
        by_version[d.version] = step
        steps[#steps + 1] = step
      end
      step.deltas[#step.deltas + 1] = d
    end
  end
  local list = {}
  for _, step in ipairs(steps) do
    if #step:pending("all") > 0 then list[#list + 1] = step end
  end
  return list
end

-- Locking ----------------------------------------------------------------------------------

-- plan:lock{wait = true, timeout = seconds} -> true | nil, message
-- Takes the table's advisory lock for as long as the caller needs it (a
-- whole recipe: pre deltas, deploy, post deltas) and re-reads the applied
-- state, so that nothing another runner applied meanwhile runs twice.
function Plan:lock(opts)
  if self.holding then return true end
  local merged = {}
  for k, v in pairs(self.lock_options) do merged[k] = v end
  for k, v in pairs(opts or {}) do merged[k] = v end
  local reporter = self.reporter
  merged.on_wait = merged.on_wait or function(_, text) report.call(reporter, "waiting", text) end
  local ok, message = self.tracker:lock(merged)
  if not ok then return nil, message end
  local refreshed, why = self:refresh()
  if refreshed then refreshed, why = self:_capture_session() end
  if not refreshed then
    self.tracker:unlock()
    return nil, why
  end
  -- the plan's own flag: a lock taken through plan.tracker directly has
  -- not re-read the table
  self.holding = true
  self.applied_count = 0
  self.total = #self:pending()
  return true
end

-- Every delta starts from the session as the caller left it: a `SET` in
-- one delta (pg_dump's install scripts empty search_path) does not leak
-- into the next, and a resumed run sees what a run in one go saw. The
-- caller's own settings (SET ROLE, lock_timeout, ...) are read once, when
-- the lock is taken, and put back after RESET ALL before each delta.
function Plan:_capture_session()
  local rows, message = self.conn:query([[
SELECT name, setting FROM pg_catalog.pg_settings
WHERE source = 'session' AND name NOT LIKE 'transaction\_%' AND name <> 'session_authorization'
ORDER BY name]])
  if not rows then return nil, message end
  local calls = {}
  for _, row in ipairs(rows) do
    calls[#calls + 1] = string.format("pg_catalog.set_config(%s, %s, false)", self.conn:escape_literal(row.name),
      self.conn:escape_literal(row.setting or ""))
  end
  self.session_sql = "RESET ALL;" .. (#calls > 0 and ("SELECT " .. table.concat(calls, ", ") .. ";") or "")
  return true
end

-- Puts the caller's session back after deltas ran.
function Plan:_restore_session()
  if self.session_sql and not self.conn:is_closed() and self.conn:transaction_status() == "idle" then
    local ok, message = self.conn:exec(self.session_sql)
    if not ok then fail(3, "restoring the session's settings failed: %s", message) end
  end
end

-- plan:unlock() -> true | nil, message
function Plan:unlock()
  self.holding = false
  return self.tracker:unlock()
end

function Plan:locked()
  return self.holding == true
end

-- Runs fn with the lock held, taking it (and releasing it after) when the
-- caller does not hold it already.
function Plan:_locked(fn)
  if self.holding or self.dry_run then return fn() end
  local ok, message = self:lock()
  if not ok then fail(3, "%s", message) end
  local results = table.pack(pcall(fn))
  self:unlock()
  if not results[1] then error(results[2], 0) end
  return table.unpack(results, 2, results.n)
end

local function refuse_python(d)
  if d.kind == "python" then
    fail(2, "%s is a pum Python delta; ladle runs .sql and .lua deltas: rewrite it as a .lua delta", d.path)
  end
end

-- Reads a delta once and, for SQL, splits it into statements; bad input
-- (an unreadable file, psql meta-commands, transaction control) is exit 2.
local function prepare(d)
  if d.prepared then return d.prepared end
  refuse_python(d)
  local content, why = d:read()
  if not content then fail(2, "%s", why) end
  local prepared = { content = content }
  if d.kind == "sql" then
    prepared.statements, why = d:statements(content)
    if not prepared.statements then fail(2, "%s", why) end
  elseif d.kind == "lua" then
    local ok
    ok, why = load(content, "@" .. d.path, "t")
    if not ok then fail(2, "%s", why) end
  end
  d.prepared = prepared
  return prepared
end

-- plan:check([list]) raises the failure (exit 2) that stops the plan from
-- running at all (no upgrades table on a non-empty database, changed
-- applied deltas), or that stops one of `list` (a delta labelled below the
-- current version without out_of_order, a pum Python delta, a SQL delta
-- that cannot run as it is): like Flyway's validate, every delta of the
-- list is read and checked before the first one runs.
function Plan:check(list)
  if not self.table_exists and not self.fresh then
    local info = self.conn:info()
    fail(2, "database %s has no upgrades table %s and is not empty: record the version it is at with "
      .. "'ladle baseline -b VERSION' first", info.dbname, self.table)
  end
  if self.table_exists and self.can_write == false and #(list or {}) > 0 then
    fail(3, "%s: user %s may not insert into and update %s; nothing was run", self.conn:info().dbname,
      self.conn:info().user, self.table)
  end
  local changed = self:changed()
  if #changed > 0 then
    local names = {}
    for _, d in ipairs(changed) do names[#names + 1] = d.path or d.script end
    fail(2, "%d applied delta%s changed since applied, nothing was run: %s (accept with 'ladle repair')",
      #changed, #changed == 1 and "" or "s", table.concat(names, ", "))
  end
  for _, d in ipairs(list or {}) do
    if d.out_of_order and not self.out_of_order then
      fail(2, "%s was never applied but is labelled below the current version %s; rename it to a newer "
        .. "version, or allow it with --out-of-order", d.path, self.current_version)
    end
    prepare(d)
  end
end

-- Applying -------------------------------------------------------------------------------------

local function utf8_mode(conn)
  local encoding = conn:parameter("client_encoding")
  return encoding == nil or encoding:upper() == "UTF8"
end

-- Characters of text, as the server counts them.
local function char_length(text, utf8_text)
  if utf8_text then return utf8.len(text) or #text end
  return #text
end

-- The failure for a statement of d that the server rejected. The server's
-- position counts characters from the start of what was sent, which began
-- with `prefix_chars` characters of ladle's own.
local function statement_failure(d, content, stmt, prefix_chars, message, err, utf8_text)
  local line, column = stmt.line, nil
  local f = errors.failure(3, "")
  err = err or {}
  local in_tracking = false
  if err.position then
    local pos = err.position - prefix_chars
    local length = char_length(stmt.text, utf8_text)
    if pos >= 1 and pos <= length then
      local byte = utf8_text and utf8.offset(stmt.text, pos) or pos
      local absolute = stmt.start + (byte or 1) - 1
      line = delta.line_at(content, absolute)
      local line_start = absolute
      while line_start > 1 and content:sub(line_start - 1, line_start - 1) ~= "\n" do line_start = line_start - 1 end
      column = char_length(content:sub(line_start, absolute - 1), utf8_text) + 1
    elseif pos > length then
      in_tracking = true
    end
  elseif err.context and stmt.text:match("^[Dd][Oo]%f[^%w_]") then
    -- a DO block: PL/pgSQL counts lines from the start of the body
    local body_line = tonumber(err.context:match("inline_code_block line (%d+)"))
    local quote = stmt.text:find("[$']")
    if body_line and quote then
      line = delta.line_at(content, stmt.start + quote - 1) + body_line - 1
    end
  end
  local text = err.message or message or "unknown error"
  if err.sqlstate == "25001" then
    -- CREATE INDEX CONCURRENTLY and friends
    text = text .. "; put '-- ladle: no-transaction' on the delta's first line to run it outside one"
  end
  if in_tracking then
    f.message = string.format("%s: recording the delta failed (nothing of it was kept): %s%s", d.path, text,
      err.sqlstate and (" (SQLSTATE " .. err.sqlstate .. ")") or "")
  else
    f.message = string.format("%s:%d: %s%s", d.path, line, text,
      err.sqlstate and (" (SQLSTATE " .. err.sqlstate .. ")") or "")
  end
  f.delta, f.line, f.column, f.sqlstate = d, line, column, err.sqlstate
  f.server_message, f.detail, f.hint = err.message, err.detail, err.hint
  return f
end

local function elapsed_ms(started)
  return math.floor((sys.now() - started) * 1000 + 0.5)
end

local function record_fields(d, elapsed)
  return {
    version = d.version, description = d.description, type = d:type_code(), script = d.script,
    checksum = d.checksum, execution_time = elapsed,
  }
end

-- The end of a delta's last message: ladle's table (on the first delta of
-- an empty database), the tracking row, COMMIT.
function Plan:_closing_sql(d, record)
  local parts = { "\n;" }
  if record and not self.tracker.exists then parts[#parts + 1] = self.tracker:create_sql() end
  if record then parts[#parts + 1] = self.tracker:insert_sql(record_fields(d, tracker.ELAPSED_SQL)) .. ";" end
  parts[#parts + 1] = "COMMIT"
  return table.concat(parts)
end

local function exec_or_fail(conn, sql, what)
  local ok, message = conn:exec(sql)
  if not ok then fail(3, "%s: %s", what, message) end
end

-- A SQL delta in ladle's transaction: BEGIN rides with the first statement,
-- the tracking row and COMMIT with the last, so a one-statement delta is
-- one round trip. Statements go one per message so that a failure names
-- its statement even when the server gives no position.
function Plan:_run_sql_transaction(d, content, stmts, record)
  local conn, utf8_text = self.conn, self.utf8
  local closing = self:_closing_sql(d, record)
  local opening = (self.session_sql or "") .. "BEGIN;"
  if #stmts == 0 then
    local ok, message = conn:exec(opening .. closing)
    if not ok then fail(3, "%s: %s", d.path, message) end
  end
  for i, stmt in ipairs(stmts) do
    local prefix = i == 1 and opening or ""
    local ok, message, err = conn:exec(prefix .. stmt.text .. (i == #stmts and closing or ""))
    if not ok then
      error(statement_failure(d, content, stmt, char_length(prefix, utf8_text), message, err, utf8_text), 0)
    end
  end
  if record then self.tracker:created() end
end

-- Before a delta that runs outside ladle's transaction, on an empty
-- database: the upgrades table, so that what the delta leaves behind if it
-- fails half way is in a database ladle still knows.
function Plan:_create_table_first(record)
  if record and not self.tracker.exists then
    exec_or_fail(self.conn, "BEGIN;" .. self.tracker:create_sql() .. "COMMIT", self.table)
    self.tracker:created()
  end
end

-- After a delta that ran outside ladle's transaction: its tracking row. A
-- delta that left a transaction open would have its row ride in it, and
-- both be lost with the connection: it is rolled back and refused.
function Plan:_record_outside(d, started)
  local conn = self.conn
  if conn:transaction_status() ~= "idle" then
    conn:exec("ROLLBACK")
    fail(3, "%s left a transaction open (BEGIN without COMMIT); what ran inside it was rolled back and the "
      .. "delta is not recorded", d.path)
  end
  local ok, message = conn:exec(self.tracker:insert_sql(record_fields(d, elapsed_ms(started))))
  if not ok then
    fail(3, "%s: applied, but recording it in %s failed: %s (it will run again next time)", d.path, self.table, message)
  end
end

-- A SQL delta marked `-- ladle: no-transaction`: each statement commits on
-- its own, then the tracking row.
function Plan:_run_sql_autocommit(d, content, stmts, record, started)
  local conn = self.conn
  self:_create_table_first(record)
  if self.session_sql then exec_or_fail(conn, self.session_sql, d.path .. ": resetting the session") end
  for _, stmt in ipairs(stmts) do
    local ok, message, err = conn:exec(stmt.text)
    if not ok then error(statement_failure(d, content, stmt, 0, message, err, self.utf8), 0) end
  end
  if record then self:_record_outside(d, started) end
end

-- A Lua delta: the chunk gets (conn, delta) and runs inside the delta's
-- transaction (unless marked no-transaction); what it does with conn is
-- committed together with the tracking row, or not at all.
function Plan:_run_lua(d, content, record, started)
  local env = setmetatable({ ladle = require "ladle" }, { __index = _G })
  local chunk, why = load(content, "@" .. d.path, "t", env)
  if not chunk then fail(2, "%s", why) end
  local conn = self.conn
  if not d.transaction then self:_create_table_first(record) end
  local opening = (self.session_sql or "") .. (d.transaction and "BEGIN" or "")
  if opening ~= "" then exec_or_fail(conn, opening, d.path) end
  local ok, err = pcall(chunk, conn, d)
  if not ok then
    if errors.is_failure(err) then error(err, 0) end
    if type(err) ~= "string" then err = tostring(err) end
    if err == "interrupted" then error(err, 0) end
    local f = errors.failure(3, err:find(d.path, 1, true) == 1 and err or (d.path .. ": " .. err))
    f.delta, f.line = d, tonumber(err:match(":(%d+):"))
    error(f, 0)
  end
  if d.transaction then
    local status = conn:transaction_status()
    if status == "inerror" then
      fail(3, "%s: a query inside the delta failed (check what conn:query returned); nothing was kept", d.path)
    elseif status ~= "intrans" then
      fail(3, "%s: the delta ended ladle's transaction (COMMIT or ROLLBACK inside it); mark it "
        .. "'-- ladle: no-transaction' to manage transactions itself", d.path)
    end
    local closing = self:_closing_sql(d, record):sub(3)
    exec_or_fail(conn, closing, d.path)
    if record then self.tracker:created() end
  elseif record then
    self:_record_outside(d, started)
  end
end

-- The current version after d is applied (for real or in a dry run).
function Plan:_advance(d)
  if not self.current_version or vcompare(d.version, self.current_version) > 0 then
    self.current_version = d.version
  end
end

-- A dry run reports the delta and counts it as applied in memory only, so
-- that a recipe's later steps see what a real run would have left.
function Plan:_pretend(d, record)
  report.call(self.reporter, "would", d)
  if record then
    d.status, d.reason = "applied", "dry run: not applied"
    self:_advance(d)
  end
  return 0
end

-- Runs one delta (or hook, record = false) and reports it.
function Plan:_execute(d, record, index, total)
  local prepared = prepare(d)
  local content = prepared.content
  if self.dry_run then return self:_pretend(d, record) end
  self.utf8 = utf8_mode(self.conn)
  report.call(self.reporter, "start", d, index, total)
  local started = sys.now()
  local ok, err = pcall(function()
    if d.kind == "lua" then
      self:_run_lua(d, content, record, started)
    elseif d.transaction then
      self:_run_sql_transaction(d, content, prepared.statements, record)
    else
      self:_run_sql_autocommit(d, content, prepared.statements, record, started)
    end
  end)
  local ms = elapsed_ms(started)
  if not ok then
    local conn = self.conn
    if not conn:is_closed() and conn:transaction_status() ~= "idle" then conn:exec("ROLLBACK") end
    report.call(self.reporter, "failed", d, errors.is_failure(err) and err or { message = tostring(err) })
    error(err, 0)
  end
  if record then
    d.status, d.reason = "applied", nil
    d.execution_time = ms
    d.installed_on = os.date("%Y-%m-%d %H:%M:%S")
    self:_advance(d)
    if d.layout == "install" then self.baseline = d.version end
    self.table_exists, self.fresh = true, false
  end
  report.call(self.reporter, "done", d, ms)
  return ms
end

function Plan:_apply_list(list)
  local count = 0
  for _, d in ipairs(list) do
    if d.status == "pending" then
      self.applied_count = (self.applied_count or 0) + 1
      self:_execute(d, true, self.applied_count, self.total)
      count = count + 1
    end
  end
  return count
end

-- plan:run_hooks("pre-all" | "post-all") -> number run. pum's hooks: run
-- around every upgrade that applies something, never recorded.
function Plan:run_hooks(name)
  assert(name == "pre-all" or name == "post-all", "plan:run_hooks: \"pre-all\" or \"post-all\"")
  local hooks = self.hooks[name] or {}
  if #hooks == 0 then return 0 end
  return self:_locked(function()
    for _, d in ipairs(hooks) do self:_execute(d, false) end
    self:_restore_session()
    return #hooks
  end)
end

-- What plan:apply(phase) would apply: every pending delta for "all"; for
-- "pre", the pre deltas of each version, stopping after the first version
-- whose post deltas are still pending; for "post", the post deltas of each
-- version, stopping at the first version whose pre deltas are pending.
-- Returns the list and the step it stopped at (or nil).
function Plan:selection(phase)
  phase = phase or "all"
  assert(PHASES[phase], "plan:selection: phase must be \"pre\", \"post\" or \"all\"")
  local list, stopped = {}, nil
  for _, step in ipairs(self:versions()) do
    local chosen
    if phase == "pre" then
      chosen = step:pending("pre")
    elseif phase == "post" then
      if #step:pending("pre") > 0 then stopped = step; break end
      chosen = step:pending("post")
    else
      chosen = step:pending("all")
    end
    table.move(chosen, 1, #chosen, #list + 1, list)
    if phase == "pre" and #step:pending("post") > 0 then
      stopped = step
      break
    end
  end
  return list, stopped
end

-- plan:apply([phase]) -> number applied, step stopped at
-- The whole upgrade under one lock: pre-all hooks, the selection (see
-- plan:selection), post-all hooks. Raises a failure.
function Plan:apply(phase)
  phase = phase or "all"
  assert(PHASES[phase], "plan:apply: phase must be \"pre\", \"post\" or \"all\"")
  return self:_locked(function()
    local list, stopped = self:selection(phase)
    self:check(list)
    if #list == 0 then
      report.call(self.reporter, "finish", { applied = 0, current_version = self.current_version,
        dry_run = self.dry_run or nil })
      return 0, stopped
    end
    self.total = #list
    self.applied_count = 0
    for _, d in ipairs(self.hooks["pre-all"]) do self:_execute(d, false) end
    local count = self:_apply_list(list)
    for _, d in ipairs(self.hooks["post-all"]) do self:_execute(d, false) end
    self:_restore_session()
    report.call(self.reporter, "finish", { applied = count, current_version = self.current_version,
      dry_run = self.dry_run or nil })
    return count, stopped
  end)
end

-- plan:repair() -> the deltas whose recorded checksum was replaced by the
-- file's. Raises a failure.
function Plan:repair()
  if self.dry_run then
    for _, d in ipairs(self:changed()) do report.call(self.reporter, "note", "Would record the new checksum of " .. d.path) end
    return self:changed()
  end
  return self:_locked(function()
    local repaired = {}
    for _, d in ipairs(self:changed()) do
      local ok, message = self.tracker:set_checksum(d.row.id, d.checksum)
      if not ok then fail(3, "%s: %s", self.table, message) end
      d.row.checksum = d.checksum
      d.status, d.reason = "applied", nil
      repaired[#repaired + 1] = d
    end
    return repaired
  end)
end

function Plan:__tostring()
  local counts = self:counts()
  return string.format("plan for %s: %d pending, %d applied, current version %s", self.table, counts.pending,
    counts.applied, self.current_version or "none")
end

return plan
