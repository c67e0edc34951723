-- ladle.diff: what the fixture pairs (spec/diff_fixtures_spec.lua) do not
-- show: column order, options, a pg_dump file as a side, hazards.

local env = require "support.env"
local ladle = require "ladle"
local schema = require "ladle.schema"

local function lines(list)
  local out = {}
  for _, d in ipairs(list) do out[#out + 1] = d.line end
  return out
end

local function hazards_of(changes, kind, name)
  for _, c in ipairs(changes) do
    if c.kind == kind and c.name == name then return c.hazards end
  end
  return nil
end

-- Creates a database from sql; returns its name and an open connection.
local function database(sql)
  local name = env.new_database("diff")
  local conn = env.connect(name)
  assert(conn:exec(sql), "fixture failed: " .. sql)
  return name, conn
end

describe("ladle.diff", function()
  it("column order is ignored", function()
    local an, a = database("create table ord (a int, b text);")
    local bn, b = database("create table ord (b text, a int);")
    assert.equal(0, #assert(ladle.diff(a, b)))
    assert.equal(0, #assert(schema.check(a, b)))
    assert.same({ "~ columns public.ord.a: position: 1 -> 2", "~ columns public.ord.b: position: 2 -> 1" },
      lines(assert(schema.check(a, b, { column_order = true }))))
    a:close(); b:close()
    env.drop_database(an); env.drop_database(bn)
  end)

  it("leaves out ignored kinds and excluded schemas", function()
    local an, a = database("create schema hidden; create table t (a int); create view v as select 1 as x;")
    local bn, b = database("create table t (a int, b int); create view v as select 2 as x;")
    local changes = assert(ladle.diff(a, b, { ignore = { "views" }, exclude_schemas = { "hidden" } }))
    assert.same({ "+ columns public.t.b: integer" }, lines(changes))
    assert.has_error(function() ladle.diff(a, b, { ignore = { "nonsense" } }) end)
    a:close(); b:close()
    env.drop_database(an); env.drop_database(bn)
  end)
end)

describe("ladle.diff of a column type change it cannot convert for sure", function()
  it("writes USING through text, with a comment and the manual_step hazard", function()
    local an, a = database("create table t (a int);")
    local bn, b = database("create type pt as (x int); create table t (a pt);")
    local sa, sb = assert(schema.snapshot(a)), assert(schema.snapshot(b))
    -- a type neither server describes (what an older or odd server might do)
    sa.conversions.categories["public.pt"] = nil
    sb.conversions.categories["public.pt"] = nil
    local changes = ladle.diff.plan(sa, sb)
    assert.same({ "table_rewrite", "access_exclusive_lock", "manual_step" }, hazards_of(changes, "columns", "public.t.a"))
    local function sql_of(list)
      for _, c in ipairs(list) do if c.name == "public.t.a" then return c.sql[1] end end
    end
    assert.equal("-- ladle: no conversion from integer to public.pt is known; check the USING expression\n"
      .. "ALTER TABLE public.t ALTER COLUMN a TYPE public.pt USING a::text::public.pt;", sql_of(changes))
    -- with what the servers say, it is through text, without a comment
    assert.equal("ALTER TABLE public.t ALTER COLUMN a TYPE public.pt USING a::text::public.pt;",
      sql_of(assert(ladle.diff(a, b))))
    a:close(); b:close()
    env.drop_database(an); env.drop_database(bn)
  end)
end)

describe("ladle.diff of a whole schema", function()
  -- the whole schema of the fixture pairs (spec/fixtures/diff/database.lua)
  local RICH
  for _, pair in ipairs(dofile("spec/fixtures/diff/database.lua")) do
    if pair[1]:match("^a whole schema") then RICH = pair.b end
  end

  it("loads back from pg_dump as the same schema", function()
    local name, db = database(RICH)
    db:close()
    local file = env.tmpdir() .. "/rich.sql"
    local pg_dump = assert(require("ladle.sandbox").bindir()) .. "/pg_dump"
    local status, _, err = require("ladle.sys").spawn({ pg_dump, "--schema-only", "-f", file, "-d", env.conninfo(name) },
      { stdout = "null", stderr = "capture" })
    assert.equal(0, status, err)
    local out
    status, out, err = env.ladle({ "diff", file, env.conninfo(name) })
    assert.equal(0, status, err)
    assert.equal("", out)
    env.drop_database(name)
  end)
end)

describe("ladle.diff hazards", function()
  it("marks what deletes data, rewrites, locks, builds and scans", function()
    local an, a = database([[
      create table t (a int, b int, c text); create table gone (x int); create sequence s;]])
    local bn, b = database([[
      create table t (a bigint, b int not null, c text, d int default 0);
      create index t_c on t (c);
      alter table t add constraint b_pos check (b > 0);]])
    local changes = assert(ladle.diff(a, b))
    assert.same({ "deletes_data", "access_exclusive_lock" }, hazards_of(changes, "tables", "public.gone"))
    assert.same({ "deletes_data" }, hazards_of(changes, "sequences", "public.s"))
    assert.same({ "table_rewrite", "access_exclusive_lock" }, hazards_of(changes, "columns", "public.t.a"))
    assert.same({ "access_exclusive_lock", "validation_scan" }, hazards_of(changes, "columns", "public.t.b"))
    assert.same({ "index_build" }, hazards_of(changes, "indexes", "public.t_c"))
    assert.same({ "access_exclusive_lock", "validation_scan" }, hazards_of(changes, "constraints", "public.t.b_pos"))
    assert.equal(2, #changes:hazards("deletes_data"))
    a:close(); b:close()
    env.drop_database(an); env.drop_database(bn)
  end)
end)
