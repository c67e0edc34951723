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

describe("ladle.diff of names with control characters", function()
  -- a newline in a name written into a `--` comment would end the comment
  -- and make the rest of the name a statement of the script
  local evil = 'x\nselect 1/0; --'

  it("escapes them in the comments of the script, which applies as it is", function()
    local an, a = database("create table plain (a int);")
    local bn, b = database('create table plain (a int); create table "' .. evil .. '" (a int);')
    local changes = assert(ladle.diff(a, b))
    local script = changes:sql()
    assert.matches('%-%- %+ tables public%."x\\nselect 1/0; %-%-"\n', script)
    assert.equal("+ tables public.\"x\\nselect 1/0; --\": table", changes[1].line)
    a:transaction(function(tx) assert(tx:exec(script)) end)
    assert.equal(0, #assert(ladle.diff(a, b)))
    a:close(); b:close()
    env.drop_database(an); env.drop_database(bn)
  end)

  it("escapes them in check's lines and in the comment of a type change", function()
    local an, a = database("create table t (a int);")
    local bn, b = database('create type "' .. evil .. '" as (x int); create table t (a "' .. evil .. '");')
    local differences = assert(schema.check(a, b))
    for _, d in ipairs(differences) do assert.is_nil(d.line:find("\n", 1, true), d.line) end
    assert.equal('+ types public."x\\nselect 1/0; --": composite (x integer)', differences[1].line)
    local sa, sb = assert(schema.snapshot(a)), assert(schema.snapshot(b))
    for name in pairs(sb.conversions.categories) do sb.conversions.categories[name] = nil end
    local change_type
    for _, st in ipairs(ladle.diff.plan(sa, sb):statements()) do
      if st.sql:find("ALTER COLUMN a TYPE", 1, true) then change_type = st.sql end
    end
    -- the comment is one line, and the statement after it names the type quoted
    assert.equal('-- ladle: no conversion from integer to public."x\\nselect 1/0; --" is known; '
      .. "check the USING expression", change_type:match("^[^\n]*"))
    a:close(); b:close()
    env.drop_database(an); env.drop_database(bn)
  end)
end)

describe("ladle.diff and check of table properties pg_dump writes with ALTER TABLE", function()
  it("report replica identity, CLUSTER ON and a child's own default in their categories", function()
    local an, a = database([[
      create table t (a int primary key, b int not null unique);
      create table p (a int default 1); create table c () inherits (p);]])
    local bn, b = database([[
      create table t (a int primary key, b int not null unique);
      alter table t replica identity using index t_b_key; alter table t cluster on t_pkey;
      create table p (a int default 1); create table c () inherits (p);
      alter table c alter column a set default 2;]])
    assert.same({ "~ tables public.t: replica identity: none -> using index t_b_key; cluster on: none -> t_pkey",
                  "+ columns public.c.a: default 2 (public.p: 1)" }, lines(assert(schema.check(a, b))))
    local changes = assert(ladle.diff(a, b))
    table.sort(changes, function(x, y) return x.line < y.line end)
    assert.same({ "+ columns public.c.a: default 2 (public.p: 1)", "+ tables public.t: cluster on t_pkey",
                  "+ tables public.t: replica identity using index t_b_key" }, lines(changes))
    assert.matches("ALTER TABLE public.t REPLICA IDENTITY USING INDEX t_b_key;", changes:sql(), 1, true)
    -- and back: the settings go
    local back = assert(ladle.diff(b, a)):sql()
    assert.matches("ALTER TABLE public.t REPLICA IDENTITY DEFAULT;", back, 1, true)
    assert.matches("ALTER TABLE public.t SET WITHOUT CLUSTER;", back, 1, true)
    assert.matches("ALTER TABLE public.c ALTER COLUMN a SET DEFAULT 1;", back, 1, true)
    a:close(); b:close()
    env.drop_database(an); env.drop_database(bn)
  end)
end)
