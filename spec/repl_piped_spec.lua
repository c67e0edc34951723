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

  it("runs without a connection, and lists its helpers", function()
    local status, out = repl("help()\ndb\n", {})
    assert.equal(0, status)
    assert.matches("^Helpers:\n", out)
    for _, helper in ipairs({ "sql%[%[", "tables%(", "describe \"", "info%(", "pending%(", "snapshot%(",
      "diff%(", "connect%(" }) do
      assert.matches("\n  " .. helper, out)
    end
    assert.matches("\nnil\n$", out)
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
