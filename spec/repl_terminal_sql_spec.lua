-- `ladle repl` at a terminal, used the way a psql user uses psql: SQL and
-- backslash commands typed through a pseudo-terminal (support.terminal),
-- SQL completion with Tab, the password prompt, \e with an editor.

local env = require "support.env"
local terminal = require "support.terminal"
local sys = require "ladle.sys"

local keys = terminal.keys

describe("ladle repl at a terminal, for psql users", function()
  local dbname, conninfo, home, prompt, admin
  setup(function()
    dbname, conninfo = env.new_database("repl_psql")
    prompt = dbname .. "> "
    home = env.tmpdir()
    admin = env.connect(dbname)
    assert(admin:exec([[
      create table t (id int primary key, name text not null, weight numeric);
      create index t_name_idx on t (name);
      comment on column t.name is 'what it is called';
      create sequence seq start 10 increment 5;
      create function double_it(n int) returns int language sql immutable as 'select n * 2';
      insert into t values (1, 'bolt', 2.5);
    ]]))
  end)
  teardown(function()
    admin:close()
    env.drop_database(dbname)
  end)

  local function open(vars, args)
    local all = { HOME = home }
    for k, v in pairs(vars or {}) do all[k] = v end
    local t = terminal.open(args or { "repl", "-p", conninfo }, { env = all })
    t:expect(prompt)
    return t
  end

  local function quit(t)
    t:line("\\q")
    local status = t:wait(10)
    t:close()
    return status
  end

  it("runs a SELECT, a two-line SELECT, an INSERT, and Lua, and quits with \\q", function()
    local t = open()
    t:line("select 1 as one, 'x' as two;")
    assert.equal("select 1 as one, 'x' as two;\n one | two\n-----+-----\n   1 | x\n(1 row)\n" .. prompt,
      t:expect(prompt))
    t:line("select id, name")
    t:expect(dbname .. ">> ")
    t:line("  from t order by id;")
    t:expect("  from t order by id;\n id | name\n----+------\n  1 | bolt\n(1 row)\n" .. prompt)
    t:line("insert into t values (2, 'nut', null);")
    t:expect("insert into t values (2, 'nut', null);\nINSERT 0 1\n" .. prompt)
    t:line("1+1")
    t:expect("1+1\n2\n" .. prompt)
    assert.equal(0, quit(t))
    assert.equal(2, admin:query("select count(*) as n from t")[1].n)
  end)

  it("lists and describes with \\dt, \\d t, \\d+ t, \\d seq and \\df", function()
    local t = open()
    t:line("\\dt")
    t:expect([[
        List of relations
 Schema | Name | Type  |  Owner
--------+------+-------+----------
 public | t    | table | postgres
(1 row)
]] .. prompt)
    t:line("\\d t")
    t:expect([[
                 Table "public.t"
 Column |  Type   | Collation | Nullable | Default
--------+---------+-----------+----------+---------
 id     | integer |           | not null |
 name   | text    |           | not null |
 weight | numeric |           |          |
Indexes:
    "t_pkey" PRIMARY KEY, btree (id)
    "t_name_idx" btree (name)
]] .. prompt)
    t:line("\\d+ t")
    local shown = t:expect(prompt)
    assert.matches(" Column |  Type   | Collation | Nullable | Default | Storage  | Compression | Stats target |    Description\n",
      shown, 1, true)
    assert.matches(" name   | text    |           | not null |         | extended |             |              | what it is called\n",
      shown, 1, true)
    assert.matches("\nAccess method: heap\n", shown, 1, true)
    t:line("\\d seq")
    t:expect([[
                            Sequence "public.seq"
  Type  | Start | Minimum |       Maximum       | Increment | Cycles? | Cache
--------+-------+---------+---------------------+-----------+---------+-------
 bigint |    10 |       1 | 9223372036854775807 |         5 | no      |     1
]] .. prompt)
    t:line("\\df")
    t:expect([[
                         List of functions
 Schema |   Name    | Result data type | Argument data types | Type
--------+-----------+------------------+---------------------+------
 public | double_it | integer          | n integer           | func
(1 row)
]] .. prompt)
    assert.equal(0, quit(t))
  end)

  it("shows records expanded with \\x, and times statements with \\timing", function()
    local t = open()
    t:line("\\x")
    t:expect("Expanded display is on.\n" .. prompt)
    t:line("select id, name from t where id = 1;")
    t:expect("-[ RECORD 1 ]\nid   | 1\nname | bolt\n" .. prompt)
    t:line("\\x off")
    t:expect("Expanded display is off.\n" .. prompt)
    t:line("\\timing")
    t:expect("Timing is on.\n" .. prompt)
    t:line("select pg_sleep(0.05) as nap;")
    local shown = t:expect(prompt)
    local ms = tonumber(shown:match("\nTime: (%d+%.%d%d%d) ms\n"))
    assert.is_not_nil(ms, shown)
    assert.is_true(ms >= 50, shown)
    assert.equal(0, quit(t))
  end)

  it("completes table names after FROM and column names after an alias", function()
    local t = open()
    t:send("select * from t" .. keys.tab)
    t:expect("select * from t ")
    t:send("w where w.wei" .. keys.tab)
    t:expect("w where w.weight ")
    t:send("> 100;" .. keys.enter)
    t:expect("(0 rows)\n" .. prompt)
    t:send("SEL" .. keys.tab)
    t:expect("SELECT ")
    t:send("n" .. keys.tab)
    t:send(keys.ctrl_c)
    t:expect(prompt)
    t:send("select * from seq s where s." .. keys.tab .. keys.tab)
    t:expect("is_called")
    t:send(keys.ctrl_c)
    t:expect(prompt)
    assert.equal(0, quit(t))
  end)

  it("leaves the half-typed line on screen with ^C after it, and a fresh prompt under it", function()
    local t = open()
    t:send("select from")
    t:expect("select from")
    t:send(keys.ctrl_c)
    t:expect("^C\n" .. prompt)
    local screen = terminal.screen(t.raw)
    local found = false
    for _, line in ipairs(screen) do
      if line == prompt .. "select from^C" then found = true end
    end
    assert.is_true(found, table.concat(screen, "\n"))
    assert.equal(0, quit(t))
  end)

  it("edits the last input with \\e and runs what the editor left", function()
    local t = open({ EDITOR = "sed -i s/41/42/" })
    t:line("select 41 as answer;")
    t:expect("(1 row)\n" .. prompt)
    t:line("\\e")
    t:expect(" answer\n--------\n     42\n(1 row)\n" .. prompt)
    assert.equal(0, quit(t))
  end)

  describe("when the server asks for a password", function()
    local target
    setup(function()
      local cluster_admin = env.connect()
      assert(cluster_admin:exec([[
        drop role if exists ladle_pw;
        create role ladle_pw login password 'tty-secret-42'
      ]]))
      assert(cluster_admin:exec("grant all on database " .. cluster_admin:escape_identifier(dbname) .. " to ladle_pw"))
      cluster_admin:close()
      target = string.format("host=%s port=5432 user=ladle_pw dbname=%s", env.cluster_dir, dbname)
    end)

    local function no_password()
      return { PGPASSWORD = false, PGPASSFILE = home .. "/no-such-pgpass", LADLE_HISTORY = home .. "/pw_history" }
    end

    it("asks for it with echo off, as psql does, and connects", function()
      local t = terminal.open({ "repl", "-p", target }, { env = no_password() })
      t:expect("Password for user ladle_pw: ")
      sys.sleep(0.1)
      t:send("tty-secret-42" .. keys.enter)
      t:expect(prompt)
      t:line("select current_user as who;")
      t:expect(" ladle_pw\n(1 row)\n" .. prompt)
      assert.not_matches("tty-secret-42", t.raw, 1, true)
      assert.equal(0, quit(t))
      assert.not_matches("tty-secret-42", env.read(home .. "/pw_history") or "", 1, true)
    end)

    it("tries once: a wrong password fails with the server's message and exit 3", function()
      local t = terminal.open({ "repl", "-p", target }, { env = no_password() })
      t:expect("Password for user ladle_pw: ")
      sys.sleep(0.1)
      t:send("not-it" .. keys.enter)
      t:expect('password authentication failed for user "ladle_pw"')
      assert.equal(3, t:wait(10))
      t:close()
    end)

    it("asks again for \\c to a database that wants one", function()
      local t = open(no_password())
      t:line("\\c " .. target)
      t:expect("Password for user ladle_pw: ")
      sys.sleep(0.1)
      t:send("tty-secret-42" .. keys.enter)
      t:expect('You are now connected to database "' .. dbname .. '" as user "ladle_pw".\n' .. prompt)
      assert.not_matches("tty-secret-42", t.raw, 1, true)
      assert.equal(0, quit(t))
    end)
  end)
end)
