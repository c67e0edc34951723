-- ladle run: the stock recipes and recipes of one's own, end to end. The
-- order of hooks and deltas is read from logs the hooks write themselves,
-- with the number of deltas applied at the moment each hook ran.

local env = require "support.env"
local deltas = require "support.deltas"

-- Versions 1.0.0 (pre, post), 1.1.0 (pre, unmarked), 1.2.0 (post only).
local function app_folder(overrides)
  local files = {
    ["01.00.00_01_pre_create_item.sql"] = "CREATE TABLE item (id int PRIMARY KEY);",
    ["01.00.00_02_post_item_comment.sql"] = "COMMENT ON TABLE item IS 'items';",
    ["01.01.00_01_pre_add_name.sql"] = "ALTER TABLE item ADD COLUMN name text;",
    ["01.01.00_02_fill_name.sql"] = "UPDATE item SET name = 'x' WHERE name IS NULL;",
    ["01.02.00_01_post_name_not_null.sql"] = "ALTER TABLE item ALTER COLUMN name SET NOT NULL;",
  }
  for k, v in pairs(overrides or {}) do files[k] = v end
  return deltas.folder(files)
end

-- A hook that appends "LABEL VERSION APPLIED_COUNT" to log, and fails
-- (exit 9) while the file `fail_marker` exists.
local function logging_hook(log, label, fail_marker)
  local check = fail_marker and string.format(' [ -e %s ] && exit 9;', fail_marker) or ""
  return string.format([[sh -c 'n=$(psql -XAtc "select count(*) from ladle_upgrades" 2>/dev/null || echo 0);]]
    .. [[ echo "%s {version} $n" >> %s;%s exit 0']], label, log, check)
end

local function lines(path)
  local out = {}
  for line in (env.read(path) or ""):gmatch("[^\n]+") do out[#out + 1] = line end
  return out
end

local function ladle_on(db, args)
  return env.ladle(args, { env = { PGDATABASE = db } })
end

describe("ladle run blue-green", function()
  it("applies pre deltas, deploys, then post deltas, version by version", function()
    local db = env.new_database("bg")
    local dir, log = app_folder(), env.tmpdir() .. "/log"
    local status, out, err = ladle_on(db, { "run", "blue-green", "-d", dir, "--deploy", logging_hook(log, "deploy") })
    assert.equal(0, status, err)
    -- at each deploy: every earlier version done, that version's pre deltas applied
    assert.same({ "deploy 1.0.0 1", "deploy 1.1.0 3", "deploy 1.2.0 4" }, lines(log))
    assert.matches("Applying delta 1.2.0 01_post_name_not_null... OK", out, 1, true)
    assert.matches("public.ladle_upgrades is at version 1.2.0.\n$", out)
    local conn = env.connect(db)
    assert.equal(5, #deltas.recorded(conn))
    conn:close()
  end)

  it("stops before the post deltas when the deploy hook fails, and resumes", function()
    local db = env.new_database("bg_deploy")
    local dir, scratch = app_folder(), env.tmpdir()
    local log, marker = scratch .. "/log", scratch .. "/broken"
    -- the deploy of 1.1.0 fails while the marker exists
    local hook = string.format([[sh -c 'n=$(psql -XAtc "select count(*) from ladle_upgrades");]]
      .. [[ echo "deploy {version} $n" >> %s; [ "{version}" = 1.1.0 ] && [ -e %s ] && exit 9; exit 0']], log, marker)
    env.write(marker, "")
    local status, _, err = ladle_on(db, { "run", "blue-green", "-d", dir, "--deploy", hook })
    assert.equal(3, status)
    assert.matches("hook failed with exit status 9: sh %-c", err)
    assert.matches("version 1.1.0: pre deltas applied, post deltas not; run the recipe again to resume", err, 1, true)
    assert.same({ "deploy 1.0.0 1", "deploy 1.1.0 3" }, lines(log))
    local conn = env.connect(db)
    assert.equal(3, #deltas.recorded(conn))
    conn:close()

    os.remove(marker)
    status, _, err = ladle_on(db, { "run", "blue-green", "-d", dir, "--deploy", hook })
    assert.equal(0, status, err)
    -- 1.1.0's pre delta is not rerun (still 3 applied), its deploy is
    assert.same({ "deploy 1.0.0 1", "deploy 1.1.0 3", "deploy 1.1.0 3", "deploy 1.2.0 4" }, lines(log))
    conn = env.connect(db)
    assert.equal(5, #deltas.recorded(conn))
    conn:close()
  end)

  it("stops at a failing pre delta before its deploy, and resumes after the fix", function()
    local db = env.new_database("bg_pre")
    local bad = "ALTER TABLE item ADD COLUMN name text;\nALTER TABLE no_such_table ADD COLUMN x int;\n"
    local dir = app_folder { ["01.01.00_01_pre_add_name.sql"] = bad }
    local log = env.tmpdir() .. "/log"
    local status, _, err = ladle_on(db, { "run", "blue-green", "-d", dir, "--deploy", logging_hook(log, "deploy") })
    assert.equal(3, status)
    assert.matches("01.01.00_01_pre_add_name.sql:2:", err, 1, true)
    assert.matches("no_such_table", err, 1, true)
    assert.same({ "deploy 1.0.0 1" }, lines(log))
    local conn = env.connect(db)
    assert.is_false(deltas.exists(conn, "item") and
      conn:query("select count(*) as n from pg_attribute where attrelid = 'item'::regclass and attname = 'name'")[1].n > 0)
    assert.equal(2, #deltas.recorded(conn))
    conn:close()

    env.write(dir .. "/01.01.00_01_pre_add_name.sql", "ALTER TABLE item ADD COLUMN name text;\n")
    status, _, err = ladle_on(db, { "run", "blue-green", "-d", dir, "--deploy", logging_hook(log, "deploy") })
    assert.equal(0, status, err)
    assert.same({ "deploy 1.0.0 1", "deploy 1.1.0 3", "deploy 1.2.0 4" }, lines(log))
  end)

  it("stops at a failing post delta after the deploy; the rerun deploys again, then posts", function()
    local db = env.new_database("bg_post")
    local dir = app_folder { ["01.02.00_01_post_name_not_null.sql"] = "ALTER TABLE item ALTER COLUMN nope SET NOT NULL;" }
    local log = env.tmpdir() .. "/log"
    local status, _, err = ladle_on(db, { "run", "blue-green", "-d", dir, "--deploy", logging_hook(log, "deploy") })
    assert.equal(3, status)
    assert.matches('01.02.00_01_post_name_not_null.sql:1: column "nope" of relation "item" does not exist (SQLSTATE 42703)',
      err, 1, true)
    assert.same({ "deploy 1.0.0 1", "deploy 1.1.0 3", "deploy 1.2.0 4" }, lines(log))
    env.write(dir .. "/01.02.00_01_post_name_not_null.sql", "ALTER TABLE item ALTER COLUMN name SET NOT NULL;")
    status, _, err = ladle_on(db, { "run", "blue-green", "-d", dir, "--deploy", logging_hook(log, "deploy") })
    assert.equal(0, status, err)
    assert.same({ "deploy 1.0.0 1", "deploy 1.1.0 3", "deploy 1.2.0 4", "deploy 1.2.0 4" }, lines(log))
  end)

  it("prints the plan in order with --dry-run and changes nothing", function()
    local db = env.new_database("bg_dry")
    local dir, log = app_folder(), env.tmpdir() .. "/log"
    local status, out, err = ladle_on(db, { "run", "blue-green", "-d", dir, "--dry-run",
      "--deploy", "touch " .. log })
    assert.equal(0, status, err)
    local expected = table.concat({
      "Would apply delta 1.0.0 01_pre_create_item",
      "Would run hook: touch " .. log,
      "Would apply delta 1.0.0 02_post_item_comment",
      "Would apply delta 1.1.0 01_pre_add_name",
      "Would run hook: touch " .. log,
      "Would apply delta 1.1.0 02_fill_name",
      "Would run hook: touch " .. log,
      "Would apply delta 1.2.0 01_post_name_not_null",
      "Dry run: nothing was changed; public.ladle_upgrades would be at version 1.2.0.",
    }, "\n") .. "\n"
    assert.equal(expected, out)
    assert.is_nil(env.read(log))
    local conn = env.connect(db)
    assert.is_false(deltas.exists(conn, "public.ladle_upgrades"))
    assert.is_false(deltas.exists(conn, "item"))
    conn:close()
  end)

  it("says there is nothing to do when nothing is pending", function()
    local db = env.new_database("bg_nothing")
    local dir = app_folder()
    assert.equal(0, (ladle_on(db, { "upgrade", "-d", dir })))
    local status, out = ladle_on(db, { "run", "blue-green", "-d", dir, "--deploy", "false" })
    assert.equal(0, status)
    assert.equal("Nothing to upgrade.\npublic.ladle_upgrades is at version 1.2.0.\n", out)
  end)

  it("refuses a missing required flag or an unknown one with one line, exit 2", function()
    local status, out, err = env.ladle({ "run", "blue-green", "-d", app_folder() })
    assert.equal(2, status)
    assert.equal("", out)
    assert.equal("ladle: run blue-green: --deploy is required\n", err)
    status, _, err = env.ladle({ "run", "blue-green", "--deploy", "x", "--bogus" })
    assert.equal(2, status)
    assert.equal("ladle: run blue-green: unknown flag '--bogus' (see 'ladle run blue-green --help')\n", err)
  end)
end)

describe("ladle run interrupting", function()
  it("stops, applies everything, deploys the target version, starts", function()
    local db = env.new_database("int")
    local dir, log = app_folder(), env.tmpdir() .. "/log"
    local status, _, err = ladle_on(db, { "run", "interrupting", "-d", dir,
      "--stop", logging_hook(log, "stop"), "--deploy", logging_hook(log, "deploy"),
      "--start", logging_hook(log, "start") })
    assert.equal(0, status, err)
    assert.same({ "stop 1.2.0 0", "deploy 1.2.0 5", "start 1.2.0 5" }, lines(log))
  end)

  it("does not deploy after a failing delta and says the services are still stopped", function()
    local db = env.new_database("int_fail")
    local dir = app_folder { ["01.01.00_02_fill_name.sql"] = "UPDATE item SET nme = 'x';" }
    local log = env.tmpdir() .. "/log"
    local status, _, err = ladle_on(db, { "run", "interrupting", "-d", dir,
      "--stop", logging_hook(log, "stop"), "--deploy", logging_hook(log, "deploy"),
      "--start", logging_hook(log, "start") })
    assert.equal(3, status)
    assert.matches("01.01.00_02_fill_name.sql:1:", err, 1, true)
    assert.matches("(the services are still stopped; nothing was deployed)\n", err, 1, true)
    assert.same({ "stop 1.2.0 0" }, lines(log))
    local conn = env.connect(db)
    assert.equal(3, #deltas.recorded(conn))
    conn:close()
  end)

  it("runs with no hooks at all", function()
    local db = env.new_database("int_bare")
    local status, out = ladle_on(db, { "run", "interrupting", "-d", app_folder() })
    assert.equal(0, status)
    assert.matches("is at version 1.2.0", out)
  end)
end)

describe("recipes of one's own", function()
  it("declares flags in its header, and gets them with the common ones", function()
    local file = env.write(env.tmpdir() .. "/mine.lua", [[
-- Mine: prints what it got.
--
-- @flag --greeting=TEXT (required) what to say
-- @flag -n, --count=N how many times
-- @flag --loud shout it
local ladle = require "ladle"
local opts = ...
for _ = 1, tonumber(opts.count or 1) do
  print(opts.loud and opts.greeting:upper() or opts.greeting)
end
print(opts.dir, opts.table, opts.dry_run, #opts.args, opts.args[1])
return 4
]])
    local status, out = env.ladle({ "run", file, "--greeting", "hi", "-n", "2", "--loud", "-d", "here",
      "-t", "s.t", "--", "extra" })
    assert.equal(4, status)
    assert.equal("HI\nHI\nhere\ts.t\tnil\t1\textra\n", out)

    local help
    status, help = env.ladle({ "run", file, "--help" })
    assert.equal(0, status)
    assert.matches("^usage: ladle run .*mine%.lua %[flags%]", help)
    assert.matches("\nMine: prints what it got.\n", help, 1, true)
    assert.matches("  %-%-greeting TEXT +what to say %(required%)\n", help)
    assert.matches("  %-n, %-%-count N +how many times\n", help)
    assert.matches("  %-d, %-%-dir DIR ", help)

    status, _, help = env.ladle({ "run", file })
    assert.equal(2, status)
    assert.matches("--greeting is required", help, 1, true)
  end)

  it("lists the stock recipes", function()
    local status, out = env.ladle({ "run", "--list" })
    assert.equal(0, status)
    assert.matches("\nblue%-green +Without interruption", "\n" .. out)
    assert.matches("\ninterrupting +With service interruption", "\n" .. out)
    assert.matches("\ntest%-and%-upgrade ", "\n" .. out)
  end)

  it("names an unknown stock recipe", function()
    local status, _, err = env.ladle({ "run", "purple" })
    assert.equal(2, status)
    assert.matches("no stock recipe 'purple'", err, 1, true)
  end)

  it("runs the canary example and stops the rollout when the smoke test fails", function()
    local db = env.new_database("canary")
    local dir, scratch = app_folder(), env.tmpdir()
    local log = scratch .. "/log"
    local smoke = string.format([[sh -c 'echo "smoke {version}" >> %s; [ "{version}" != 1.1.0 ]']], log)
    local status, _, err = ladle_on(db, { "run", "examples/recipes/canary.lua", "-d", dir,
      "--canary", logging_hook(log, "canary"), "--smoke", smoke, "--deploy", logging_hook(log, "all") })
    assert.equal(3, status)
    assert.matches("the canary runs 1.1.0, everything else the version before", err, 1, true)
    assert.same({ "canary 1.0.0 1", "smoke 1.0.0", "all 1.0.0 1", "canary 1.1.0 3", "smoke 1.1.0" }, lines(log))
  end)

  it("runs the fleet example: tenants from a control database, a canary, outcomes written back", function()
    local a, b, c = env.new_database("fleet_a"), env.new_database("fleet_b"), env.new_database("fleet_c")
    local control = env.new_database("fleet_control")
    local conn = env.connect(b)
    assert(conn:exec("CREATE TABLE squatter (x int)"))  -- not empty, no upgrades table: refused
    conn:close()
    conn = env.connect(control)
    assert(conn:exec("CREATE TABLE tenants (position int, conninfo text, schema_version text, upgrade_status text)"))
    for i, name in ipairs { a, b, c } do
      assert(conn:query("INSERT INTO tenants (position, conninfo) VALUES ($1, $2)", i, env.conninfo(name)))
    end
    local status, out, err = env.ladle({ "run", "examples/recipes/fleet.lua", "-d", app_folder(),
      "--control", env.conninfo(control), "--query", "SELECT conninfo FROM tenants ORDER BY position",
      "--record", "UPDATE tenants SET schema_version = $2, upgrade_status = $3 WHERE conninfo = $1" })
    assert.equal(1, status, out .. err)
    assert.matches("1 of 3 tenants failed", err, 1, true)
    assert.matches("dbname=" .. b .. " host=%S+ port=5432 +none +%d+ +failed: database " .. b .. " has no upgrades table", out)
    local rows = assert(conn:query("SELECT schema_version, upgrade_status FROM tenants ORDER BY position"))
    -- the canary first, alone; then b and c at once: c is upgraded too
    assert.same({ "1.2.0", "upgraded" }, { rows[1].schema_version, rows[1].upgrade_status })
    assert.same({ "failed" }, { rows[2].upgrade_status })
    assert.same({ "1.2.0", "upgraded" }, { rows[3].schema_version, rows[3].upgrade_status })
    conn:close()
  end)
end)

describe("ladle dump and restore with the runner", function()
  it("keeps the upgrades table through a round trip", function()
    local src, dst = env.new_database("rt_src"), env.new_database("rt_dst")
    local dir = app_folder()
    assert.equal(0, (ladle_on(src, { "upgrade", "-d", dir })))
    local file = env.tmpdir() .. "/app.dump"
    assert.equal(0, (env.ladle({ "dump", "-p", env.conninfo(src), file })))
    assert.equal(0, (env.ladle({ "restore", "-p", env.conninfo(dst), file })))
    local status, out = ladle_on(dst, { "info", "-d", dir, "--exit-code" })
    assert.equal(0, status, out)
    assert.matches("0 pending, 5 applied", out, 1, true)
  end)
end)

describe("ladle test-and-upgrade", function()
  -- production at 1.1.0, a reference built at 1.2.0
  local function databases(reference_extra)
    local dir = app_folder()
    local prod, comp = env.new_database("tu_prod"), env.new_database("tu_comp")
    assert.equal(0, (ladle_on(prod, { "upgrade", "-d", dir, "--to", "1.1.0" })))
    local conn = env.connect(prod)
    assert(conn:exec("INSERT INTO item VALUES (1, 'kept')"))
    conn:close()
    assert.equal(0, (ladle_on(comp, { "upgrade", "-d", dir })))
    if reference_extra then
      conn = env.connect(comp)
      assert(conn:exec(reference_extra))
      conn:close()
    end
    return dir, prod, comp
  end

  local function recorded(db)
    local conn = env.connect(db)
    local n = #deltas.recorded(conn)
    conn:close()
    return n
  end

  it("upgrades production when the upgraded copy matches the reference", function()
    local dir, prod, comp = databases()
    local status, out, err = env.ladle({ "test-and-upgrade", "-pp", env.conninfo(prod), "-pc", env.conninfo(comp),
      "-d", dir, "--yes" })
    assert.equal(0, status, out .. err)
    assert.matches("Restoring it into a throwaway cluster...", out, 1, true)
    assert.matches("The upgraded test copy matches", out, 1, true)
    assert.matches("Apply 1 pending delta to user=postgres dbname=" .. prod .. " host=%S+ port=5432%? yes %(%-%-yes%)", out)
    assert.matches("public.ladle_upgrades is at version 1.2.0.\n$", out)
    assert.equal(5, recorded(prod))
    local conn = env.connect(prod)
    assert.equal("kept", conn:query("SELECT name FROM item")[1].name)
    conn:close()
  end)

  it("leaves production untouched and exits 1 when the copy differs", function()
    local dir, prod, comp = databases("ALTER TABLE item ADD COLUMN price numeric")
    local status, out, err = env.ladle({ "test-and-upgrade", "-pp", env.conninfo(prod), "-pc", env.conninfo(comp),
      "-d", dir, "--yes" })
    assert.equal(1, status, out .. err)
    assert.matches("  + columns public.item.price: numeric", out, 1, true)
    assert.matches("ladle: 1 difference: user=postgres dbname=" .. prod .. " host=%S+ port=5432 was not upgraded\n$", err)
    assert.equal(4, recorded(prod))
  end)

  it("leaves the ignored kinds out of the comparison", function()
    local dir, prod, comp = databases("CREATE VIEW item_names AS SELECT name FROM item")
    local status, out, err = env.ladle({ "test-and-upgrade", "-pp", env.conninfo(prod), "-pc", env.conninfo(comp),
      "-d", dir, "-i", "views", "--yes" })
    assert.equal(0, status, out .. err)
    assert.equal(5, recorded(prod))
  end)

  it("restores into a named test database, emptied of what the dump holds", function()
    local dir, prod, comp = databases()
    local test = env.new_database("tu_test")
    local conn = env.connect(test)
    assert(conn:exec("CREATE TABLE item (id int)"))  -- an old copy
    conn:close()
    local file = env.tmpdir() .. "/prod.dump"
    local status, out, err = env.ladle({ "test-and-upgrade", "-pp", env.conninfo(prod), "-pt", env.conninfo(test),
      "-pc", env.conninfo(comp), "-d", dir, "-f", file, "--yes" })
    assert.equal(0, status, out .. err)
    assert.equal(tonumber("600", 8), require("ladle.sys").stat(file).mode)
    assert.equal(5, recorded(test))
    assert.equal(5, recorded(prod))
  end)

  it("refuses a test database that is production, and an unknown -i kind, before anything runs", function()
    local dir, prod, comp = databases()
    local status, _, err = env.ladle({ "test-and-upgrade", "-pp", env.conninfo(prod), "-pt", env.conninfo(prod),
      "-pc", env.conninfo(comp), "-d", dir, "--yes" })
    assert.equal(2, status)
    assert.matches("%-pt and %-pp name the same database", err)
    status, _, err = env.ladle({ "test-and-upgrade", "-pp", env.conninfo(prod), "-pc", env.conninfo(comp),
      "-d", dir, "-i", "viewz", "--yes" })
    assert.equal(2, status)
    assert.matches("-i viewz: known kinds: ", err, 1, true)
    assert.equal(4, recorded(prod))
  end)

  it("says a failure on the test copy left production untouched", function()
    local dir, prod, comp = databases()
    env.write(dir .. "/01.02.00_01_post_name_not_null.sql", "ALTER TABLE item ALTER COLUMN nope SET NOT NULL;")
    local status, _, err = env.ladle({ "test-and-upgrade", "-pp", env.conninfo(prod), "-pc", env.conninfo(comp),
      "-d", dir, "--yes" })
    assert.equal(3, status)
    assert.matches("on the test copy: .*01.02.00_01_post_name_not_null.sql:1: column \"nope\"", err)
    assert.matches("was not touched%)\n$", err)
    assert.equal(4, recorded(prod))
  end)

  it("refuses to upgrade production without a terminal or --yes", function()
    local dir, prod, comp = databases()
    local status, out, err = env.ladle({ "test-and-upgrade", "-pp", env.conninfo(prod), "-pc", env.conninfo(comp),
      "-d", dir })
    assert.equal(2, status, out .. err)
    assert.matches("no terminal to ask on; pass %-%-yes", err)
    assert.equal(4, recorded(prod))
  end)

  it("shows what it would do with --dry-run", function()
    local dir, prod, comp = databases()
    local status, out, err = env.ladle({ "test-and-upgrade", "-pp", env.conninfo(prod), "-pc", env.conninfo(comp),
      "-d", dir, "--dry-run" })
    assert.equal(0, status, out .. err)
    assert.matches("Would dump user=postgres dbname=" .. prod .. " host=", out, 1, true)
    assert.matches("Would apply delta 1.2.0 01_post_name_not_null", out, 1, true)
    assert.equal(4, recorded(prod))
  end)
end)
