-- ladle rehearse's exit codes, phases, --with-data, --scratch, the
-- observed events on a plan's reporter, and the stock recipe `rehearse`.
-- (spec/rehearse_spec.lua checks the observations against the server.)

local env = require "support.env"
local json = require "ladle.json"
local ladle = require "ladle"
local support = require "support.deltas"

local BASE = "create table accounts (id int primary key, email text, score int);\n"
  .. "insert into accounts select g, 'a' || g, g from generate_series(1, 500) g;\n"

local function files(extra)
  local list = { ["01.00.00_01_base.sql"] = BASE }
  for k, v in pairs(extra) do list[k] = v end
  return list
end

local function decode(out)
  return assert(json.decode(out))
end

-- A fresh source database for each test, at version 1.0.0 of a folder.
local source, run_env
local function fresh_source()
  before_each(function()
    source = env.new_database("rehearse_run")
    run_env = { PGDATABASE = source }
  end)
  after_each(function()
    env.drop_database(source)
  end)
end

local function prepare(extra)
  local dir = support.folder(files(extra))
  local status, out, err = env.ladle({ "upgrade", "-d", dir, "--to", "1.0.0" }, { env = run_env })
  assert(status == 0, out .. err)
  return dir
end

describe("ladle rehearse", function()
  fresh_source()

  it("exits 0 when nothing it observed is a finding", function()
    local dir = prepare {
      ["01.01.00_01_pre_new_table.sql"] = "create table audit (id int primary key, at timestamptz);\n"
        .. "create index audit_at on audit (at);\n",
      ["01.01.00_02_post_index.sql"] = "-- ladle: no-transaction\n"
        .. "create index concurrently accounts_email on accounts (email);\n",
    }
    local status, out, err = env.ladle({ "rehearse", "-d", dir }, { env = run_env })
    assert.equal(0, status, out .. err)
    assert.truthy(out:find("Rehearsed 2 of 2 pending deltas on a throwaway cluster: 0 findings.", 1, true), out)
    assert.truthy(out:find("not observed: locks", 1, true), out)
    status, out = env.ladle({ "rehearse", "-d", dir, "--to", "1.0.0" }, { env = run_env })
    assert.equal(0, status)
    assert.truthy(out:find("Nothing to rehearse", 1, true), out)
  end)

  it("exits 3 when a delta fails in the rehearsal, saying production is untouched", function()
    local dir = prepare {
      ["01.01.00_01_post_check.sql"] = "alter table accounts add constraint negative check (score < 0);\n",
    }
    -- the schema alone has no rows to violate the check
    assert.equal(1, (env.ladle({ "rehearse", "-d", dir }, { env = run_env })))
    local status, out, err = env.ladle({ "rehearse", "-d", dir, "--with-data", "--json" }, { env = run_env })
    assert.equal(3, status, out .. err)
    assert.truthy(err:find(
      "rehearsal failed: .*01%.01%.00_01_post_check%.sql:1: .*violated.*%(production is untouched%)"), err)
    local report = decode(out)
    assert.truthy(report.failed.file:find("01.01.00_01_post_check.sql", 1, true))
    assert.equal("23514", report.failed.sqlstate)
    assert.equal(0, #report.deltas)
    local db = env.connect(source)
    assert.equal(0, #db:query("select 1 from pg_constraint where conname = 'negative'"))
    db:close()
  end)

  it("with --with-data copies the rows, and says how long blocking locks were held", function()
    local dir = prepare {
      ["01.01.00_01_post_fill.sql"] = "alter table accounts add column token float default random();\n",
    }
    local status, out, err = env.ladle({ "rehearse", "-d", dir, "--with-data", "--json" }, { env = run_env })
    assert.equal(1, status, err)
    local o = decode(out).deltas[1]
    assert.same({ "public.accounts" }, o.rewrites)
    local held
    for _, f in ipairs(o.findings) do
      if f.rule == "blocks-reads" then held = f.message:match("%(held (%d+) ms%)") end
    end
    assert.is_not_nil(held, json.encode(o.findings))
    assert.equal(tonumber(held), o.locks[1].held_ms)
    -- without the rows, no time is claimed
    status, out = env.ladle({ "rehearse", "-d", dir, "--json" }, { env = run_env })
    assert.equal(1, status)
    for _, f in ipairs(decode(out).deltas[1].findings) do assert.falsy(f.message:find("held", 1, true)) end
  end)

  it("--phase pre counts every delta as run under the old code; --phase post none", function()
    local dir = prepare {
      ["01.01.00_01_pre_drop.sql"] = "alter table accounts drop column email;\n",
      ["01.01.00_02_post_drop.sql"] = "alter table accounts drop column score;\n",
    }
    local function breaking(phase)
      local args = { "rehearse", "-d", dir, "--json" }
      if phase then args[#args + 1] = "--phase"; args[#args + 1] = phase end
      local status, out, err = env.ladle(args, { env = run_env })
      assert.equal(1, status, err)
      local list = {}
      for _, o in ipairs(decode(out).deltas) do
        for _, f in ipairs(o.findings) do
          if f.rule == "breaks-old-code" then list[#list + 1] = o.file:match("_(%w+_drop)%.sql$") end
        end
      end
      return list
    end
    assert.same({ "pre_drop" }, breaking(nil))
    assert.same({ "pre_drop", "post_drop" }, breaking("pre"))
    assert.same({}, breaking("post"))
  end)

  it("makes the copy on --scratch and drops it afterwards", function()
    local dir = prepare { ["01.01.00_01_pre_add.sql"] = "alter table accounts add column note text;\n" }
    local status, out, err = env.ladle({ "rehearse", "-d", dir, "--scratch", env.conninfo("postgres") },
      { env = run_env })
    assert.equal(1, status, out .. err)
    assert.truthy(out:find("on database ladle_rehearsal_", 1, true), out)
    local db = env.connect()
    assert.equal(0, #db:query("select 1 from pg_database where datname like 'ladle\\_rehearsal\\_%'"))
    db:close()
  end)

  it("drops the roles it made on a --scratch server, and keeps the ones it had", function()
    local dir = prepare { ["01.01.00_01_pre_add.sql"] = "alter table accounts add column note text;\n" }
    local owner = source .. "_owner"
    local db = env.connect(source)
    assert(db:exec(string.format("CREATE ROLE %s; ALTER TABLE accounts OWNER TO %s", owner, owner)))
    local cluster = assert(ladle.sandbox.start())
    local ok, err = pcall(function()
      local admin = assert(cluster:connect())
      assert(admin:exec("CREATE ROLE already_there"))
      assert(db:exec("CREATE ROLE already_there"))
      local function roles()
        local list = {}
        for _, row in ipairs(assert(admin:query("SELECT rolname FROM pg_catalog.pg_roles ORDER BY 1"))) do
          list[#list + 1] = row.rolname
        end
        return list
      end
      local before = roles()
      local status, out, stderr = env.ladle({ "rehearse", "-d", dir, "--scratch", cluster:conninfo() },
        { env = run_env })
      assert.equal(1, status, out .. stderr)
      assert.truthy(out:find("on database ladle_rehearsal_", 1, true), out)
      assert.same(before, roles())
      assert.equal(0, #admin:query("SELECT 1 FROM pg_catalog.pg_database WHERE datname LIKE 'ladle\\_rehearsal\\_%'"))
      admin:close()
    end)
    cluster:stop()
    assert(db:exec(string.format("ALTER TABLE accounts OWNER TO CURRENT_USER; DROP ROLE %s; DROP ROLE already_there",
      owner)))
    db:close()
    assert(ok, err)
  end)

  it("drops a temporary database that a session was left in", function()
    local name = env.new_database("left_open")
    local left = env.connect(name)
    local admin = env.connect()
    assert(ladle.source.drop_database(admin, name))
    assert.equal(0, #admin:query("SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", name))
    admin:close()
    left:close()
  end)

  it("refuses bad input before copying anything (exit 2)", function()
    local status, _, err = env.ladle({ "rehearse" }, { env = run_env })
    assert.equal(2, status)
    assert.truthy(err:find("-d/--dir is required", 1, true), err)
    status, _, err = env.ladle({ "rehearse", "-d", "/nonexistent", "--phase", "sometimes" }, { env = run_env })
    assert.equal(2, status)
    assert.truthy(err:find("expected pre, post or all", 1, true), err)
  end)

  it("--svg writes a valid UTF-8 picture, long names cut between characters", function()
    local long_a, long_b = string.rep("é", 40), "a" .. string.rep("é", 40)
    local dir = prepare {
      ["01.01.00_01_pre_" .. long_a .. ".sql"] = "create table t1 (id int);\n",
      ["01.01.00_02_pre_" .. long_b .. ".sql"] = "create table t2 (id int);\n",
    }
    local picture = env.tmpdir() .. "/r.svg"
    local status, out, err = env.ladle({ "rehearse", "-d", dir, "--svg", picture }, { env = run_env })
    assert.equal(0, status, out .. err)
    local text = assert(env.read(picture))
    assert.is_not_nil(utf8.len(text), "the picture is UTF-8")
    local labels = 0
    for label in text:gmatch('<text x="12" y="%d+">([^<]*)</text>') do
      if label:find("…", 1, true) then
        labels = labels + 1
        assert.equal(43, utf8.len(label), label)
      end
    end
    assert.equal(2, labels)
    assert.truthy(text:find('<rect width="100%" height="100%"', 1, true), text)
  end)

  it("hands each observation to the plan's reporter as an event", function()
    local dir = prepare { ["01.01.00_01_pre_add.sql"] = "alter table accounts add column note text not null;\n" }
    local events, seen = {}, nil
    local result = ladle.rehearse.run {
      source = env.conninfo(source), dir = dir,
      reporter = {
        done = function(_, d) events[#events + 1] = "done " .. d.script end,
        observed = function(_, d, o) events[#events + 1] = "observed " .. d.script; seen = o end,
      },
    }
    assert.same({ "done 01.01.00_01_pre_add.sql", "observed 01.01.00_01_pre_add.sql" }, events)
    assert.equal(result.deltas[1], seen)
    local rules = {}
    for _, f in ipairs(seen.findings) do rules[#rules + 1] = f.rule end
    table.sort(rules)
    assert.same({ "blocks-reads", "breaks-old-code" }, rules)
  end)
end)

describe("ladle run rehearse", function()
  fresh_source()

  it("refuses a release whose pre deltas break the old code, before touching production", function()
    local dir = prepare { ["01.01.00_01_pre_rename.sql"] = "alter table accounts rename column email to mail;\n" }
    local tmp = env.tmpdir()
    local status, out, err = env.ladle({ "run", "rehearse", "-d", dir, "--deploy", "touch " .. tmp .. "/deployed" },
      { env = run_env })
    assert.equal(1, status, out .. err)
    assert.truthy(out:find("breaks-old-code: drops or renames column public.accounts.email", 1, true), out)
    assert.truthy(err:find("production is untouched", 1, true), err)
    assert.is_nil(env.read(tmp .. "/deployed"))
    local db = env.connect(source)
    assert.equal(1, #db:query("select 1 from pg_attribute where attrelid = 'accounts'::regclass and attname = 'email'"))
    db:close()
  end)

  it("releases in the blue-green order when the rehearsal is clean", function()
    local dir = prepare {
      ["01.01.00_01_pre_add.sql"] = "alter table accounts add column note text;\n",
      ["01.01.00_02_post_drop.sql"] = "alter table accounts drop column score;\n",
    }
    local tmp = env.tmpdir()
    local status, out, err = env.ladle({ "run", "rehearse", "-d", dir, "--deploy",
      "sh -c 'echo {version} >> " .. tmp .. "/deployed'" }, { env = run_env })
    assert.equal(0, status, out .. err)
    assert.equal("1.1.0\n", env.read(tmp .. "/deployed"))
    assert.truthy(out:find("The rehearsal is clean", 1, true), out)
    local db = env.connect(source)
    assert.equal(2, #db:query("select 1 from ladle_upgrades where version = '1.1.0'"))
    db:close()
  end)

  it("refuses more findings with --refuse", function()
    local dir = prepare { ["01.01.00_01_post_index.sql"] = "create index accounts_score on accounts (score);\n" }
    assert.equal(0, (env.ladle({ "run", "rehearse", "-d", dir }, { env = run_env })))
    local status, out, err = env.ladle({ "run", "rehearse", "-d", dir, "--refuse", "not-concurrent" },
      { env = run_env })
    assert.equal(1, status, out .. err)
    assert.truthy(out:find("not-concurrent: index accounts_score", 1, true), out)
  end)
end)

-- python3 from PATH, as ladle runs it; nil and why when there is none.
local function python3()
  local status = ladle.sys.spawn({ "python3", "-c", "pass" }, { stdout = "null", stderr = "null" })
  if status == 0 then return "python3" end
  return nil, "no python3 on PATH (Debian package python3)"
end

-- A pum Python delta connects by DeltaPy.pg_service (psql here, so that
-- psycopg2 is not needed): it and the pre-all hook must reach the copy.
local PY_DELTA = [[
import subprocess
from pum.core.deltapy import DeltaPy

class Mark(DeltaPy):
    SUFFIX = ""

    def run(self):
        args = ["psql", "-XAtq", "-v", "ON_ERROR_STOP=1"] + ([self.pg_service] if self.pg_service else [])
        done = subprocess.run(args + ["-c", "create table %s%s (id int)" % (self.variable("TABLE"), self.SUFFIX),
                                      "-c", "select current_database()"],
                              check=True, stdout=subprocess.PIPE, universal_newlines=True)
        with open(self.variable("OUT") + "." + self.__class__.__name__, "w") as f:
            f.write(done.stdout.strip())
]]

describe("rehearsing Python deltas and hooks", function()
  fresh_source()

  local function prepare_pum()
    local dir = support.folder {
      ["delta_1.0.0_base.sql"] = "create table accounts (id int primary key);\n",
      ["delta_1.1.0_mark.py"] = PY_DELTA,
      ["pre-all.py"] = (PY_DELTA:gsub("Mark", "Hook"):gsub('SUFFIX = ""', 'SUFFIX = "_hook"')),
    }
    local status, out, err = env.ladle({ "upgrade", "-d", dir, "--to", "1.0.0", "-v", "str", "TABLE", "setup",
      "-v", "str", "OUT", env.tmpdir() .. "/setup" }, { env = run_env })
    assert(status == 0, out .. err)
    return dir
  end

  local function check_untouched(out_file)
    local db = env.connect(source)
    assert.equal(0, #db:query("select 1 from pg_class where relname like 'from\\_python%'"))
    assert.equal(1, #db:query("select 1 from ladle_upgrades where version = '1.0.0'"))
    assert.equal(0, #db:query("select 1 from ladle_upgrades where version = '1.1.0'"))
    db:close()
    for _, class in ipairs({ "Mark", "Hook" }) do
      local where = env.read(out_file .. "." .. class)
      assert.is_not_nil(where, class .. " did not run")
      assert.are_not.equal(source, where)
    end
  end

  it("runs them on the copy, never on the source (ladle rehearse)", function()
    local python, why = python3()
    if not python then return pending(why) end
    local dir = prepare_pum()
    local out_file = env.tmpdir() .. "/where"
    local status, out, err = env.ladle({ "rehearse", "-d", dir, "-v", "str", "TABLE", "from_python",
      "-v", "str", "OUT", out_file }, { env = run_env })
    assert.equal(0, status, out .. err)
    check_untouched(out_file)
    assert.equal("rehearsal", env.read(out_file .. ".Mark"))
    -- on a scratch server too
    status, out, err = env.ladle({ "rehearse", "-d", dir, "--scratch", env.conninfo("postgres"),
      "-v", "str", "TABLE", "from_python", "-v", "str", "OUT", out_file }, { env = run_env })
    assert.equal(0, status, out .. err)
    check_untouched(out_file)
    assert.truthy(env.read(out_file .. ".Mark"):find("^ladle_rehearsal_"))
  end)

  it("passes the plan's options through (ladle run rehearse -v)", function()
    local python, why = python3()
    if not python then return pending(why) end
    local dir = prepare_pum()
    local out_file = env.tmpdir() .. "/where"
    local status, out, err = env.ladle({ "run", "rehearse", "-d", dir, "-v", "str", "TABLE", "from_python",
      "-v", "str", "OUT", out_file }, { env = run_env })
    assert.equal(0, status, out .. err)
    check_untouched(out_file)
    assert.equal("rehearsal", env.read(out_file .. ".Mark"))
  end)
end)
