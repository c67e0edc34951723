-- pum 0.x projects through the ladle executable: several -d folders, the
-- config keys pum reads, -v, Python deltas and hooks, the checksum policy,
-- stray arguments, dump/restore -N and -x, PG_DUMP_EXE, test-and-upgrade.

local env = require "support.env"
local ladle = require "ladle"
local sys = ladle.sys

local support = require "support.deltas"
local folder, exists, recorded = support.folder, support.exists, support.recorded

-- python3 from PATH, as ladle runs it; nil and why when there is none.
local function python3()
  local status = sys.spawn({ "python3", "-c", "pass" }, { stdout = "null", stderr = "null" })
  if status == 0 then return "python3" end
  return nil, "no python3 on PATH (Debian package python3)"
end

describe("ladle for pum projects", function()
  local dbname, db
  before_each(function()
    dbname = env.new_database("pumcli")
    db = env.connect(dbname)
  end)
  after_each(function()
    db:close()
    env.drop_database(dbname)
  end)

  local function ladle_run(args, extra_env)
    return env.ladle(args, { database = dbname, env = extra_env })
  end

  it("refuses positional arguments a command does not take, naming them", function()
    local dir = folder { ["delta_1.0.0_a.sql"] = "select 1;\n" }
    for _, case in ipairs {
      { { "info", "stray", "-d", dir }, "ladle: info: unexpected argument 'stray' (see 'ladle info --help')" },
      { { "lint", "a", "b", "-d", dir }, "ladle: lint: unexpected arguments 'a' 'b'" },
      { { "dump", "one.dump", "two.dump" }, "ladle: dump: unexpected argument 'two.dump'" },
      { { "run", "blue-green", "stray", "-d", dir, "--deploy", "true" }, "unexpected argument 'stray'" },
    } do
      local status, out, err = ladle_run(case[1])
      assert.equal(2, status, out .. err)
      assert.truthy(err:find(case[2], 1, true), err)
    end
  end)

  it("reads several folders with -d A B, -d A -d B or delta_dirs, folder by folder", function()
    local a = folder { ["delta_1.0.0_a.sql"] = "create table a (id int primary key);\n", ["delta_2.0.0_a2.sql"] = "select 1;\n" }
    local b = folder { ["delta_1.0.0_b.sql"] = "create table b (id int references a (id));\n" }
    local status, out, err = ladle_run { "info", "-d", a, b }
    assert.equal(0, status, out .. err)
    assert.truthy(out:find("FOLDER", 1, true), out)
    assert.truthy(out:find(b:gsub("%p", "%%%0") .. "%s+1%.0%.0%s+%(post%)%s+delta_1%.0%.0_b%.sql%s+pending"), out)
    local config = env.write(env.tmpdir() .. "/db.yaml", "delta_dirs:\n  - " .. a .. "\n  - " .. b .. "\n")
    status, out, err = ladle_run { "-c", config, "upgrade" }
    assert.equal(0, status, out .. err)
    assert.same({ "delta_1.0.0_a.sql", "delta_2.0.0_a2.sql", "delta_1.0.0_b.sql" }, recorded(db))
    status, out = ladle_run { "info", "-d", a, "-d", b, "--json" }
    assert.equal(0, status)
    local doc = assert(ladle.json.decode(out))
    assert.same({ a, b }, { doc.dirs[1], doc.dirs[2] })
    assert.equal(b, doc.deltas[3].dir)
  end)

  it("takes the folders in baseline and the recipes, and variables from the config file", function()
    local a = folder { ["delta_0.9.0_old.sql"] = "select 1;\n", ["delta_1.0.0_a.sql"] = "create table a (n int);\n" }
    local b = folder { ["delta_1.0.0_b.sql"] = "insert into a values (%(N)s);\n" }
    local status, out, err = ladle_run { "baseline", "-b", "1.0.0", "-d", a, b }
    assert.equal(0, status, out .. err)
    assert.truthy(out:find(a .. ", " .. b .. ": 1 delta below 1.0.0 will never run; 2 pending.", 1, true), out)
    local config = env.write(env.tmpdir() .. "/db.yaml", "variables:\n  - int N 41\n  - [str, LANG, fr]\n")
    status, out, err = ladle_run { "-c", config, "run", "blue-green", "-d", a, b, "--deploy", "true" }
    assert.equal(0, status, out .. err)
    assert.equal(41, db:query("select n from a")[1].n)
    status, out, err = ladle_run { "lint", "-d", "spec/fixtures/pum_project/delta",
      "spec/fixtures/pum_project/delta_custom" }
    assert.equal(0, status, out .. err)
    assert.truthy(out:find("delta_1.1.0_004_fix_y.sql share version 1.1.0, phase unmarked and serial 4", 1, true), out)
  end)

  it("substitutes -v variables, and refuses a missing one or a bad type before anything runs", function()
    local dir = folder {
      ["delta_1.0.0_a.sql"] = "create table a (srid int default %(SRID)s);\n",
      ["delta_1.0.1_b.sql"] = "do $$ begin raise notice '%% and %%', %(SRID)s, %(NAME)s; end $$;\n",
    }
    local status, out, err = ladle_run { "upgrade", "-d", dir, "-v", "int", "SRID", "2056" }
    assert.equal(2, status, out .. err)
    assert.equal("ladle: " .. dir .. "/delta_1.0.1_b.sql:1: no variable NAME for %(NAME)s (give it with -v TYPE NAME "
      .. "VALUE)\n", err)
    assert.is_false(exists(db, "public.a"))
    status, _, err = ladle_run { "upgrade", "-d", dir, "-v", "integer", "SRID", "2056" }
    assert.equal(2, status)
    assert.truthy(err:find("unknown type 'integer' (int, float or str)", 1, true), err)
    status, out, err = ladle_run { "upgrade", "-d", dir, "-v", "int", "SRID", "2056", "-v", "str", "NAME", "x" }
    assert.equal(0, status, out .. err)
    assert.equal("2056", db:query([[select pg_get_expr(adbin, adrelid) as d from pg_attrdef
      where adrelid = 'a'::regclass]])[1].d)
  end)

  it("runs pum's Python deltas and hooks with python3, as pum does", function()
    local python, why = python3()
    if not python then return pending(why) end
    local out_file = env.tmpdir() .. "/context.json"
    local dir = folder {
      ["delta_1.0.0_a.sql"] = "create table a (id int);\n",
      ["delta_1.0.1_ctx.py"] = [[
import json, os, sys
from pum.core.deltapy import DeltaPy

class Context(DeltaPy):
    def run(self):
        with open(self.variable("OUT"), "w") as f:
            json.dump({"dir": self.delta_dir, "dirs": self.delta_dirs, "service": self.pg_service,
                       "table": self.upgrades_table, "version": self.current_db_version,
                       "srid": self.variables["SRID"], "srid_type": type(self.variables["SRID"]).__name__,
                       "password": os.environ.get("PGPASSWORD"), "argv": " ".join(sys.argv)}, f)
        self.write_message("context written")
]],
      ["pre-all.py"] = [[
from pum.core.deltapy import DeltaPy

class Hook(DeltaPy):
    def run(self):
        print("pre-all.py at", self.current_db_version)
]],
    }
    local target = env.conninfo(dbname) .. " password=s3cret-horse"
    local status, out, err = ladle_run { "upgrade", "-p", target, "-t", "app_sys.upgrades", "-d", dir,
      "-v", "int", "SRID", "2056", "-v", "str", "OUT", out_file }
    assert.equal(0, status, out .. err)
    assert.truthy(out:find("Applying pre%-all%.py%.%.%. OK %(%d+ ms%)\npre%-all%.py at None\n"), out)
    assert.truthy(out:find("Applying delta 1%.0%.1 ctx%.%.%. OK %(%d+ ms%)\nMessage from Context: context written\n"),
      out)
    local ctx = assert(ladle.json.decode(env.read(out_file)))
    assert.equal(dir .. "/", ctx.dir)
    assert.same({ dir }, { ctx.dirs[1] })
    assert.same({ "app_sys.upgrades", "1.0.0", 2056, "int", "s3cret-horse" },
      { ctx.table, ctx.version, ctx.srid, ctx.srid_type, ctx.password })
    assert.is_nil(ctx.service:find("s3cret", 1, true), ctx.service)
    assert.truthy(ctx.service:find("dbname='?" .. dbname), ctx.service)
    assert.is_nil(ctx.argv:find("s3cret", 1, true), "no password on python3's command line")
    local row = db:query("select type, description from app_sys.upgrades where script = 'delta_1.0.1_ctx.py'")[1]
    assert.same({ 4, "ctx" }, { row.type, row.description })

    -- a failing one: exit 3, its traceback on stderr, no row
    support.write(dir, { ["delta_1.0.2_boom.py"] = "from pum.core.deltapy import DeltaPy\n\nclass Boom(DeltaPy):\n"
      .. "    def run(self):\n        raise ValueError('no such commune')\n" })
    status, out, err = ladle_run { "upgrade", "-p", target, "-t", "app_sys.upgrades", "-d", dir,
      "-v", "int", "SRID", "2056", "-v", "str", "OUT", out_file }
    assert.equal(3, status, out .. err)
    assert.truthy(err:find("ValueError: no such commune", 1, true), err)
    assert.truthy(err:find("ladle: " .. dir .. "/delta_1.0.2_boom.py: the Python delta failed", 1, true), err)
    assert.equal(0, #db:query("select 1 from app_sys.upgrades where script = 'delta_1.0.2_boom.py'"))
  end)

  it("gives Python deltas pum's own DeltaPy when pum is installed", function()
    local python, why = python3()
    if not python then return pending(why) end
    local site = env.tmpdir()
    support.write(site, { ["pum/__init__.py"] = "", ["pum/core/__init__.py"] = "",
      ["pum/core/deltapy.py"] = "class DeltaPy:\n    FROM_PUM = True\n    def __init__(self, *args, variables=None):\n"
        .. "        self.args = args\n" })
    local out_file = site .. "/which.txt"
    local dir = folder { ["delta_1.0.0_which.py"] = "from pum.core.deltapy import DeltaPy\n\nclass Which(DeltaPy):\n"
      .. "    def run(self):\n        open(" .. string.format("%q", out_file) .. ", 'w').write(str(self.FROM_PUM))\n" }
    local status, out, err = ladle_run({ "upgrade", "-d", dir }, { PYTHONPATH = site })
    assert.equal(0, status, out .. err)
    assert.equal("True", env.read(out_file))
  end)

  it("refuses Python deltas without python3 before anything runs, naming the package", function()
    local dir = folder { ["delta_1.0.0_a.sql"] = "create table a (id int);\n", ["delta_1.0.1_b.py"] = "" }
    local status, out, err = ladle_run({ "upgrade", "-d", dir }, { LADLE_PYTHON = "/nonexistent/python3" })
    assert.equal(2, status, out .. err)
    assert.truthy(err:find("^ladle: /nonexistent/python3: .*install the Debian package python3"), err)
    assert.is_false(exists(db, "public.a"))
    local config = env.write(env.tmpdir() .. "/db.yaml", "python_exe: /nonexistent/py\n")
    status, _, err = ladle_run { "-c", config, "upgrade", "-d", dir }
    assert.equal(2, status)
    assert.truthy(err:find("/nonexistent/py:", 1, true), err)
  end)

  it("stops on edited applied deltas unless on_changed says warn", function()
    local dir = folder { ["delta_1.0.0_a.sql"] = "create table a (id int);\n" }
    assert.equal(0, (ladle_run { "upgrade", "-d", dir }))
    support.write(dir, { ["delta_1.0.0_a.sql"] = "create table a (id int); -- edited\n",
                         ["delta_1.0.1_b.sql"] = "create table b (id int);\n" })
    local status, _, err = ladle_run { "upgrade", "-d", dir }
    assert.equal(2, status)
    assert.truthy(err:find("'ladle repair -d " .. dir .. "'", 1, true), err)
    local out
    status, out, err = ladle_run { "upgrade", "-d", dir, "--on-changed", "warn" }
    assert.equal(0, status, out .. err)
    assert.truthy(err:find("ladle: warning: " .. dir .. "/delta_1.0.0_a.sql changed since it was applied on", 1, true),
      err)
    assert.same({ "delta_1.0.0_a.sql", "delta_1.0.1_b.sql" }, recorded(db))
    local config = env.write(env.tmpdir() .. "/db.yaml", "on_changed: warn\n")
    status, out, err = ladle_run { "-c", config, "upgrade", "-d", dir }
    assert.equal(0, status, out .. err)
  end)

  it("creates pum's table with baseline and keeps reading the table older ladle releases created", function()
    local dir = folder { ["delta_1.0.0_a.sql"] = "create table a (id int);\n" }
    assert.equal(0, (ladle_run { "baseline", "-t", "app_sys.upgrades", "-b", "1.0.0", "--create-schema" }))
    assert.equal(1, #db:query([[select 1 from pg_constraint where conrelid = 'app_sys.upgrades'::regclass
      and contype = 'x']]))
    assert(db:exec([[create table public.old_ladle (id serial primary key, version varchar(50),
      description varchar(200) not null, type integer not null, script varchar(1000) not null,
      checksum varchar(32) not null, installed_by varchar(100) not null,
      installed_on timestamp not null default now(), execution_time integer not null, success boolean not null);
      insert into public.old_ladle (version, description, type, script, checksum, installed_by, execution_time,
      success) values ('0.9.0', 'baseline', 0, '', '', 'me', 0, true)]]))
    local status, out, err = ladle_run { "upgrade", "-t", "public.old_ladle", "-d", dir }
    assert.equal(0, status, out .. err)
    assert.same({ "", "delta_1.0.0_a.sql" }, recorded(db, "public.old_ladle"))
  end)

  it("dumps without -N schemas and restores with -x past errors", function()
    assert(db:exec("create schema keep; create table keep.t (id int); create schema audit; create table audit.t (id int)"))
    local file, whole = env.tmpdir() .. "/db.dump", env.tmpdir() .. "/whole.dump"
    local status, out, err = ladle_run { "dump", file, "-N", "audit" }
    assert.equal(0, status, out .. err)
    local target = env.new_database("pumcli_restore")
    status, out, err = ladle_run { "restore", "-p", env.conninfo(target), file }
    assert.equal(0, status, out .. err)
    local conn = env.connect(target)
    assert.same({ true, false }, { exists(conn, "keep.t"), exists(conn, "audit.t") })
    conn:close()
    local other = env.new_database("pumcli_restore")
    assert.equal(0, (ladle_run { "dump", whole }))
    status, out, err = ladle_run { "restore", "-p", env.conninfo(other), "-N", "keep", "--", whole }
    assert.equal(0, status, out .. err)
    conn = env.connect(other)
    assert.same({ false, true }, { exists(conn, "keep.t"), exists(conn, "audit.t") })
    conn:close()
    env.drop_database(other)
    status, _, err = ladle_run { "restore", "-p", env.conninfo(target), file }
    assert.equal(3, status, "restoring twice fails at the first error")
    status, out, err = ladle_run { "restore", "-p", env.conninfo(target), "-x", file }
    assert.equal(0, status, out .. err)
    assert.truthy(err:find("its errors were ignored (-x)", 1, true), err)
    env.drop_database(target)
  end)

  it("takes pg_dump from PG_DUMP_EXE, and pg_dump_exe in the config file over it", function()
    local file = env.tmpdir() .. "/db.dump"
    local status, _, err = ladle_run({ "dump", file }, { PG_DUMP_EXE = "/nonexistent/pg_dump" })
    assert.equal(3, status)
    assert.truthy(err:find("/nonexistent/pg_dump", 1, true), err)
    local config = env.write(env.tmpdir() .. "/db.yaml", "pg_dump_exe: pg_dump\n")
    status, _, err = ladle_run({ "-c", config, "dump", file }, { PG_DUMP_EXE = "/nonexistent/pg_dump" })
    assert.equal(0, status, err)
    status, _, err = ladle_run({ "restore", file }, { PG_RESTORE_EXE = "/nonexistent/pg_restore" })
    assert.equal(3, status)
    assert.truthy(err:find("/nonexistent/pg_restore", 1, true), err)
  end)

  it("runs test-and-upgrade with -v, -N, -P and -x", function()
    local dir = folder { ["delta_1.0.0_a.sql"] = "create table a (srid int default %(SRID)s);\n" }
    local comp = env.new_database("pumcli_comp")
    local status, out, err = env.ladle({ "upgrade", "-p", env.conninfo(comp), "-d", dir, "-v", "int", "SRID", "2056" })
    assert.equal(0, status, out .. err)
    assert.equal(0, (ladle_run { "baseline", "-b", "1.0.0" }))
    assert(db:exec("create schema scratch; create table scratch.notes (id int)"))
    -- a column only production has, left out of the comparison by -P
    assert(db:exec("create table b (id int, legacy_note text)"))
    local c <close> = env.connect(comp)
    assert(c:exec("create table b (id int)"))
    status, out, err = ladle_run { "test-and-upgrade", "-pp", env.conninfo(dbname), "-pc", env.conninfo(comp),
      "-d", dir, "-v", "int", "SRID", "2056", "-x", "-N", "scratch", "--dry-run" }
    assert.equal(0, status, out .. err)
    status, out, err = ladle_run { "test-and-upgrade", "-pp", env.conninfo(dbname), "-pc", env.conninfo(comp),
      "-d", dir, "-v", "int", "SRID", "2056", "-x", "-N", "scratch", "--yes" }
    assert.equal(1, status, out .. err)
    assert.truthy(out:find("legacy_note", 1, true), out)
    status, out, err = ladle_run { "test-and-upgrade", "-pp", env.conninfo(dbname), "-pc", env.conninfo(comp),
      "-d", dir, "-v", "int", "SRID", "2056", "-x", "-N", "scratch", "-P", "legacy%", "--yes" }
    assert.equal(0, status, out .. err)
    assert.truthy(out:find("The upgraded test copy matches", 1, true), out)
    assert.equal("2056", db:query([[select pg_get_expr(adbin, adrelid) as d from pg_attrdef
      where adrelid = 'a'::regclass]])[1].d)
    c:close()
    env.drop_database(comp)
  end)
end)
