-- `ladle repl` at a terminal: driven through a pseudo-terminal the way a
-- person types at it (support.terminal), with Tab, Ctrl-C and Ctrl-D as the
-- keys they are.

local env = require "support.env"
local terminal = require "support.terminal"
local sys = require "ladle.sys"

local keys = terminal.keys

describe("ladle repl at a terminal", function()
  local dbname, conninfo, home, prompt, admin
  setup(function()
    dbname, conninfo = env.new_database("repl_term")
    prompt = dbname .. "> "
    home = env.tmpdir()
    admin = env.connect(dbname)
    assert(admin:exec([[
      create table widget (
        id int primary key,
        name text not null default 'unnamed',
        weight numeric check (weight > 0)
      );
      create index widget_name_idx on widget (name);
      create function widget_touch() returns trigger language plpgsql as $$ begin return new; end $$;
      create trigger widget_touch before update on widget for each row execute function widget_touch();
      insert into widget values (1, 'bolt', 2.5), (2, 'nut', null);
    ]]))
  end)
  teardown(function()
    admin:close()
    env.drop_database(dbname)
  end)

  local function open(vars, opts)
    opts = opts or {}
    local all = { HOME = home }
    for k, v in pairs(vars or {}) do all[k] = v end
    opts.env = all
    local t = terminal.open({ "repl", "-p", conninfo }, opts)
    t:expect(prompt)
    return t
  end

  -- Ctrl-D at the prompt: the REPL ends with status 0.
  local function quit(t)
    t:send(keys.ctrl_d)
    local status = t:wait(10)
    t:close()
    return status
  end

  it("greets with the database name in the prompt, prints an expression, exits 0 on Ctrl-D", function()
    local t = terminal.open({ "repl", "-p", conninfo }, { env = { HOME = home } })
    t:expect("connected to " .. dbname .. " as postgres")
    t:expect("help() lists the helpers; Ctrl-D quits.\n" .. prompt)
    t:line("1 + 1")
    assert.equal("1 + 1\n2\n" .. prompt, t:expect(prompt))
    assert.equal(0, quit(t))
  end)

  it("connects to libpq's defaults without -p, or says it cannot and starts without db", function()
    local t = terminal.open({ "repl" }, { env = { HOME = home, PGDATABASE = dbname } })
    t:expect("connected to " .. dbname .. " as postgres")
    t:expect(prompt)
    t:line("select count(*) as n from widget;")
    t:expect(" n\n---\n 2\n(1 row)\n" .. prompt)
    assert.equal(0, quit(t))
    t = terminal.open({ "repl" }, { env = { HOME = home, PGHOST = "/nonexistent" } })
    t:expect('ladle: cannot connect to the default database (PG* variables): connection to server on socket "/nonexistent/')
    t:expect("ladle: starting without db; connect(target) or \\c TARGET connects it\n")
    t:expect("help() lists the helpers; Ctrl-D quits.\nladle> ")
    t:line("db")
    t:expect("db\nnil\nladle> ")
    t:line("\\c " .. conninfo)
    t:expect(prompt)
    assert.equal(0, quit(t))
  end)

  it("prints a query result as a table with a visible NULL", function()
    local t = open()
    t:line("sql[[select id, name, weight from widget order by id]]")
    t:expect("\n id | name | weight\n----+------+--------\n  1 | bolt |    2.5\n  2 | nut  | (null)\n(2 rows)\n"
      .. prompt)
    t:line("db:query('select 42 as answer')")
    t:expect(" answer\n--------\n     42\n(1 row)\n" .. prompt)
    assert.equal(0, quit(t))
  end)

  it("continues an unfinished chunk on a continuation prompt", function()
    local t = open()
    t:line("total = 0")
    t:expect(prompt)
    t:line("for i = 1, 4 do")
    t:expect(dbname .. ">> ")
    t:line("  total = total + i")
    t:expect(dbname .. ">> ")
    t:line("end")
    t:expect(prompt)
    t:line("total")
    t:expect("\n10\n" .. prompt)
    assert.equal(0, quit(t))
  end)

  it("completes db:que to db:query with Tab", function()
    local t = open()
    t:send("db:que" .. keys.tab)
    t:expect("db:query")
    t:line("('select 7 as seven')")
    t:expect("('select 7 as seven')\n seven\n-------\n     7\n(1 row)\n" .. prompt)
    assert.equal(0, quit(t))
  end)

  it("completes table names inside describe \", and describes columns, index, constraint, trigger", function()
    local t = open()
    t:send('describe "wid' .. keys.tab)
    t:expect('describe "widget"')
    t:send(keys.enter)
    local shown = t:expect(prompt)
    assert.matches([[
Table "public.widget"
 Column |  Type   | Collation | Nullable |     Default
--------+---------+-----------+----------+-----------------
 id     | integer |           | not null |
 name   | text    |           | not null | 'unnamed'::text
 weight | numeric |           |          |
Indexes:
    "widget_pkey" PRIMARY KEY, btree (id)
    "widget_name_idx" btree (name)
Check constraints:
    "widget_weight_check" CHECK (weight > 0::numeric)
Triggers:
    widget_touch BEFORE UPDATE ON widget FOR EACH ROW EXECUTE FUNCTION widget_touch()
]], shown, 1, true)
    assert.equal(0, quit(t))
  end)

  it("clears the line on Ctrl-C at the prompt, and drops an unfinished chunk", function()
    local t = open()
    t:send("error('must not run')")
    t:expect("error('must not run')")
    t:send(keys.ctrl_c)
    t:expect("^C\n" .. prompt)
    t:line("x = {")
    t:expect(dbname .. ">> ")
    t:send(keys.ctrl_c)
    t:expect("^C\n" .. prompt)
    t:line("'fresh line'")
    local shown = t:expect(prompt)
    assert.equal("'fresh line'\nfresh line\n" .. prompt, shown)
    assert.equal(0, quit(t))
  end)

  it("cancels a running query on Ctrl-C within a second, and the connection stays usable", function()
    local t = open()
    t:line("sql[[select pg_sleep(30) as repl_cancel_me]]")
    t:expect("repl_cancel_me]]\n")
    local running = [[select count(*) as n from pg_catalog.pg_stat_activity
      where state = 'active' and query like '%repl_cancel_me%' and pid <> pg_backend_pid()]]
    local seen = false
    for _ = 1, 250 do
      if assert(admin:query(running))[1].n > 0 then seen = true break end
      sys.sleep(0.02)
    end
    assert.is_true(seen, "the query never showed up in pg_stat_activity")
    local started = sys.now()
    t:send(keys.ctrl_c)
    t:expect("interrupted\n" .. prompt)
    local elapsed = sys.now() - started
    assert.is_true(elapsed < 1, string.format("back at the prompt after %.3f s", elapsed))
    assert.equal(0, assert(admin:query(running))[1].n)
    t:line("sql[[select 'still here' as status]], db:transaction_status()")
    t:expect("  status\n------------\n still here\n(1 row)\nidle\n" .. prompt)
    -- an interruption that was handled does not become the exit status
    assert.equal(0, quit(t))
  end)

  it("interrupts a busy Lua loop and carries on", function()
    local t = open()
    t:line("while true do end")
    t:expect("while true do end\n")
    sys.sleep(0.2)
    t:send(keys.ctrl_c)
    t:expect("interrupted\n" .. prompt)
    t:line("'alive'")
    t:expect("\nalive\n" .. prompt)
    assert.equal(0, quit(t))
  end)

  it("ends with 128 + the signal on SIGTERM, at the prompt or while busy", function()
    local t = open()
    t.pty:kill(sys.signals.TERM)
    assert.equal(128 + sys.signals.TERM, t:wait(10))
    t:close()
    t = open()
    t:line("while true do end")
    t:expect("while true do end\n")
    sys.sleep(0.2)
    t.pty:kill(sys.signals.TERM)
    assert.equal(128 + sys.signals.TERM, t:wait(10))
    t:close()
  end)

  it("shows SQL errors with the position marked, and the prompt comes back", function()
    local t = open()
    t:line("sql[[select name, nope from widget]]")
    local shown = t:expect(prompt)
    assert.matches('\nERROR 42703: column "nope" does not exist\nLINE 1: select name, nope from widget\n'
      .. "                     ^\n"
      .. 'HINT:  Perhaps you meant to reference the column "widget.name".\n' .. prompt .. "$", shown)
    t:line("error('plain')")
    t:expect("\nstdin:1: plain\n" .. prompt)
    t:line("traceback()")
    t:expect("traceback()\nstdin:1: plain\nstack traceback:\n")
    t:expect(prompt)
    assert.equal(0, quit(t))
  end)

  it("keeps history in $HOME/.ladle_history, multi-line chunks whole", function()
    local dir = env.tmpdir()
    local t = open({ HOME = dir })
    t:line("'history one'")
    t:expect("\nhistory one\n" .. prompt)
    t:line("#{")
    t:expect(dbname .. ">> ")
    t:line("  'a', 'b' }")
    t:expect("\n2\n" .. prompt)
    t:line(" hidden = 'not kept'")   -- a leading space keeps a chunk out of the history
    t:expect(prompt)
    assert.equal(0, quit(t))
    local file = env.read(dir .. "/.ladle_history")
    assert.matches("'history one'\n#%d+\n#{\n  'a', 'b' }\n$", file)
    assert.not_matches("hidden", file)
    assert.equal(tonumber("600", 8), sys.stat(dir .. "/.ladle_history").mode & tonumber("777", 8))

    t = open({ HOME = dir })
    t:send(keys.up)
    t:expect("  'a', 'b' }")
    t:send(keys.enter)
    t:expect("\n2\n" .. prompt)
    t:send(keys.up .. keys.up .. keys.enter)
    t:expect("\nhistory one\n" .. prompt)
    assert.equal(0, quit(t))
  end)

  it("colours at a terminal, and not with NO_COLOR", function()
    local t = open({}, { colour = true })
    t:line("sql[[select null as x]]")
    t:expect(prompt)
    assert.matches("\27[2m(null)\27[0m", t.raw, 1, true)
    assert.equal(0, quit(t))
    t = open()
    t:line("sql[[select null as x]]")
    t:expect(prompt)
    assert.not_matches("\27%[%d*;?%d*m", t.raw)
    assert.equal(0, quit(t))
  end)

  it("pages long results through $PAGER, or cuts them to the screen with a note", function()
    local t = open({ PAGER = "sed s/^/paged:/" })
    t:line("sql[[select g from generate_series(1, 40) g]]")
    t:expect("paged: g\npaged:----\npaged:  1\n")
    t:expect("paged: 40\npaged:(40 rows)\n" .. prompt)
    t:line("settings.pager = false")
    t:expect(prompt)
    t:line("sql[[select g from generate_series(1, 40) g]]")
    local shown = t:expect(prompt)
    assert.matches("\n 20\n%.%.%. %(21 more lines; set PAGER to page long results%)\n", shown)
    assert.not_matches(" 21\n", shown)
    assert.equal(0, quit(t))
  end)
end)
