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

  it("refuses bad input before copying anything (exit 2)", function()
    local status, _, err = env.ladle({ "rehearse" }, { env = run_env })
    assert.equal(2, status)
    assert.truthy(err:find("-d/--dir is required", 1, true), err)
    status, _, err = env.ladle({ "rehearse", "-d", "/nonexistent", "--phase", "sometimes" }, { env = run_env })
    assert.equal(2, status)
    assert.truthy(err:find("expected pre, post or all", 1, true), err)
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
