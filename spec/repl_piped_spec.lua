-- `ladle repl` with input that is not a terminal: chunks read line by line,
-- no prompts or colour, results printed as at a terminal, exit 3 at the
-- first error.

local env = require "support.env"
local sys = require "ladle.sys"

describe("ladle repl, piped", function()
  local dbname, conninfo, dir
  setup(function()
    dbname, conninfo = env.new_database("repl_piped")
    dir = env.tmpdir()
  end)
  teardown(function() env.drop_database(dbname) end)

  local serial = 0
  local function repl(input, args, vars)
    serial = serial + 1
    local path = env.write(string.format("%s/input%d.lua", dir, serial), input)
    local argv = { "repl" }
    for _, a in ipairs(args or { "-p", conninfo }) do argv[#argv + 1] = a end
    return env.ladle(argv, { stdin = { path = path }, env = vars })
  end

  it("prints expressions, tables and query results, and exits 0 at the end", function()
    local status, out, err = repl([==[
1 + 1
sql[[create table fruit (id int primary key, name text, price numeric, tags text[])]]
sql[[insert into fruit values (1, 'apple', 1.50, '{red,round}'), (2, 'pear', null, '{green,null}')]]
sql[[select * from fruit order by id]]

do
  local t = { a = 1, list = { "x", "y" } }
  t.self = t
  cyclic = t
end
cyclic
"text", 3.5, nil
]==], nil, { TERM = "xterm" })
    assert.equal("", err)
    assert.equal(0, status)
    assert.equal([[
2
CREATE TABLE
INSERT 0 2
 id | name  | price  |     tags
----+-------+--------+--------------
  1 | apple |   1.50 | {red,round}
  2 | pear  | (null) | {green,NULL}
(2 rows)
{ a = 1, list = { "x", "y" }, self = <cycle> }
text	3.5	nil
]], out)
  end)

  it("reads multi-line chunks until they are complete", function()
    local status, out = repl([==[
for i = 1, 3 do
  io.write(i, " ")
end
print()
x = {
  1,
  2,
}
#x
sql[[
  select 'multi' as line
]]
]==])
    assert.equal(0, status)
    assert.equal("1 2 3 \n2\n line\n-------\n multi\n(1 row)\n", out)
  end)

  it("connects to libpq's defaults without -p, as psql does, and lists its helpers", function()
    local status, out, err = repl("help()\nselect current_database() as here;\n", {}, { PGDATABASE = dbname })
    assert.equal("", err)
    assert.equal(0, status)
    assert.matches("^Helpers:\n", out)
    for _, helper in ipairs({ "sql%[%[", "tables%(", "describe \"", "info%(", "pending%(", "snapshot%(",
      "diff%(", "connect%(" }) do
      assert.matches("\n  " .. helper, out)
    end
    assert.matches("\n " .. dbname .. "\n%(1 row%)\n$", out)
    -- piped, a default connection that cannot be made ends the run as -p's does
    status, out, err = repl("print(1)\n", {}, { PGHOST = "/nonexistent" })
    assert.equal(3, status)
    assert.equal("", out)
    assert.matches('^ladle: cannot connect to the default database %(PG%* variables%): connection to server on socket "/nonexistent/[^\n]*\n$', err)
  end)

  it("connects db with connect(target), closing the previous connection", function()
    local status, out = repl(string.format(
      "connect %q\nfirst = db\ndb:info().dbname\nconnect %q\ndb:info().dbname, first:is_closed()\n",
      conninfo, env.conninfo("postgres")), {})
    assert.equal(0, status)
    local lines = {}
    for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.matches("^ladle%.pg%.conn: postgres@.*/" .. dbname .. "$", lines[1])
    assert.equal(dbname, lines[2])
    assert.matches("^ladle%.pg%.conn: postgres@.*/postgres$", lines[3])
    assert.equal("postgres\ttrue", lines[4])
  end)

  it("stops at the first SQL error with exit 3 and one line naming the input line", function()
    local status, out, err = repl([==[
sql[[create table stop_here (n int)]]
-- a comment line

sql[[select *
  from nope]]
sql[[insert into stop_here values (1)]]
]==])
    assert.equal(3, status)
    assert.equal("CREATE TABLE\n", out)
    assert.equal('ladle: stdin:4: ERROR 42P01: relation "nope" does not exist (SQL line 2, column 8)\n', err)
    local db = env.connect(dbname)
    assert.equal(0, db:query("select count(*) as n from stop_here")[1].n)
    db:close()
  end)

  it("exits 3 at a Lua error, a syntax error, or input that ends inside a chunk", function()
    local status, out, err = repl("print('before')\nfunction f()\n  error('boom')\nend\nf()\nprint('after')\n")
    assert.equal(3, status)
    assert.equal("before\n", out)
    assert.equal("ladle: stdin:3: boom\n", err)
    status, out, err = repl("x = = 1\nprint('after')\n")
    assert.equal(3, status)
    assert.equal("", out)
    assert.equal("ladle: stdin:1: unexpected symbol near '='\n", err)
    status, _, err = repl("print(1)\nfor i = 1, 2 do\n  print(i)\n")
    assert.equal(3, status)
    assert.equal("ladle: stdin:3: 'end' expected (to close 'for' at line 2) near <eof>\n", err)
  end)

  it("exits with the code a chunk gives to ladle.fail", function()
    local status, _, err = repl("ladle.fail(1, 'pending: %d deltas', 2)\n")
    assert.equal(1, status)
    assert.equal("ladle: pending: 2 deltas\n", err)
  end)

  it("shows a failed query's return values without stopping", function()
    local status, out = repl("db:query('select 1/0')\nprint('went on')\n")
    assert.equal(0, status)
    assert.equal('nil\tERROR: division by zero\t{ message = "division by zero", severity = "ERROR", sqlstate = "22012" }\n'
      .. "went on\n", out)
  end)

  it("describes a table and lists tables", function()
    local status, out = repl([==[
sql[[create table shelf (id int primary key, label text not null default 'x' check (label <> ''))]]
describe "shelf"
tables "shel*"
]==])
    assert.equal(0, status)
    assert.matches('Table "public.shelf"\n Column |  Type   |', out, 1, true)
    assert.matches('"shelf_pkey" PRIMARY KEY, btree (id)', out, 1, true)
    assert.matches("\n public | shelf | table |", out, 1, true)
  end)

  it("runs SQL lines and psql's backslash commands", function()
    local status, out, err = repl([==[
select 1 as one, 'x' as two;
create table crate (id int primary key, label text not null default 'new');
comment on column crate.label is 'what is written on it';
insert into crate (id) values (1);
insert into crate values (2, 'second') returning id, label;
select *
  from crate
 order by id;
\d crate
\d+ crate
\dt crate*
SELECT 'both' AS kind; select 2 as n
;
1 + 1
select 'last, without a semicolon' as note
]==])
    assert.equal("", err)
    assert.equal(0, status)
    assert.equal([[
 one | two
-----+-----
   1 | x
(1 row)
CREATE TABLE
COMMENT
INSERT 0 1
 id | label
----+--------
  2 | second
(1 row)
INSERT 0 1
 id | label
----+--------
  1 | new
  2 | second
(2 rows)
                 Table "public.crate"
 Column |  Type   | Collation | Nullable |   Default
--------+---------+-----------+----------+-------------
 id     | integer |           | not null |
 label  | text    |           | not null | 'new'::text
Indexes:
    "crate_pkey" PRIMARY KEY, btree (id)
                                                 Table "public.crate"
 Column |  Type   | Collation | Nullable |   Default   | Storage  | Compression | Stats target |      Description
--------+---------+-----------+----------+-------------+----------+-------------+--------------+-----------------------
 id     | integer |           | not null |             | plain    |             |              |
 label  | text    |           | not null | 'new'::text | extended |             |              | what is written on it
Indexes:
    "crate_pkey" PRIMARY KEY, btree (id)
Access method: heap
         List of relations
 Schema | Name  | Type  |  Owner
--------+-------+-------+----------
 public | crate | table | postgres
(1 row)
 kind
------
 both
(1 row)
 n
---
 2
(1 row)
2
           note
---------------------------
 last, without a semicolon
(1 row)
]], out)
  end)

  it("prints what COPY ... TO STDOUT sends, as psql does", function()
    local status, out, err = repl([==[
copy (select 1 as n, null as nothing, 'a	b' as tab) to stdout;
copy (select 2 as n) to stdout with (format csv, header);
copy (select 3 where false) to stdout;
#db:query("copy (select g from generate_series(1, 3) g) to stdout").copy
]==])
    assert.equal("", err)
    assert.equal(0, status)
    assert.equal("1\t\\N\ta\\tb\nn\n2\n6\n", out)
  end)

  it("switches expanded display and timing, for SQL and for db:query results alike", function()
    local status, out = repl([==[
\x
select 1 as a, 'x' as b;
db:query("select 2 as c")
\x off
select 3 as d \gx
\timing on
select 4 as e;
sql[[select 5 as f]]
\timing off
\x auto
select 6 as g;
]==])
    assert.equal(0, status)
    assert.matches([[
^Expanded display is on%.
%-%[ RECORD 1 %]
a | 1
b | x
%-%[ RECORD 1 %]
c | 2
Expanded display is off%.
%-%[ RECORD 1 %]
d | 3
Timing is on%.
 e
%-%-%-
 4
%(1 row%)
Time: %d+%.%d%d%d ms
 f
%-%-%-
 5
%(1 row%)
Time: %d+%.%d%d%d ms
Timing is off%.
Expanded display is used automatically%.
 g
%-%-%-
 6
%(1 row%)
$]], out)
  end)

  it("takes SQL that starts with a keyword Lua knows too as SQL, as psql does", function()
    local status, out, err = repl([==[
select true as t;
select not false as nf;
select -1 as minus;
select(1) as one;
explain(costs off) select 1;
select -- a comment
  2 as two;
select = 7
select + 1
]==])
    assert.equal("", err)
    assert.equal(0, status)
    assert.equal(table.concat({
      " t\n---\n t\n(1 row)\n",
      " nf\n----\n t\n(1 row)\n",
      " minus\n-------\n    -1\n(1 row)\n",
      " one\n-----\n   1\n(1 row)\n",
      " QUERY PLAN\n------------\n Result\n(1 row)\n",
      " two\n-----\n   2\n(1 row)\n",
      "8\n" }), out)
    -- nil is no SQL word: the server says so, not Lua
    status, out, err = repl("select nil;\n")
    assert.equal(3, status)
    assert.equal('ladle: stdin:1: ERROR 42703: column "nil" does not exist (SQL line 1, column 8)\n', err)
  end)

  it("names the input line of a failed statement and stops with exit 3", function()
    local status, out, err = repl("select 1 as a;\nselect *\n  from nope;\nselect 2;\n")
    assert.equal(3, status)
    assert.equal(" a\n---\n 1\n(1 row)\n", out)
    assert.equal('ladle: stdin:2: ERROR 42P01: relation "nope" does not exist (SQL line 2, column 8)\n', err)
    status, out, err = repl("select 1;\n\n  select 1/0;\n")
    assert.equal(3, status)
    assert.equal("ladle: stdin:3: ERROR 22012: division by zero\n", err)
  end)

  it("says what it did not find, runs files with \\i, takes \\sql and \\lua, stops at \\q", function()
    local sql_file = env.write(dir .. "/setup.sql", "create table bin (n int);\ninsert into bin values (7);\n")
    local lua_file = env.write(dir .. "/check.lua", "print('from lua', sql[[select n from bin]][1].n)\n")
    local status, out, err = repl(string.format([==[
\d no_such_thing
\i %s
\i %s
\sql
values (1);
\lua
#sql[[select 1 union select 2]]
\q
select 'not reached';
]==], sql_file, lua_file))
    assert.equal(0, status)
    assert.equal('Did not find any relation named "no_such_thing".\n', err)
    assert.equal("CREATE TABLE\nINSERT 0 1\nfrom lua\t7\nInput is SQL (\\lua switches back).\n"
      .. " column1\n---------\n       1\n(1 row)\nInput is Lua, or SQL when it starts with a SQL keyword.\n2\n", out)
  end)

  it("runs the backslash lines of a file run with \\i where they stand, as psql does", function()
    local file = env.write(dir .. "/mixed.sql", table.concat({
      "select 1 as one; \\echo hi there",
      "select 2 as two;",
      "\\echo 'in  quotes' ok",
      "create table cut",
      "\\echo -n 'cut: '",
      "  (n int);",
      "select",
      "\\r",
      "select 3 as three",
      "\\g",
      "\\x on",
      "select 4 as four;",
      "\\restrict nothing-to-see",
      "",
    }, "\n"))
    local status, out, err = repl(string.format("\\i %s\nselect 'after' as next;\n", file))
    assert.equal("", err)
    assert.equal(0, status)
    assert.equal(table.concat({
      " one\n-----\n   1\n(1 row)\n",
      "hi there\n",
      " two\n-----\n   2\n(1 row)\n",
      "in  quotes ok\n",
      "cut: CREATE TABLE\n",
      " three\n-------\n     3\n(1 row)\n",
      "Expanded display is on.\n",
      "-[ RECORD 1 ]\nfour | 4\n",
      "-[ RECORD 1 ]\nnext | after\n" }), out)
  end)

  it("loads pg_dump's output with \\i: \\restrict and \\unrestrict are ignored", function()
    local source, source_info = env.new_database("repl_dump_from")
    local target, target_info = env.new_database("repl_dump_to")
    local conn = env.connect(source)
    assert(conn:exec("create table dumped (id int primary key, label text); insert into dumped values (1, 'one'), (2, 'two')"))
    conn:close()
    local dump = dir .. "/dump.sql"
    assert.equal(0, (sys.spawn({ "pg_dump", "--inserts", "--no-owner", "-f", dump, source_info })))
    -- the dump empties search_path, in psql too
    local status, out, err = repl(string.format("\\i %s\nselect count(*) as n from public.dumped;\n", dump),
      { "-p", target_info })
    assert.equal("", err)
    assert.equal(0, status)
    assert.equal(" n\n---\n 2\n(1 row)\n", out:sub(-#" n\n---\n 2\n(1 row)\n"))
    assert.matches("\\restrict", env.read(dump), 1, true)
    conn = env.connect(target)
    assert.equal(2, conn:query("select count(*) as n from dumped")[1].n)
    conn:close()
    env.drop_database(source)
    env.drop_database(target)
  end)

  it("stops a file at a backslash line that cannot run, naming FILE:LINE, with a non-zero status", function()
    local file = env.write(dir .. "/stops.sql",
      "create table before_it (n int);\n\\frobnicate\ncreate table after_it (n int);\n")
    local status, out, err = repl(string.format("\\i %s\nselect 1;\n", file))
    assert.equal(2, status)
    assert.equal("CREATE TABLE\n", out)
    assert.equal("ladle: " .. file .. ":2: invalid command \\frobnicate (\\? lists the commands)\n", err)
    file = env.write(dir .. "/connect.sql",
      "create table before_c (n int);\n\\connect host=/nonexistent dbname=x\ncreate table after_c (n int);\n")
    status, out, err = repl(string.format("\\i %s\n", file))
    assert.equal(3, status)
    assert.equal("CREATE TABLE\n", out)
    assert.matches("^ladle: " .. file:gsub("%p", "%%%0") .. ":2: connect: connection to server on socket", err)
    local db = env.connect(dbname)
    assert.is_not_nil(db:query("select 1 from before_c"))
    assert.is_nil(db:query("select 1 from after_c"))
    db:close()
    -- COPY's data is not read from the file: the statement fails, and its lines are not run as SQL
    file = env.write(dir .. "/copy.sql", "create table copied (n int);\ncopy copied from stdin;\n1\n\\.\n")
    status, out, err = repl(string.format("\\i %s\n", file))
    assert.equal(3, status)
    assert.equal("CREATE TABLE\n", out)
    assert.matches("^ladle: " .. file:gsub("%p", "%%%0") .. ":2: ERROR.*COPY FROM STDIN is not supported", err)
    -- a statement that fails names its line in the file; \q in a file ends the run
    file = env.write(dir .. "/fails.sql", "select 1 as a;\n\nselect *\n  from nope;\n")
    status, _, err = repl(string.format("\\i %s\n", file))
    assert.equal(3, status)
    assert.equal("ladle: " .. file .. ':3: ERROR 42P01: relation "nope" does not exist (SQL line 2, column 8)\n', err)
    file = env.write(dir .. "/quits.sql", "\\echo bye\n\\q\n\\echo not reached\n")
    status, out = repl(string.format("\\i %s\nselect 'not reached';\n", file))
    assert.equal(0, status)
    assert.equal("bye\n", out)
  end)

  it("describes with + as \\d+, and a function as \\df+ shows it", function()
    local status, out, err = repl([==[
create table jar (id int primary key, lid text);
comment on column jar.lid is 'screwed on';
create function open_jar(n int) returns text language sql stable as $$ select 'open' $$;
describe("jar", "+")
describe "open_jar"
begin;
end;
]==])
    assert.equal("", err)
    assert.equal(0, status)
    assert.matches(" lid    | text    |           |          |         | extended |             |              | screwed on\n",
      out, 1, true)
    assert.matches("\nName                | open_jar\n", out, 1, true)
    assert.matches("\nVolatility          | stable\n", out, 1, true)
    assert.matches("\nBEGIN\nCOMMIT\n$", out)
  end)

  it("exits 2 for a backslash command it does not know", function()
    local status, _, err = repl("\\frobnicate\nselect 1;\n")
    assert.equal(2, status)
    assert.equal("ladle: invalid command \\frobnicate (\\? lists the commands)\n", err)
  end)

  it("tells where db is connected, and connects elsewhere with \\c", function()
    local status, out = repl(string.format("\\conninfo\n\\c %s\nselect current_database() as db;\n",
      env.conninfo("postgres")))
    assert.equal(0, status)
    assert.equal(string.format('You are connected to database "%s" as user "postgres" via socket in "%s" at port "5432".\n'
      .. 'You are now connected to database "postgres" as user "postgres".\n'
      .. "    db\n----------\n postgres\n(1 row)\n", dbname, env.cluster_dir), out)
  end)

  it("never asks for a password: the server's refusal ends the run with exit 3", function()
    local admin = env.connect()
    assert(admin:exec("drop role if exists ladle_pw; create role ladle_pw login password 'piped-secret-7'"))
    admin:close()
    local target = string.format("host=%s port=5432 user=ladle_pw dbname=%s", env.cluster_dir, dbname)
    local status, out, err = repl("select 1;\n", { "-p", target }, { PGPASSWORD = false, PGPASSFILE = dir .. "/no-such-pgpass" })
    assert.equal(3, status)
    assert.equal("", out)
    assert.matches("^ladle: cannot connect to .*fe_sendauth: no password supplied\n$", err)
    assert.not_matches("Password", err)
    -- with the password given, the same role connects
    status, out = repl("select current_user as who;\n", { "-p", target .. " password=piped-secret-7" })
    assert.equal(0, status)
    assert.matches("ladle_pw", out)
  end)

  it("is listed in ladle --help", function()
    local status, out = env.ladle({ "--help" })
    assert.equal(0, status)
    assert.matches("\n  repl +explore a database", out)
  end)

  it("exits 2 for an argument it does not take", function()
    local status, _, err = env.ladle({ "repl", "stray" })
    assert.equal(2, status)
    assert.equal("ladle: repl: unexpected argument 'stray' (see 'ladle repl --help')\n", err)
  end)

  it("exits 3 with one line when it cannot connect", function()
    local status, out, err = repl("print(1)\n", { "-p", "host=/nonexistent dbname=x password=hush-9" })
    assert.equal(3, status)
    assert.equal("", out)
    assert.matches('^ladle: cannot connect to dbname=x host=/nonexistent password=%*%*%*: connection to server on socket "/nonexistent/.*\n$', err)
    assert.not_matches("hush-9", err, 1, true)
    assert.not_matches("\n.", err)
  end)

  it("prints the server's notices as psql does", function()
    local status, out, err = repl("sql[[drop table if exists not_here]]\nsql[[select 1 as one]]\n", { "-p", "" })
    assert.equal(0, status, err)
    assert.equal('NOTICE:  table "not_here" does not exist, skipping\n', err)
    assert.matches("one", out)
  end)

  it("reads -p, -t and -d from a config file", function()
    local cfg = env.write(dir .. "/repl.yaml", string.format("pg_service: '%s'\nupgrades_table: app.upgrades\ndelta_dir: %s\n",
      conninfo, dir))
    local status, out, err = repl("print(db:info().dbname)\n", { "-c", cfg })
    assert.equal(0, status, err)
    assert.equal(dbname .. "\n", out)
  end)

  it("shows the runner's view with info() and pending()", function()
    local name, target = env.new_database("repl_info")
    local deltas = "examples/jobqueue/migrations"
    assert.equal(0, (env.ladle({ "upgrade", "-p", target, "-d", deltas, "--to", "0.2.0" })))
    local status, out, err = repl("pending()\ninfo()\n", { "-p", target, "-d", deltas })
    assert.equal(0, status, err)
    local pending = out:match("^pending %(current version: 0%.2%.0%)\n(.-%(4 rows%))\n")
    assert.is_not_nil(pending, out)
    assert.matches("0.3.0   | pre   | 00.03.00_02_pre_backfill_priority.lua", pending, 1, true)
    assert.not_matches("00.02.00", pending, 1, true)
    assert.matches("current version: 0.2.0\n", out, 1, true)
    assert.matches("| 00.01.00_01_create_jobs.sql%s+| below baseline", out)
    assert.matches("| baseline%-0%.2%.0%.sql%s+| applied", out)
    assert.matches("(11 rows)", out, 1, true)
    -- without -d the helpers say how to get one
    status, _, err = repl("pending()\n", { "-p", target })
    assert.equal(3, status)
    assert.matches("start ladle repl with %-d DIR", err)
    env.drop_database(name)
  end)

  it("shows the deltas of every folder given with -d A B, with the options ladle info takes", function()
    local name, target = env.new_database("repl_dirs")
    local a = env.tmpdir()
    local b = env.tmpdir()
    env.write(a .. "/1.0.0_01_first.sql", "create table first (n int);\n")
    env.write(b .. "/1.1.0_01_second.sql", "create table second (n int, srid int default %(SRID)s);\n")
    local status, out, err = repl("pending()\n\\info\n", { "-p", target, "-d", a, b,
      "-v", "int", "SRID", "2056", "--unmarked-phase", "pre", "--on-changed", "warn" })
    assert.equal("", err)
    assert.equal(0, status)
    local pending = out:match("^pending %(current version: none%)\n(.-%(2 rows%))\n")
    assert.is_not_nil(pending, out)
    assert.matches(" folder +| version | phase | +file", pending)
    assert.matches(" " .. a:gsub("%p", "%%%0") .. " +| 1%.0%.0 +| pre +| 1%.0%.0_01_first%.sql", pending)
    assert.matches(" " .. b:gsub("%p", "%%%0") .. " +| 1%.1%.0 +| pre +| 1%.1%.0_01_second%.sql", pending)
    assert.matches("current version: none\n +folder +| version", out)
    -- the same from a config file's delta_dirs
    local cfg = env.write(a .. "/../repl_dirs.yaml", string.format("pg_service: '%s'\ndelta_dirs: ['%s', '%s']\n", target, a, b))
    status, out, err = repl("#pending()\n", { "-c", cfg })
    assert.equal("", err)
    assert.equal(0, status)
    assert.equal("2\n", out)
    env.drop_database(name)
  end)

  it("takes a snapshot and diffs db against another database", function()
    local a, a_info = env.new_database("repl_diff_a")
    local b, b_info = env.new_database("repl_diff_b")
    local conn = env.connect(b)
    assert(conn:exec("CREATE TABLE gadget (id int PRIMARY KEY, label text)"))
    conn:close()
    local status, out, err = repl(string.format(
      "print(snapshot().tables['public.gadget'] == nil)\nprint(diff(%q))\nprint(diff(db))\n", b_info),
      { "-p", a_info })
    assert.equal(0, status, err)
    assert.matches("^true\n", out)
    assert.matches("CREATE TABLE public.gadget", out, 1, true)
    assert.matches("%-%- no differences\n$", out)
    env.drop_database(a)
    env.drop_database(b)
  end)

  it("compares and diffs db with another database with \\check and \\diff, and shows \\pending", function()
    local a, a_info = env.new_database("repl_check_a")
    local b, b_info = env.new_database("repl_check_b")
    local conn = env.connect(b)
    assert(conn:exec("CREATE TABLE gadget (id int PRIMARY KEY, label text)"))
    conn:close()
    local deltas = "examples/jobqueue/migrations"
    local status, out, err = repl(string.format("\\check %s\n\\diff %s\n\\check %s\n\\pending\n",
      b_info, b_info, a_info), { "-p", a_info, "-d", deltas })
    assert.equal(0, status, err)
    assert.matches("^%+ tables +public%.gadget", out)
    assert.matches("\nCREATE TABLE public.gadget", out, 1, true)
    assert.matches("\nno differences\npending %(current version: none%)\n", out)
    assert.matches(" 0.2.0   | install | baseline%-0%.2%.0%.sql", out)
    status, _, err = repl("\\check\n", { "-p", a_info })
    assert.equal(2, status)
    assert.equal("ladle: \\check: which database? (\\check SERVICE|CONNINFO)\n", err)
    env.drop_database(a)
    env.drop_database(b)
  end)

  it("ends with 128 + the signal on SIGTERM while waiting for input", function()
    local fifo = dir .. "/fifo"
    assert.equal(0, (sys.spawn({ "mkfifo", fifo })))
    local out = dir .. "/sigterm.out"
    -- opened read-write, a FIFO does not wait for the other side
    local writer = assert(io.open(fifo, "r+"))
    local pid = assert(sys.spawn({ env.exe, "repl" },
      { wait = false, stdin = { path = fifo }, stdout = { path = out }, stderr = { path = out } }))
    writer:write("print('ready')\n")
    writer:flush()
    for _ = 1, 500 do
      if env.read(out) == "ready\n" then break end
      sys.sleep(0.01)
    end
    assert.equal("ready\n", env.read(out))
    sys.kill(pid, sys.signals.TERM)
    assert.equal(128 + sys.signals.TERM, (sys.wait(pid)))
    writer:close()
  end)

  it("says clearly when a helper is not in this build, or needs -d", function()
    local status, _, err = repl("pending()\n")
    assert.equal(3, status)
    assert.matches("^ladle: pending: ", err)
    assert.not_matches("traceback", err)
  end)
end)
