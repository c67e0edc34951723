-- psql's \d family as the REPL prints it, checked against psql itself: the
-- same objects described by ladle.repl.describe / ladle.repl.lists and by
-- `psql -X -c '\d+ ...'` on the test cluster must read the same, line for
-- line (psql pads lines with spaces at the end; those are left out).

local env = require "support.env"
local sys = require "ladle.sys"
local relation = require "ladle.repl.describe"
local lists = require "ladle.repl.lists"
local format = require "ladle.repl.format"

describe("psql's \\d in the REPL", function()
  local dbname, db, psql
  setup(function()
    psql = assert(sys.which("psql"), "psql (postgresql-client) is needed to compare with")
    dbname = env.new_database("repl_describe")
    db = env.connect(dbname)
    assert(db:exec([[
      create extension btree_gist;
      create table basket (id int primary key);
      create table t (id serial primary key, name text not null default 'x', b int references basket (id),
                      note varchar(20));
      comment on column t.name is 'the name';
      comment on table t is 'a table';
      create index t_name_idx on t (name);
      create sequence seq start 5 increment 2 maxvalue 1000 cache 3 cycle;
      create view v as select id, name from t;
      create materialized view mv as select id from t;
      create index mv_idx on mv (id);
      create function add(a int, b int default 1) returns int language sql immutable as 'select a + b';
      create procedure p(x text) language sql as 'select 1';
      create table measure (at date not null, v int) partition by range (at);
      create table measure_2024 partition of measure for values from ('2024-01-01') to ('2025-01-01');
      create table measure_rest partition of measure default;
      create index on measure (v);
      create table parent (a int);
      create table child (b int) inherits (parent);
      create table fruit (
        id int generated always as identity primary key,
        name text not null default 'apple' collate "C",
        price numeric(6, 2) check (price > 0),
        basket int references basket (id) deferrable initially deferred,
        code text constraint fruit_code_key unique,
        double_price numeric generated always as (price * 2) stored,
        during tstzrange,
        exclude using gist (during with &&)
      ) with (fillfactor = 70);
      create index fruit_name_idx on fruit (lower(name)) where price is not null;
      create unique index fruit_u on fruit (code, name) include (price);
      create function touch() returns trigger language plpgsql as $$ begin return new; end $$;
      create trigger fruit_touch before update on fruit for each row execute function touch();
      create trigger fruit_off after insert on fruit for each row execute function touch();
      alter table fruit disable trigger fruit_off;
      create unlogged table scratch (x int);
      create type pair as (a int, b text);
      create schema store;
      create table store.shelf (n int);
    ]]))
  end)
  teardown(function()
    db:close()
    env.drop_database(dbname)
  end)

  -- What psql prints for these backslash commands, trailing spaces cut.
  local function psql_says(...)
    local argv = { psql, "-X", "-d", env.conninfo(dbname) }
    for _, command in ipairs({ ... }) do
      argv[#argv + 1] = "-c"
      argv[#argv + 1] = command
    end
    local status, out, err = sys.spawn(argv, { stdout = "capture", stderr = "capture" })
    assert.equal(0, status, err)
    return (out:gsub(" +\n", "\n"))
  end

  local function grid(rows)
    local opts = { title = rows.title }
    for k, v in pairs(rows.display or {}) do opts[k] = v end
    return format.grid(rows, rows.fields, opts)
  end

  -- ours, as psql separates two results: a blank line after each
  local function described(pattern, verbose)
    local out = {}
    for _, d in ipairs(relation.matching(db, pattern, { verbose = verbose })) do
      out[#out + 1] = d:render() .. "\n\n"
    end
    return table.concat(out)
  end

  it("describes tables with indexes, constraints, triggers, comments and storage (\\d, \\d+)", function()
    assert.equal(psql_says("\\d t", "\\d+ t", "\\d fruit", "\\d+ fruit", "\\d+ scratch"),
      described("t") .. described("t", true) .. described("fruit") .. described("fruit", true)
      .. described("scratch", true))
  end)

  it("describes sequences with their owner, views and materialized views with their definition", function()
    assert.equal(psql_says("\\d seq", "\\d t_id_seq", "\\d fruit_id_seq", "\\d v", "\\d+ v", "\\d mv", "\\d+ mv"),
      described("seq") .. described("t_id_seq") .. described("fruit_id_seq") .. described("v")
      .. described("v", true) .. described("mv") .. described("mv", true))
  end)

  it("describes indexes, composite types, partitions and inheritance", function()
    assert.equal(psql_says("\\d t_name_idx", "\\d t_pkey", "\\d+ fruit_u", "\\d fruit_name_idx", "\\d pair",
      "\\d+ pair", "\\d measure", "\\d+ measure", "\\d measure_2024", "\\d+ measure_2024", "\\d parent",
      "\\d+ parent", "\\d child", "\\d measure_v_idx", "\\d+ measure_v_idx"),
      described("t_name_idx") .. described("t_pkey") .. described("fruit_u", true) .. described("fruit_name_idx")
      .. described("pair") .. described("pair", true) .. described("measure") .. described("measure", true)
      .. described("measure_2024") .. described("measure_2024", true) .. described("parent")
      .. described("parent", true) .. described("child") .. described("measure_v_idx")
      .. described("measure_v_idx", true))
  end)

  it("describes every relation a pattern matches, in order", function()
    assert.equal(psql_says("\\d store.*", "\\d fruit_*"), described("store.*") .. described("fruit_*"))
    assert.same({}, relation.matching(db, "nothing_here*"))
  end)

  it("lists relations, functions, schemas, extensions as \\dt, \\dv, \\dm, \\di, \\ds, \\d, \\df, \\dn, \\dx do", function()
    local ours = {}
    for _, call in ipairs({
      { "t" }, { "v" }, { "m" }, { "i" }, { "s" }, { "tvmsE" }, { "t", nil, true }, { "i", nil, true },
      { "t", "store.*" }, { "t", "measure*" },
    }) do
      ours[#ours + 1] = grid(lists.relations(db, call[1], call[2], { verbose = call[3] })) .. "\n"
    end
    ours[#ours + 1] = grid(lists.functions(db)) .. "\n"
    ours[#ours + 1] = grid(lists.functions(db, "add", { verbose = true })) .. "\n"
    ours[#ours + 1] = grid(lists.schemas(db)) .. "\n"
    ours[#ours + 1] = grid(lists.schemas(db, nil, { verbose = true })) .. "\n"
    ours[#ours + 1] = grid(lists.extensions(db)) .. "\n"
    assert.equal(psql_says("\\dt", "\\dv", "\\dm", "\\di", "\\ds", "\\d", "\\dt+", "\\di+", "\\dt store.*",
      "\\dt measure*", "\\df", "\\df+ add", "\\dn", "\\dn+", "\\dx"), table.concat(ours))
  end)

  it("lists roles and databases as \\du and \\l do", function()
    local admin = env.connect()
    assert(admin:exec([[
      drop role if exists repl_describe_role;
      create role repl_describe_role createdb connection limit 3 valid until '2100-01-01 00:00:00+00']]))
    local roles = lists.roles(db, "repl_describe*")
    assert.equal(psql_says("\\du repl_describe*", "\\l " .. dbname),
      grid(roles) .. "\n" .. grid(lists.databases(db, dbname)) .. "\n")
    assert.equal("Create DB, Cannot login\n3 connections\nPassword valid until 2100-01-01 00:00:00+00",
      roles[1].Attributes)
    assert(admin:exec("drop role repl_describe_role"))
    admin:close()
  end)

  it("counts the rows of a table never analyzed in tables()", function()
    assert(db:exec("create table many (n int); insert into many select generate_series(1, 301)"))
    local rows = lists.tables(db, "many")
    assert.equal(1, #rows)
    assert.equal(301, rows[1].rows)
    assert.matches("^%d+ kB$", rows[1].size)
    assert.equal(2, #lists.tables(db, "measure_*"))
    assert.equal(1, #lists.tables(db, "store.*"))
  end)

  it("reads the catalog in one catalog session, also inside the caller's transaction", function()
    assert(db:exec("begin; create table in_tx (k int primary key)"))
    assert.equal("in_tx", relation.matching(db, "in_tx")[1].name)
    assert.equal("intrans", db:transaction_status())
    assert.equal('"$user", public', db:query("show search_path")[1].search_path)
    assert(db:exec("rollback"))
    assert.same({}, relation.matching(db, "in_tx"))
    assert.equal("idle", db:transaction_status())
  end)
end)
