-- ladle.plan: statuses, steps, applying, failures, locking.

local env = require "support.env"
local ladle = require "ladle"
local errors = require "ladle.errors"

local support = require "support.deltas"
local folder, scripts, exists, recorded = support.folder, support.scripts, support.exists, support.recorded

local function statuses(plan)
  local out = {}
  for _, d in ipairs(plan.deltas) do out[d.script] = d.status end
  return out
end

-- Runs fn, expects a ladle failure; returns it.
local function failure_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected a failure")
  assert.is_true(errors.is_failure(err), "expected a ladle failure, got: " .. tostring(err))
  return err
end

describe("ladle.plan", function()
  local dbname, db
  before_each(function()
    dbname = env.new_database("plan")
    db = env.connect(dbname)
  end)
  after_each(function()
    db:close()
    env.drop_database(dbname)
  end)

  local function plan_for(dir, opts)
    opts = opts or {}
    opts.conn, opts.dir = db, dir
    if opts.reporter == nil then opts.reporter = false end
    return assert(ladle.plan(opts))
  end

  describe("on an empty database", function()
    it("records no baseline in a dry run, but still refuses what a real one would", function()
      local dir = folder { ["01.00.00_01_a.sql"] = "create table a (id int);\n" }
      local notes = {}
      local plan = plan_for(dir, { dry_run = true, reporter = { note = function(_, line) notes[#notes + 1] = line end } })
      assert.is_true(plan:record_baseline("1.0.0"))
      assert.is_false(exists(db, "public.ladle_upgrades"), "a dry run writes nothing")
      assert.same({ "Would record baseline 1.0.0 in public.ladle_upgrades" }, notes)
      local err = failure_of(plan.record_baseline, plan_for(dir, { dry_run = true, table = "nowhere.upgrades" }),
        "1.0.0")
      assert.equal("input", err.kind)
      assert.truthy(err.message:find("there is no schema nowhere", 1, true), err.message)
      assert.is_true(plan_for(dir):record_baseline("1.0.0"))
      assert.is_true(exists(db, "public.ladle_upgrades"))
    end)

    it("has every delta pending, and applying records each with pum's type codes", function()
      local dir = folder {
        ["00.01.00_01_create.sql"] = "create table jobs (id int primary key);\n",
        ["00.01.00_02_pre_col.sql"] = "alter table jobs add column name text;\n",
        ["00.01.00_03_post_idx.sql"] = "create index jobs_name on jobs (name);\n",
        ["00.02.00_01_pre_fill.lua"] = "local conn = ...\nassert(conn:query('insert into jobs values (1, $1)', 'x'))\n",
      }
      local plan = plan_for(dir)
      assert.is_false(plan.table_exists)
      assert.is_true(plan.fresh)
      assert.is_nil(plan.current_version)
      assert.same({ "00.01.00_02_pre_col.sql", "00.01.00_01_create.sql", "00.01.00_03_post_idx.sql",
        "00.02.00_01_pre_fill.lua" }, scripts(plan.deltas))
      for _, d in ipairs(plan.deltas) do assert.equal("pending", d.status) end
      local ok, err = pcall(plan.apply, plan)
      -- pre runs before unmarked: the column is added before the table exists
      assert.is_false(ok)
      assert.equal(3, err.exit)
      assert.truthy(err.message:find("00.01.00_02_pre_col.sql:1: relation \"jobs\" does not exist (SQLSTATE 42P01)", 1, true),
        err.message)
      assert.is_false(exists(db, "public.ladle_upgrades"), "nothing was kept, not even the table")
    end)

    it("applies in order and records version, description, type, script, checksum, time", function()
      local dir = folder {
        ["00.01.00_01_create.sql"] = "create table jobs (id int primary key, name text);\n",
        ["00.01.00_02_post_idx.sql"] = "create index jobs_name on jobs (name);\n",
        ["00.02.00_01_pre_fill.lua"] = "local conn = ...\nassert(conn:query('insert into jobs values (1, $1)', 'x'))\n",
        ["00.02.00_02_pre_slow.sql"] = "select pg_sleep(0.05);\n",
      }
      local plan = plan_for(dir)
      assert.equal(4, plan:apply())
      assert.equal("0.2.0", plan.current_version)
      local rows = assert(db:query("SELECT * FROM public.ladle_upgrades ORDER BY id"))
      assert.equal(4, #rows)
      assert.same({ "0.1.0", "01_create", 8, "00.01.00_01_create.sql" },
        { rows[1].version, rows[1].description, rows[1].type, rows[1].script })
      assert.equal(10, rows[2].type)
      assert.equal(5, rows[3].type, "a pre Lua delta takes pum's pre-py code")
      assert.equal(9, rows[4].type)
      assert.equal(ladle.delta.scan(dir)[1].checksum, rows[1].checksum)
      assert.truthy(rows[4].execution_time >= 45, "execution_time is the real milliseconds: " .. rows[4].execution_time)
      for _, r in ipairs(rows) do
        assert.is_true(r.success)
        assert.equal("postgres", r.installed_by)
      end
      assert.equal("x", db:query("select name from jobs")[1].name)
      -- applying again does nothing
      assert.equal(0, plan:apply())
      local again = plan_for(dir)
      assert.equal(0, #again:pending())
      for _, d in ipairs(again.deltas) do assert.equal("applied", d.status) end
    end)

    it("runs one transaction per file: an enum value added in one delta is used by the next", function()
      local dir = folder {
        ["01.00.00_01_type.sql"] = "create type mood as enum ('sad', 'ok');\ncreate table feel (m mood);\n",
        ["01.01.00_01_pre_add_value.sql"] = "alter type mood add value 'happy';\n",
        ["01.01.00_02_post_use_value.sql"] = "insert into feel values ('happy');\n"
          .. "create function happiest() returns mood language sql as $$ select 'happy'::mood $$;\n",
      }
      local plan = plan_for(dir)
      assert.equal(3, plan:apply())
      assert.equal("happy", db:query("select happiest()::text as m")[1].m)
    end)

    it("starts from the newest install script at or below the target", function()
      local dir = folder {
        ["baseline-1.0.0.sql"] = "create table app (id int);\n",
        ["baseline-2.0.0.sql"] = "create table app (id int, name text);\n",
        ["01.00.00_01_a.sql"] = "create table a1 (id int);\n",
        ["01.05.00_01_b.sql"] = "create table b1 (id int);\n",
        ["02.00.00_01_pre_c.sql"] = "alter table app add column c int;\n",
      }
      local plan = plan_for(dir, { to = "1.9.0" })
      assert.equal("baseline-1.0.0.sql", plan.install.file)
      local st = statuses(plan)
      assert.equal("pending", st["baseline-1.0.0.sql"])
      assert.is_nil(st["baseline-2.0.0.sql"])
      assert.equal("pending", st["01.00.00_01_a.sql"], "deltas labelled with the install version are pending")
      assert.equal("pending", st["02.00.00_01_pre_c.sql"])
      assert.truthy(plan.deltas[#plan.deltas].beyond_target)
      assert.same({ "baseline-1.0.0.sql", "01.00.00_01_a.sql", "01.05.00_01_b.sql" }, scripts(plan:pending()))

      plan = plan_for(dir)
      assert.equal("baseline-2.0.0.sql", plan.install.file)
      st = statuses(plan)
      assert.equal("below baseline", st["01.00.00_01_a.sql"])
      assert.equal("below the install script baseline-2.0.0.sql", plan.deltas[1].reason)
      assert.same({ "baseline-2.0.0.sql", "02.00.00_01_pre_c.sql" }, scripts(plan:pending()))
      assert.equal(2, plan:apply())
      assert.same({ "baseline-2.0.0.sql", "02.00.00_01_pre_c.sql" }, recorded(db))
      local row = db:query("select type, version, description from public.ladle_upgrades where id = 1")[1]
      assert.same({ 0, "2.0.0", "baseline-2.0.0" }, { row.type, row.version, row.description })
      assert.is_true(exists(db, "public.app"))
      assert.is_false(exists(db, "public.a1"))
      -- the recorded install script is applied; the other one is not used
      plan = plan_for(dir)
      assert.equal("applied", statuses(plan)["baseline-2.0.0.sql"])
      assert.equal("2.0.0", plan.baseline)
    end)

    it("starts from the first delta when no install script fits", function()
      local dir = folder {
        ["baseline-2.0.0.sql"] = "create table app (id int);\n",
        ["01.00.00_01_a.sql"] = "create table a1 (id int);\n",
      }
      local plan = plan_for(dir, { to = "1.0.0" })
      assert.is_nil(plan.install)
      assert.equal(1, plan:apply())
      assert.is_true(exists(db, "public.a1"))
    end)

    it("creates the table in a schema of its own choosing, with the first delta", function()
      local dir = folder { ["1.0.0_01_a.sql"] = "create schema app_sys; create table app_sys.thing (id int);\n" }
      local plan = plan_for(dir, { table = "app_sys.upgrades" })
      assert.equal(1, plan:apply())
      assert.same({ "1.0.0_01_a.sql" }, recorded(db, "app_sys.upgrades"))
    end)
  end)

  describe("statuses", function()
    it("follows pum's baseline rule: below the baseline never runs, the baseline's own deltas are pending", function()
      local dir = folder {
        ["00.04.00_01_old.sql"] = "create table old (id int);\n",
        ["00.05.00_01_drop.sql"] = "create table t05 (id int);\n",
        ["00.06.00_01_new.sql"] = "create table t06 (id int);\n",
      }
      assert(db:exec("create table existing (id int)"))
      assert(ladle.tracker.open(db):baseline("0.5.0"))
      local plan = plan_for(dir)
      assert.equal("0.5.0", plan.baseline)
      assert.equal("0.5.0", plan.current_version)
      assert.same({ ["00.04.00_01_old.sql"] = "below baseline", ["00.05.00_01_drop.sql"] = "pending",
        ["00.06.00_01_new.sql"] = "pending" }, statuses(plan))
      assert.equal("below the baseline 0.5.0", plan.deltas[1].reason)
      assert.equal(2, plan:apply())
      assert.is_false(exists(db, "public.old"))
    end)

    it("reports changed and missing deltas, and pum's renamed-with-same-checksum as applied", function()
      local dir = folder {
        ["1.0.0_01_a.sql"] = "create table a (id int);\n",
        ["1.0.0_02_b.sql"] = "create table b (id int);\n",
        ["1.0.0_03_c.sql"] = "create table c (id int);\n",
      }
      assert.equal(3, plan_for(dir):apply())
      env.write(dir .. "/1.0.0_02_b.sql", "create table b (id int); -- reworded\n")
      os.rename(dir .. "/1.0.0_03_c.sql", dir .. "/1.0.0_03_c_renamed.sql")
      os.remove(dir .. "/1.0.0_01_a.sql")
      env.write(dir .. "/1.0.0_04_d.sql", "create table d (id int);\n")
      local plan = plan_for(dir)
      local st = statuses(plan)
      assert.equal("missing", st["1.0.0_01_a.sql"])
      assert.equal("changed", st["1.0.0_02_b.sql"])
      assert.equal("applied", st["1.0.0_03_c_renamed.sql"])
      assert.equal("pending", st["1.0.0_04_d.sql"])
      local by = {}
      for _, d in ipairs(plan.deltas) do by[d.script] = d end
      assert.truthy(by["1.0.0_01_a.sql"].reason:find("recorded in public.ladle_upgrades, but", 1, true))
      assert.truthy(by["1.0.0_02_b.sql"].reason:find("the file changed after it was applied on", 1, true))
      assert.equal("recorded under the name 1.0.0_03_c.sql", by["1.0.0_03_c_renamed.sql"].reason)
      assert.truthy(by["1.0.0_02_b.sql"].installed_on:match("^%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d$"))
      local counts = plan:counts()
      assert.same({ 1, 1, 1, 1 }, { counts.pending, counts.changed, counts.missing, counts.applied })

      -- drift stops everything, naming every changed file
      local f = failure_of(plan.apply, plan)
      assert.equal(2, f.exit)
      assert.truthy(f.message:find("1 applied delta changed since applied, nothing was run: " .. dir
        .. "/1.0.0_02_b.sql (accept the new content with 'ladle repair', or go on regardless with --on-changed warn)",
        1, true), f.message)
      assert.is_false(exists(db, "public.d"))
      -- repair accepts it
      local repaired = plan:repair()
      assert.equal(1, #repaired)
      assert.equal("1.0.0_02_b.sql", repaired[1].script)
      plan = plan_for(dir)
      assert.equal("applied", statuses(plan)["1.0.0_02_b.sql"])
      -- the missing file stops it too, unless that is on purpose
      f = failure_of(plan.apply, plan)
      assert.equal(2, f.exit)
      assert.truthy(f.message:find("1 delta recorded as applied in public.ladle_upgrades is not in " .. dir
        .. ": 1.0.0_01_a.sql", 1, true), f.message)
      plan = plan_for(dir, { ignore_missing = true })
      assert.equal(1, plan:apply())
      assert.is_true(exists(db, "public.d"))
    end)

    it("holds back deltas labelled below the current version unless out_of_order", function()
      local dir = folder { ["1.0.0_01_a.sql"] = "create table a (id int);\n", ["2.0.0_01_b.sql"] = "create table b (id int);\n" }
      local plan = plan_for(dir)
      assert.equal(2, plan:apply())
      env.write(dir .. "/1.5.0_01_late.sql", "create table late (id int);\n")
      plan = plan_for(dir)
      local late = plan.deltas[2]
      assert.equal("1.5.0_01_late.sql", late.script)
      assert.equal("pending", late.status)
      assert.is_true(late.out_of_order)
      assert.equal("out of order: labelled below the current version 2.0.0", late.reason)
      local f = failure_of(plan.apply, plan)
      assert.equal(2, f.exit)
      assert.truthy(f.message:find("was never applied but is labelled below the current version 2.0.0", 1, true))
      plan = plan_for(dir, { out_of_order = true })
      assert.equal(1, plan:apply())
      assert.is_true(exists(db, "public.late"))
    end)

    it("keeps deltas above the target pending but out of this upgrade", function()
      local dir = folder { ["1.0.0_01_a.sql"] = "select 1;\n", ["1.1.0_01_b.sql"] = "select 1;\n", ["1.10.0_01_c.sql"] = "select 1;\n" }
      local plan = plan_for(dir, { to = "1.1" })
      assert.same({ "1.0.0_01_a.sql", "1.1.0_01_b.sql" }, scripts(plan:pending()))
      assert.equal("above the target 1.1", plan.deltas[3].reason)
      assert.equal(1, plan:counts().beyond_target)
      assert.equal(2, plan:apply())
      assert.equal("1.1.0", plan.current_version)
    end)

    it("refuses a non-empty database without the table, pointing at baseline", function()
      assert(db:exec("create table legacy (id int)"))
      local dir = folder { ["1.0.0_01_a.sql"] = "create table a (id int);\n" }
      local plan = plan_for(dir)
      assert.is_false(plan.table_exists)
      assert.is_false(plan.fresh)
      assert.equal("pending", plan.deltas[1].status)
      local f = failure_of(plan.apply, plan)
      assert.equal(2, f.exit)
      assert.truthy(f.message:find("has no upgrades table public.ladle_upgrades and is not empty: record the version "
        .. "it is at with 'ladle baseline -b VERSION' first", 1, true), f.message)
      assert.is_false(exists(db, "public.a"))
    end)

    it("returns nil, message, details (kind input) for bad input", function()
      local dup = folder { ["1.0.0_01_a.sql"] = "", ["01.00.00_1_b.sql"] = "" }
      local p, why, details = ladle.plan { conn = db, dir = dup, reporter = false }
      assert.is_nil(p)
      assert.equal("input", details.kind)
      assert.truthy(why:find("same version 1.0.0, phase unmarked and serial 1", 1, true))
      p, why, details = ladle.plan { conn = db, dir = folder {}, to = "1.x", reporter = false }
      assert.is_nil(p)
      assert.equal("input", details.kind)
      assert.truthy(why:find("bad version '1.x'", 1, true))
      p, why, details = ladle.plan { conn = db, dir = folder {}, table = "a.b.c", reporter = false }
      assert.is_nil(p)
      assert.equal("input", details.kind)
      p, why, details = ladle.plan { conn = db, dir = "/nonexistent", reporter = false }
      assert.equal("input", details.kind)
      assert.equal("/nonexistent: No such file or directory", why)
      assert.has_error(function() ladle.plan { dir = "x" } end)
      assert.has_error(function() ladle.plan { conn = db } end)
    end)
  end)

  describe("steps", function()
    local files = {
      ["02.00.00_01_pre_add.sql"] = "alter table t add column b int;\n",
      ["02.00.00_02_post_drop.sql"] = "alter table t drop column a;\n",
      ["02.00.00_03_unmarked.sql"] = "create table u2 (id int);\n",
      ["03.00.00_01_pre_add.sql"] = "alter table t add column c int;\n",
      ["03.00.00_02_post_fill.sql"] = "update t set c = 1;\n",
    }
    local function prepared()
      local dir = folder(files)
      assert(db:exec("create table t (a int)"))
      assert(ladle.tracker.open(db):baseline("2.0.0"))
      return dir
    end

    it("groups pending deltas by version and applies pre, then post", function()
      local plan = plan_for(prepared())
      local steps = plan:versions()
      assert.equal(2, #steps)
      assert.equal("2.0.0", steps[1].version)
      assert.same({ "02.00.00_01_pre_add.sql", "02.00.00_03_unmarked.sql", "02.00.00_02_post_drop.sql" },
        scripts(steps[1].deltas))
      assert.same({ "02.00.00_01_pre_add.sql" }, scripts(steps[1]:pending("pre")))
      assert.same({ "02.00.00_03_unmarked.sql", "02.00.00_02_post_drop.sql" }, scripts(steps[1]:pending("post")))
      assert.equal(1, steps[1]:apply("pre"))
      assert.equal(0, steps[1]:apply("pre"), "applying again is a no-op")
      assert.is_true(exists(db, "public.t"))
      assert.same({ "b" }, { db:query("select attname::text as n from pg_attribute where attrelid = 't'::regclass and attname = 'b'")[1].n })
      assert.equal(2, steps[1]:apply("post"))
      assert.equal(2, steps[2]:apply("all"))
      assert.same({}, plan:versions())
    end)

    it("counts unmarked deltas as pre when told", function()
      local plan = plan_for(prepared(), { unmarked = "pre" })
      local step = plan:versions()[1]
      assert.same({ "02.00.00_01_pre_add.sql", "02.00.00_03_unmarked.sql" }, scripts(step:pending("pre")))
      assert.is_true(step.deltas[2].unmarked)
    end)

    it("selects phases across versions the safe way", function()
      local plan = plan_for(prepared())
      local list, stopped = plan:selection("pre")
      assert.same({ "02.00.00_01_pre_add.sql" }, scripts(list))
      assert.equal("2.0.0", stopped.version)
      list, stopped = plan:selection("post")
      assert.same({}, list)
      assert.equal("2.0.0", stopped.version)
      local count = plan:apply("pre")
      assert.equal(1, count)
      count, stopped = plan:apply("post")
      assert.equal(2, count)
      assert.equal("3.0.0", stopped.version)
      assert.equal(2, plan:apply("all"))
    end)

    it("resumes where a failed recipe stopped", function()
      local dir = prepared()
      env.write(dir .. "/02.00.00_02_post_drop.sql", "alter table t drop column nope;\n")
      local plan = plan_for(dir)
      local step = plan:versions()[1]
      step:apply("pre")
      local f = failure_of(step.apply, step, "post")
      assert.equal(3, f.exit)
      assert.same({ "", "02.00.00_01_pre_add.sql", "02.00.00_03_unmarked.sql" }, recorded(db))
      env.write(dir .. "/02.00.00_02_post_drop.sql", "alter table t drop column a;\n")
      plan = plan_for(dir)
      assert.same({ "02.00.00_02_post_drop.sql", "03.00.00_01_pre_add.sql", "03.00.00_02_post_fill.sql" },
        scripts(plan:pending()))
      assert.equal(3, plan:apply())
    end)
  end)

  describe("interrupted between two deltas", function()
    -- a Ctrl-C lands where the runner is not: here while the first delta is
    -- reported, after its COMMIT
    it("still says what the run applied, and that running again resumes", function()
      local dir = folder {
        ["1.0.0_01_a.sql"] = "create table a (id int);\n",
        ["1.0.0_02_b.sql"] = "create table b (id int);\n",
      }
      local reporter = { done = function() error(errors.failure("interrupted", "interrupted"), 0) end }
      local f = failure_of(function() return plan_for(dir, { reporter = reporter }):apply() end)
      assert.equal("interrupted", f.kind)
      assert.equal(130, f.exit)
      assert.same({ 1, true }, { f.applied_in_run, f.resumable })
      assert.same({ "1.0.0_01_a.sql" }, recorded(db))
      assert.equal(0, db:query("select count(*) as n from pg_catalog.pg_locks where locktype = 'advisory'")[1].n)
      assert.equal(1, plan_for(dir):apply())
    end)
  end)

  describe("a failing delta", function()
    local function fail_with(content, name)
      name = name or "1.0.0_02_bad.sql"
      local dir = folder { ["1.0.0_01_ok.sql"] = "create table ok (id int primary key);\n", [name] = content }
      local plan = plan_for(dir)
      local f = failure_of(plan.apply, plan)
      if f.exit == 2 then
        -- bad input is found before anything runs
        assert.is_false(exists(db, "public.ok"), "nothing ran")
      else
        assert.same({ "1.0.0_01_ok.sql" }, recorded(db), "earlier deltas stay applied and recorded")
      end
      return f, dir .. "/" .. name
    end

    it("names the file, the line (counted in characters), the sqlstate and the server's message", function()
      local f, path = fail_with("-- a comment\ncreate table bad (id int);\n\ninsert into bad values (1);\n"
        .. "select 'ééé', 'üü', 'x',\n       nope from bad;\n")
      assert.equal(3, f.exit)
      assert.equal(path .. ":6: column \"nope\" does not exist (SQLSTATE 42703)", f.message)
      assert.equal(6, f.line)
      assert.equal(8, f.column)
      assert.equal("42703", f.sqlstate)
      assert.is_false(exists(db, "public.bad"), "the delta's transaction rolled back")
    end)

    it("maps a position in the first statement, sent after ladle's BEGIN", function()
      local f, path = fail_with("selec 1;\n")
      assert.equal(path .. ":1: syntax error at or near \"selec\" (SQLSTATE 42601)", f.message)
      assert.equal(1, f.column)
    end)

    it("names the statement's line when the server gives no position", function()
      local f, path = fail_with("insert into ok values (1);\n\n  insert into ok\n    values (1);\n")
      assert.equal(path .. ":3: duplicate key value violates unique constraint \"ok_pkey\" (SQLSTATE 23505)", f.message)
      assert.equal("Key (id)=(1) already exists.", f.detail)
    end)

    it("finds the line inside a DO block", function()
      local f, path = fail_with("select 1;\n\nDO $$\nBEGIN\n  PERFORM 1;\n  RAISE EXCEPTION 'boom %', 42;\nEND\n$$;\n")
      assert.equal(path .. ":6: boom 42 (SQLSTATE P0001)", f.message)
    end)

    it("finds the line of a syntax error inside a function body", function()
      local f, path = fail_with("create function f() returns int language plpgsql as $$\nbegin\n  return 1 +;\nend $$;\n")
      assert.equal(3, f.line, f.message)
      assert.truthy(f.message:find(path .. ":3: syntax error", 1, true), f.message)
    end)

    it("names a Lua delta's line", function()
      local f, path = fail_with("local conn = ...\nassert(conn:query('insert into ok values (5)'))\nerror('no way')\n",
        "1.0.0_02_bad.lua")
      assert.equal(3, f.exit)
      assert.equal(path .. ":3: no way", f.message)
      assert.equal(0, db:query("select count(*) as n from ok")[1].n, "the Lua delta's work rolled back")
    end)

    it("says how to run what cannot run inside a transaction", function()
      local f = fail_with("create index concurrently ok_id on ok (id);\n")
      assert.equal(3, f.exit)
      assert.equal("25001", f.sqlstate)
      assert.truthy(f.message:find("put '-- ladle: no-transaction' on the delta's first line", 1, true), f.message)
    end)

    it("refuses a Lua delta that ends ladle's transaction", function()
      local f, path = fail_with("local conn = ...\nassert(conn:exec('commit'))\n", "1.0.0_02_bad.lua")
      assert.equal(3, f.exit)
      assert.truthy(f.message:find(path .. ": the delta ended ladle's transaction", 1, true), f.message)
    end)

    it("refuses a Lua delta whose query failed unnoticed", function()
      local f, path = fail_with("local conn = ...\nconn:query('select nope')\n", "1.0.0_02_bad.lua")
      assert.truthy(f.message:find(path .. ": a query inside the delta failed", 1, true), f.message)
    end)

    it("refuses a Lua delta that does not compile (bad input)", function()
      local f, path = fail_with("local x = \n", "1.0.0_02_bad.lua")
      assert.equal(2, f.exit)
      assert.truthy(f.message:find(path .. ":2:", 1, true), f.message)
    end)

    it("refuses transaction control and meta-commands before running anything of the file", function()
      local f, path = fail_with("create table x (id int);\ncommit;\n")
      assert.equal(2, f.exit)
      assert.truthy(f.message:find(path .. ":2: transaction control (COMMIT)", 1, true))
      assert.is_false(exists(db, "public.x"))
    end)
  end)

  describe("privileges", function()
    it("refuses before running anything when the upgrades table cannot be written", function()
      local dir = folder { ["1.0.0_01_t.sql"] = "create table t (id int);\n", ["1.1.0_01_u.sql"] = "create table u (id int);\n" }
      assert.equal(1, plan_for(dir, { to = "1.0.0" }):apply())
      assert(db:exec([[drop role if exists ladle_reader; create role ladle_reader login;
        grant create, usage on schema public to ladle_reader; grant select on public.ladle_upgrades to ladle_reader]]))
      local reader = assert(ladle.connect(env.conninfo(dbname) .. " user=ladle_reader"))
      local plan = assert(ladle.plan { conn = reader, dir = dir, reporter = false })
      local f = failure_of(plan.apply, plan)
      assert.equal(3, f.exit)
      assert.truthy(f.message:find("user ladle_reader may not insert into and update public.ladle_upgrades", 1, true),
        f.message)
      assert.is_false(exists(db, "public.u"))
      reader:close()
      assert(db:exec("revoke all on schema public from ladle_reader; revoke all on public.ladle_upgrades from ladle_reader"))
    end)
  end)

  describe("deltas outside a transaction", function()
    it("build indexes concurrently", function()
      local dir = folder {
        ["1.0.0_01_t.sql"] = "create table t (id int, name text);\n",
        ["1.0.0_02_idx.sql"] = "-- ladle: no-transaction\ncreate index concurrently t_name on t (name);\n",
      }
      assert.equal(2, plan_for(dir):apply())
      assert.is_true(exists(db, "public.t_name"))
      assert.same({ "1.0.0_01_t.sql", "1.0.0_02_idx.sql" }, recorded(db))
    end)

    it("keep the statements that ran before a failure, without a row", function()
      local dir = folder {
        ["1.0.0_01_t.sql"] = "-- ladle: no-transaction\ncreate table t (id int);\nselect nope;\n",
      }
      local f = failure_of(function() plan_for(dir):apply() end)
      assert.truthy(f.message:find("1.0.0_01_t.sql:3: column \"nope\" does not exist", 1, true), f.message)
      assert.is_true(exists(db, "public.t"))
      assert.same({}, recorded(db))
    end)

    it("refuse a delta that leaves a transaction open, keeping neither its work nor a row", function()
      local dir = folder {
        ["1.0.0_01_t.sql"] = "create table t (id int);\n",
        ["1.0.0_02_open.sql"] = "-- ladle: no-transaction\nbegin;\ninsert into t values (1);\n",
      }
      local f = failure_of(function() plan_for(dir):apply() end)
      assert.equal(3, f.exit)
      assert.truthy(f.message:find("1.0.0_02_open.sql left a transaction open", 1, true), f.message)
      assert.same({ "1.0.0_01_t.sql" }, recorded(db))
      assert.equal(0, db:query("select count(*) as n from t")[1].n)
    end)

    it("run Lua deltas with the connection in autocommit", function()
      local dir = folder {
        ["1.0.0_01_t.lua"] = "-- ladle: no-transaction\nlocal conn = ...\n"
          .. "assert(conn:transaction_status() == 'idle')\nassert(conn:exec('create table lt (id int)'))\n",
      }
      assert.equal(1, plan_for(dir):apply())
      assert.is_true(exists(db, "public.lt"))
    end)
  end)

  describe("applying", function()
    it("accepts psql's BEGIN ... COMMIT wrapper", function()
      local dir = folder { ["1.0.0_01_a.sql"] = "BEGIN;\ncreate table a (id int);\nCOMMIT;\n" }
      assert.equal(1, plan_for(dir):apply())
      assert.is_true(exists(db, "public.a"))
    end)

    it("starts every delta from the caller's session, whatever the delta before set", function()
      local dir = folder {
        -- what pg_dump puts at the top of an install script
        ["baseline-1.0.0.sql"] = "SET statement_timeout = 0;\nSELECT pg_catalog.set_config('search_path', '', false);\n"
          .. "CREATE TABLE public.app (id int);\n",
        ["1.0.0_01_a.sql"] = "create table unqualified (id int);\nset work_mem = '77MB';\n",
        ["1.0.0_02_b.lua"] = "local conn = ...\nassert(conn:query('show work_mem')[1].work_mem == '4MB')\n"
          .. "assert(conn:query('show lock_timeout')[1].lock_timeout == '7s')\n",
        ["1.0.0_03_c.sql"] = "-- ladle: no-transaction\ncreate table uq2 (id int);\n",
      }
      assert(db:exec("set lock_timeout = '7s'"))
      assert.equal(4, plan_for(dir):apply())
      assert.is_true(exists(db, "public.unqualified"))
      assert.is_true(exists(db, "public.uq2"))
      assert.equal("7s", db:query("show lock_timeout")[1].lock_timeout, "the caller's settings are back")
      assert.equal("4MB", db:query("show work_mem")[1].work_mem)
    end)

    it("runs pre-all and post-all hooks around an upgrade, unrecorded", function()
      local dir = folder {
        ["pre-all.sql"] = "create table if not exists hook_log (what text);\ninsert into hook_log values ('pre');\n",
        ["post-all.lua"] = "local conn = ...\nassert(conn:query(\"insert into hook_log values ('post')\"))\n",
        ["1.0.0_01_a.sql"] = "insert into hook_log values ('delta');\n",
      }
      local plan = plan_for(dir)
      assert.equal(1, plan:apply())
      local log = {}
      for _, r in ipairs(db:query("select what from hook_log")) do log[#log + 1] = r.what end
      assert.same({ "pre", "delta", "post" }, log)
      assert.same({ "1.0.0_01_a.sql" }, recorded(db))
      -- as pum: the hooks run on every upgrade, also when nothing is pending
      assert.equal(0, plan_for(dir):apply())
      assert.equal(5, db:query("select count(*) as n from hook_log")[1].n)
    end)

    it("refuses a file that changed after it was planned", function()
      local dir = folder { ["1.0.0_01_a.sql"] = "create table a (id int);\n" }
      local plan = plan_for(dir)
      env.write(dir .. "/1.0.0_01_a.sql", "drop database postgres;\n")
      local f = failure_of(plan.apply, plan)
      assert.equal(2, f.exit)
      assert.truthy(f.message:find("the file changed while ladle was running", 1, true))
    end)

    it("reports through a reporter the caller chooses", function()
      local dir = folder { ["1.0.0_01_a.sql"] = "select 1;\n", ["1.0.0_02_b.sql"] = "select 1;\n" }
      local events = {}
      local reporter = {
        start = function(_, d, index, total) events[#events + 1] = string.format("start %s %d/%d", d.file, index, total) end,
        done = function(_, d, ms) events[#events + 1] = "done " .. d.file .. (math.type(ms) == "integer" and "" or "?") end,
        finish = function(_, summary) events[#events + 1] = "finish " .. summary.applied end,
      }
      plan_for(dir, { reporter = reporter }):apply()
      assert.same({ "start 1.0.0_01_a.sql 1/2", "done 1.0.0_01_a.sql", "start 1.0.0_02_b.sql 2/2", "done 1.0.0_02_b.sql",
        "finish 2" }, events)
      local out = env.tmpdir() .. "/out.txt"
      local f = assert(io.open(out, "w"))
      env.write(dir .. "/1.0.0_03_c.sql", "select 1;\n")
      plan_for(dir, { reporter = ladle.report.console { out = f } }):apply()
      f:close()
      assert.truthy(env.read(out):match("^Applying delta 1%.0%.0 03_c%.%.%. OK %(%d+ ms%)\n$"), env.read(out))
      -- on a terminal, the running delta's line carries a progress bar that its result replaces
      env.write(dir .. "/1.0.0_04_d.sql", "select 1;\n")
      env.write(dir .. "/1.0.0_05_e.sql", "select 1;\n")
      f = assert(io.open(out, "w"))
      plan_for(dir, { reporter = ladle.report.console { out = f, progress = true } }):apply()
      f:close()
      local text = env.read(out)
      assert.truthy(text:find("Applying delta 1.0.0 05_e... [############............] 2/2\r\27[KApplying delta 1.0.0 05_e... OK (", 1, true), text)
    end)
  end)

  describe("locking", function()
    it("holds the lock across a recipe and keeps a second runner out", function()
      local dir = folder { ["1.0.0_01_a.sql"] = "create table a (id int);\n", ["1.0.0_02_post_b.sql"] = "create table b (id int);\n" }
      local plan = plan_for(dir)
      assert(plan:lock())
      assert.is_true(plan:locked())
      local other_db = env.connect(dbname)
      local other = assert(ladle.plan { conn = other_db, dir = dir, reporter = false, lock = { wait = false } })
      local f = failure_of(other.apply, other)
      assert.equal(3, f.exit)
      assert.truthy(f.message:find("another upgrade holds the lock on public.ladle_upgrades", 1, true))
      local step = plan:versions()[1]
      step:apply("pre")
      assert.is_true(plan:locked(), "applying under an explicit lock keeps it")
      step:apply("post")
      assert(plan:unlock())
      assert.equal(0, other:apply(), "the second runner re-reads after locking and finds nothing to do")
      other_db:close()
    end)

    it("re-reads what is applied once it has the lock", function()
      local dir = folder { ["1.0.0_01_a.sql"] = "create table a (id int);\n" }
      local first = plan_for(dir)
      local second = plan_for(dir)
      assert.equal(1, #second:pending())
      assert.equal(1, first:apply())
      assert.equal(0, second:apply())
      assert.equal(1, db:query("select count(*) as n from public.ladle_upgrades")[1].n)
    end)
  end)
end)
