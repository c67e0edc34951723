-- pum 0.x projects, in the library: names and order, several folders,
-- variables (pum's pyformat rules), hooks on every upgrade with their
-- context, Flyway names and repeatables, the on_changed policy.

local env = require "support.env"
local ladle = require "ladle"
local errors = require "ladle.errors"
local pyformat = require "ladle.plan.pyformat"

local support = require "support.deltas"
local folder, scripts, recorded = support.folder, support.scripts, support.recorded

local function failure_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected a failure")
  assert.is_true(errors.is_failure(err), "expected a ladle failure, got: " .. tostring(err))
  return err
end

describe("pum's names", function()
  it("follow pum 0.10's pattern exactly, .py and .lua included", function()
    local d = assert(ladle.delta.parse("delta_1.4.0_004_fix_x.post.py"))
    assert.same({ "1.4.0", "post", "004_fix_x", "python", 4 }, { d.version, d.phase, d.description, d.kind, d.serial })
    d = assert(ladle.delta.parse("delta_1.4.0__fix.sql"))
    assert.equal("fix", d.description, "underscores after the version are group 2, not the description")
    for _, name in ipairs { "DELTA_1.0.0_x.sql", "delta_1.0.0_x.SQL", "delta_1.0_x.sql", "delta_1.0.0_x-y.sql",
                            "delta_1.0.0_x.pre.txt" } do
      local ok, why = ladle.delta.parse(name)
      assert.is_nil(ok, name)
      assert.truthy(why:find("pum delta names are", 1, true), why)
    end
  end)

  it("read Flyway's V and R names", function()
    local d = assert(ladle.delta.parse("V1_2__add_x.sql"))
    assert.same({ "1.2", "1_2", "add_x", "flyway" }, { d.version, d.label, d.description, d.layout })
    d = assert(ladle.delta.parse("R__views.sql"))
    assert.is_true(d.repeatable)
    assert.equal("views", d.description)
    assert.is_nil((ladle.delta.parse("V1__x.py")))
    assert.is_nil((ladle.delta.parse("V1.__x.sql")))
  end)

  it("order a folder by version, phase, description; same serials are a warning, not an error", function()
    local dir = folder {
      ["delta_1.4.0_004_fix_y.sql"] = "select 1;", ["delta_1.4.0_004_fix_x.sql"] = "select 1;",
      ["delta_1.4.0_10_late.sql"] = "select 1;", ["delta_1.4.0_9_early.sql"] = "select 1;",
      ["delta_1.4.0_z.pre.py"] = "", ["delta_1.10.0_a.sql"] = "select 1;", ["delta_1.9.0_a.sql"] = "select 1;",
    }
    local list = assert(ladle.delta.scan(dir))
    -- pum sorts descriptions as text: "10_late" before "9_early"
    assert.same({ "delta_1.4.0_z.pre.py", "delta_1.4.0_004_fix_x.sql", "delta_1.4.0_004_fix_y.sql",
      "delta_1.4.0_10_late.sql", "delta_1.4.0_9_early.sql", "delta_1.9.0_a.sql", "delta_1.10.0_a.sql" }, scripts(list))
    assert.equal(1, #list.warnings)
    assert.truthy(list.warnings[1]:find("share version 1.4.0, phase unmarked and serial 4", 1, true))
  end)

  it("still refuse true ambiguities", function()
    for _, files in ipairs {
      { ["1.2_01_a.sql"] = "select 1;", ["1.2.0_01_b.sql"] = "select 1;" },
      { ["delta_1.02.0_a.sql"] = "select 1;", ["delta_1.2.0_b.sql"] = "select 1;" },
      { ["delta_1.0.0_x.sql"] = "select 1;", ["delta_1.0.0_x.py"] = "" },
      { ["R__views.sql"] = "select 1;", ["R__views.lua"] = "" },
    } do
      local ok, why = ladle.delta.scan(folder(files))
      assert.is_nil(ok)
      assert.truthy(why:find("same", 1, true) or why:find("equal when compared numerically", 1, true), why)
    end
  end)

  it("refuse Flyway versions that are equal, however they are written, naming both files", function()
    for _, pair in ipairs {
      { "V1.2__a.sql", "V1.2.0__b.sql", "equal when compared numerically" },
      { "V1.2__a.sql", "V1_2__c.sql", "equal when compared numerically" },
      { "V1__a.sql", "V1__b.sql", "same Flyway version 1" },
      { "V1__a.sql", "V1__a.lua", "same" },
    } do
      local dir = folder { [pair[1]] = "select 1;", [pair[2]] = "select 1;" }
      local ok, why, details = ladle.delta.scan(dir)
      assert.is_nil(ok, pair[1] .. " " .. pair[2])
      assert.equal("input", details.kind)
      assert.truthy(why:find(pair[3], 1, true), why)
      assert.truthy(why:find(dir .. "/" .. pair[1], 1, true) and why:find(dir .. "/" .. pair[2], 1, true), why)
    end
    local dir = folder { ["V1__a.sql"] = "select 1;", ["V1_1__b.sql"] = "select 1;", ["V2__c.sql"] = "select 1;" }
    assert.equal(3, #assert(ladle.delta.scan(dir)))
    local status, _, err = env.ladle { "upgrade", "-d", folder { ["V1.2__a.sql"] = "", ["V1_2__c.sql"] = "" } }
    assert.equal(2, status)
    assert.truthy(err:find("V1.2__a.sql and .*V1_2__c.sql have versions 1.2 and 1_2"), err)
  end)

  it("run folder by folder; pre-all over the folders in reverse, post-all in order, .py before .sql", function()
    local a = folder { ["delta_2.0.0_a.sql"] = "", ["pre-all.sql"] = "", ["pre-all.py"] = "", ["post-all.sql"] = "",
                       ["post-all.py"] = "" }
    local b = folder { ["delta_1.0.0_b.sql"] = "", ["pre-all.sql"] = "", ["post-all.lua"] = "", ["post-all.sql"] = "" }
    local list = assert(ladle.delta.scan { a, b })
    assert.same({ a .. "/delta_2.0.0_a.sql", b .. "/delta_1.0.0_b.sql" }, { list[1].path, list[2].path })
    local function paths(hooks)
      local out = {}
      for _, d in ipairs(hooks) do out[#out + 1] = d.path end
      return out
    end
    assert.same({ b .. "/pre-all.sql", a .. "/pre-all.py", a .. "/pre-all.sql" }, paths(list.hooks["pre-all"]))
    assert.same({ a .. "/post-all.py", a .. "/post-all.sql", b .. "/post-all.sql", b .. "/post-all.lua" },
      paths(list.hooks["post-all"]))
  end)
end)

describe("pum's variables", function()
  local vars = pyformat.index {
    assert(pyformat.variable("int", "SRID", "2056")), assert(pyformat.variable("int", "NEG", "-5")),
    assert(pyformat.variable("float", "F", "2")), assert(pyformat.variable("float", "BIG", "1e20")),
    assert(pyformat.variable("float", "SMALL", "0.00001")), assert(pyformat.variable("float", "INF", "-inf")),
    assert(pyformat.variable("str", "S", "it's a\\b")),
  }

  it("substitute as psycopg2's pyformat does", function()
    assert.equal("select 2056,  -5, 2.0, 1e+20, 1e-05, '-Infinity'::float, 'it''s a\\b', '%', 'x%%'",
      pyformat.substitute("select %(SRID)s, %(NEG)s, %(F)s, %(BIG)s, %(SMALL)s, %(INF)s, %(S)s, '%%', 'x%%%%'",
        vars, true))
    assert.equal("E'it''s a\\\\b'", pyformat.substitute("%(S)s", vars, false))
  end)

  it("refuse any other %, and a variable nobody gave", function()
    for text, expected in pairs {
      ["select 100%"] = "neither %% nor %(NAME)s", ["select '%d'"] = "neither %% nor %(NAME)s",
      ["select %(SRID)d"] = "must be followed by s", ["select %(SRID"] = "without ')'",
      ["select %(NOPE)s"] = "no variable NOPE",
    } do
      local ok, why, where = pyformat.substitute(text, vars, true)
      assert.is_nil(ok, text)
      assert.truthy(why:find(expected, 1, true), why)
      assert.equal(text:find("%", 1, true), where.offset)
    end
  end)

  it("read -v values as Python's int() and float() do", function()
    assert.equal(1000, pyformat.variable("int", "N", " 1_000 ").value)
    assert.is_nil((pyformat.variable("int", "N", "1.5")))
    assert.is_nil((pyformat.variable("float", "N", "0x10")))
    assert.is_nil((pyformat.variable("bool", "N", "1")))
    assert.equal(1.5, pyformat.variable("float", "N", "1.5").value)
  end)
end)

describe("pum projects in a plan", function()
  local dbname, db
  before_each(function()
    dbname = env.new_database("pum")
    db = env.connect(dbname)
  end)
  after_each(function()
    db:close()
    env.drop_database(dbname)
  end)

  local function plan_for(dirs, opts)
    opts = opts or {}
    opts.conn, opts.dirs = db, type(dirs) == "table" and dirs or { dirs }
    opts.reporter = opts.reporter or false
    return assert(ladle.plan(opts))
  end

  it("substitutes variables in pum's names and hooks only, unless asked for all", function()
    local dir = folder {
      ["delta_1.0.0_a.sql"] = "create table a as select %(SRID)s as srid, '100%%' as pct;\n",
      ["01.00.01_01_b.sql"] = "create table b as select '100%%' as pct;\n",
      ["post-all.sql"] = "create table if not exists c as select %(SRID)s as srid;\n",
    }
    plan_for(dir, { variables = { SRID = 2056 } }):apply()
    assert.same({ 2056, "100%", "100%%", 2056 }, { db:query("select srid from a")[1].srid,
      db:query("select pct from a")[1].pct, db:query("select pct from b")[1].pct, db:query("select srid from c")[1].srid })
    -- variables_in = "all": procrastinate names too
    local other = folder { ["02.00.00_01_x.sql"] = "create table x as select '%%' as pct, %(N)s as n;\n" }
    plan_for(other, { variables = { N = 7 }, variables_in = "all", ignore_missing = true }):apply()
    assert.same({ "%", 7 }, { db:query("select pct from x")[1].pct, db:query("select n from x")[1].n })
  end)

  it("sends the SQL untouched when no variable is given", function()
    local dir = folder { ["delta_1.0.0_a.sql"] = "create table a as select '100%%' as pct;\n" }
    plan_for(dir):apply()
    assert.equal("100%%", db:query("select pct from a")[1].pct)
  end)

  it("refuses a %(NAME)s without its variable before anything runs, naming file, line and variable", function()
    local dir = folder {
      ["delta_1.0.0_a.sql"] = "create table a (id int);\n",
      ["delta_1.0.1_b.sql"] = "select 1;\n\nselect %(SRID)s, %(LANG)s;\n",
    }
    local plan = plan_for(dir, { variables = { SRID = 1 } })
    local f = failure_of(plan.apply, plan)
    assert.equal(2, f.exit)
    assert.equal(dir .. "/delta_1.0.1_b.sql:3: no variable LANG for %(LANG)s (give it with -v TYPE LANG VALUE)",
      f.message)
    assert.is_false(support.exists(db, "public.a"))
  end)

  it("runs the hooks on every upgrade, and gives Lua deltas and hooks their context", function()
    local a = folder {
      ["delta_1.0.0_a.sql"] = "create table a (id int);\n",
      ["delta_1.0.1_b.lua"] = [[
local conn, delta, ctx = ...
assert(conn:query("insert into log (what) values ($1)", "b " .. ctx.variables.SRID .. " " .. ctx.current_version))
]],
      ["post-all.lua"] = [[
local conn, hook, ctx = ...
assert(conn:query("insert into log (what) values ($1)", table.concat({ hook.file, ctx.service, ctx.table,
  #ctx.dirs, ctx.current_version, math.type(ctx.variables.SRID) }, " ")))
]],
      ["pre-all.sql"] = "create table if not exists log (seq serial, what text);\ninsert into log (what) values ('pre');\n",
    }
    local b = folder { ["post-all.sql"] = "insert into log (what) values ('post b');\n" }
    local function log()
      local out = {}
      for _, r in ipairs(db:query("select what from log order by seq")) do out[#out + 1] = r.what end
      return out
    end
    local opts = { variables = { SRID = 2056 }, service = "app_prod", table = "app_sys.upgrades" }
    assert.equal(2, plan_for({ a, b }, opts):apply())
    assert.same({ "pre", "b 2056 1.0.0", "post-all.lua app_prod app_sys.upgrades 2 1.0.1 integer", "post b" }, log())
    assert.equal(0, plan_for({ a, b }, opts):apply())
    assert.equal(7, #log(), "pum runs its hooks on every upgrade")
    assert.same({ "pre-all.sql" }, { plan_for({ a, b }, opts).hooks["pre-all"][1].file })
  end)

  it("reports an edited applied delta and goes on with on_changed = warn", function()
    local dir = folder { ["delta_1.0.0_a.sql"] = "create table a (id int);\n", ["delta_1.0.1_b.sql"] = "select 1;\n" }
    plan_for(dir, { to = "1.0.0" }):apply()
    env.write(dir .. "/delta_1.0.0_a.sql", "create table a (id int); -- edited in place, as pum projects do\n")
    local f = failure_of(plan_for(dir).apply, plan_for(dir))
    assert.truthy(f.message:find("'ladle repair'", 1, true), f.message)
    local warnings = {}
    local reporter = { warning = function(_, text) warnings[#warnings + 1] = text end }
    assert.equal(1, plan_for(dir, { on_changed = "warn", reporter = reporter }):apply())
    assert.equal(1, #warnings)
    assert.truthy(warnings[1]:find("delta_1.0.0_a.sql changed since it was applied on", 1, true), warnings[1])
    assert.same({ "delta_1.0.0_a.sql", "delta_1.0.1_b.sql" }, recorded(db))
  end)

  it("runs Flyway deltas by version and repeatables after them whenever they changed", function()
    local dir = folder {
      ["V1__init.sql"] = "create table t (id int);\n",
      ["V1_10__late.sql"] = "alter table t add column late int;\n",
      ["V1_9__early.sql"] = "alter table t add column early int;\n",
      ["R__views.sql"] = "create or replace view v as select id, early, late from t;\n",
    }
    local plan = plan_for(dir)
    assert.same({ "V1__init.sql", "V1_9__early.sql", "V1_10__late.sql", "R__views.sql" }, scripts(plan.deltas))
    assert.equal(4, plan:apply())
    local function rows()
      return db:query("select version, type, script from ladle_upgrades where type & 16 = 16 order by id")
    end
    assert.same({ version = "1.10", type = 24, script = "R__views.sql" }, rows()[1])
    assert.equal(0, plan_for(dir):apply(), "unchanged: not run again")
    env.write(dir .. "/R__views.sql", "create or replace view v as select id, early, late, 1 as one from t;\n")
    plan = plan_for(dir)
    assert.equal("pending", plan.deltas[4].status)
    assert.equal(1, plan:apply())
    assert.equal(2, #rows())
    assert(db:query("select one from v"))
    os.remove(dir .. "/R__views.sql")
    assert.equal("missing", plan_for(dir).deltas[4].status)
  end)
end)
