-- ladle run fleet and ladle.fleet: many databases of the test cluster (and
-- of a second cluster, for the bound per server) upgraded by child `ladle
-- upgrade` processes. What each database holds afterwards is read from the
-- database itself.

local env = require "support.env"
local deltas = require "support.deltas"
local terminal = require "support.terminal"
local json = require "ladle.json"
local ladle = require "ladle"
local sys = ladle.sys

-- Versions 1.0.0 (a table) and 1.1.0 (email required, then a unique
-- index): 1.1.0 fails on a database holding an account without email.
local function account_folder()
  return deltas.folder {
    ["01.00.00_01_create_account.sql"] = "CREATE TABLE account (id int PRIMARY KEY, email text);",
    ["01.01.00_01_require_email.sql"] = "ALTER TABLE account ALTER COLUMN email SET NOT NULL;",
    ["01.01.00_02_index_email.sql"] = "CREATE UNIQUE INDEX account_email ON account (email);",
  }
end

-- n new databases, copies of `template` when given: names and conninfos,
-- in order.
local function databases(n, prefix, template)
  local names, targets = {}, {}
  local admin <close> = env.connect()
  for i = 1, n do
    if template then
      names[i] = string.format("%s%02d_%d", prefix, i, sys.getpid())
      assert(admin:exec(string.format("CREATE DATABASE %s TEMPLATE %s", names[i], template)))
      targets[i] = env.conninfo(names[i])
    else
      names[i], targets[i] = env.new_database(string.format("%s%02d", prefix, i))
    end
  end
  return names, targets
end

local function targets_file(targets)
  return env.write(env.tmpdir() .. "/targets", "# the tenants\n\n" .. table.concat(targets, "\n") .. "\n")
end

local function fleet(args)
  local argv = { "run", "fleet" }
  table.move(args, 1, #args, 3, argv)
  return env.ladle(argv)
end

-- The --json lines, by database name.
local function by_database(out)
  local rows = {}
  for line in out:gmatch("[^\n]+") do
    local row = assert(json.decode(line), line)
    rows[assert(row.target:match("dbname=(%S+)"), row.target)] = row
  end
  return rows
end

local function recorded(name)
  local db <close> = env.connect(name)
  return deltas.recorded(db)
end

local function has_index(name)
  local db <close> = env.connect(name)
  return deltas.exists(db, "public.account_email")
end

-- Whether the process is still running (a zombie has ended).
local function alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return false end
  local state = f:read("a"):match("%) (%a)")
  f:close()
  return state ~= "Z" and state ~= "X"
end

local function children_of(pid)
  local found = {}
  for _, entry in ipairs(sys.listdir("/proc") or {}) do
    if entry:match("^%d+$") then
      local f = io.open("/proc/" .. entry .. "/stat")
      local stat = f and f:read("a")
      if f then f:close() end
      if stat and tonumber(stat:match("%) %a (%d+)")) == pid then found[#found + 1] = tonumber(entry) end
    end
  end
  return found
end

describe("ladle run fleet", function()
  it("stops new starts after a failure, leaves each database whole or untouched, and resumes", function()
    local dir = account_folder()
    -- thirty tenants at 1.0.0: copies of one upgraded database
    local template = env.new_database("fleet_template")
    local status, out, err = env.ladle { "upgrade", "-p", env.conninfo(template), "-d", dir, "--to", "1.0.0" }
    assert.equal(0, status, err)
    local names, targets = databases(30, "fleet", template)
    local list = targets_file(targets)

    -- the eighth tenant holds data the 1.1.0 deltas refuse
    local bad = names[8]
    local db = env.connect(bad)
    assert(db:exec("INSERT INTO account VALUES (1, NULL)"))
    db:close()

    status, out, err = fleet { "--targets", list, "-d", dir, "--canary", "3", "--max-failures", "1",
      "--per-host", "4", "--json" }
    assert.equal(1, status, err)
    assert.matches("1 failure reached %-%-max%-failures; 1 of 30 targets failed, %d+ not started", err)
    local rows = by_database(out)
    assert.equal("failed", rows[bad].status)
    assert.matches("01_require_email", rows[bad].message, 1, true)
    assert.same({ "01.00.00_01_create_account.sql" }, recorded(bad))
    local upgraded, untouched = 0, 0
    for i, name in ipairs(names) do
      if name ~= bad then
        local scripts = recorded(name)
        if rows[name].status == "upgraded" then
          upgraded = upgraded + 1
          assert.equal(3, #scripts, name)
          assert.is_true(has_index(name))
          assert.equal("1.0.0", rows[name].from)
          assert.equal("1.1.0", rows[name].to)
        else
          untouched = untouched + 1
          assert.equal("not started", rows[name].status, name)
          assert.same({ "01.00.00_01_create_account.sql" }, scripts)
          assert.is_false(has_index(name))
        end
        -- the canaries went first, and nothing far behind the failure started
        if i <= 3 then assert.equal("upgraded", rows[name].status) end
        if i >= 20 then assert.equal("not started", rows[name].status, name) end
      end
    end
    assert.is_true(upgraded >= 3 and untouched >= 11, string.format("%d upgraded, %d untouched", upgraded, untouched))

    -- fixed: the rerun upgrades the rest; the upgraded ones have nothing to do
    db = env.connect(bad)
    assert(db:exec("UPDATE account SET email = 'a@example.org'"))
    db:close()
    status, out, err = fleet { "--targets", list, "-d", dir, "--canary", "3", "--parallel", "8", "--per-host", "8",
      "--json" }
    assert.equal(0, status, err)
    rows = by_database(out)
    local up_to_date = 0
    for _, name in ipairs(names) do
      assert.equal(3, #recorded(name), name)
      assert.equal("1.1.0", rows[name].to)
      if rows[name].status == "up to date" then up_to_date = up_to_date + 1 end
    end
    assert.equal(upgraded, up_to_date)
    for _, name in ipairs(names) do env.drop_database(name) end
    env.drop_database(template)
  end)

  it("stops after the canary wave when a canary fails", function()
    local dir = account_folder()
    local names, targets = databases(6, "canary")
    local db = env.connect(names[2])
    assert(db:exec("CREATE TABLE account (id int PRIMARY KEY, email text)"))  -- refused: not empty, no upgrades table
    db:close()
    local status, out, err = fleet { "--services", targets[1], targets[2], targets[3], targets[4], targets[5],
      targets[6], "-d", dir, "--canary", "3", "--max-failures", "5", "--per-host", "4" }
    assert.equal(1, status, out .. err)
    assert.matches("fleet: a canary failed; 1 of 6 targets failed, 3 not started", err, 1, true)
    assert.matches("has no upgrades table", out, 1, true)
    assert.equal(3, #recorded(names[1]))
    assert.equal(3, #recorded(names[3]))
    for i = 4, 6 do
      local conn <close> = env.connect(names[i])
      assert.is_false(deltas.exists(conn, "public.ladle_upgrades"))
    end
    -- the table: one line per target, passwords never shown
    assert.matches("TARGET%s+FROM → TO%s+DELTAS%s+MS%s+STATUS", out)
    assert.matches("not started\n", out, 1, true)
    for _, name in ipairs(names) do env.drop_database(name) end
  end)

  it("shows per target what would run with --dry-run, and changes nothing", function()
    local dir = account_folder()
    local names, targets = databases(2, "dry")
    local status, out, err = fleet { "--services", targets[1], targets[2], "-d", dir, "--dry-run" }
    assert.equal(0, status, err)
    assert.matches("Would apply delta 1.1.0 02_index_email", out, 1, true)
    assert.matches("2 targets: 0 upgraded, 0 up to date, 2 would be upgraded (dry run).", out, 1, true)
    for _, name in ipairs(names) do
      local conn <close> = env.connect(name)
      assert.is_false(deltas.exists(conn, "public.ladle_upgrades"))
    end
  end)

  it("passes the upgrade flags on: --phase pre applies only the pre deltas", function()
    local dir = deltas.folder {
      ["01.00.00_01_pre_create.sql"] = "CREATE TABLE item (id int);",
      ["01.00.00_02_post_comment.sql"] = "COMMENT ON TABLE item IS 'items';",
    }
    local names, targets = databases(2, "phase")
    local status, out, err = fleet { "--services", targets[1], targets[2], "-d", dir, "--phase", "pre",
      "-t", "public.tenant_upgrades", "--lock-timeout", "5s", "--json" }
    assert.equal(0, status, err)
    for _, name in ipairs(names) do
      local db <close> = env.connect(name)
      assert.same({ "01.00.00_01_pre_create.sql" }, deltas.recorded(db, "public.tenant_upgrades"))
      assert.equal(1, by_database(out)[name].deltas)
      env.drop_database(name)
    end
  end)

  it("passes a conninfo's password to the upgrade out of sight, and never shows it", function()
    local admin <close> = env.connect()
    assert(admin:exec("DROP ROLE IF EXISTS ladle_pw; CREATE ROLE ladle_pw LOGIN PASSWORD 'right-horse-9'"))
    local name = env.new_database("fleet_pw")
    assert(admin:exec("ALTER DATABASE " .. name .. " OWNER TO ladle_pw"))
    local uri = string.format("postgresql://ladle_pw:right-horse-9@/%s?host=%s", name, env.cluster_dir)
    -- per server one at a time: the fleet connects to find the server, the child to upgrade
    local status, out, err = fleet { "--services", uri, "-d", account_folder(), "--parallel", "2", "--per-host", "1" }
    assert.equal(0, status, out .. err)
    assert.matches("password=*** ", out, 1, true)
    assert.is_nil((out .. err):find("right-horse", 1, true))
    local db <close> = env.connect(name)
    assert.equal(3, #deltas.recorded(db))
    db:close()
    env.drop_database(name)
  end)

  it("hands a child no secret it cannot keep out of its arguments (sslpassword), as for pg_dump and hooks", function()
    local child = require "ladle.fleet.child"
    local dir = env.tmpdir()
    local started, message, details = child.start { exe = env.exe, output = dir .. "/t",
      target = string.format("host=%s dbname=x sslpassword=key-secret-7", env.cluster_dir), args = { "-d", dir } }
    assert.is_nil(started)
    assert.matches("sslpassword", message, 1, true)
    assert.is_nil(message:find("key-secret-7", 1, true))
    assert.equal("input", details.kind)
  end)

  it("builds each upgrade's flags as upgrade spells them", function()
    local fleet_lib = require "ladle.fleet"
    assert.same({ "-d", "a", "-d", "b", "-t", "s.t", "--to", "1.2", "--phase", "pre", "-v", "int", "srid", "2056",
      "-v", "str", "x", "y z", "--variables-in", "all", "--python", "/opt/py/bin/python3", "--on-changed", "warn",
      "--lock-timeout", "5s", "--retries", "3", "--retry-wait", "1s",
      "--wait-timeout", "10s", "--no-wait", "--unmarked-phase", "pre", "--out-of-order" },
      fleet_lib.upgrade_args { dirs = { "a", "b" }, table = "s.t", to = "1.2", phase = "pre",
        variables = { { type = "int", name = "srid", text = "2056" }, { type = "str", name = "x", text = "y z" } },
        variables_in = "all", python = "/opt/py/bin/python3", on_changed = "warn", lock_timeout = "5s", retries = "3", retry_wait = "1s", wait_timeout = "10s",
        no_wait = true, unmarked = "pre", out_of_order = true })
    assert.same({ "-d", "m" }, fleet_lib.upgrade_args { dir = "m" })
    assert.is_nil((fleet_lib.upgrade_args {}))
    -- a conninfo's password never shows
    assert.equal("user=u dbname=t host=db2 password=***", fleet_lib.name("host=db2 dbname=t user=u password=secret"))
    assert.equal("tenant_a", fleet_lib.name("tenant_a"))
  end)

  it("passes upgrade's flags on: pum variables, lock timeouts and retries reach every target", function()
    local names, targets = databases(2, "fleetvar")
    local dir = deltas.folder {
      ["delta_1.0.0_001_geo.sql"] = "CREATE TABLE geo (id int, srid int DEFAULT %(SRID)s);\n"
        .. "COMMENT ON TABLE geo IS 'at 100%%';\n",
    }
    local status, out, err = fleet { "--services", targets[1], targets[2], "-d", dir, "-v", "int", "SRID", "2056",
      "--lock-timeout", "2s", "--retries", "2", "--retry-wait", "100ms", "--json" }
    assert.equal(0, status, err)
    assert.equal(2, select(2, out:gsub("\n", "")))
    for _, name in ipairs(names) do
      local db <close> = env.connect(name)
      assert.equal("2056", db:query([[SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS expr
        FROM pg_catalog.pg_attrdef d JOIN pg_catalog.pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
        WHERE d.adrelid = 'public.geo'::regclass AND a.attname = 'srid']])[1].expr)
      -- psycopg's %% is one %
      assert.equal("at 100%", db:query("SELECT pg_catalog.obj_description('public.geo'::regclass) AS c")[1].c)
    end
    for _, name in ipairs(names) do env.drop_database(name) end
  end)

  it("refuses bad usage with one line and exit 2", function()
    local status, _, err = fleet { "-d", account_folder() }
    assert.equal(2, status)
    assert.equal("ladle: fleet: no targets: pass --services SERVICE... or --targets FILE\n", err)
    status, _, err = fleet { "--services", "a", "-d", account_folder(), "--parallel", "0" }
    assert.equal(2, status)
    assert.matches("--parallel expects a whole number of at least 1, not '0'", err, 1, true)
    local list = env.write(env.tmpdir() .. "/twice", "a\n# b\na\n")
    status, _, err = fleet { "--targets", list, "-d", account_folder() }
    assert.equal(2, status)
    assert.matches("twice:3: a is already on line 1", err, 1, true)
    status, _, err = fleet { "--services", "a", "-d", account_folder(), "-v", "int", "srid" }
    assert.equal(2, status)
    assert.matches("-v", err, 1, true)
  end)

  it("keeps to --per-host on each server, as sampled from pg_stat_activity", function()
    local other <close> = assert(ladle.sandbox.start())
    local dir = deltas.folder {
      ["01.00.00_01_slow.sql"] = "SELECT pg_sleep(0.3); CREATE TABLE a (id int);",
      ["01.00.00_02_slow.sql"] = "SELECT pg_sleep(0.3); CREATE TABLE b (id int);",
      ["01.00.00_03_slow.sql"] = "SELECT pg_sleep(0.3); CREATE TABLE c (id int);",
    }
    local here, targets = databases(4, "perhost")
    local there = {}
    for i = 1, 4 do
      there[i] = "perhost_other_" .. i
      targets[#targets + 1] = assert(other:createdb(there[i]))
    end
    local out_path = env.tmpdir() .. "/out"
    local argv = { env.exe, "run", "fleet", "--services" }
    table.move(targets, 1, #targets, #argv + 1, argv)
    table.move({ "-d", dir, "--parallel", "8", "--per-host", "2", "--json" }, 1, 7, #argv + 1, argv)
    local pid = assert(sys.spawn(argv, { wait = false, stdout = { path = out_path }, stderr = "null" }))

    -- sessions of clients at work (autovacuum workers are "active" too)
    local sample_sql = [[SELECT count(*)::int AS n FROM pg_catalog.pg_stat_activity
      WHERE datname = ANY($1::text[]) AND backend_type = 'client backend'
        AND state IN ('active', 'idle in transaction')]]
    local function array(list) return "{" .. table.concat(list, ",") .. "}" end
    local a, b = env.connect(), assert(other:connect())
    local most_here, most_there, most_both = 0, 0, 0
    while alive(pid) do
      local n_here = a:query(sample_sql, array(here))[1].n
      local n_there = b:query(sample_sql, array(there))[1].n
      most_here, most_there = math.max(most_here, n_here), math.max(most_there, n_there)
      most_both = math.max(most_both, n_here + n_there)
      sys.sleep(0.02)
    end
    a:close()
    b:close()
    assert.equal(0, (sys.wait(pid)))
    -- never more than two per server, and both servers worked at once
    assert.is_true(most_here <= 2 and most_there <= 2, string.format("%d here, %d there", most_here, most_there))
    assert.is_true(most_both >= 3, "at most " .. most_both .. " at once")
    local rows = {}
    for line in env.read(out_path):gmatch("[^\n]+") do rows[#rows + 1] = json.decode(line) end
    assert.equal(8, #rows)
    for _, row in ipairs(rows) do assert.equal("upgraded", row.status) end
    assert.equal(rows[1].host, rows[4].host)
    assert.are_not.equal(rows[1].host, rows[5].host)
    for _, name in ipairs(here) do env.drop_database(name) end
  end)

  it("leaves every database consistent when the fleet and its children are killed with -9", function()
    local files = {}
    for i = 1, 5 do
      files[string.format("01.00.%02d_01_step.sql", i)] = string.format("CREATE TABLE t_%d (id int); SELECT pg_sleep(0.15);", i)
    end
    local dir = deltas.folder(files)
    local names, targets = databases(6, "killed")
    local argv = { env.exe, "run", "fleet", "--targets", targets_file(targets), "-d", dir, "--parallel", "4",
      "--per-host", "4" }
    local pid = assert(sys.spawn(argv, { wait = false, stdout = "null", stderr = "null" }))
    -- once some deltas are in, kill everything at once, mid-delta
    local deadline = sys.now() + 30
    while sys.now() < deadline do
      local applied = 0
      for _, name in ipairs(names) do
        local db <close> = env.connect(name)
        local rows = db:query("SELECT count(*)::int AS n FROM pg_catalog.pg_tables WHERE tablename = 'ladle_upgrades'")
        if rows[1].n > 0 then applied = applied + db:query("SELECT count(*)::int AS n FROM ladle_upgrades")[1].n end
      end
      if applied >= 4 then break end
      sys.sleep(0.05)
    end
    local victims = children_of(pid)
    assert.is_true(#victims >= 1)
    sys.kill(pid, sys.signals.KILL)
    for _, child_pid in ipairs(victims) do sys.kill(child_pid, sys.signals.KILL) end
    sys.wait(pid)
    -- the server ends the sessions of the dead clients; then count
    local admin <close> = env.connect()
    repeat
      sys.sleep(0.05)
      local busy = admin:query([[SELECT count(*)::int AS n FROM pg_catalog.pg_stat_activity
        WHERE datname LIKE 'killed%' AND backend_type = 'client backend']])
    until busy[1].n == 0
    local complete = 0
    for _, name in ipairs(names) do
      local db <close> = env.connect(name)
      local scripts = {}
      if deltas.exists(db, "public.ladle_upgrades") then
        for _, script in ipairs(deltas.recorded(db)) do scripts[script] = true end
      end
      local n = 0
      for i = 1, 5 do
        -- rows equal to effects: a table exists if and only if its delta is recorded
        local recorded_it = scripts[string.format("01.00.%02d_01_step.sql", i)] == true
        assert.equal(recorded_it, deltas.exists(db, "public.t_" .. i), name .. " t_" .. i)
        if recorded_it then n = n + 1 end
      end
      if n == 5 then complete = complete + 1 end
    end
    assert.is_true(complete < #names, "everything finished before the kill")
    -- and the next run finishes the job
    local status, _, err = env.ladle { "run", "fleet", "--targets", targets_file(targets), "-d", dir }
    assert.equal(0, status, err)
    for _, name in ipairs(names) do
      assert.equal(5, #recorded(name))
      env.drop_database(name)
    end
  end)

  it("draws a live table on a terminal, passes Ctrl-C on, and rolls back what ran", function()
    local dir = deltas.folder {
      ["01.00.00_01_slow.sql"] = "CREATE TABLE a (id int); SELECT pg_sleep(30);",
    }
    local names, targets = databases(3, "live")
    local args = { "run", "fleet", "--services", targets[1], targets[2], targets[3], "-d", dir }
    local t <close> = terminal.open(args, { colour = true, cols = 200, env = { COLUMNS = "200" } })
    t:expect("2 running, 0 done, 0 failed, 1 waiting", 20)
    -- a later drawing of the block: the delta each target is applying
    t:expect("delta 1.0.0 01_slow (1/1)", 20)
    t:expect("delta 1.0.0 01_slow (1/1)", 20)
    t:send(terminal.keys.ctrl_c)
    assert.equal(130, t:wait(20))
    t:rest(0.2)
    assert.matches("\27%[%d+A\27%[J", t.raw)        -- the block redrawn in place
    assert.matches("\27%[33minterrupted", t.raw)     -- in colour
    assert.matches("\n[^\n]*live01[^\n]*interrupted\n", t.text)
    for _, name in ipairs(names) do
      local db <close> = env.connect(name)
      assert.is_false(deltas.exists(db, "public.a"))
    end
    -- piped, and with NO_COLOR: plain lines, no escapes
    local status, out = env.ladle { "run", "fleet", "--services", targets[1], "-d", deltas.folder {
      ["01.00.00_01_quick.sql"] = "CREATE TABLE q (id int);" } }
    assert.equal(0, status)
    assert.matches("^started   ", out)
    assert.is_nil(out:find("\27", 1, true))
    -- a terminal with NO_COLOR: no colour
    local plain <close> = terminal.open({ "run", "fleet", "--services", targets[2], "-d", deltas.folder {
      ["01.00.00_01_quick.sql"] = "CREATE TABLE q (id int);" } })
    assert.equal(0, plain:wait(20))
    plain:rest(0.1)
    assert.matches("upgraded", plain.text, 1, true)
    assert.is_nil(plain.raw:find("\27%[%d+m"))
    for _, name in ipairs(names) do env.drop_database(name) end
  end)
end)
