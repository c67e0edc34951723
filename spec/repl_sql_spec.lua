-- SQL at the REPL's prompt, the parts that need no terminal: which input
-- is SQL, where statements end, the names a statement binds, psql's
-- patterns, the \timing line, expanded display, and completion of SQL.

local env = require "support.env"
local sql = require "ladle.repl.sql"
local query = require "ladle.repl.query"
local format = require "ladle.repl.format"
local complete = require "ladle.repl.complete"

describe("SQL at the REPL", function()
  describe("is_sql", function()
    local scope = setmetatable({ values = { 1, 2 } }, { __index = _G })

    it("takes a line that starts with a SQL keyword for SQL, in any case", function()
      for _, line in ipairs({ "select 1 as one, 'x' as two;", "SELECT *", "  insert into t values (1)",
        "create table t (n int);", "begin;", "BEGIN", "commit", "with x as (select 1) select * from x;",
        "explain analyze select 1", "show search_path;", "set search_path = app;", "update t set n = 2",
        "delete from t;", "copy t to stdout;", "vacuum;", "table orders;", "table orders",
        "select * from t", "select 'x' as y", "do $$ begin end $$;", "DO language plpgsql $$ $$",
        "select", "update", "values (1), (2);", "grant select on t to app;", "end;", "END TRANSACTION;" }) do
        assert.is_true(sql.is_sql(line, _G), line)
      end
    end)

    it("leaves Lua alone: library names, calls, assignments, fields, do blocks", function()
      for _, line in ipairs({ "table.concat({1, 2}, ',')", "table", "select('#', 1, 2)", "select(2, 'a', 'b')",
        "update = true", "set = {}", "begin = 1", "x = 1", "1 + 1", "do local x = 1 end", "do",
        "print(select('#'))", "insert{1}", "table or {}", "values", "values and 1",
        "reset.x", "show:method()", "sql[[select 1]]", "describe 'x'", "commit, x = 1, 2" }) do
        assert.is_false(sql.is_sql(line, scope), line)
      end
      -- a global named like a keyword is Lua unless SQL follows
      assert.is_false(sql.is_sql("values", scope))
      assert.is_true(sql.is_sql("values (1, 'a'), (2, 'b');", scope))
    end)
  end)

  describe("scan", function()
    it("ends statements at semicolons outside quotes, comments, dollar quotes and parentheses", function()
      local s = sql.scan("select 1; select ';' as a, \"x;y\" from t -- ; not here\n where e = E'\\';';")
      assert.is_true(s.complete)
      assert.equal(2, #s.statements)
      assert.equal("select 1;", s.statements[1].text)
      assert.matches("^select ';' as a", s.statements[2].text)
      s = sql.scan("create function f() returns int language sql as $fn$ select 1; $fn$;")
      assert.is_true(s.complete)
      assert.equal(1, #s.statements)
      s = sql.scan("select $1, $$a;b$$, $tag$ c; $tag$;")
      assert.equal(1, #s.statements)
      s = sql.scan("select /* a /* nested ; */ still ; */ 1;")
      assert.equal(1, #s.statements)
      s = sql.scan("create rule r as on insert to t do instead (insert into u values (1); insert into u values (2));")
      assert.equal(1, #s.statements)
    end)

    it("says a statement goes on when no semicolon ends it, or a quote or comment is open", function()
      for _, text in ipairs({ "select 1", "select 1,\n  2", "select 'open;", "select $$ x;", "select 1; select",
        "select 1; /* open" }) do
        assert.is_false(sql.scan(text).complete, text)
      end
      assert.is_true(sql.scan("select 1; -- done").complete)
      local s = sql.scan("select 1; select 2")
      assert.equal("select 2", s.rest)
    end)

    it("stops at a backslash command, as psql does", function()
      local s = sql.scan("select 1 as one \\gx")
      assert.equal("gx", s.meta)
      assert.equal("select 1 as one ", ("select 1 as one \\gx"):sub(1, s.meta_at - 1))
      assert.is_nil(sql.scan("select '\\x' as backslash;").meta)
    end)
  end)

  describe("bindings", function()
    it("finds the relations a statement names, by alias and by name", function()
      local b = sql.bindings("select l. from app.orders as o, \"Odd\" x join lines l on l.order_id = o.id where")
      assert.equal("app.orders", b.o)
      assert.equal("app.orders", b.orders)
      assert.equal("lines", b.l)
      assert.equal('"Odd"', b.x)
      assert.is_nil(b.where)
      b = sql.bindings("update stock s set n = 1 where s.")
      assert.equal("stock", b.s)
      b = sql.bindings("select * from a where x in (select 1 from b as bb) and ")
      assert.equal("b", b.bb)
      assert.equal("a", b.a)
    end)
  end)

  describe("pattern", function()
    it("reads PATTERN as psql does", function()
      assert.same({ nil, "^(orders)$" }, { query.pattern("Orders") })
      assert.same({ nil, "^(Orders)$" }, { query.pattern('"Orders"') })
      assert.same({ "^(app)$", "^(ord.*)$" }, { query.pattern("app.ord*") })
      assert.same({ "^(app)$", nil }, { query.pattern("app.") })
      assert.same({ nil, "^(a.c)$" }, { query.pattern("a?c") })
      assert.same({ nil, "^(a\\.b\\$)$" }, { query.pattern('"a.b$"') })
      assert.same({ nil, "^(x\\$)$" }, { query.pattern("x$") })
      assert.same({ "^(s)$", "^(t)$" }, { query.pattern("db.s.t") })
      assert.same({ nil, nil }, { query.pattern(nil) })
    end)
  end)

  it("prints \\timing lines as psql does", function()
    assert.equal("Time: 0.028 ms", sql.timing_text(0.000028))
    assert.equal("Time: 1234.500 ms (00:01.234)", sql.timing_text(1.2345))
    assert.equal("Time: 3723000.000 ms (01:02:03.000)", sql.timing_text(3723))
    assert.equal("Time: 90000000.000 ms (1 d 01:00:00.000)", sql.timing_text(90000))
  end)

  describe("expanded display", function()
    local rows = { { one = 1, two = "a much longer value here", four = "multi\nline" }, fields = { "one", "two",
      "three", "four" } }

    it("shows one block per record as psql's \\x does", function()
      assert.equal(table.concat({
        "-[ RECORD 1 ]-------------------",
        "one   | 1",
        "two   | a much longer value here",
        "three |",
        "four  | multi                   +",
        "      | line",
        "" }, "\n"), format.grid(rows, nil, { expanded = true, null = "" }))
      local wide = { { a_very_long_column_name = 1, b = 2 }, { a_very_long_column_name = 3, b = 4 },
        fields = { "a_very_long_column_name", "b" } }
      assert.equal(table.concat({
        "-[ RECORD 1 ]-----------+--", "a_very_long_column_name | 1", "b                       | 2",
        "-[ RECORD 2 ]-----------+--", "a_very_long_column_name | 3", "b                       | 4", "" }, "\n"),
        format.grid(wide, nil, { expanded = true }))
      assert.equal("(0 rows)\n", format.grid({ fields = { "x" } }, nil, { expanded = true }))
      assert.equal("INSERT 0 1\n", format.grid({ fields = {}, command = "INSERT 0 1" }, nil, { expanded = true }))
    end)

    it("switches to it when the grid is wider than the screen, with auto", function()
      assert.matches("^ one |", format.grid(rows, nil, { expanded = "auto", width = 80 }))
      assert.matches("^%-%[ RECORD 1 %]", format.grid(rows, nil, { expanded = "auto", width = 40 }))
      assert.matches("^ one |", format.grid(rows, nil, { expanded = "auto" }))
    end)

    it("centres titles over the grid as psql's lists do", function()
      assert.equal(" List\n a | b\n---+---\n(0 rows)\n",
        format.grid({ fields = { "a", "b" } }, nil, { title = "List", centre_title = true }))
    end)
  end)

  describe("completion", function()
    local dbname, db
    local scope = setmetatable({}, { __index = _G })
    setup(function()
      dbname = env.new_database("repl_sql")
      db = env.connect(dbname)
      assert(db:exec([[
        create table orders (id int primary key, placed date, total numeric);
        create table order_lines (order_id int, line int, product text);
        create view order_totals as select id, total from orders;
        create schema app;
        create table app.customers (id int, name text);
      ]]))
      scope.db = db
    end)
    teardown(function()
      db:close()
      env.drop_database(dbname)
    end)

    -- as readline calls it: the word is what follows the last break
    -- character before the cursor (at the end, or where "|" is)
    local function candidates(line, session)
      local cursor = line:find("|", 1, true)
      if cursor then line = line:sub(1, cursor - 1) .. line:sub(cursor + 1) else cursor = #line + 1 end
      local before = line:sub(1, cursor - 1)
      local start = #before - #before:match("[%w_\\]*$")
      return complete.complete(scope, line, start, cursor - 1, session)
    end

    it("offers SQL keywords at the start, in the case typed", function()
      local list = candidates("sel")
      assert.is_truthy(list and #list > 0)
      assert.same({ "select" }, list)
      assert.same({ "SELECT" }, (candidates("SEL")))
      assert.same({ "create" }, (candidates("cre", { language = "sql" })))
    end)

    it("offers tables, views and schemas after FROM, JOIN, INTO, UPDATE, TABLE", function()
      assert.same({ "order_lines", "order_totals", "orders" }, (candidates("select * from ord")))
      assert.same({ "order_lines", "order_totals", "orders" }, (candidates("SELECT * FROM o JOIN ord")))
      assert.same({ "order_totals" }, (candidates("insert into order_t")))
      assert.same({ "app." }, (candidates("update ap")))
      assert.same({ "order_lines" }, (candidates("select * from orders, order_l")))
      assert.same({ "customers" }, (candidates("table app.cu")))
    end)

    it("offers the columns of an alias bound in the statement, or of a table", function()
      assert.same({ "order_id", "line", "product" }, (candidates("select l.| from order_lines l")))
      -- the cursor in the middle: what follows it is not known, the statement so far is
      assert.same({ "order_id" }, (candidates("select o.id, l.ord| from orders o join order_lines as l on true")))
      assert.same({ "id", "placed", "total" }, (candidates("select orders.")))
      assert.same({ "name" }, (candidates("select c.na| from app.customers c")))
      -- earlier lines of the statement count
      local session = { partial = "select l.product\n  from order_lines l", partial_language = "sql" }
      assert.same({ "line" }, (candidates(" where l.li", session)))
    end)

    it("offers relations after \\d, commands after \\, and file names after \\i", function()
      assert.same({ "orders", "orders_pkey" }, (candidates("\\d orders")))
      assert.same({ "orders" }, (candidates("\\dt+ orders")))
      assert.same({ "\\timing" }, (candidates("\\tim")))
      assert.is_nil(candidates("\\i spec/repl"))
      -- so that readline takes the whole path as the word
      assert.equal(" \t\n", complete.word_breaks("\\i spec/rep"))
      assert.equal("\"'", complete.word_breaks('dofile "spec/rep'))
      assert.is_nil(complete.word_breaks('describe "ord'))
      assert.is_nil(complete.word_breaks("select * from ord"))
    end)
  end)
end)
