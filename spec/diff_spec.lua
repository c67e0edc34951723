-- ladle.diff: for pairs of schemas, the script that turns A into B, applied
-- to A in one transaction, must make A's snapshot equal B's, after which a
-- second diff is empty. Every pair runs both ways (B into A too), so each
-- fixture covers adding and dropping; "change" fixtures differ in place.

local env = require "support.env"
local ladle = require "ladle"
local schema = require "ladle.schema"

local function lines(list)
  local out = {}
  for _, d in ipairs(list) do out[#out + 1] = d.line end
  return out
end

local function has_statement(changes, pattern)
  for _, st in ipairs(changes:statements()) do
    if st.sql:find(pattern) then return true end
  end
  return false
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

-- Turns `from` into `to`; returns the changes and the script.
local function apply(from, to, opts)
  local changes = assert(ladle.diff(from, to, opts))
  local script = changes:sql()
  local ok, err = pcall(from.transaction, from, function(tx)
    local done, message = tx:exec(script)
    if not done then error(message, 0) end
  end)
  assert(ok, "applying the script failed: " .. tostring(err) .. "\n" .. script)
  local left = lines(assert(schema.check(from, to, opts)))
  assert(#left == 0, "still different after the script:\n" .. table.concat(left, "\n") .. "\n--- script:\n" .. script)
  local again = assert(ladle.diff(from, to, opts))
  assert(#again == 0, "a second diff is not empty:\n" .. table.concat(lines(again), "\n") .. "\n--- script:\n" .. script)
  return changes, script
end

-- A into B, then (unless one_way) back into A as it was (its snapshot
-- taken before); returns the forward changes and script, and the reverse
-- ones.
local function roundtrip(a_sql, b_sql, opts)
  opts = opts or {}
  local an, a = database(a_sql)
  local bn, b = database(b_sql)
  if opts.data then assert(a:exec(opts.data)) end
  local original = assert(schema.snapshot(a))
  local changes, script = apply(a, b, opts.diff)
  if opts.after then opts.after(a) end
  local back, back_script
  if not opts.one_way then back, back_script = apply(a, original, opts.diff) end
  a:close()
  b:close()
  env.drop_database(an)
  env.drop_database(bn)
  return changes, script, back, back_script
end

setup(function()
  local admin = env.connect()
  for _, role in ipairs({ "ladle_reader", "ladle_writer" }) do
    if #assert(admin:query("select 1 from pg_roles where rolname = $1", role)) == 0 then
      assert(admin:exec("create role " .. role))
    end
  end
  admin:close()
end)

describe("ladle.diff turns A into B", function()
  it("schemas", function()
    roundtrip("create schema app;",
      "create schema app; create schema audit; create table audit.log (id int);")
  end)

  it("extensions and their schema", function()
    local changes = roundtrip("create schema ext;",
      "create schema ext; create extension hstore schema ext; create table kv (h ext.hstore);")
    assert.is_true(has_statement(changes, "CREATE EXTENSION hstore WITH SCHEMA ext VERSION"))
    roundtrip("create schema ext; create extension hstore schema public;",
      "create schema ext; create extension hstore schema ext;")
  end)

  it("extension versions (upgrade only)", function()
    local changes = roundtrip("create extension citext version '1.4';", "create extension citext version '1.6';",
      { one_way = true })
    assert.is_true(has_statement(changes, "ALTER EXTENSION citext UPDATE TO '1.6';"))
  end)

  it("enums: new values are added in place, removed ones recreate the type", function()
    local forward, _, back = roundtrip("create type mood as enum ('sad', 'happy'); create table t (m mood);",
      "create type mood as enum ('glum', 'sad', 'ok', 'happy', 'ecstatic'); create table t (m mood);",
      { data = "insert into t values ('sad'), ('happy')" })
    assert.is_true(has_statement(forward, "ADD VALUE 'ok' AFTER 'sad'"))
    assert.is_true(has_statement(forward, "ADD VALUE 'glum' BEFORE 'sad'"))
    assert.is_false(has_statement(forward, "RENAME TO"))
    assert.is_true(has_statement(back, "RENAME TO mood__ladle_old"))
    assert.is_true(has_statement(back, "USING m::text::public.mood"))
  end)

  it("enums: a column default that gains and loses values, under a view", function()
    local a = [[
      create type mood as enum ('sad', 'ok', 'happy');
      create table t (id int, m mood default 'ok', history mood[] default '{sad}');
      create view v as select id, m from t where m <> 'sad';]]
    local b = [[
      create type mood as enum ('sad', 'fine', 'happy', 'great');
      create table t (id int, m mood default 'fine', history mood[] default '{sad}');
      create view v as select id, m from t where m <> 'sad';]]
    roundtrip(a, b, {
      data = "insert into t values (1, 'sad', '{happy}'), (2, 'happy', '{}')",
      after = function(db)
        local rows = assert(db:query("select m::text, history::text from t order by id"))
        assert.same({ "sad", "{happy}" }, { rows[1].m, rows[1].history })
        assert.equal("happy", rows[2].m)
      end,
    })
  end)

  it("enums: a new value that the script uses recreates the type", function()
    local changes = roundtrip("create type color as enum ('red'); create table p (c color default 'red');",
      "create type color as enum ('red', 'blue'); create table p (c color default 'blue');")
    assert.is_false(has_statement(changes, "ADD VALUE"))
    assert.is_true(has_statement(changes, "CREATE TYPE public.color AS ENUM %('red', 'blue'%)"))
  end)

  it("enums: partitions and inheriting tables are recast through their parent", function()
    local a = [[
      create type mood as enum ('sad', 'ok');
      create table pm (id int, m mood) partition by list (id);
      create table pm_1 partition of pm for values in (1);
      create table base (m mood);
      create table child (x int) inherits (base);]]
    local changes = roundtrip(a, (a:gsub("%('sad', 'ok'%)", "('ok', 'sad')")),
      { data = "insert into pm values (1, 'sad'); insert into child values ('ok', 1)",
        after = function(db) assert.equal("sad", db:query("select m::text from pm_1")[1].m) end })
    assert.equal(0, #changes:hazards("deletes_data"))
  end)

  it("enums: reordered values", function()
    roundtrip("create type level as enum ('low', 'high');", "create type level as enum ('high', 'low');")
  end)

  it("composite types", function()
    roundtrip("create type pair as (x int, y int); create table t (p pair); create type box2 as (w int);",
      "create type pair as (x int, y int, label text); create table t (p pair); create type box2 as (w bigint);")
    roundtrip("create type pair as (x int);", "create type pair as (x int); create type trio as (a int, b text, c date);")
  end)

  it("range types", function()
    roundtrip("", "create type floatrange as range (subtype = float8, subtype_diff = float8mi);")
  end)

  it("domains: default, NOT NULL, constraints and base type", function()
    roundtrip("create domain posint as int check (value > 0); create table t (x posint); create domain code as text;",
      [[create domain posint as int default 1 not null check (value > 0) constraint small check (value < 1000);
        create table t (x posint); create domain code as varchar(10);]])
  end)

  it("sequences", function()
    roundtrip("create sequence s1;",
      "create sequence s1 increment 5 maxvalue 1000 cycle; create sequence s2 as smallint start 10;")
  end)

  it("a sequence owned by a column of a table renamed (by drop and add)", function()
    local changes = roundtrip("create table old_t (id serial primary key, x int);",
      "create table old_t (id serial primary key, x int); alter table old_t rename to new_t;",
      { data = "insert into old_t (x) values (1), (2), (3)",
        after = function(db)
          -- the sequence was kept: it goes on where it was
          assert.equal(4, db:query("select nextval('old_t_id_seq') as n")[1].n)
        end })
    local script = changes:sql()
    local owned = script:find("ALTER SEQUENCE public.old_t_id_seq OWNED BY public.new_t.id", 1, true)
    local dropped = script:find("DROP TABLE public.old_t;", 1, true)
    assert.truthy(owned and dropped and owned < dropped, script)
  end)

  it("tables: new and dropped, with identity, defaults and NOT NULL", function()
    local _, _, back = roundtrip("create table keep (a int);", [[
      create table keep (a int);
      create table fresh (id bigint generated always as identity primary key, name text not null default 'x',
                          created timestamptz default now());]])
    assert.same({ "deletes_data", "access_exclusive_lock" }, hazards_of(back, "tables", "public.fresh"))
  end)

  it("a new table with a serial column, a domain and an enum of its own", function()
    roundtrip("create table other (a int);", [[
      create table other (a int);
      create type kind as enum ('x', 'y');
      create domain label as text check (value <> '');
      create table s (id serial primary key, k kind not null default 'x', l label);]])
  end)

  it("tables: unlogged, options, row-level security", function()
    roundtrip("create unlogged table u (a int); create table o (a int) with (fillfactor = 70); create table r (a int);",
      [[create table u (a int); create table o (a int) with (fillfactor = 90, autovacuum_enabled = false);
        create table r (a int); alter table r enable row level security; alter table r force row level security;]])
  end)

  it("a partitioned table gaining a partition", function()
    local a = [[
      create table m (id int, at date not null, primary key (id, at)) partition by range (at);
      create table m_2023 partition of m for values from ('2023-01-01') to ('2024-01-01');
      create index m_id on m (id);]]
    local changes = roundtrip(a, a .. [[
      create table m_2024 partition of m for values from ('2024-01-01') to ('2025-01-01');
      create table m_rest partition of m default;]])
    assert.is_true(has_statement(changes, "CREATE TABLE public.m_2024 PARTITION OF public.m FOR VALUES FROM"))
  end)

  it("partition bounds, and partitioned indexes", function()
    roundtrip([[
      create table m (id int, at date not null) partition by range (at);
      create table m_2023 partition of m for values from ('2023-01-01') to ('2024-01-01');]], [[
      create table m (id int, at date not null) partition by range (at);
      create table m_2023 partition of m for values from ('2022-01-01') to ('2024-01-01');
      create index m_at on m (at);]])
  end)

  it("inheritance: a parent gains a column its child inherits", function()
    roundtrip("create table base (a int); create table child (b int) inherits (base);",
      "create table base (a int, c text default 'x'); create table child (b int) inherits (base);")
  end)

  it("columns: type, default, NOT NULL, added and dropped", function()
    roundtrip("create table c (a int, b text, d int default 1, e int not null, g int);",
      "create table c (a bigint, b text not null default '', d int, e int, f numeric(10,2) default 0);",
      { data = "insert into c values (1, 'x', 1, 1, 1)" })
  end)

  it("columns: identity", function()
    roundtrip("create table i (a int generated by default as identity, b int not null, c int);",
      "create table i (a int generated always as identity, b int generated by default as identity, c int);")
  end)

  it("columns: generated and collation", function()
    roundtrip([[create table g (a int, b int generated always as (a * 2) stored, c int generated always as (a + 1) stored,
                 t text collate "C");]],
      [[create table g (a int, b int generated always as (a * 3) stored, c int, t text collate "POSIX");]],
      { data = "insert into g (a, t) values (1, 'x')" })
  end)

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

  it("constraints: primary key, unique, foreign key, check, exclusion", function()
    local changes = roundtrip([[
      create table p (id int primary key, code text);
      create table ch (id int, p_id int references p (id), v int check (v > 0));]], [[
      create table p (id int, code text, primary key (id), unique (code));
      create table ch (id int, p_id int references p (id) on delete cascade, v int check (v >= 0),
                       constraint ch_id_excl exclude using gist (int4range(id, id, '[]') with &&));]])
    assert.same({ "access_exclusive_lock", "index_build" }, hazards_of(changes, "constraints", "public.p.p_code_key"))
  end)

  it("constraints: NOT VALID and VALIDATE", function()
    local forward = roundtrip("create table nv (x int); alter table nv add constraint pos check (x > 0) not valid;",
      "create table nv (x int); alter table nv add constraint pos check (x > 0);")
    assert.is_true(has_statement(forward, "ALTER TABLE public.nv VALIDATE CONSTRAINT pos;"))
  end)

  it("a column type change under a primary key referenced by a foreign key", function()
    roundtrip("create table p (id int primary key); create table ch (p_id int references p);",
      "create table p (id bigint primary key); create table ch (p_id bigint references p);",
      { data = "insert into p values (1); insert into ch values (1)" })
  end)

  it("foreign keys between two new tables", function()
    roundtrip("", [[
      create table x (id int primary key, y_id int);
      create table y (id int primary key, x_id int references x);
      alter table x add foreign key (y_id) references y;]])
  end)

  it("indexes: plain, expression, partial, unique", function()
    local changes = roundtrip("create table t (a int, b text, c int); create index t_a on t (a); create index t_b on t (lower(b));",
      [[create table t (a int, b text, c int); create index t_a on t (a, c); create index t_b on t (lower(b));
        create unique index t_c on t (c) where c > 0;]])
    assert.same({ "index_build" }, hazards_of(changes, "indexes", "public.t_c"))
  end)

  it("a view on a view on a table whose column type changes", function()
    local a = [[
      create table base (id int, amount int);
      create view v1 as select id, amount from base;
      create view v2 as select id, amount * 2 as double from v1;
      create view unrelated as select id from base;]]
    local changes = roundtrip(a, (a:gsub("amount int", "amount bigint")),
      { data = "insert into base values (1, 21)",
        after = function(db) assert.equal(42, db:query("select double from v2")[1].double) end })
    local script = changes:sql()
    local drop_v2, drop_v1 = script:find("DROP VIEW public.v2;", 1, true), script:find("DROP VIEW public.v1;", 1, true)
    local alter = script:find("ALTER COLUMN amount TYPE bigint", 1, true)
    local create_v1, create_v2 = script:find("CREATE VIEW public.v1", 1, true), script:find("CREATE VIEW public.v2", 1, true)
    assert.truthy(drop_v2 < drop_v1 and drop_v1 < alter and alter < create_v1 and create_v1 < create_v2, script)
    assert.is_nil(script:find("unrelated", 1, true))
  end)

  it("views over a partition's or a child's column whose type changes on the parent", function()
    local a = [[
      create table p (a int, b int) partition by range (a);
      create table p1 partition of p for values from (0) to (10);
      create view v1 as select b from p1;
      create table base (a int, b int);
      create table child (c int) inherits (base);
      create view v2 as select b from child;]]
    roundtrip(a, (a:gsub("b int%)", "b bigint)")))
  end)

  it("views: CREATE OR REPLACE when columns are only added, else drop and create", function()
    local forward, _, back = roundtrip("create view v as select 1 as a; create view w as select a from v;",
      "create view v as select 1 as a, 2 as b; create view w as select a from v;")
    assert.is_true(has_statement(forward, "CREATE OR REPLACE VIEW public.v AS"))
    assert.is_false(has_statement(forward, "DROP VIEW"))
    assert.is_true(has_statement(back, "DROP VIEW public.w;"))
    roundtrip("create table t (a int); create view s as select a from t;",
      "create table t (a int); create view s with (security_barrier = true) as select a from t where a > 0;")
  end)

  it("materialized views and their indexes", function()
    roundtrip("create table s (a int); create materialized view mv as select a from s; create index mv_idx on mv (a);",
      "create table s (a int); create materialized view mv as select a, a * 2 as b from s; create unique index mv_a on mv (a);")
  end)

  it("a function used by a check constraint and a default", function()
    local a = [[
      create function pos(x int) returns int language sql immutable as 'select abs(x)';
      create table f (v int default pos(-1) check (pos(v) > 0));]]
    local b = [[
      create function pos(x int) returns bigint language sql immutable as 'select abs(x)::bigint';
      create table f (v int default pos(-1) check (pos(v) > 0));]]
    local changes = roundtrip(a, b, { data = "insert into f values (default), (5)" })
    local script = changes:sql()
    local drop_check = script:find("DROP CONSTRAINT f_v_check", 1, true)
    local drop_default = script:find("ALTER COLUMN v DROP DEFAULT", 1, true)
    local drop_fn = script:find("DROP FUNCTION public.pos(integer);", 1, true)
    local create_fn = script:find("CREATE OR REPLACE FUNCTION public.pos(x integer)", 1, true)
    local add_check = script:find("ADD CONSTRAINT f_v_check", 1, true)
    local set_default = script:find("ALTER COLUMN v SET DEFAULT public.pos('-1'::integer)", 1, true)
    assert.truthy(drop_check < drop_fn and drop_default < drop_fn and drop_fn < create_fn
      and create_fn < add_check and create_fn < set_default, script)
  end)

  it("functions: a new body replaces in place, new arguments recreate", function()
    local changes = roundtrip([[
      create function one() returns int language sql as 'select 1';
      create function g(a int default 1) returns int language sql as 'select a';
      create procedure p(x int) language sql as 'select x';
      create table t (a int default one());]], [[
      create function one() returns int language sql as 'select 1 + 0';
      create function g(a int default 2) returns int language sql as 'select a';
      create procedure p(x int) language plpgsql as 'begin perform x; end';
      create table t (a int default one());]])
    assert.is_false(has_statement(changes, "DROP FUNCTION public.one"))
    assert.is_true(has_statement(changes, "DROP FUNCTION public.g%(integer%)"))
    roundtrip("", "create procedure p2(a int, inout b int) language plpgsql as 'begin b := a; end';")
  end)

  it("triggers, enabled or not", function()
    local a = [[
      create table tr (a int);
      create function tr_fn() returns trigger language plpgsql as 'begin return new; end';
      create trigger t1 before insert on tr for each row execute function tr_fn();]]
    roundtrip(a, [[
      create table tr (a int);
      create function tr_fn() returns trigger language plpgsql as 'begin return new; end';
      create trigger t1 before insert or update on tr for each row execute function tr_fn();
      create trigger t2 after delete on tr for each statement execute function tr_fn();
      alter table tr disable trigger t2;]])
  end)

  it("rules", function()
    roundtrip("create table ru (a int); create table ru_log (a int);", [[
      create table ru (a int); create table ru_log (a int);
      create rule ru_log_rule as on insert to ru do also insert into ru_log values (new.a);]])
  end)

  it("row-level security policies that reference a function", function()
    local a = [[
      create function visible(owner text) returns boolean language sql stable as 'select owner = current_user';
      create table docs (owner text);
      alter table docs enable row level security;
      create policy own on docs using (visible(owner));]]
    local b = [[
      create function visible(owner text) returns int language sql stable as 'select (owner = current_user)::int';
      create table docs (owner text);
      alter table docs enable row level security;
      create policy own on docs using (visible(owner) = 1);
      create policy writers on docs as restrictive for update to ladle_writer using (true) with check (owner <> '');]]
    local changes = roundtrip(a, b)
    local script = changes:sql()
    local drop_policy = script:find("DROP POLICY own ON public.docs;", 1, true)
    local drop_fn = script:find("DROP FUNCTION public.visible(text);", 1, true)
    assert.truthy(drop_policy and drop_fn and drop_policy < drop_fn, script)
  end)

  it("privileges on schemas, tables, sequences and functions", function()
    local a = [[
      create schema app; create table app.t (a int); create sequence app.s;
      create function app.f() returns int language sql as 'select 1';]]
    local changes = roundtrip(a, a .. [[
      grant usage on schema app to ladle_reader;
      grant select on app.t to ladle_reader;
      grant insert, update on app.t to ladle_writer with grant option;
      grant usage on sequence app.s to ladle_writer;
      revoke execute on function app.f() from public;
      grant execute on function app.f() to ladle_reader;
      create table app.fresh (a int);
      grant select on app.fresh to ladle_reader;
      revoke all on app.fresh from current_user;]])
    assert.is_true(has_statement(changes, "GRANT INSERT, UPDATE ON TABLE app.t TO ladle_writer WITH GRANT OPTION;"))
    assert.is_true(has_statement(changes, "REVOKE EXECUTE ON FUNCTION app.f%(%) FROM PUBLIC;"))
  end)

  it("comments", function()
    local a = [[
      create table k (a int constraint k_pos check (a > 0));
      create index k_a on k (a);
      create function kf() returns int language sql as 'select 1';
      create view kv as select 1 as x;
      create type kt as enum ('x');]]
    roundtrip(a, a .. [[
      comment on table k is 'keep';
      comment on column k.a is 'the a';
      comment on constraint k_pos on k is 'positive';
      comment on index k_a is 'by a';
      comment on function kf() is 'one';
      comment on view kv is 'it''s a view';
      comment on type kt is 'enum';
      comment on schema public is 'the public schema';
      create table kn (b int);
      comment on table kn is 'new';]])
  end)

  it("names that need quoting", function()
    local a = [[
      create schema "My App";
      create type "My App"."Mood" as enum ('a');
      create table "My App"."Order Items" ("Qty" int, "select" text, id serial);
      create view "My App"."Big Orders" as select "Qty" from "My App"."Order Items" where "Qty" > 10;]]
    roundtrip(a, [[
      create schema "My App";
      create type "My App"."Mood" as enum ('a', 'b''s');
      create table "My App"."Order Items" ("Qty" bigint, "select" text not null default 'x', id serial,
                                           "Mood" "My App"."Mood");
      create view "My App"."Big Orders" as select "Qty" from "My App"."Order Items" where "Qty" > 10;
      create index "Qty Index" on "My App"."Order Items" ("Qty");
      comment on column "My App"."Order Items"."select" is 'a keyword';]])
  end)

  it("a table replaced by a view of the same name", function()
    roundtrip("create table same (a int);", "create view same as select 1 as a;")
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

describe("ladle.diff of a whole schema", function()
  local RICH = [[
    create extension hstore;
    create schema app;
    create type app.mood as enum ('sad', 'ok', 'happy');
    create type app.pair as (x int, y text);
    create domain app.posint as int default 1 not null check (value > 0);
    create sequence app.seq increment 5 maxvalue 1000 cycle;
    create function app.pos(x int) returns int language sql immutable as 'select abs(x)';
    create table app.t (id serial primary key, m app.mood default 'ok', p app.pair, d app.posint,
      h hstore, g int generated always as (id * 2) stored, i bigint generated by default as identity,
      note text collate "C" not null default '' check (note <> 'x'), v int default app.pos(-1) check (app.pos(v) > 0));
    create unique index t_note on app.t (note) where note <> '';
    create table app.m (id int, at date not null, primary key (id, at)) partition by range (at);
    create table app.m_2023 partition of app.m for values from ('2023-01-01') to ('2024-01-01');
    create table app.m_rest partition of app.m default;
    create index m_id on app.m (id);
    create table app.base (a int); create table app.child (b int) inherits (app.base);
    create table app.ref (id int references app.t (id) on delete cascade, x int);
    alter table app.ref add constraint ref_x check (x > 0) not valid;
    create view app.v as select id, m from app.t;
    create view app.vv with (security_barrier = true) as select * from app.v;
    create materialized view app.mv as select id from app.t;
    create index mv_id on app.mv (id);
    create function app.trg() returns trigger language plpgsql as 'begin return new; end';
    create trigger t_trg before insert on app.t for each row execute function app.trg();
    create trigger t_trg2 after update on app.t for each statement execute function app.trg();
    alter table app.t disable trigger t_trg2;
    create rule r as on insert to app.ref where new.x < 0 do instead nothing;
    alter table app.t enable row level security;
    create policy own on app.t as restrictive for select to public using (app.pos(id) > 0);
    create procedure app.proc(a int) language sql as 'select a';
    create unlogged table app.u (a int) with (fillfactor = 70);
    grant usage on schema app to public;
    grant select on app.t to public;
    revoke execute on function app.pos(int) from public;
    comment on table app.t is 'the table';
    comment on column app.t.note is 'a note';
    comment on function app.pos(int) is 'absolute';
    comment on constraint ref_x on app.ref is 'positive';
]]

  it("creates everything in an empty database and drops it all again", function()
    local changes = roundtrip("", RICH)
    assert.equal(0, #changes:hazards("deletes_data"))
  end)

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
