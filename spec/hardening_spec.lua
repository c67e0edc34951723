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
  end)
end)
