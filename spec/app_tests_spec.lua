-- ladle run app-tests: the job queue example's own test (examples/jobqueue/app/test.lua)
-- against the states of a blue-green upgrade, built on the test cluster (or
-- a throwaway cluster) from a real database or a .sql file.

local env = require "support.env"
local deltas = require "support.deltas"
local json = require "ladle.json"
local sys = require "ladle.sys"

local MIGRATIONS = "examples/jobqueue/migrations"

local function app_test(version)
  return string.format("%s run examples/jobqueue/app/test.lua -p {service} --app %s", env.exe, version)
end

-- A database at version `to` of `dir`.
local function database_at(dir, to, prefix)
  local name, conninfo = env.new_database(prefix)
  local status, out, err = env.ladle { "upgrade", "-p", conninfo, "-d", dir, "--to", to }
  assert(status == 0, out .. err)
  return name, conninfo
end

-- The job queue's deltas, plus more.
local function jobqueue_with(extra)
  local dir = env.tmpdir()
  for _, file in ipairs(sys.listdir(MIGRATIONS)) do env.write(dir .. "/" .. file, env.read(MIGRATIONS .. "/" .. file)) end
  return deltas.write(dir, extra)
end

local function app_tests(args)
  local argv = { "run", "app-tests", "--scratch", env.conninfo() }
  table.move(args, 1, #args, #argv + 1, argv)
  return env.ladle(argv)
end

local function leftovers()
  local admin <close> = env.connect()
  return admin:query("SELECT count(*)::int AS n FROM pg_database WHERE datname LIKE 'ladle_app_tests_%'")[1].n
end

-- The cells of a state's row in the matrix: "pass", "FAIL" or "-", for
-- the old code and the new.
local function row(out, state)
  for line in out:gmatch("[^\n]+") do
    if line:sub(1, #state + 1) == state .. " " then
      local rest = line:sub(#state + 1):gsub("^%s+", "")
      local old, new = rest:match("^(%S+ ?%b())%s+(.*)$")
      if not old then old, new = rest:match("^(%-)%s+(.*)$") end
      return (old or ""):match("^%S+"), (new or ""):match("^%S+")
    end
  end
end

describe("ladle run app-tests", function()
  local name, conninfo

  setup(function()
    name, conninfo = database_at(MIGRATIONS, "0.2.0", "apptests")
  end)

  teardown(function()
    env.drop_database(name)
  end)

  it("passes the job queue example on before, after pre and after post", function()
    local status, out, err = app_tests { "-p", conninfo, "-d", MIGRATIONS,
      "--test-old", app_test("0.2"), "--test-new", app_test("0.3") }
    assert.equal(0, status, out .. err)
    assert.same({ "pass", "-" }, { row(out, "before") })
    assert.same({ "pass", "pass" }, { row(out, "after pre") })
    assert.same({ "-", "pass" }, { row(out, "after post") })
    assert.matches("app-tests: 4 cells passed.", out, 1, true)
    -- the states were built by the runner, then removed
    assert.matches("== after pre:\nApplying delta 0.3.0 01_pre_add_priority... OK", out)
    assert.equal(0, leftovers())
    -- the source was only read
    local db <close> = env.connect(name)
    assert.equal(5, #deltas.recorded(db))
  end)

  it("fails exactly (after pre, old) when a pre delta drops a column the old code uses", function()
    local dir = jobqueue_with { ["00.03.00_05_pre_drop_worker.sql"] = "ALTER TABLE jobs DROP COLUMN worker;" }
    local status, out, err = app_tests { "-p", conninfo, "-d", dir,
      "--test-old", app_test("0.2"), "--test-new", app_test("0.3") }
    assert.equal(1, status, out .. err)
    assert.same({ "pass", "-" }, { row(out, "before") })
    assert.same({ "FAIL", "pass" }, { row(out, "after pre") })
    assert.same({ "-", "pass" }, { row(out, "after post") })
    assert.matches("app-tests: 1 of 4 cells failed", err, 1, true)
    -- what the failing test said
    assert.matches('app 0.2: record the worker: ERROR: column "worker" of relation "jobs" does not exist', out, 1, true)
    assert.equal(0, leftovers())
  end)

  it("fails exactly (after post, new) when a post delta breaks the new code", function()
    local dir = jobqueue_with { ["00.03.00_05_post_rename_priority.sql"] = "ALTER TABLE jobs RENAME priority TO urgency;" }
    local status, out = app_tests { "-p", conninfo, "-d", dir, "--json",
      "--test-old", app_test("0.2"), "--test-new", app_test("0.3") }
    assert.equal(1, status)
    local cells = {}
    for line in out:gmatch("[^\n]+") do
      local cell = assert(json.decode(line), line)
      cells[#cells + 1] = string.format("%s/%s %s", cell.state, cell.code, cell.pass and "pass" or "FAIL")
    end
    assert.same({ "before/old pass", "after pre/old pass", "after pre/new pass", "after post/new FAIL" }, cells)
  end)

  it("refuses deltas of several releases, which need a deploy in between", function()
    local empty = env.new_database("apptests_empty")
    local status, _, err = app_tests { "-p", env.conninfo(empty), "-d", MIGRATIONS, "--test-old", "true" }
    assert.equal(2, status)
    assert.matches("test one release at a time, --to 0.2.0 first", err, 1, true)
    assert.equal(0, leftovers())
    env.drop_database(empty)
  end)
end)

describe("ladle run app-tests without pre/post markers", function()
  -- 1.1.0 adds a column the new code writes: an interrupting upgrade
  local dir = deltas.folder {
    ["01.00.00_01_create_t.sql"] = "CREATE TABLE t (a int);",
    ["01.01.00_01_add_b.sql"] = "ALTER TABLE t ADD COLUMN b int;",
  }
  local old = "psql -X -v ON_ERROR_STOP=1 -d {service} -c 'INSERT INTO t (a) VALUES (1)'"
  local new = "psql -X -v ON_ERROR_STOP=1 -d {service} -c 'INSERT INTO t (a, b) VALUES (1, 2)'"

  it("has two states, before and after, from a .sql file on a throwaway cluster", function()
    local source = database_at(dir, "1.0.0", "apptests_plain")
    local file = env.tmpdir() .. "/state.sql"
    local status, _, err = sys.spawn({ "pg_dump", "-d", env.conninfo(source), "-f", file }, { stderr = "capture" })
    assert.equal(0, status, err)
    local out
    status, out, err = env.ladle { "run", "app-tests", "--from", file, "-d", dir, "--test-old", old, "--test-new", new }
    assert.equal(0, status, out .. err)
    assert.same({ "pass", "-" }, { row(out, "before") })
    assert.same({ "-", "pass" }, { row(out, "after") })
    assert.is_nil(out:find("after pre", 1, true))
    assert.matches("app-tests: 2 cells passed.", out, 1, true)
    -- the new code on the old schema would not have passed
    status, out = env.ladle { "run", "app-tests", "--from", file, "-d", dir, "--test-old", new }
    assert.equal(1, status)
    assert.same({ "FAIL", "-" }, { row(out, "before") })
    env.drop_database(source)
  end)

  it("copies the data with --with-data, and keeps the states with --keep", function()
    local source, conninfo = database_at(dir, "1.0.0", "apptests_data")
    local db = env.connect(source)
    assert(db:exec("INSERT INTO t VALUES (7)"))
    db:close()
    local needs_rows = "psql -X -v ON_ERROR_STOP=1 -d {service} -c 'SELECT 1 / count(*) FROM t'"
    local status, out = app_tests { "-p", conninfo, "-d", dir, "--test-old", needs_rows }
    assert.equal(1, status)  -- the schema alone: no rows
    assert.matches("division by zero", out, 1, true)
    local err
    status, out, err = app_tests { "-p", conninfo, "-d", dir, "--test-old", needs_rows, "--test-new", needs_rows,
      "--with-data", "--keep" }
    assert.equal(0, status, out .. err)
    local kept = {}
    for state, service in out:gmatch("kept (%a+): ([^\n]+)") do kept[state] = service end
    assert.truthy(kept.before and kept.after, out)
    local after <close> = assert(require("ladle").connect(kept.after))
    local rows = after:query("SELECT a FROM t")
    assert.same({ 1, 7 }, { #rows, rows[1].a })
    after:close()
    local admin <close> = env.connect()
    for _, service in pairs(kept) do
      assert(admin:exec("DROP DATABASE " .. service:match("dbname='([%w_]+)'")))
    end
    assert.equal(0, leftovers())
    env.drop_database(source)
  end)
end)
