-- The migration commands end to end: the ladle executable against the test
-- cluster (baseline, info, upgrade, lint, repair; config files; locking;
-- SIGKILL at random instants; a table created by pum 0.x).

local env = require "support.env"
local ladle = require "ladle"
local json = require "ladle.json"
local sys = ladle.sys

local support = require "support.deltas"
local folder, exists = support.folder, support.exists

local function lines_of(text)
  local out = {}
  for line in (text or ""):gmatch("[^\n]+") do out[#out + 1] = line end
  return out
end

local function count(text, plain)
  local n, from = 0, 1
  while true do
    local at = text:find(plain, from, true)
    if not at then return n end
    n, from = n + 1, at + 1
  end
end

local app = {
  ["00.01.00_01_create_jobs.sql"] = "create table jobs (id bigserial primary key, queue text not null);\n",
  ["00.02.00_01_pre_add_status.sql"] = "create type job_status as enum ('todo', 'done');\n"
    .. "alter table jobs add column status job_status not null default 'todo';\n",
  ["00.02.00_02_pre_add_value.sql"] = "alter type job_status add value 'failed';\n",
  ["00.02.00_03_post_use_value.sql"] = "create function fail_job(job bigint) returns void language sql as\n"
    .. "$$ update jobs set status = 'failed' where id = job $$;\n",
  ["00.02.00_04_post_index.sql"] = "-- ladle: no-transaction\ncreate index concurrently jobs_queue on jobs (queue);\n",
}

describe("ladle migration commands", function()
  local dbname, db
  before_each(function()
    dbname = env.new_database("cli")
    db = env.connect(dbname)
  end)
  after_each(function()
    db:close()
    env.drop_database(dbname)
  end)

  local function ladle_run(args, opts)
    opts = opts or {}
    return env.ladle(args, { database = dbname, env = opts.env, cwd = opts.cwd })
  end

  describe("upgrade", function()
    it("applies an app from empty, pum-style lines, and is idempotent", function()
      local dir = folder(app)
      local status, out, err = ladle_run { "upgrade", "-d", dir }
      assert.equal(0, status, out .. err)
      local lines = lines_of(out)
      assert.truthy(lines[1]:find("from an empty database: 5 pending deltas", 1, true), lines[1])
      assert.truthy(lines[2]:match("^Applying delta 0%.1%.0 01_create_jobs%.%.%. OK %(%d+ ms%)$"), lines[2])
      assert.truthy(lines[6]:match("^Applying delta 0%.2%.0 04_post_index%.%.%. OK %(%d+ ms%)$"), lines[6])
      assert.truthy(lines[7]:match("^Applied 5 deltas in %d+ ms; public%.ladle_upgrades is at version 0%.2%.0%.$"), lines[7])
      assert.equal("", err)
      assert.is_true(exists(db, "public.jobs_queue"))
      status, out = ladle_run { "upgrade", "-d", dir }
      assert.equal(0, status)
      assert.equal("Nothing to apply: public.ladle_upgrades is at version 0.2.0.\n", out)
      assert.equal(5, db:query("select count(*) as n from public.ladle_upgrades")[1].n)
    end)

    it("takes -p as a conninfo or a service name, and -t for the table", function()
      local dir = folder(app)
      local status, out, err = ladle_run({ "upgrade", "-p", env.conninfo(dbname), "-t", "app_sys.migrations", "-d", dir,
        "--to", "0.1.0" }, { env = { PGDATABASE = "postgres" } })
      assert.equal(0, status, out .. err)
      assert.equal(1, db:query("select count(*) as n from app_sys.migrations")[1].n)
      local services = env.write(env.tmpdir() .. "/pg_service.conf",
        string.format("[jobs]\nhost=%s\nport=5432\nuser=postgres\ndbname=%s\n", env.cluster_dir, dbname))
      status, out, err = ladle_run({ "upgrade", "-p", "jobs", "-t", "app_sys.migrations", "-d", dir },
        { env = { PGSERVICEFILE = services, PGDATABASE = "postgres" } })
      assert.equal(0, status, out .. err)
      assert.equal(5, db:query("select count(*) as n from app_sys.migrations")[1].n)
      status, _, err = ladle_run { "upgrade", "-p", "no_such_service", "-d", dir }
      assert.equal(3, status)
      assert.truthy(err:match("^ladle: cannot connect to service no_such_service: "), err)
    end)

    it("fails a bad delta with a line naming file, line and sqlstate, psql's caret; exit 3; earlier deltas stay", function()
      local dir = folder {
        ["1.0.0_01_ok.sql"] = "create table ok (id int);\n",
        ["1.0.0_02_bad.sql"] = "create table half (id int);\n\nselect * from\n  nowhere;\n",
        ["1.0.0_03_later.sql"] = "create table later (id int);\n",
      }
      local status, out, err = ladle_run { "upgrade", "-d", dir }
      assert.equal(3, status)
      assert.equal(string.format("ladle: %s/1.0.0_02_bad.sql:4: relation \"nowhere\" does not exist (SQLSTATE 42P01)\n"
        .. "LINE 4:   nowhere;\n          ^\n"
        .. "ladle: 1 delta was applied in this run and stays applied; fix %s/1.0.0_02_bad.sql and run the same command "
        .. "again to resume:\n  ladle upgrade -d %s\n", dir, dir, dir), err)
      assert.truthy(out:find("Applying delta 1.0.0 02_bad... FAILED\n", 1, true), out)
      assert.is_true(exists(db, "public.ok"))
      assert.is_false(exists(db, "public.half"))
      assert.is_false(exists(db, "public.later"))
      assert.equal(1, db:query("select count(*) as n from public.ladle_upgrades")[1].n)
    end)

    it("starts an empty database from an install script written by pg_dump", function()
      local dir = folder(app)
      assert.equal(0, (ladle_run { "upgrade", "-d", dir, "--to", "0.1.0" }))
      local bindir = assert(ladle.sandbox.bindir())
      local status, dump, err = sys.spawn({ bindir .. "/pg_dump", "--schema-only", "--no-owner",
        "--exclude-table=public.ladle_upgrades", "-d", env.conninfo(dbname) }, { stdout = "capture", stderr = "capture" })
      assert.equal(0, status, err)
      local release = folder {}
      for name, content in pairs(app) do
        if not name:match("^00%.01") then env.write(release .. "/" .. name, content) end
      end
      env.write(release .. "/baseline-0.2.0.sql", dump)
      local other = env.new_database("cli_install")
      local out
      status, out, err = ladle_run({ "upgrade", "-d", release }, { env = { PGDATABASE = other } })
      assert.equal(0, status, out .. err)
      assert.truthy(out:find("Applying install script baseline-0.2.0.sql... OK", 1, true), out)
      assert.equal(4, count(out, "Applying delta 0.2.0"))
      env.drop_database(other)
    end)

    it("refuses a non-empty database without the table, pointing at baseline (exit 2)", function()
      assert(db:exec("create table legacy (id int)"))
      local dir = folder(app)
      local status, _, err = ladle_run { "upgrade", "-d", dir }
      assert.equal(2, status)
      assert.truthy(err:find("is not empty: record the version it is at with 'ladle baseline -d " .. dir
        .. " -b VERSION' first", 1, true), err)
    end)

    it("applies phase by phase", function()
      local dir = folder(app)
      assert.equal(0, (ladle_run { "upgrade", "-d", dir, "--to", "0.1.0" }))
      local status, out = ladle_run { "upgrade", "-d", dir, "--phase", "post" }
      assert.equal(0, status)
      assert.truthy(out:find("Stopped at 0.2.0: its pre deltas are pending", 1, true), out)
      status, out = ladle_run { "upgrade", "-d", dir, "--phase", "pre" }
      assert.equal(0, status)
      assert.equal(2, count(out, "Applying delta 0.2.0"))
      assert.truthy(out:find("Stopped at 0.2.0: its post deltas are pending. Deploy 0.2.0, then run 'ladle upgrade -d " .. dir
        .. " --phase post'.", 1, true), out)
      status, out = ladle_run { "upgrade", "-d", dir, "--phase", "post" }
      assert.equal(0, status)
      assert.equal(2, count(out, "Applying delta 0.2.0"))
      status = ladle_run { "upgrade", "-d", dir, "--phase", "sideways" }
      assert.equal(2, status)
    end)

    it("prints JSON lines with --json", function()
      local status, out, err = ladle_run { "upgrade", "-d", folder(app), "--to", "0.1.0", "--json" }
      assert.equal(0, status, err)
      local events = {}
      for _, line in ipairs(lines_of(out)) do events[#events + 1] = assert(json.decode(line)) end
      assert.same({ "plan", "start", "applied", "finish" },
        { events[1].event, events[2].event, events[3].event, events[4].event })
      -- where it starts: an empty database, one delta to apply up to 0.1.0
      assert.same({ event = "plan", pending = 1, target = "0.1.0", table = "public.ladle_upgrades" }, events[1])
      assert.equal("0.1.0", events[3].version)
      assert.equal("integer", math.type(events[3].ms))
      assert.equal(1, events[4].applied)
    end)

    it("touches nothing with --dry-run", function()
      local dir = folder(app)
      local function snapshot()
        return db:query([[select (select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')) as relations,
          (select count(*) from pg_locks where locktype = 'advisory') as locks]])[1]
      end
      local before = snapshot()
      local status, out, err = ladle_run { "upgrade", "-d", dir, "--dry-run" }
      assert.equal(0, status, err)
      assert.truthy(out:find("Would apply delta 0.1.0 01_create_jobs\n", 1, true), out)
      assert.truthy(out:find("Would apply delta 0.2.0 04_post_index (outside a transaction)\n", 1, true), out)
      assert.truthy(out:find("5 deltas would be applied (dry run: nothing was changed).", 1, true), out)
      assert.same(before, snapshot())
      assert.is_false(exists(db, "public.ladle_upgrades"))
      -- and on a database half way
      assert.equal(0, (ladle_run { "upgrade", "-d", dir, "--to", "0.1.0" }))
      local rows = db:query("select * from public.ladle_upgrades")
      before = snapshot()
      status, out = ladle_run { "upgrade", "-d", dir, "--dry-run", "--json" }
      assert.equal(0, status)
      local would, finish = 0, nil
      for line in out:gmatch("[^\n]+") do
        local event = assert(json.decode(line))
        if event.event == "would_apply" then would = would + 1 end
        if event.event == "finish" then finish = event end
      end
      assert.equal(4, would)
      assert.is_true(finish.dry_run)
      assert.equal(4, finish.would_apply)
      assert.same(before, snapshot())
      assert.same(rows, db:query("select * from public.ladle_upgrades"))
    end)
  end)

  describe("info", function()
    it("lists every delta with status and install time, the current version, the pending count", function()
      local dir = folder(app)
      assert.equal(0, (ladle_run { "upgrade", "-d", dir, "--to", "0.1.0" }))
      local status, out, err = ladle_run { "info", "-d", dir }
      assert.equal(0, status, err)
      assert.truthy(out:find("Current version: 0.1.0\n", 1, true), out)
      assert.truthy(out:match("0%.1%.0%s+%(post%)%s+00%.01%.00_01_create_jobs%.sql%s+applied%s+%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d"), out)
      assert.truthy(out:match("0%.2%.0%s+pre%s+00%.02%.00_01_pre_add_status%.sql%s+pending"), out)
      assert.truthy(out:find("runs outside a transaction", 1, true), out)
      assert.truthy(out:find("4 pending, 1 applied.", 1, true), out)
    end)

    it("exits 1 with --exit-code when anything is pending", function()
      local dir = folder(app)
      assert.equal(1, (ladle_run { "info", "-d", dir, "--exit-code" }))
      assert.equal(0, (ladle_run { "info", "-d", dir }))
      assert.equal(0, (ladle_run { "upgrade", "-d", dir }))
      assert.equal(0, (ladle_run { "info", "-d", dir, "--exit-code" }))
    end)

    it("prints a JSON document with --json", function()
      local dir = folder(app)
      assert.equal(0, (ladle_run { "upgrade", "-d", dir, "--to", "0.1.0" }))
      local status, out = ladle_run { "info", "-d", dir, "--json" }
      assert.equal(0, status)
      local doc = assert(json.decode(out))
      assert.equal("public.ladle_upgrades", doc.table)
      assert.equal("0.1.0", doc.current_version)
      assert.equal(4, doc.pending)
      assert.equal(5, #doc.deltas)
      local first = doc.deltas[1]
      assert.equal("applied", first.status)
      assert.equal(dir .. "/00.01.00_01_create_jobs.sql", first.file)
      assert.equal("post", first.phase)
      assert.is_true(first.unmarked)
      assert.equal(32, #first.checksum)
      assert.truthy(first.installed_on)
      assert.equal("integer", math.type(first.execution_time))
      assert.equal("pending", doc.deltas[5].status)
      assert.is_false(doc.deltas[5].transaction)
    end)

    it("says why a table is missing", function()
      local dir = folder(app)
      local status, out = ladle_run { "info", "-d", dir }
      assert.equal(0, status)
      assert.truthy(out:find("The table does not exist yet and the database is empty: 'ladle upgrade -d " .. dir
        .. "' creates it.", 1, true), out)
    end)
  end)

  describe("baseline", function()
    it("records the version without running anything, as pum does", function()
      assert(db:exec("create table jobs (id bigserial primary key, queue text not null)"))
      local dir = folder(app)
      local status, out, err = ladle_run { "baseline", "-d", dir, "-b", "0.2.0" }
      assert.equal(0, status, err)
      assert.truthy(out:find("Baseline 0.2.0 recorded in public.ladle_upgrades", 1, true), out)
      assert.truthy(out:find("1 delta below 0.2.0 will never run; 4 pending.", 1, true), out)
      local rows = db:query("select version, description, type, script, checksum from public.ladle_upgrades")
      assert.equal(1, #rows)
      assert.same({ version = "0.2.0", description = "baseline", type = 0, script = "", checksum = "" }, rows[1])
      status, _, err = ladle_run { "baseline", "-d", dir, "-b", "0.3.0" }
      assert.equal(2, status)
      assert.truthy(err:find("ladle: public.ladle_upgrades already records version 0.2.0 as its baseline; a baseline only "
        .. "starts an empty table, but nothing was applied on top of it", 1, true), err)
      status, _, err = ladle_run { "baseline", "-b", "latest" }
      assert.equal(2, status)
      assert.truthy(err:find("bad value 'latest' for -b", 1, true), err)
      status, _, err = ladle_run { "baseline" }
      assert.equal(2, status)
      assert.equal("ladle: baseline: -b/--baseline VERSION is required\n", err)
      status = ladle_run { "upgrade", "-d", dir }
      assert.equal(0, status)
      assert.is_false(exists(db, "public.nothing"))
    end)
  end)

  describe("config files", function()
    it("reads pum's keys, with -c before or after the command, and flags win", function()
      local dir = folder(app)
      local cfg = env.write(env.tmpdir() .. "/db.yaml", string.format(
        "upgrades_table: app_sys.upgrades\ndelta_dir: %s\npg_service: %s\nbackup_file: /tmp/backup.dump\n"
        .. "ignore_elements:\n  - columns\n  - views\npg_dump_exe: pg_dump\npg_restore_exe: pg_restore\n",
        dir, env.conninfo(dbname)))
      local status, out, err = ladle_run({ "-c", cfg, "upgrade", "--to", "0.1.0" }, { env = { PGDATABASE = "postgres" } })
      assert.equal(0, status, out .. err)
      assert.equal(1, db:query("select count(*) as n from app_sys.upgrades")[1].n)
      status, out, err = ladle_run({ "upgrade", "--config_file", cfg }, { env = { PGDATABASE = "postgres" } })
      assert.equal(0, status, out .. err)
      assert.equal(5, db:query("select count(*) as n from app_sys.upgrades")[1].n)
      status, out = ladle_run({ "info", "-c", cfg, "-t", "public.other", "--json" }, { env = { PGDATABASE = "postgres" } })
      assert.equal(0, status)
      assert.equal("public.other", json.decode(out).table)
    end)

    it("reports a bad YAML file as FILE:LINE:COLUMN, exit 2", function()
      local cfg = env.write(env.tmpdir() .. "/bad.yaml", "upgrades_table: a.b\n delta_dir: x\n")
      local status, out, err = ladle_run { "-c", cfg, "info" }
      assert.equal(2, status)
      assert.equal("", out)
      assert.equal("ladle: " .. cfg .. ":2:11: mapping values are not allowed in this context\n", err)
      cfg = env.write(env.tmpdir() .. "/typo.yaml", "upgrade_table: a.b\n")
      status, _, err = ladle_run { "info", "-c", cfg }
      assert.equal(2, status)
      assert.truthy(err:find(cfg .. ": unknown setting 'upgrade_table' (known: ", 1, true), err)
      status, _, err = ladle_run { "info", "-c", "/nonexistent/db.yaml" }
      assert.equal(2, status)
      assert.equal("ladle: /nonexistent/db.yaml: No such file or directory\n", err)
    end)

    it("rejects unknown flags and a missing folder with one line", function()
      local status, _, err = ladle_run { "upgrade", "--frobnicate" }
      assert.equal(2, status)
      assert.equal("ladle: upgrade: unknown flag '--frobnicate' (see 'ladle upgrade --help')\n", err)
      status, _, err = ladle_run { "upgrade" }
      assert.equal(2, status)
      assert.equal("ladle: upgrade: -d/--dir is required (or delta_dir in the config file)\n", err)
      status, _, err = ladle_run { "upgrade", "-d", "/nonexistent/deltas" }
      assert.equal(2, status)
      assert.equal("ladle: /nonexistent/deltas: No such file or directory\n", err)
      status, _, err = ladle_run { "upgrade", "-d", folder(app), "--to", "1.x" }
      assert.equal(2, status)
      assert.truthy(err:find("bad value '1.x' for --to", 1, true), err)
      for _, flag in ipairs({ "--lock-timeout", "--wait-timeout", "--retry-wait" }) do
        status, _, err = ladle_run { "upgrade", "-d", folder(app), flag, "soon" }
        assert.equal(2, status)
        assert.truthy(err:find("bad duration 'soon'", 1, true), err)
      end
      status, _, err = ladle_run { "upgrade", "-d", folder(app), "--retries", "-1" }
      assert.equal(2, status)
      status, _, err = ladle_run { "upgrade", "-d", folder(app), "--retries", "many" }
      assert.equal(2, status)
      assert.truthy(err:find("expected a whole number", 1, true), err)
    end)
  end)

  describe("checksum drift", function()
    it("stops the upgrade naming every changed file (exit 2) until repair accepts it", function()
      local dir = folder(app)
      assert.equal(0, (ladle_run { "upgrade", "-d", dir, "--to", "0.1.0" }))
      env.write(dir .. "/00.01.00_01_create_jobs.sql", "-- reviewed\n" .. app["00.01.00_01_create_jobs.sql"])
      local status, out, err = ladle_run { "upgrade", "-d", dir }
      assert.equal(2, status)
      assert.equal("ladle: 1 applied delta changed since applied, nothing was run: " .. dir
        .. "/00.01.00_01_create_jobs.sql (accept the new content with 'ladle repair -d " .. dir .. "', or go on "
        .. "regardless with --on-changed warn)\n", err)
      assert.is_false(exists(db, "job_status"))
      status, out = ladle_run { "info", "-d", dir }
      assert.truthy(out:match("00%.01%.00_01_create_jobs%.sql%s+changed"), out)
      status, out = ladle_run { "repair", "-d", dir, "--dry-run" }
      assert.equal(0, status)
      assert.truthy(out:find(dir .. "/00.01.00_01_create_jobs.sql: applied on ", 1, true), out)
      assert.truthy(out:find("1 delta would be repaired (dry run: nothing was changed).", 1, true), out)
      status = ladle_run { "upgrade", "-d", dir }
      assert.equal(2, status)
      status, out = ladle_run { "repair", "-d", dir }
      assert.equal(0, status)
      assert.truthy(out:find("Recorded the new checksum of 1 delta in public.ladle_upgrades.", 1, true), out)
      status, out = ladle_run { "repair", "-d", dir }
      assert.equal("Nothing to repair: every applied delta matches its file.\n", out)
      status = ladle_run { "upgrade", "-d", dir }
      assert.equal(0, status)
    end)
  end)

  describe("lint", function()
    it("passes a clean folder", function()
      local status, out = ladle_run { "lint", "-d", folder(app) }
      assert.equal(0, status)
      assert.truthy(out:find("5 deltas, no problems.", 1, true), out)
    end)

    it("reports every kind of problem, one per line, exit 2", function()
      local dir = folder {
        ["01.00.00_01_a.sql"] = "select 1;",
        ["01.00.00_03_b.sql"] = "select 1;",
        ["01.00.00_03_c.sql"] = "select 1;",
        ["01.01.00_02_d.sql"] = "select 1;",
        ["01.02.00_01_Upper.sql"] = "select 1;",
        ["01.02.00_02_with space.sql"] = "select 1;",
        ["delta_1.3.0_x.sql"] = "select 1;",
        ["delta_1.3.0_y.py"] = "print(1)",
        ["01.04.00_01_meta.sql"] = "select 1;\n\\i other.sql\n",
        ["01.04.00_02_txn.sql"] = "select 1;\nrollback;\n",
        ["01.04.00_03_bad.lua"] = "local = 1\n",
        ["01.04.00_04_directive.sql"] = "-- ladle: autocommit\nselect 1;\n",
        ["01.04.00-05-dashes.sql"] = "select 1;",
        ["README.md"] = "# migrations",
        ["archive/old.sql"] = "select 1;",
      }
      local status, out = ladle_run { "lint", "-d", dir }
      assert.equal(2, status, out)
      local expected = {
        "01.00.00_03_b.sql and " .. dir .. "/01.00.00_03_c.sql are two deltas with the same version 1.0.0, phase unmarked and serial 3",
        "01.04.00_04_directive.sql:1: unknown ladle directive 'autocommit'",
        "01.04.00-05-dashes.sql: matches no delta layout",
        "archive: folder name is not a version",
        "01.02.00_01_Upper.sql: upper case in the name",
        "01.02.00_02_with space.sql: spaces in the name",
        "accepted names: 02.14.01_01_pre_x.sql (procrastinate), delta_1.2.0_x.pre.sql (pum)",
        "mixed layouts (10 procrastinate, 2 pum)",
        "gap in the serials of version 1.0.0: 2 missing",
        "the serials of version 1.1.0 start at 2",
        "01.04.00_01_meta.sql:2: psql meta-commands",
        "01.04.00_02_txn.sql:2: transaction control (ROLLBACK)",
        "01.04.00_03_bad.lua:1: ",
      }
      for _, text in ipairs(expected) do
        assert.truthy(out:find(text, 1, true), "missing: " .. text .. "\n" .. out)
      end
      assert.is_nil(out:find("README", 1, true), "documentation files are fine")
      assert.truthy(out:find(": 12 problems in 12 deltas.", 1, true), out)
    end)

    it("accepts Flyway's names as Flyway writes them (V/R prefixes, CamelCase)", function()
      local dir = folder { ["V1__Add_table.sql"] = "create table t (id int);\n",
        ["V1_1__AddColumn.sql"] = "alter table t add column c int;\n", ["R__Views.sql"] = "select 1;\n" }
      local status, out = ladle_run { "lint", "-d", dir }
      assert.equal(0, status, out)
      assert.is_nil(out:find("upper case", 1, true), out)
      -- the other layouts keep lower case
      support.write(dir, { ["01.00.00_01_Upper.sql"] = "select 1;" })
      status, out = ladle_run { "lint", "-d", dir }
      assert.equal(2, status, out)
      assert.truthy(out:find("01.00.00_01_Upper.sql: upper case in the name", 1, true), out)
    end)
  end)

  describe("concurrency", function()
    local function slow_deltas(n)
      local files = {}
      for i = 1, n do
        files[string.format("01.00.00_%03d_t%d.sql", i, i)] = string.format(
          "create table t_%d (id int primary key);\nselect pg_sleep(0.005);\n", i)
      end
      return folder(files)
    end

    it("makes a second runner wait, then apply nothing twice", function()
      local dir = slow_deltas(40)
      local tmp = env.tmpdir()
      local argv = { env.exe, "upgrade", "-d", dir }
      local e = { PGDATABASE = dbname }
      local a = assert(sys.spawn(argv, { env = e, wait = false, stdout = { path = tmp .. "/a.out" }, stderr = { path = tmp .. "/a.err" } }))
      local b = assert(sys.spawn(argv, { env = e, wait = false, stdout = { path = tmp .. "/b.out" }, stderr = { path = tmp .. "/b.err" } }))
      assert.equal(0, (sys.wait(a)), env.read(tmp .. "/a.err"))
      assert.equal(0, (sys.wait(b)), env.read(tmp .. "/b.err"))
      local applied = count(env.read(tmp .. "/a.out"), "... OK") + count(env.read(tmp .. "/b.out"), "... OK")
      assert.equal(40, applied)
      local rows = db:query("select count(*) as n, count(distinct script) as scripts from public.ladle_upgrades")[1]
      assert.same({ 40, 40 }, { rows.n, rows.scripts })
    end)

    it("fails at once with --no-wait, or after --wait-timeout, naming the holder (exit 3)", function()
      local dir = folder(app)
      local holder = env.connect(dbname)
      local t = assert(ladle.tracker.open(holder))
      assert(t:lock())
      local status, _, err = ladle_run { "upgrade", "-d", dir, "--no-wait" }
      assert.equal(3, status)
      assert.truthy(err:match("^ladle: another upgrade holds the lock on public%.ladle_upgrades %(pid %d+"), err)
      local t0 = sys.now()
      status, _, err = ladle_run { "upgrade", "-d", dir, "--wait-timeout", "300ms" }
      assert.equal(3, status)
      assert.truthy(sys.now() - t0 >= 0.3)
      assert.truthy(err:find("gave up after 0.3s waiting for the lock", 1, true), err)
      -- without a flag it waits, and goes on once the lock is released
      local tmp = env.tmpdir()
      local pid = assert(sys.spawn({ env.exe, "upgrade", "-d", dir }, { env = { PGDATABASE = dbname }, wait = false,
        stdout = { path = tmp .. "/out" }, stderr = { path = tmp .. "/err" } }))
      -- unlock only once it says it waits (a loaded machine starts it slowly)
      for _ = 1, 3000 do
        if (env.read(tmp .. "/err") or ""):find("waiting for the lock", 1, true) then break end
        sys.sleep(0.01)
      end
      assert.is_false(exists(db, "public.ladle_upgrades"))
      assert(t:unlock())
      assert.equal(0, (sys.wait(pid)), env.read(tmp .. "/err"))
      assert.truthy(env.read(tmp .. "/err"):match("^ladle: waiting for the lock, held by pid %d+"), env.read(tmp .. "/err"))
      assert.equal(5, db:query("select count(*) as n from public.ladle_upgrades")[1].n)
      holder:close()
    end)
  end)

  describe("interrupted", function()
    it("cancels the running delta, keeps what committed, releases the lock, exits 130", function()
      local files = {}
      for i = 1, 30 do
        files[string.format("01.00.00_%03d_s.sql", i)] = string.format("create table s_%d (id int);\nselect pg_sleep(0.05);\n", i)
      end
      local dir = folder(files)
      local tmp = env.tmpdir()
      local pid = assert(sys.spawn({ env.exe, "upgrade", "-d", dir }, { env = { PGDATABASE = dbname }, wait = false,
        stdout = { path = tmp .. "/out" }, stderr = { path = tmp .. "/err" } }))
      -- interrupt once a delta has committed (a loaded machine starts it slowly);
      -- before the first delta only "interrupted" would be said
      for _ = 1, 3000 do
        if (env.read(tmp .. "/out") or ""):find("... OK (", 1, true) then break end
        sys.sleep(0.01)
      end
      sys.kill(pid, sys.signals.INT)
      assert.equal(130, (sys.wait(pid)))
      local err = env.read(tmp .. "/err")
      local applied = tonumber(err:match("^ladle: interrupted\nladle: (%d+) deltas? w[ae][sr]e? applied in this run"))
      assert.truthy(applied, err)
      assert.truthy(err:find("run the same command again to resume:\n  ladle upgrade -d " .. dir .. "\n", 1, true), err)
      -- the delta running is INTERRUPTED, unless the signal came after its COMMIT: then it is OK
      local out = env.read(tmp .. "/out")
      assert.truthy(out:find("... INTERRUPTED\n$") or out:find("... OK %(%d+ ms%)\n$"), out)
      assert.equal(applied, count(out, "... OK ("))
      local r = db:query([[select (select count(*) from public.ladle_upgrades) as rows,
        (select count(*) from pg_class where relname ~ '^s_[0-9]+$') as tables,
        (select count(*) from pg_locks where locktype = 'advisory') as locks]])[1]
      assert.equal(r.tables, r.rows)
      assert.truthy(r.rows > 0 and r.rows < 30, "interrupted half way: " .. r.rows)
      assert.equal(r.rows, applied)
      assert.equal(0, r.locks)
    end)

    it("reports a Lua delta stopped by Ctrl-C as interrupted, not failed, in --json too", function()
      local dir = folder {
        ["01.00.00_01_first.sql"] = "create table first (id int);\n",
        ["01.00.00_02_busy.lua"] = "local conn = ...\nconn:exec('create table busy (id int)')\n"
          .. "io.stderr:write('busy\\n') io.stderr:flush()\nwhile true do end\n",
      }
      local tmp = env.tmpdir()
      local pid = assert(sys.spawn({ env.exe, "upgrade", "-d", dir, "--json" }, { env = { PGDATABASE = dbname },
        wait = false, stdout = { path = tmp .. "/out" }, stderr = { path = tmp .. "/err" } }))
      for _ = 1, 1000 do
        if (env.read(tmp .. "/err") or ""):find("busy", 1, true) then break end
        sys.sleep(0.01)
      end
      sys.kill(pid, sys.signals.INT)
      assert.equal(130, (sys.wait(pid)))
      assert.equal("busy\nladle: interrupted\nladle: 1 delta was applied in this run and stays applied; run the same "
        .. "command again to resume:\n  ladle upgrade -d " .. dir .. " --json\n", env.read(tmp .. "/err"))
      local events = {}
      for _, line in ipairs(lines_of(env.read(tmp .. "/out"))) do
        local event = json.decode(line)
        events[#events + 1] = event.event .. ":" .. (event.script or "")
      end
      assert.same({ "plan:", "start:01.00.00_01_first.sql", "applied:01.00.00_01_first.sql",
        "start:01.00.00_02_busy.lua", "interrupted:01.00.00_02_busy.lua", "error:01.00.00_02_busy.lua" }, events)
      assert.is_true(exists(db, "public.first"))
      assert.is_false(exists(db, "public.busy"))
      assert.equal(1, db:query("select count(*) as n from public.ladle_upgrades")[1].n)
    end)
  end)

  describe("killed at any instant", function()
    it("keeps tracking rows and objects in step, and resumes", function()
      local files = {}
      for i = 1, 200 do
        files[string.format("01.00.00_%03d_t%d.sql", i, i)] = string.format(
          "create table t_%d (id int primary key);\nselect pg_sleep(0.008);\n"
          .. "insert into t_%d select g from generate_series(1, 300) g;\n", i, i)
      end
      local dir = folder(files)
      local function check()
        local r = db:query([[select
          coalesce((select array_agg(substring(script from '_t([0-9]+)\.sql$')::int order by 1) from public.ladle_upgrades), '{}') as rows,
          coalesce((select array_agg(substring(relname from '^t_([0-9]+)$')::int order by 1) from pg_class
                    where relkind = 'r' and relname ~ '^t_[0-9]+$'), '{}') as tables]])[1]
        table.sort(r.rows)
        table.sort(r.tables)
        assert.same(r.tables, r.rows)
        return #r.rows
      end
      math.randomseed(os.time())
      local tmp = env.tmpdir()
      local seen = {}
      for round = 1, 6 do
        local pid = assert(sys.spawn({ env.exe, "upgrade", "-d", dir }, { env = { PGDATABASE = dbname }, wait = false,
          stdout = { path = tmp .. "/out" .. round }, stderr = { path = tmp .. "/err" .. round } }))
        -- from the first "Applying" line on (however slowly the process
        -- started), then at a random instant
        for _ = 1, 3000 do
          if (env.read(tmp .. "/out" .. round) or ""):find("Applying", 1, true) then break end
          sys.sleep(0.005)
        end
        sys.sleep(math.random() * 0.35)
        sys.kill(pid, sys.signals.KILL)
        sys.wait(pid)
        if round == 1 and not exists(db, "public.ladle_upgrades") then
          -- killed before the first commit: nothing at all
          assert.is_false(exists(db, "public.t_1"))
        end
        if exists(db, "public.ladle_upgrades") then seen[#seen + 1] = check() end
      end
      local status, out, err = ladle_run { "upgrade", "-d", dir }
      assert.equal(0, status, out .. err)
      assert.equal(200, check())
      local rows = db:query("select count(*) as n, count(distinct script) as scripts from public.ladle_upgrades")[1]
      assert.same({ 200, 200 }, { rows.n, rows.scripts })
      assert.truthy(#seen > 0)
      assert.truthy(seen[#seen] < 200, "the kills landed during the upgrade: " .. table.concat(seen, " "))
    end)
  end)

  describe("a table created by pum 0.x", function()
    it("is read and continued as it is", function()
      local dir = folder {
        ["delta_0.5.0_001_drop_started_at_column.sql"] = "alter table jobs drop column started_at;\n",
        ["delta_0.5.0_002_add_index.post.sql"] = "create index jobs_queue on jobs (queue);\n",
        ["delta_0.6.0_001_add_lock.pre.sql"] = "alter table jobs add column lock text;\n",
        ["delta_0.6.0_002_views.sql"] = "create view todo as select * from jobs;\n",
      }
      -- what `pum baseline` and `pum upgrade` left: pum's DDL, its baseline row, its delta rows
      assert(db:exec([[
        CREATE TABLE public.pum (
          id serial NOT NULL,
          version character varying(50),
          description character varying(200) NOT NULL,
          type integer NOT NULL,
          script character varying(1000) NOT NULL,
          checksum character varying(32) NOT NULL,
          installed_by character varying(100) NOT NULL,
          installed_on timestamp without time zone NOT NULL DEFAULT now(),
          execution_time integer NOT NULL,
          success boolean NOT NULL,
          PRIMARY KEY (id)
        );
        CREATE TABLE jobs (id int, queue text);
        INSERT INTO public.pum (version, description, type, script, checksum, installed_by, execution_time, success)
        VALUES ('0.5.0', 'baseline', 0, '', '', 'postgres', 1, TRUE)]]))
      local scan = assert(ladle.delta.scan(dir))
      for i = 1, 2 do
        local d = scan[i]
        assert(db:query([[INSERT INTO public.pum (version, description, type, script, checksum, installed_by,
          execution_time, success) VALUES ($1, $2, $3, $4, $5, 'postgres', 1, TRUE)]], d.version, d.description,
          d.layout == "pum" and (d.phase == "post" and 10 or d.phase == "pre" and 9 or 8),
          "/home/someone/app/update/delta/" .. d.file, d.checksum))
      end
      local status, out, err = ladle_run { "info", "-t", "public.pum", "-d", dir, "--json" }
      assert.equal(0, status, err)
      local doc = assert(json.decode(out))
      assert.equal("0.5.0", doc.current_version)
      assert.equal("0.5.0", doc.baseline)
      assert.same({ "applied", "applied", "pending", "pending" },
        { doc.deltas[1].status, doc.deltas[2].status, doc.deltas[3].status, doc.deltas[4].status })
      status, out, err = ladle_run { "upgrade", "-t", "public.pum", "-d", dir }
      assert.equal(0, status, out .. err)
      assert.truthy(out:find("Applying delta 0.6.0 001_add_lock... OK", 1, true), out)
      assert.truthy(out:find("Applying delta 0.6.0 002_views... OK", 1, true), out)
      local rows = db:query("select version, description, type, script, checksum, execution_time from public.pum order by id")
      assert.equal(5, #rows)
      assert.same({ "0.6.0", "001_add_lock", 9, "delta_0.6.0_001_add_lock.pre.sql", scan[3].checksum },
        { rows[4].version, rows[4].description, rows[4].type, rows[4].script, rows[4].checksum })
      assert.same({ "0.6.0", "002_views", 8 }, { rows[5].version, rows[5].description, rows[5].type })
      local columns = db:query("select count(*) as n from pg_attribute where attrelid = 'public.pum'::regclass and attnum > 0")
      assert.equal(10, columns[1].n, "ladle adds no column to a pum table")
      status, out = ladle_run { "info", "-t", "public.pum", "-d", dir, "--exit-code" }
      assert.equal(0, status, out)
    end)
  end)
end)

describe("make demo", function()
  it("deploys the example job queue blue-green from empty on its own cluster and prints info", function()
    local status, out, err = env.ladle { "run", "examples/demo.lua" }
    assert.equal(0, status, out .. err)
    assert.truthy(out:find("Applying install script baseline-0.2.0.sql... OK", 1, true), out)
    assert.truthy(out:find("Applying delta 0.3.0 02_pre_backfill_priority... OK", 1, true), out)
    assert.truthy(out:find("0 pending, 9 applied, 2 below baseline.", 1, true), out)
    assert.truthy(out:find("==> deploying jobqueue 0.2.0: 3 deltas applied so far", 1, true), out)
    assert.truthy(out:find("==> deploying jobqueue 0.3.0: 7 deltas applied so far", 1, true), out)
    assert.truthy(out:find("job 2  payments  doing      priority 20", 1, true), out)
  end)
end)
