-- App tests: run the old and the new code's tests on every state of the upgrade.
--
-- Copies the current state (-p: its schema and the upgrades table's rows,
-- or everything with --with-data; --from FILE.sql: what the file holds)
-- into throwaway databases, one per state a blue-green upgrade passes
-- through, each built with the real runner: before; after the pre deltas,
-- where the old code and the new code both run; after the post deltas.
-- The old code's tests run on before and after pre, the new code's on
-- after pre and after post; a test command gets {service} (the state's
-- database), {state} and {version}. When no pending delta is marked pre or
-- post (and --unmarked-phase is not given) there are two states: before,
-- for the old code, and after, for the new. Prints the matrix (state x code
-- -> pass or FAIL, with the time, and what a failing test printed) and
-- exits 1 if a cell failed. The databases live on a throwaway cluster, or
-- on --scratch; --keep leaves them and prints their services.
--
-- @flag --from=FILE the current state as a .sql file (pg_dump output holding the upgrades table's rows)
-- @flag --with-data copy the data of -p too, not only its schema
-- @flag --test-old=CMD the old code's tests, on before and after pre ({service}, {state}, {version})
-- @flag --test-new=CMD the new code's tests, on after pre and after post
-- @flag --scratch=SERVICE the server for the state databases (default: a throwaway cluster)
-- @flag --keep leave the state databases for inspection and print their services
-- @example ladle run app-tests -p prod -d migrations --test-old './v1/run-tests {service}' --test-new './v2/run-tests {service}'
-- @example ladle run app-tests --from prod.sql -d migrations --test-new 'make test DSN={service}' --json

local ladle = require "ladle"
local source = require "ladle.source"
local sys = ladle.sys
local opts = ...
local r = ladle.recipe.new(opts)
local fail = ladle.fail

if not (opts.test_old or opts.test_new) then fail("usage", "app-tests: give --test-old CMD, --test-new CMD or both") end
if not opts.dir then fail("usage", "app-tests: no delta folder: pass -d DIR (or delta_dir in the config file)") end
if opts.from and not source.is_sql_file(opts.from) then fail("usage", "app-tests: --from expects a .sql file") end
if opts.from and (sys.stat(opts.from) or {}).type ~= "file" then fail("input", "app-tests: cannot read %s", opts.from) end
if opts.from and opts.with_data then fail("usage", "app-tests: --with-data is for -p; --from loads what the file holds") end
local origin = opts.from or (opts.pg_service and ladle.pg.target_name(opts.pg_service)) or ladle.pg.target_name(nil)

-- What the deltas mean for the copy: two states or three, refused when
-- the pending deltas span releases that need a deploy in between.
local function analyse(conn)
  local plan = ladle.session.plan(opts, conn, { reporter = ladle.report.silent(), dry_run = true })
  if not plan.table_exists and not plan.fresh then
    fail("input", "app-tests: %s has no upgrades table %s: the copy's version is unknown", origin, plan.table)
  end
  plan:check(plan:pending())
  local marked = opts.unmarked ~= nil
  for _, e in ipairs(plan:pending()) do marked = marked or e.phase_marked ~= nil end
  if marked then
    local list, stopped = plan:selection("pre")
    local in_pre = {}
    for _, e in ipairs(list) do in_pre[e] = true end
    for _, e in ipairs(plan:pending()) do
      if e.phase == "pre" and not in_pre[e] then
        fail("usage", "app-tests: the pending deltas are several releases, %s then %s (its pre deltas follow %s's post "
          .. "deltas): test one release at a time, --to %s first", stopped.version, e.version, stopped.version,
          stopped.version)
      end
    end
  end
  return { three = marked, pending = #plan:pending(), version = plan.current_version, table_exists = plan.table_exists }
end

local STATES = {
  three = { { name = "before", phases = {} }, { name = "after pre", phases = { "pre" } },
    { name = "after post", phases = { "pre", "post" } } },
  two = { { name = "before", phases = {} }, { name = "after", phases = { "all" } } },
}
-- Which code runs on which state (blue-green: both on after pre).
local CELLS = {
  three = { { "before", "old" }, { "after pre", "old" }, { "after pre", "new" }, { "after post", "new" } },
  two = { { "before", "old" }, { "after", "new" } },
}

if r.dry_run then
  local states = "a database per state (two or three, as its pending deltas have pre/post markers)"
  if not opts.from then
    local conn <close> = ladle.session.connect(opts)
    states = analyse(conn).three and "three databases (before, after pre, after post)"
      or "two databases (before, after)"
  end
  r:say("Would copy %s into %s on %s, and build each with the real runner.", origin, states,
    opts.scratch and ladle.pg.target_name(opts.scratch) or "a throwaway cluster")
  if opts.test_old then r:say("Would run the old code's tests on before and after pre: %s", opts.test_old) end
  if opts.test_new then r:say("Would run the new code's tests on after pre and after post: %s", opts.test_new) end
  return
end

-- The server ----------------------------------------------------------------------

if opts.keep and not opts.scratch and not (sys.isatty(io.stdin) and sys.isatty(io.stdout)) then
  fail("usage", "app-tests: --keep needs --scratch SERVICE without a terminal (a throwaway cluster ends with ladle)")
end
local function start_cluster()
  local c, why = ladle.sandbox.start()
  if not c then fail("system", "app-tests: could not start a throwaway cluster: %s", why) end
  return c
end
local cluster <close> = not opts.scratch and start_cluster() or nil
local server = opts.scratch or cluster:conninfo()

-- A database of the server, as a conninfo.
local readable, why = ladle.pg.conninfo_split(server)
if not readable then fail("usage", "app-tests: --scratch: %s", why) end
local function conninfo_of(name)
  return (ladle.pg.on_database(server, name))
end

local admin <close> = ladle.session.connect { pg_service = server }
local prefix = string.format("ladle_app_tests_%d", sys.getpid())
local created = {}
local function create(name, template)
  local sql = "CREATE DATABASE " .. ladle.ident.quote(name)
  if template then sql = sql .. " TEMPLATE " .. ladle.ident.quote(template) end
  local ok, message = admin:exec(sql)
  if not ok then fail("database", "app-tests: creating %s: %s", name, message) end
  created[#created + 1] = name
  return conninfo_of(name)
end

-- What is created here goes away however the recipe ends (a test that
-- left a session behind does not keep its database).
local scratch <close> = setmetatable({ keep = {} }, { __close = function(s)
  for i = #created, 1, -1 do
    if not s.keep[created[i]] then source.drop_database(admin, created[i]) end
  end
  if s.dir then sys.rmtree(s.dir) end
end })

-- The copy of the current state, the template of every state.
local template = prefix .. "_source"
if opts.from then
  local text = io.open(opts.from, "rb")
  if not text then fail("input", "app-tests: cannot read %s", opts.from) end
  local roles = source.role_names(text:read("a"))
  text:close()
  if cluster then  -- a throwaway cluster has only postgres: the file's owners and grantees first
    local made, problem = source.create_roles(admin, roles)
    if not made then fail("database", "app-tests: %s", problem) end
  end
  local target = create(template)
  local psql = sys.which("psql") or fail("input", "app-tests: --from needs psql")
  local split, secret = ladle.pg.conninfo_split(target)
  local status, _, err = sys.spawn({ psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", split, "-f", opts.from }, {
    stdin = "null", stdout = "null", stderr = "capture",
    env = { PGOPTIONS = "-c client_min_messages=warning", PGPASSWORD = secret },
  })
  if status ~= 0 then fail("input", "app-tests: loading %s: %s", opts.from, (err or ""):match("[^\n]*ERROR[^\n]*")
    or (err or ""):match("^%s*([^\n]*)")) end
else
  local prod <close> = ladle.session.connect(opts)
  local facts = analyse(prod)
  local why
  scratch.dir, why = sys.mkdtemp("ladle-app-tests-")
  if not scratch.dir then fail("system", "app-tests: %s", why) end
  local dumps = { { file = scratch.dir .. "/state.dump", args = opts.with_data and {} or { "--schema-only" } } }
  if facts.table_exists and not opts.with_data then
    -- the schema alone would lose the version the copy is at
    local schema_name, table_name = table.unpack(ladle.ident.parse(opts.table))
    dumps[2] = { file = scratch.dir .. "/upgrades.dump",
      args = { "--data-only", "--table=" .. ladle.ident.qualify(schema_name, table_name) } }
  end
  r:say(opts.with_data and "Copying %s..." or "Copying the schema of %s, and its upgrades table's rows...", origin)
  local target = create(template)
  for _, dump in ipairs(dumps) do
    local ok, message, details = ladle.backup.dump(opts.pg_service, dump.file, { pg_dump_exe = opts.pg_dump_exe,
      args = dump.args })
    if ok then
      ok, message, details = ladle.backup.restore(target, dump.file, { pg_restore_exe = opts.pg_restore_exe,
        args = { "--no-owner", "--no-privileges" } })
    end
    if not ok then
      if details and details.stderr then io.stderr:write(details.stderr) end
      fail("system", "app-tests: copying %s: %s", origin, message)
    end
  end
end

local copy <close> = ladle.session.connect { pg_service = conninfo_of(template) }
local facts = analyse(copy)
copy:close()
local shape = facts.three and "three" or "two"

-- The states, each built from the copy with the real runner ------------------------

local states, by_name = {}, {}
for _, s in ipairs(STATES[shape]) do
  local state = { name = s.name, service = create(prefix .. "_" .. s.name:gsub(" ", "_"), template) }
  r:say("== %s%s", s.name, #s.phases == 0 and string.format(" (version %s)", facts.version or "none") or ":")
  state.version = facts.version
  if #s.phases > 0 then
    local plan = r:plan({ pg_service = state.service }, { lock = false, reporter = ladle.report.console { out = r.out } })
    for _, phase in ipairs(s.phases) do
      local ok, err = pcall(plan.apply, plan, phase)
      if not ok then
        if not ladle.errors.is_failure(err) then error(err, 0) end
        fail(err.kind, "app-tests: building the %s state: %s", s.name, err.message)
      end
    end
    state.version = plan.current_version
    plan.conn:close()
  end
  states[#states + 1] = state
  by_name[s.name] = state
end

-- The matrix ------------------------------------------------------------------------

local results, failed = {}, 0
for _, cell in ipairs(CELLS[shape]) do
  local state, code = by_name[cell[1]], cell[2]
  local cmd = code == "old" and opts.test_old or opts.test_new
  if cmd then
    local vars = r:vars(state.version)
    local conninfo, secret = ladle.pg.conninfo_split(state.service)
    vars.service, vars.pgpassword, vars.state = conninfo, secret, state.name:gsub(" ", "-")
    r:say("== %s code on %s", code, state.name)
    local started = sys.now()
    local ok, err_or_true, out, errout = pcall(r.hook, r, cmd, vars, { capture = true })
    local result = { state = state.name, code = code, ms = math.floor((sys.now() - started) * 1000 + 0.5) }
    if ok then
      result.pass = true
    else
      local failure = err_or_true
      if not ladle.errors.is_failure(failure) or failure.kind == "interrupted" then error(failure, 0) end
      result.status, out, errout = failure.status, failure.stdout, failure.stderr
      if not failure.status then errout = failure.message .. "\n" end  -- it could not be started
      failed = failed + 1
    end
    result.output = (out or "") .. (errout or "")
    if not result.pass then r.out:write(result.output) end
    results[#results + 1] = result
  end
end

local function cell_text(res)
  if not res then return "-" end
  if res.pass then return string.format("pass (%d ms)", res.ms) end
  return string.format("FAIL (%s, %d ms)", res.status and ("exit " .. res.status) or "not run", res.ms)
end

if opts.json then
  for _, res in ipairs(results) do
    io.stdout:write(ladle.json.encode { state = res.state, code = res.code, pass = res.pass == true, ms = res.ms,
      exit = res.status, output = not res.pass and res.output or nil }, "\n")
  end
else
  local rows = { { "STATE", "OLD CODE", "NEW CODE" } }
  for _, state in ipairs(states) do
    local row = { state.name }
    for _, res in ipairs(results) do
      if res.state == state.name then row[res.code == "old" and 2 or 3] = cell_text(res) end
    end
    rows[#rows + 1] = { row[1], row[2] or "-", row[3] or "-" }
  end
  local widths = { 0, 0 }
  for _, row in ipairs(rows) do for i = 1, 2 do widths[i] = math.max(widths[i], #row[i]) end end
  io.stdout:write("\n")
  for _, row in ipairs(rows) do
    io.stdout:write(row[1], string.rep(" ", widths[1] - #row[1] + 2), row[2], string.rep(" ", widths[2] - #row[2] + 2),
      row[3], "\n")
  end
end

if opts.keep then
  for _, state in ipairs(states) do
    scratch.keep[prefix .. "_" .. state.name:gsub(" ", "_")] = true
    r:say("kept %s: %s", state.name, (ladle.pg.conninfo_split(state.service)))
  end
  if cluster then
    r:say("The throwaway cluster lives until you press Enter.")
    io.stdin:read("l")
  end
end

if failed > 0 then
  fail("found", "app-tests: %d of %d cell%s failed", failed, #results, #results == 1 and "" or "s")
end
r:say("app-tests: %d cell%s passed.", #results, #results == 1 and "" or "s")
