-- ladle.schema: snapshots read from pg_catalog and pum-style checking.

local env = require "support.env"
local ladle = require "ladle"
local schema = require "ladle.schema"

local function database(sql)
  local name = env.new_database("schema")
  local conn = env.connect(name)
  assert(conn:exec(sql))
  return name, conn
end

local function lines(list)
  local out = {}
  for _, d in ipairs(list) do out[#out + 1] = d.line end
  return out
end

describe("ladle.schema.snapshot", function()
  local name, db, snap
  setup(function()
    name, db = database([[
      create extension hstore;
      create schema app;
      create type app.mood as enum ('sad', 'ok');
      create table app.t (id serial primary key, m app.mood default 'ok', h hstore,
                          note text collate "C" not null check (note <> ''));
      create index t_note on app.t (note);
      create view app.v as select id, m from app.t;
      create function app.f(x int, y text default 'a') returns int language sql as 'select x';
      comment on table app.t is 'the table';
      comment on column app.t.note is 'a note';
      create table public.ladle_upgrades (id serial primary key, version text);
      create index ladle_upgrades_version on public.ladle_upgrades (version);]])
    snap = assert(schema.snapshot(db))
  end)
  teardown(function()
    db:close()
    env.drop_database(name)
  end)

  it("keys objects by kind, then by qualified name", function()
    local t = snap.tables["app.t"]
    assert.equal("tables", t.kind)
    assert.equal("app.t", t.name)
    assert.equal("the table", t.comment)
    local note = snap.columns["app.t.note"]
    assert.same({ "text", 'pg_catalog."C"', true, "a note" }, { note.type, note.collation, note.notnull, note.comment })
    assert.equal("'ok'::app.mood", snap.columns["app.t.m"].default)
    assert.equal("nextval('app.t_id_seq'::regclass)", snap.columns["app.t.id"].default)
    assert.equal("PRIMARY KEY (id)", snap.constraints["app.t.t_pkey"].definition)
    assert.equal("CHECK ((note <> ''::text))", snap.constraints["app.t.t_note_check"].definition)
    assert.equal("CREATE INDEX t_note ON app.t USING btree (note)", snap.indexes["app.t_note"].definition)
    assert.same({ "sad", "ok" }, snap.types["app.mood"].labels)
    assert.equal("app.t.id", snap.sequences["app.t_id_seq"].owned_by)
    assert.matches("^SELECT t.id", snap.views["app.v"].definition)
    local f = snap.functions["app.f(integer,text)"]
    assert.same({ "function", "integer", "x integer, y text DEFAULT 'a'::text" }, { f.type, f.result, f.arguments })
    assert.matches("CREATE OR REPLACE FUNCTION app.f", f.definition)
  end)

  it("leaves out system schemas and what extensions own", function()
    assert.is_nil(snap.schemas.pg_catalog)
    assert.is_nil(snap.schemas.information_schema)
    assert.equal("1.8", snap.extensions.hstore.version)
    assert.is_nil(snap.types["public.hstore"])
    for fname in pairs(snap.functions) do assert.is_nil(fname:find("hstore", 1, true)) end
    assert.equal("public.hstore", snap.columns["app.t.h"].type)
  end)

  it("translates pg_depend to kind and name", function()
    assert.equal("n", snap.depends["views app.v"]["columns app.t.m"])
    assert.equal("n", snap.depends["columns app.t.h"]["extensions hstore"])
    assert.equal("n", snap.depends["defaults app.t.id"]["sequences app.t_id_seq"])
    local light = assert(schema.snapshot(db, { dependencies = false }))
    assert.is_nil(light.depends)
    assert.same({}, schema.compare(snap, light))
  end)

  it("leaves out schemas and tables on request", function()
    local only = assert(schema.snapshot(db, { schemas = { "app" } }))
    assert.is_nil(only.tables["public.ladle_upgrades"])
    assert.truthy(only.tables["app.t"])
    local without = assert(schema.snapshot(db, { exclude_schemas = { "app" }, exclude_tables = { "public.ladle_upgrades" } }))
    assert.is_nil(without.tables["app.t"])
    assert.is_nil(without.tables["public.ladle_upgrades"])
    assert.is_nil(without.columns["public.ladle_upgrades.id"])
    assert.is_nil(without.indexes["public.ladle_upgrades_version"])
    assert.is_nil(without.constraints["public.ladle_upgrades.ladle_upgrades_pkey"])
    assert.is_nil(without.sequences["public.ladle_upgrades_id_seq"])
    -- the same filters apply to a snapshot taken before
    local filtered = schema.filter(snap, { exclude_schemas = { "app" }, exclude_tables = { "ladle_upgrades" } })
    assert.same({}, schema.compare(filtered, without))
  end)

  it("leaves the session as it found it", function()
    assert(db:exec("set search_path = app, public"))
    assert(schema.snapshot(db))
    assert.equal("idle", db:transaction_status())
    assert.equal("app, public", db:query("show search_path")[1].search_path)
    db:transaction(function(tx)
      assert(tx:exec("set local search_path = public"))
      assert(schema.snapshot(tx))
      assert.equal("public", tx:query("show search_path")[1].search_path)
      assert.equal("intrans", tx:transaction_status())
    end)
    assert(db:exec("reset search_path"))
  end)

  it("reads several databases at once", function()
    local other_name, other = database("create table x (a int);")
    local snaps = assert(schema.snapshots({ db, other }))
    assert.same({}, schema.compare(snaps[1], snap))
    assert.truthy(snaps[2].tables["public.x"])
    other:close()
    env.drop_database(other_name)
  end)

  it("reports what it cannot read", function()
    assert(db:exec("begin"))
    db:query("select 1 / 0")
    local snapshot, message = schema.snapshot(db)
    assert.is_nil(snapshot)
    assert.matches("inerror", message)
    assert(db:exec("rollback"))
    assert.has_error(function() schema.snapshot("not a connection") end)
  end)
end)

describe("index definitions", function()
  it("are pg_get_indexdef's, also where ladle writes plain ones itself", function()
    local name, db = database([[
      create table ix (a int, b text, c text collate "C", d int[], e tsvector, f int, g point, "Odd Col" int);
      create table ixp (a int, b int) partition by range (a);
      create index ix_1 on ix (a);
      create unique index ix_2 on ix (a, b);
      create index ix_3 on ix (b text_pattern_ops);
      create index ix_4 on ix (c);
      create index ix_5 on ix (b collate "C");
      create index ix_6 on ix (a desc);
      create index ix_7 on ix (a nulls first);
      create index ix_8 on ix using gin (d);
      create index ix_9 on ix using gin (e);
      create index ix_10 on ix using hash (b);
      create index ix_11 on ix using brin (f);
      create index ix_12 on ix using gist (g);
      create index ix_13 on ix (a) include (b);
      create index ix_14 on ix (a) with (fillfactor = 50);
      create index ix_15 on ix (a) where a > 0;
      create index ix_16 on ix (lower(b));
      create unique index ix_17 on ix (a) nulls not distinct;
      create index "Ix 18" on ix ("Odd Col", a);
      create index ix_19 on ixp (b);
      create index ix_20 on ix (b varchar_ops);]])
    local snap = assert(schema.snapshot(db))
    local n = 0
    for _, index in pairs(snap.indexes) do
      local expected = db:query("select pg_catalog.pg_get_indexdef($1::regclass) as d", index.name)[1].d
      assert.equal(expected, index.definition)
      n = n + 1
    end
    assert.equal(20, n)
    db:close()
    env.drop_database(name)
  end)
end)

describe("ladle.schema.check", function()
  local an, a, bn, b
  setup(function()
    local base = [[
      create table keep (id int primary key, a int);
      create table dropped (id int, x int);
      create view v as select id from keep;
      create function f() returns int language sql as 'select 1';]]
    an, a = database(base)
    bn, b = database([[
      create table keep (id int primary key, a bigint, b text);
      create table added (id int, y int);
      create index keep_a on keep (a);
      create view v as select id, a from keep;
      create function f() returns int language sql as 'select 2';
      comment on table keep is 'kept';
      grant select on keep to public;]])
  end)
  teardown(function()
    a:close(); b:close()
    env.drop_database(an); env.drop_database(bn)
  end)

  it("lists differences in pum's categories, one line each", function()
    assert.same({
      "+ tables public.added: table",
      "- tables public.dropped: table",
      "~ columns public.keep.a: type: integer -> bigint",
      "+ columns public.keep.b: text",
      "+ indexes public.keep_a: CREATE INDEX keep_a ON public.keep USING btree (a)",
      "~ views public.v: definition differs at line 1: 'SELECT keep.id' -> 'SELECT keep.id,'",
      "~ functions public.f(): definition differs at line 4: 'AS $function$select 1$function$' -> "
        .. "'AS $function$select 2$function$'",
      "~ privileges table public.keep: +PUBLIC=SELECT",
      "+ comments table public.keep: none -> 'kept'",
    }, lines(assert(schema.check(a, b))))
  end)

  it("compares connections, snapshots and conninfo strings alike", function()
    local sa = assert(schema.snapshot(a))
    local expected = lines(assert(schema.check(a, b)))
    assert.same(expected, lines(assert(schema.check(sa, env.conninfo(bn)))))
    assert.same({}, assert(schema.check(sa, a)))
    local d = assert(schema.check(a, b))[1]
    assert.same({ "+", "tables", "public.added" }, { d.sign, d.category, d.name })
    assert.equal("table", d.what)
  end)

  it("ignores categories, and shows what a missing table holds when tables are ignored", function()
    local out = lines(assert(schema.check(a, b, { ignore = { "tables", "views", "functions", "privileges",
      "comments", "indexes" } })))
    assert.same({
      "+ columns public.added.id: integer",
      "+ columns public.added.y: integer",
      "- columns public.dropped.id: integer",
      "- columns public.dropped.x: integer",
      "~ columns public.keep.a: type: integer -> bigint",
      "+ columns public.keep.b: text",
    }, out)
    assert.has_error(function() schema.check(a, b, { ignore = { "bogus" } }) end)
  end)

  it("excludes tables, such as the upgrades table", function()
    local out = lines(assert(schema.check(a, b, { exclude_tables = { "added", "public.dropped" }, ignore = { "columns" } })))
    for _, line in ipairs(out) do
      assert.is_nil(line:find("added", 1, true))
      assert.is_nil(line:find("dropped", 1, true))
    end
  end)

  it("leaves out columns by LIKE pattern, on a live database and on a snapshot", function()
    local opts = { exclude_field_patterns = { "b", "\\_%" }, exclude_tables = { "added", "dropped" },
      ignore = { "tables", "views", "functions", "privileges", "comments", "indexes" } }
    assert.same({ "~ columns public.keep.a: type: integer -> bigint" }, lines(assert(schema.check(a, b, opts))))
    local sa, sb = assert(schema.snapshot(a)), assert(schema.snapshot(b))
    assert.same({ "~ columns public.keep.a: type: integer -> bigint" }, lines(assert(schema.check(sa, sb, opts))))
    opts.exclude_field_patterns = { "_" }
    assert.same({}, lines(assert(schema.check(a, b, opts))))
  end)

  it("returns nil and a message for a database it cannot reach", function()
    local d, message = schema.check(a, "host=/nonexistent dbname=x")
    assert.is_nil(d)
    assert.matches("nonexistent", message)
  end)
end)

describe("ladle.schema.check sees", function()
  local an, a, bn, b
  setup(function()
    local admin = env.connect()
    for _, role in ipairs({ "ladle_reader", "ladle_writer" }) do
      if #assert(admin:query("select 1 from pg_roles where rolname = $1", role)) == 0 then
        assert(admin:exec("create role " .. role))
      end
    end
    admin:close()
    an, a = database([[
      create table i (id int generated by default as identity, x int);
      create table p (a int, b int);
      create sequence s;]])
    bn, b = database([[
      create table i (id int generated by default as identity (start with 10 increment by 5), x int);
      create table p (a int, b int);
      grant select (b) on p to ladle_reader;
      create sequence s; select setval('s', 7);
      alter table p owner to ladle_writer;]])
  end)
  teardown(function()
    a:close(); b:close()
    env.drop_database(an); env.drop_database(bn)
  end)

  it("an identity column's sequence options", function()
    assert.same({ "~ columns public.i.id: identity options: none -> (START WITH 10, INCREMENT BY 5)" },
      lines(assert(schema.check(a, b, { ignore = { "privileges" } }))))
  end)

  it("column privileges", function()
    assert.same({ "~ privileges column public.p.b: +ladle_reader=SELECT" },
      lines(assert(schema.check(a, b, { ignore = { "columns" } }))))
  end)

  it("owners and sequence values, when asked", function()
    local opts = { ignore = { "columns", "privileges" } }
    assert.same({}, lines(assert(schema.check(a, b, opts))))
    opts.owners, opts.sequence_values = true, true
    assert.same({
      "~ sequences public.s: value: unused -> 7",
      "~ owners table public.p: postgres -> ladle_writer",
    }, lines(assert(schema.check(a, b, opts))))
  end)
end)

describe("comparing a database with itself", function()
  it("reads it once and finds nothing", function()
    local db = env.connect()
    assert.same({}, assert(schema.check(db, db)))
    assert.equal(0, #assert(ladle.diff(db, db)))
    db:close()
  end)
end)
