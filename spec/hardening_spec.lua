-- Issue 10, end to end: bad input never half-applies, wrong targets stop
-- loudly, failures say what happened and what to do next. Each `it` names
-- the defect or guard rail it holds down.

local env = require "support.env"
local json = require "ladle.json"
local support = require "support.deltas"

local folder, exists, recorded = support.folder, support.exists, support.recorded

describe("hardening", function()
  local dbname, db
  before_each(function()
    dbname = env.new_database("hard")
    db = env.connect(dbname)
  end)
  after_each(function()
    db:close()
    env.drop_database(dbname)
  end)

  local function ladle(args, extra_env)
    local e = { PGDATABASE = dbname }
    for k, v in pairs(extra_env or {}) do e[k] = v end
    return env.ladle(args, { env = e })
  end

  local function has_table(name)
    return exists(db, name or "public.ladle_upgrades")
  end

  describe("secrets (D7)", function()
    it("masks sslpassword and password in messages, and libpq's echo of a conninfo it cannot read", function()
      local target = string.format("host=%s/nowhere dbname=x password=SECRET1 sslpassword=SECRET2", env.cluster_dir)
      local status, out, err = ladle { "upgrade", "-p", target, "-d", folder {} }
      assert.equal(3, status, out .. err)
      assert.falsy((out .. err):find("SECRET", 1, true), err)
      assert.truthy(err:find("password=*** sslpassword=***", 1, true), err)
      status, out, err = ladle { "info", "-p", "postgresql://app:SECRET3@[::1/db", "-d", folder {} }
      assert.equal(2, status, out .. err)
      assert.falsy((out .. err):find("SECRET", 1, true), err)
      assert.truthy(err:find("postgresql://app:***@[::1/db", 1, true), err)
      status, out, err = ladle { "info", "-p", "host=x sslpassword='SECRET4 x' password=SECRET5 nosuchkey=1", "-d", folder {} }
      assert.equal(2, status, out .. err)
      assert.falsy((out .. err):find("SECRET", 1, true), err)
    end)

    it("passes secrets to pg_dump and hooks through the environment only, and refuses one it cannot", function()
      local dir = env.tmpdir()
      local fake = env.write(dir .. "/fake_pg_dump", '#!/bin/sh\necho "$@" > "$0.args"\nenv | grep ^PG | sort > "$0.env"\n')
      require("ladle.sys").chmod(fake, tonumber("755", 8))
      local status, out, err = ladle { "dump", "--pg-dump-exe", fake, "-p",
        "host=db.example dbname=app sslpassword=SECRET6", dir .. "/out.dump" }
      assert.equal(2, status, out .. err)
      assert.falsy((out .. err):find("SECRET", 1, true), err)
      assert.truthy(err:find("sslpassword", 1, true) and err:find("service file", 1, true), err)
      assert.is_nil(env.read(fake .. ".args"), "pg_dump did not run")
      -- a hook's {service}: without the password, which the hook gets as PGPASSWORD
      local deltas = folder { ["1.0.0_01_a.sql"] = "create table a (id int);\n" }
      local target = env.conninfo(dbname) .. " password=SECRET7"
      status, out, err = ladle { "run", "blue-green", "-p", target, "-d", deltas, "--deploy",
        "sh -c 'echo \"{service} $PGPASSWORD\" > " .. dir .. "/hook.out'" }
      assert.equal(0, status, out .. err)
      assert.falsy((out .. err):find("SECRET", 1, true), out .. err)
      local seen = env.read(dir .. "/hook.out")
      assert.truthy(seen:find("dbname='" .. dbname .. "'", 1, true), seen)
      assert.truthy(seen:find(" SECRET7\n$"), seen)
      assert.falsy(seen:find("password=", 1, true), seen)
      -- an sslpassword cannot go that way: a hook that needs {service} is refused
      env.write(deltas .. "/1.1.0_01_b.sql", "create table b (id int);\n")
      status, out, err = ladle { "run", "blue-green", "-p", env.conninfo(dbname) .. " sslpassword=SECRET8", "-d",
        deltas, "--deploy", "echo {service}" }
      assert.equal(2, status, out .. err)
      assert.falsy((out .. err):find("SECRET", 1, true), out .. err)
      assert.truthy(err:find("{service}", 1, true), err)
    end)
  end)

  describe("bad input", function()
    it("D1: a NUL byte in a delta or a hook is exit 2 before anything runs, naming the file and offset", function()
      local dir = folder {
        ["1.0.0_01_a.sql"] = "create table a (id int);\n",
        ["1.0.0_02_b.sql"] = "insert into a values (1)\0;\ncreate table b (id int);\n",
      }
      local status, out, err = ladle { "upgrade", "-d", dir }
      assert.equal(2, status, out .. err)
      assert.truthy(err:find(dir .. "/1.0.0_02_b.sql", 1, true), err)
      assert.truthy(err:find("byte 25", 1, true), err)
      assert.is_false(has_table("public.a"))
      assert.is_false(has_table())
      -- in a hook too
      dir = folder { ["1.0.0_01_a.sql"] = "create table a (id int);\n", ["post-all.sql"] = "select 1;\0" }
      status, out, err = ladle { "upgrade", "-d", dir }
      assert.equal(2, status, out .. err)
      assert.truthy(err:find(dir .. "/post-all.sql", 1, true), err)
      assert.truthy(err:find("byte 10", 1, true), err)
      assert.is_false(has_table("public.a"))
      -- lint says so as well
      status, out = ladle { "lint", "-d", dir }
      assert.equal(2, status)
      assert.truthy(out:find("post-all.sql:1: a zero byte (NUL) at byte 10", 1, true), out)
    end)

    it("D2: a version, description or script name longer than its column is exit 2 at scan", function()
      local long_version = "1." .. string.rep("1", 55)
      local dir = folder { [long_version .. "_01_a.sql"] = "create table a (id int);\n" }
      local status, out, err = ladle { "upgrade", "-d", dir }
      assert.equal(2, status, out .. err)
      assert.truthy(err:find(long_version .. "_01_a.sql: the version has 57 characters; the upgrades table keeps 50",
        1, true), err)
      assert.is_false(has_table("public.a"))
      dir = folder { ["1.0.0_01_" .. string.rep("d", 210) .. ".sql"] = "create table a (id int);\n" }
      status, out, err = ladle { "upgrade", "-d", dir }
      assert.equal(2, status, out .. err)
      assert.truthy(err:find("the description has 213 characters; the upgrades table keeps 200", 1, true), err)
      assert.is_false(has_table())
    end)

    it("D4: the splitter follows standard_conforming_strings = off, so COMMIT inside a delta is still refused", function()
      assert(db:exec("ALTER DATABASE " .. dbname .. " SET standard_conforming_strings = off"))
      local dir = folder { ["1.0.0_01_a.sql"] = "create table a (id int);\nselect 'a\\' as q, ';\ncommit;\n"
        .. "insert into nosuch values (1);\n" }
      local status, out, err = ladle { "upgrade", "-d", dir }
      assert.equal(2, status, out .. err)
      assert.truthy(err:find("1.0.0_01_a.sql:3: transaction control (COMMIT)", 1, true), err)
      assert.is_false(has_table("public.a"))
      assert.is_false(has_table())
    end)

    it("D10: lint and upgrade refuse 1.2_01_a.sql next to 1.2.0_01_b.sql (exit 2, naming both)", function()
      local dir = folder { ["1.2_01_a.sql"] = "create table a (id int);\n", ["1.2.0_01_b.sql"] = "create table b ();\n" }
      local status, out, err = ladle { "lint", "-d", dir }
      assert.equal(2, status, out .. err)
      assert.truthy(out:find("1.2.0_01_b.sql and " .. dir .. "/1.2_01_a.sql", 1, true), out)
      status, out, err = ladle { "upgrade", "-d", dir }
      assert.equal(2, status, out .. err)
      assert.truthy(err:find("same version 1.2, phase unmarked and serial 1", 1, true), err)
      assert.is_false(has_table())
    end)

    it("big deltas: reading and checking a 20 MB delta of small statements peaks under three times its size", function()
      if os.getenv("ASAN_OPTIONS") then
        pending("memory figures mean nothing under AddressSanitizer")
        return
      end
      local dir = env.tmpdir()
      local f = assert(io.open(dir .. "/1.0.0_01_data.sql", "wb"))
      f:write("create table t (id int, v text);\n")
      local row, size = string.rep("x", 60), 0
      for i = 1, 230000 do
        local line = string.format("insert into t values (%d, '%s');\n", i, row)
        f:write(line)
        size = size + #line
      end
      f:close()
      local tiny = folder { ["1.0.0_01_data.sql"] = "create table t (id int, v text);\n" }
      local sys = require "ladle.sys"
      local function peak(folder_path)
        local status, out, err, usage = sys.spawn({ env.exe, "upgrade", "-d", folder_path, "--dry-run" },
          { env = { PGDATABASE = dbname }, stdout = "capture", stderr = "capture" })
        assert.equal(0, status, out .. err)
        return usage.maxrss_kb * 1024
      end
      local base, big = peak(tiny), peak(dir)
      assert.truthy(big - base <= 3 * size, string.format("peak %d MB over a %d MB delta (%d MB at rest)",
        big >> 20, size >> 20, base >> 20))
    end)

    it("BOM: a UTF-8 byte order mark at the start of a delta is skipped, as psql does", function()
      local bom = "\xef\xbb\xbf"
      local dir = folder {
        ["1.0.0_01_a.sql"] = bom .. "create table a (id int);\n",
        ["1.0.0_02_b.sql"] = bom .. "-- ladle: no-transaction\ncreate index concurrently a_id on a (id);\n",
        ["1.0.0_03_c.lua"] = bom .. "local conn = ...\nassert(conn:query('insert into a values (3)'))\n",
      }
      local status, out, err = ladle { "upgrade", "-d", dir }
      assert.equal(0, status, out .. err)
      assert.is_true(has_table("public.a_id"))
      assert.equal(3, db:query("select id from a")[1].id)
      -- the checksum is still the file's, as pum computes it
      local md5 = require("ladle.delta.core").md5(bom .. "create table a (id int);\n")
      assert.equal(md5, db:query("select checksum from ladle_upgrades order by id limit 1")[1].checksum)
    end)

    it("D5: SET ROLE and SET SESSION AUTHORIZATION in one delta do not leak into the next", function()
      local r1, r2 = dbname .. "_r1", dbname .. "_r2"
      assert(db:exec(string.format("create role %s nologin; create role %s nologin; "
        .. "grant create on schema public to %s, %s", r1, r2, r1, r2)))
      local dir = folder {
        ["1.0.0_01_a.sql"] = "set role " .. r1 .. ";\ncreate table a ();\n",
        ["1.0.0_02_b.sql"] = "create table b ();\n",
        ["1.0.0_03_c.sql"] = "set session authorization " .. r2 .. ";\ncreate table c ();\n",
        ["1.0.0_04_d.lua"] = "local conn = ...\nassert(conn:query('create table d ()'))\n",
      }
      local status, out, err = ladle { "upgrade", "-d", dir }
      local owners = db:query([[select c.relname, pg_catalog.pg_get_userbyid(c.relowner) as owner
        from pg_catalog.pg_class c where c.relname in ('a', 'b', 'c', 'd') order by 1]])
      local by_installer = db:query("select installed_by, count(*) as n from ladle_upgrades group by 1") or {}
      owners = { table.unpack(owners) }
      by_installer = { table.unpack(by_installer) }
      assert(db:exec(string.format("drop owned by %s, %s; drop role %s; drop role %s", r1, r2, r1, r2)))
      assert.equal(0, status, out .. err)
      local me = db:query("select current_user as me")[1].me
      assert.same({ { relname = "a", owner = r1 }, { relname = "b", owner = me }, { relname = "c", owner = r2 },
        { relname = "d", owner = me } }, owners)
      assert.same({ { installed_by = me, n = 4 } }, by_installer)
    end)

    it("D6: a bad hook stops upgrade, --dry-run and a recipe before the first delta (exit 2)", function()
      local dir = folder { ["1.0.0_01_a.sql"] = "create table a (id int);\n", ["post-all.sql"] = "\\set x 1\n" }
      for _, args in ipairs {
        { "upgrade", "-d", dir, "--dry-run" },
        { "upgrade", "-d", dir },
        { "run", "blue-green", "-d", dir, "--deploy", "true" },
        { "run", "blue-green", "-d", dir, "--deploy", "true", "--dry-run" },
      } do
        local status, out, err = ladle(args)
        assert.equal(2, status, table.concat(args, " ") .. ": " .. out .. err)
        assert.truthy(err:find(dir .. "/post-all.sql:1: psql meta-commands", 1, true), err)
        assert.falsy(out:find("Applying", 1, true), out)
        assert.is_false(has_table())
      end
    end)

    it("D8: a second upgrade takes the lock before it looks at the database", function()
      -- the first upgrade's pre-all hook has made an object, and its first
      -- delta (which creates the table) is still running: a second upgrade
      -- that looked before waiting would see a database that is not empty and
      -- has no table
      local sys = require "ladle.sys"
      local dir = folder {
        ["pre-all.sql"] = "create table if not exists hook_made (id int);\n",
        ["1.0.0_01_a.sql"] = "select pg_sleep(1.5);\ncreate table a (id int);\n",
      }
      local tmp = env.tmpdir()
      local first = assert(sys.spawn({ env.exe, "upgrade", "-d", dir }, { env = { PGDATABASE = dbname }, wait = false,
        stdout = { path = tmp .. "/out" }, stderr = { path = tmp .. "/err" } }))
      local deadline = sys.now() + 20
      while not has_table("public.hook_made") and sys.now() < deadline do sys.sleep(0.02) end
      assert.is_true(has_table("public.hook_made"))
      local status, out, err = ladle { "upgrade", "-d", dir }
      assert.equal(0, (sys.wait(first)), env.read(tmp .. "/err"))
      assert.equal(0, status, out .. err)
      assert.truthy(err:find("waiting for the lock", 1, true), err)
      assert.truthy(out:find("Nothing to apply", 1, true), out)
      assert.same({ "1.0.0_01_a.sql" }, recorded(db))
    end)

    it("D3: a long non-ASCII name is recorded whole, a name that is not UTF-8 is exit 2 at scan", function()
      local description = "01_" .. string.rep("\u{e9}", 120)
      local dir = folder { ["1.0.0_" .. description .. ".sql"] = "create table a (id int);\n" }
      local status, out, err = ladle { "upgrade", "-d", dir }
      assert.equal(0, status, out .. err)
      assert.equal(description, db:query("select description from public.ladle_upgrades")[1].description)
      status, out, err = ladle { "upgrade", "-d", dir }
      assert.equal(0, status, out .. err)
      assert.truthy(out:find("Nothing to apply", 1, true), out)
      -- not UTF-8: refused before anything runs, also as a no-transaction delta
      dir = folder {
        ["1.0.0_01_a.sql"] = "create table a (id int);\n",
        ["1.0.0_02_caf\xe9.sql"] = "-- ladle: no-transaction\ncreate table b (id int);\n",
      }
      env.drop_database(dbname)
      db:close()
      dbname = env.new_database("hard")
      db = env.connect(dbname)
      status, out, err = ladle { "upgrade", "-d", dir }
      assert.equal(2, status, out .. err)
      assert.truthy(err:find("1.0.0_02_caf\\xe9.sql: the name is not UTF-8", 1, true), err)
      assert.falsy(err:find("traceback", 1, true), err)
      assert.is_false(has_table())
    end)

    it("D3: control and escape characters in names are shown escaped, and --json stays valid UTF-8", function()
      local dir = folder { ["1.0.0_01_\27[31mred.sql"] = "create table a (id int);\n",
                           ["notes_\255.sql"] = "select 1;\n" }
      local status, out, err = ladle { "upgrade", "-d", dir }
      assert.equal(0, status, out .. err)
      assert.falsy(out:find("\27", 1, true), out)
      assert.truthy(out:find("01_\\x1b[31mred", 1, true), out)
      assert.falsy(err:find("\255", 1, true), err)
      assert.truthy(err:find("notes_\\xff.sql", 1, true), err)
      status, out, err = ladle { "info", "-d", dir, "--json" }
      assert.equal(0, status, out .. err)
      assert.truthy(utf8.len(out), "valid UTF-8")
      local doc = json.decode(out)
      assert.equal("01_\27[31mred", doc.deltas[1].description)
      assert.equal(dir .. "/notes_\u{fffd}.sql", doc.ignored[1].file)
    end)
  end)
  describe("guard rails", function()
    local app = {
      ["1.0.0_01_a.sql"] = "create table a (id int);\n",
      ["1.0.0_02_b.sql"] = "create table b (id int);\n",
      ["1.1.0_01_c.sql"] = "create table c (id int);\n",
    }

    it("wrong folder: applied deltas missing from -d stop the upgrade (exit 2) unless --ignore-missing", function()
      local dir = folder(app)
      assert.equal(0, (ladle { "upgrade", "-d", dir, "--to", "1.0.0" }))
      local other = folder { ["2.0.0_01_z.sql"] = "create table z (id int);\n" }
      local status, out, err = ladle { "upgrade", "-d", other }
      assert.equal(2, status, out .. err)
      assert.truthy(err:find("2 deltas recorded as applied in public.ladle_upgrades are not in " .. other
        .. ": 1.0.0_01_a.sql, 1.0.0_02_b.sql", 1, true), err)
      assert.truthy(err:find("--ignore-missing", 1, true), err)
      assert.is_false(has_table("public.z"))
      status, out, err = ladle { "upgrade", "-d", other, "--ignore-missing" }
      assert.equal(0, status, out .. err)
      assert.is_true(has_table("public.z"))
      -- the config file's key does the same
      env.write(other .. "/2.1.0_01_y.sql", "create table y (id int);\n")
      local config = env.write(env.tmpdir() .. "/db.yaml", "delta_dir: " .. other .. "\nignore_missing: true\n")
      status, out, err = ladle { "upgrade", "-c", config }
      assert.equal(0, status, out .. err)
      assert.is_true(has_table("public.y"))
    end)

    it("wrong folder: names at most ten missing deltas", function()
      local files = {}
      for i = 1, 12 do files[string.format("1.0.0_%02d_t.sql", i)] = "select 1;\n" end
      assert.equal(0, (ladle { "upgrade", "-d", folder(files) }))
      local status, out, err = ladle { "upgrade", "-d", folder { ["2.0.0_01_z.sql"] = "select 1;\n" } }
      assert.equal(2, status, out .. err)
      assert.truthy(err:find("12 deltas recorded as applied", 1, true), err)
      assert.truthy(err:find("1.0.0_10_t.sql and 2 more", 1, true), err)
      assert.falsy(err:find("1.0.0_11_t.sql", 1, true), err)
    end)

    it("wrong folder: a folder without deltas is exit 2, and one whose deltas sit in a subfolder says so", function()
      local parent = env.tmpdir()
      for name, content in pairs(app) do support.write(parent, { ["sql/" .. name] = content }) end
      env.write(parent .. "/README.md", "the app\n")
      for _, args in ipairs { { "upgrade", "-d", parent }, { "upgrade", "-d", parent, "--dry-run" },
                              { "run", "blue-green", "-d", parent, "--deploy", "true" } } do
        local status, out, err = ladle(args)
        assert.equal(2, status, out .. err)
        assert.truthy(err:find(parent .. " holds no deltas; " .. parent .. "/sql holds 3: is that the folder (-d "
          .. parent .. "/sql)?", 1, true), err)
      end
      local status, out, err = ladle { "upgrade", "-d", folder {} }
      assert.equal(2, status, out .. err)
      assert.truthy(err:find(" holds no deltas", 1, true), err)
      assert.is_false(has_table())
    end)

    it("wrong table: names the upgrades tables that exist and stops; baseline creates no schema unasked", function()
      local dir = folder(app)
      assert.equal(0, (ladle { "upgrade", "-d", dir, "-t", "app_sys.pum" }))
      local status, out, err = ladle { "upgrade", "-d", dir, "-t", "app_sys.pmu" }
      assert.equal(2, status, out .. err)
      assert.truthy(err:find("has no upgrades table app_sys.pmu; its upgrades tables: app_sys.pum (-t app_sys.pum)",
        1, true), err)
      assert.falsy(err:find("baseline", 1, true), err)
      status, out, err = ladle { "info", "-d", dir, "-t", "app_sys.pmu" }
      assert.equal(0, status, out .. err)
      assert.truthy(out:find("its upgrades tables: app_sys.pum", 1, true), out)
      status, out, err = ladle { "baseline", "-t", "nosuch.x", "-b", "1.0.0" }
      assert.equal(2, status, out .. err)
      assert.truthy(err:find("there is no schema nosuch", 1, true), err)
      assert.truthy(err:find("--create-schema", 1, true), err)
      assert.truthy(err:find("app_sys.pum", 1, true), err)
      assert.equal(0, db:query("select count(*) as n from pg_namespace where nspname = 'nosuch'")[1].n)
      status, out, err = ladle { "baseline", "-t", "nosuch.x", "-b", "1.0.0", "--create-schema" }
      assert.equal(0, status, out .. err)
      assert.is_true(has_table("nosuch.x"))
    end)

    it("baseline trap: says which delta runs first, and --force redoes a baseline nothing was applied on top of", function()
      assert(db:exec("create table a (id int); create table b (id int)"))
      local dir = folder(app)
      local status, out, err = ladle { "baseline", "-d", dir, "-b", "1.0.0" }
      assert.equal(0, status, out .. err)
      assert.truthy(out:find("The first delta to run will be " .. dir .. "/1.0.0_01_a.sql (1.0.0)", 1, true), out)
      -- oops: 1.0.0's tables are there already; 1.1.0 is where it is
      status, out, err = ladle { "baseline", "-d", dir, "-b", "1.1.0" }
      assert.equal(2, status, out .. err)
      assert.truthy(err:find("nothing was applied on top of it: 'ladle baseline -d " .. dir .. " --force -b 1.1.0' "
        .. "replaces it", 1, true), err)
      status, out, err = ladle { "baseline", "-d", dir, "-b", "1.1.0", "--force" }
      assert.equal(0, status, out .. err)
      assert.truthy(out:find("The first delta to run will be " .. dir .. "/1.1.0_01_c.sql (1.1.0)", 1, true), out)
      local rows = db:query("select version, type from ladle_upgrades")
      assert.same({ version = "1.1.0", type = 0 }, { version = rows[1].version, type = rows[1].type })
      assert.equal(1, #rows)
      -- once a delta ran on top of it, there is no going back
      assert.equal(0, (ladle { "upgrade", "-d", dir }))
      status, out, err = ladle { "baseline", "-d", dir, "-b", "1.0.0", "--force" }
      assert.equal(2, status, out .. err)
      assert.truthy(err:find("1 delta was applied on top of it", 1, true), err)
    end)
  end)
  describe("next steps", function()
    it("suggests commands that can be pasted as they are: the flags given, passwords masked", function()
      local dir = folder {
        ["1.0.0_01_pre_a.sql"] = "create table a (id int);\n", ["1.0.0_02_post_b.sql"] = "create table b (id int);\n",
        ["1.1.0_01_pre_c.sql"] = "create table c (id int);\n", ["1.1.0_02_post_d.sql"] = "create table d (id int);\n",
      }
      local target = env.conninfo(dbname) .. " password=SECRET9"
      local status, out, err = ladle { "upgrade", "-p", target, "-d", dir, "--to", "1.1.0", "--phase", "pre" }
      assert.equal(0, status, out .. err)
      local expected = "ladle upgrade -p '" .. env.conninfo(dbname) .. " password=***' -d " .. dir
        .. " --to 1.1.0 --phase post"
      assert.truthy(out:find("then run '" .. expected .. "'", 1, true), out)
      assert.falsy(out:find("SECRET", 1, true), out)
      -- pasted (with the password), it does what it says
      status, out, err = ladle { "upgrade", "-p", target, "-d", dir, "--to", "1.1.0", "--phase", "post" }
      assert.equal(0, status, out .. err)
      assert.truthy(out:find("then run '" .. expected:gsub("post$", "pre") .. "'", 1, true)
        or out:find("Applied 1 delta", 1, true), out)
      -- info's advice too
      local empty = env.new_database("hard")
      status, out, err = ladle({ "info", "-d", dir, "-t", "app.history" }, { PGDATABASE = empty })
      env.drop_database(empty)
      assert.equal(0, status, out .. err)
      assert.truthy(out:find("'ladle upgrade -t app.history -d " .. dir .. "' creates it", 1, true), out)
    end)
  end)
  describe("failure detail", function()
    local deltas = {
      ["1.0.0_01_a.sql"] = "create table a (id int primary key);\n",
      ["1.0.0_02_b.sql"] = "insert into a values (1);\nselect\n  lower(1) as x;\n",
      ["1.0.0_03_c.sql"] = "create table c (id int);\n",
    }

    it("shows the statement line, a caret, DETAIL, HINT and CONTEXT as psql does, and how to resume", function()
      local dir = folder(deltas)
      local status, out, err = ladle { "upgrade", "-d", dir }
      assert.equal(3, status, out .. err)
      local lines = {}
      for line in err:gmatch("[^\n]+") do lines[#lines + 1] = line end
      assert.equal("ladle: " .. dir .. "/1.0.0_02_b.sql:3: function lower(integer) does not exist (SQLSTATE 42883)",
        lines[1])
      assert.equal("LINE 3:   lower(1) as x;", lines[2])
      assert.equal("          ^", lines[3])
      assert.truthy(lines[4]:match("^HINT:  No function matches the given name and argument types%."), lines[4])
      assert.equal("ladle: 1 delta was applied in this run and stays applied; fix " .. dir .. "/1.0.0_02_b.sql and "
        .. "run the same command again to resume:", lines[5])
      assert.equal("  ladle upgrade -d " .. dir, lines[6])
      -- DETAIL and CONTEXT
      env.write(dir .. "/1.0.0_02_b.sql", "insert into a values (1);\ninsert into a values (1);\n")
      status, out, err = ladle { "upgrade", "-d", dir }
      assert.equal(3, status, out .. err)
      assert.truthy(err:find("1.0.0_02_b.sql:2: duplicate key value violates unique constraint \"a_pkey\" (SQLSTATE "
        .. "23505)\nDETAIL:  Key (id)=(1) already exists.\n", 1, true), err)
      assert.truthy(err:find("ladle: 0 deltas were applied in this run", 1, true), err)
      env.write(dir .. "/1.0.0_02_b.sql", "do $$ begin\n  raise exception 'boom' using detail = 'd1', hint = 'h1';\n"
        .. "end $$;\n")
      status, out, err = ladle { "upgrade", "-d", dir }
      assert.equal(3, status, out .. err)
      assert.truthy(err:find("1.0.0_02_b.sql:2: boom (SQLSTATE P0001)\nDETAIL:  d1\nHINT:  h1\nCONTEXT:  PL/pgSQL "
        .. "function inline_code_block line 2 at RAISE\n", 1, true), err)
    end)

    it("gives a Lua delta's failure the same form, with its SQLSTATE", function()
      local dir = folder {
        ["1.0.0_01_a.sql"] = "create table a (id int primary key);\n",
        ["1.0.0_02_b.lua"] = "local conn = ...\nassert(conn:query('insert into a values (1)'))\n"
          .. "assert(conn:query('insert into a values (1)'))\n",
      }
      local status, out, err = ladle { "upgrade", "-d", dir }
      assert.equal(3, status, out .. err)
      assert.truthy(err:find("^ladle: " .. dir:gsub("%p", "%%%0") .. "/1%.0%.0_02_b%.lua:3: [^\n]*duplicate key value "
        .. "violates unique constraint \"a_pkey\" %(SQLSTATE 23505%)\nDETAIL:  Key %(id%)=%(1%) already exists%.\n"), err)
      assert.truthy(err:find("1 delta was applied in this run", 1, true), err)
      -- a failed query the delta did not raise about
      env.write(dir .. "/1.0.0_02_b.lua", "local conn = ...\nconn:query('insert into a values (1)')\n"
        .. "conn:query('insert into a values (1)')\n")
      status, out, err = ladle { "upgrade", "-d", dir }
      assert.equal(3, status, out .. err)
      assert.truthy(err:find("1.0.0_02_b.lua: a query inside the delta failed (check what conn:query returned); nothing "
        .. "was kept: duplicate key value violates unique constraint \"a_pkey\" (SQLSTATE 23505)\nDETAIL:  Key (id)=(1) "
        .. "already exists.\n", 1, true), err)
    end)

    it("gives the same fields in --json, and a JSON error object for any failure", function()
      local dir = folder(deltas)
      local status, out, err = ladle { "upgrade", "-d", dir, "--json" }
      assert.equal(3, status, out .. err)
      local events = {}
      for line in out:gmatch("[^\n]+") do events[#events + 1] = json.decode(line) end
      local failed, last = events[#events - 1], events[#events]
      assert.equal("failed", failed.event)
      assert.same({ 3, 3, "42883", "  lower(1) as x;" }, { failed.line, failed.column, failed.sqlstate,
        failed.statement_line })
      assert.truthy(failed.hint:find("No function matches", 1, true))
      assert.equal("error", last.event)
      assert.same({ "database", 3, 1, "1.0.0_02_b.sql", 3, "42883" }, { last.kind, last.exit, last.applied_in_run,
        last.script, last.line, last.sqlstate })
      assert.equal("ladle upgrade -d " .. dir .. " --json", last.resume)
      -- before the first delta, for any command given --json
      for _, args in ipairs {
        { "upgrade", "-d", "/nonexistent/deltas", "--json" },
        { "info", "-d", dir, "-p", "postgresql://app:SECRET@[::1/db", "--json" },
        { "lint", "--json" },
        { "upgrade", "-d", dir, "--json", "--too", "1.0" },
      } do
        status, out, err = ladle(args)
        assert.equal(2, status, out .. err)
        local doc = json.decode(out)
        assert.equal("error", doc.event, out)
        assert.equal(2, doc.exit)
        assert.truthy(doc.message ~= "" and err:find(doc.message, 1, true), err)
        assert.falsy(out:find("SECRET", 1, true))
      end
    end)

    it("keeps every --json key snake_case, and a dry run says would_apply", function()
      local dir = folder(deltas)
      env.write(dir .. "/0.9.0_01_old.sql", "select 1;\n")
      assert.equal(0, (ladle { "baseline", "-b", "1.0.0" }))
      local seen = {}
      local function walk(value)
        if type(value) ~= "table" then return end
        for k, v in pairs(value) do
          if type(k) == "string" then seen[#seen + 1] = k end
          if k == "status" or k == "event" then seen[#seen + 1] = v end
          walk(v)
        end
      end
      for _, args in ipairs { { "info", "-d", dir, "--json" }, { "upgrade", "-d", dir, "--json", "--dry-run" },
                              { "lint", "-d", dir, "--json" }, { "repair", "-d", dir, "--json" } } do
        local _, out = ladle(args)
        for line in out:gmatch("[^\n]+") do walk(json.decode(line)) end
      end
      for _, key in ipairs(seen) do assert.truthy(tostring(key):match("^[a-z0-9_]+$"), key) end
      local _, out = ladle { "upgrade", "-d", dir, "--json", "--dry-run" }
      local finish = json.decode(out:match("([^\n]+)\n$"))
      assert.same({ "finish", 3 }, { finish.event, finish.would_apply })
      assert.is_nil(finish.applied)
    end)
  end)
  describe("help", function()
    it("ladle run --help lists the common flags it says it lists", function()
      local status, out = ladle { "run", "--help" }
      assert.equal(0, status)
      for _, flag in ipairs { "-p, --pg_service", "-t, --table", "-d, --dir", "--to", "--dry-run", "-y, --yes",
                              "--no-wait", "--ignore-missing", "--json" } do
        assert.truthy(out:find("\n  " .. flag, 1, true), flag .. " in:\n" .. out)
      end
    end)

    it("every stock recipe's help has an example", function()
      local _, list = ladle { "run", "--list" }
      local names = {}
      for name in list:gmatch("([%w-]+)%s+[^\n]*\n") do names[#names + 1] = name end
      assert.truthy(#names >= 3, list)
      for _, name in ipairs(names) do
        local status, out = ladle { "run", name, "--help" }
        assert.equal(0, status, out)
        assert.truthy(out:find("\nexamples:\n  ladle run " .. name .. " ", 1, true), name .. ":\n" .. out)
      end
      local status, out = ladle { "test-and-upgrade", "--help" }
      assert.equal(0, status)
      assert.truthy(out:find("\nexamples:\n  ladle test-and-upgrade ", 1, true), out)
    end)

    it("suggests the command, flag or recipe meant when one is close", function()
      local status, _, err = ladle { "upgade", "-d", "x" }
      assert.equal(2, status)
      assert.equal("ladle: unknown command 'upgade'; did you mean 'upgrade'? (see 'ladle --help')\n", err)
      status, _, err = ladle { "upgrade", "--too", "1.0" }
      assert.equal(2, status)
      assert.equal("ladle: upgrade: unknown flag '--too'; did you mean '--to'? (see 'ladle upgrade --help')\n", err)
      status, _, err = ladle { "run", "blue-gren", "--deploy", "true" }
      assert.equal(2, status)
      assert.truthy(err:find("did you mean 'blue-green'?", 1, true), err)
      status, _, err = ladle { "run", "blue-green", "--deplyo", "true" }
      assert.equal(2, status)
      assert.truthy(err:find("did you mean '--deploy'?", 1, true), err)
      -- nothing close: no guess
      status, _, err = ladle { "frobnicate" }
      assert.equal(2, status)
      assert.equal("ladle: unknown command 'frobnicate' (see 'ladle --help')\n", err)
    end)
  end)
  describe("docs truth", function()
    it("ladle sandbox -- ladle ... runs this ladle, also when ladle is not on PATH", function()
      local exe_dir = env.exe:match("^(.*)/[^/]+$")
      local status, out, err = ladle({ "sandbox", "--", "sh", "-c", "command -v ladle" }, { PATH = "/usr/bin:/bin" })
      assert.equal(0, status, out .. err)
      assert.equal(exe_dir .. "/ladle\n", out)
    end)
  end)
end)
