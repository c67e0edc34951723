-- ladle.repl.format: grids, Lua values and SQL errors as the REPL shows them.

local format = require "ladle.repl.format"
local null = require("ladle").null

describe("ladle.repl.format", function()
  describe("grid", function()
    it("aligns columns as psql does, numbers to the right, with a visible NULL", function()
      local rows = { { id = 1, name = "apple", price = "1.50" }, { id = 22, name = "pear" },
        fields = { "id", "name", "price" } }
      assert.equal(table.concat({
        " id | name  | price",
        "----+-------+--------",
        "  1 | apple |   1.50",
        " 22 | pear  | (null)",
        "(2 rows)",
        "" }, "\n"), format.grid(rows))
    end)

    it("says 1 row, 0 rows, or the command tag of a result without columns", function()
      assert.matches("\n%(1 row%)\n$", format.grid({ { x = 1 }, fields = { "x" } }))
      assert.equal(" x\n---\n(0 rows)\n", format.grid({ fields = { "x" } }))
      assert.equal("CREATE TABLE\n", format.grid({ fields = {}, command = "CREATE TABLE" }))
    end)

    it("shows arrays in PostgreSQL's text form, NULL elements included", function()
      local out = format.grid({ { a = { 1, null, 3 }, b = { "x y", "NULL", "" }, c = { { 1, 2 }, { 3, 4 } } },
        fields = { "a", "b", "c" } })
      assert.matches("{1,NULL,3} | {\"x y\",\"NULL\",\"\"} | {{1,2},{3,4}}", out, 1, true)
    end)

    it("shows booleans, floats and infinities as psql does", function()
      local out = format.grid({ { t = true, f = false, x = 0.1, big = 1e300, inf = -math.huge, n = 2.0 },
        fields = { "t", "f", "x", "big", "inf", "n" } })
      assert.matches(" t | f | 0.1 | 1e+300 | -Infinity | 2\n", out, 1, true)
    end)

    it("marks values that go on over several lines with +", function()
      local out = format.grid({ { k = 1, v = "one\ntwo" }, fields = { "k", "v" } })
      assert.equal(" k |  v\n---+-----\n 1 | one+\n   | two\n(1 row)\n", out)
    end)

    it("measures UTF-8 text in characters", function()
      local out = format.grid({ { w = "héllo" }, { w = "x" }, fields = { "w" } })
      assert.matches("\n héllo\n x\n", out, 1, true)
      assert.matches("\n-------\n", out, 1, true)
    end)

    it("cuts long results with a note", function()
      local rows = { fields = { "n" } }
      for i = 1, 50 do rows[i] = { n = i } end
      local out = format.grid(rows, nil, { max_rows = 3 })
      assert.matches("\n 3\n%(50 rows%)\n%(only the first 3 rows are shown: settings.max_rows%)\n$", out)
      assert.not_matches("\n 4\n", out)
    end)

    it("takes a NULL marker and colours only at request", function()
      local rows = { { a = 1 }, fields = { "a", "b" } }
      assert.matches(" 1 | ∅", format.grid(rows, nil, { null = "∅" }), 1, true)
      assert.not_matches("\27", format.grid(rows))
      assert.matches("\27[2m(null)\27[0m", format.grid(rows, nil, { colour = true }), 1, true)
    end)

    it("tells query results from other tables", function()
      assert.is_true(format.is_result({ fields = { "a" }, { a = 1 } }))
      assert.is_false(format.is_result({ 1, 2 }))
      assert.is_false(format.is_result({ fields = { 1 } }))
      assert.is_false(format.is_result({ fields = { "a" }, "not a row" }))
    end)
  end)

  describe("value", function()
    it("prints short tables on one line, array part first, keys sorted naturally", function()
      assert.equal('{ 1, "two", key2 = true, key10 = false, ["not id"] = 1.5 }',
        format.value({ 1, "two", key10 = false, key2 = true, ["not id"] = 1.5 }))
      assert.equal("{}", format.value({}))
    end)

    it("nests and indents tables that do not fit", function()
      local t = { name = string.rep("x", 50), inner = { list = { 1, 2, 3 }, text = string.rep("y", 60) } }
      assert.equal(table.concat({
        "{",
        "  inner = {",
        "    list = { 1, 2, 3 },",
        '    text = "' .. string.rep("y", 60) .. '"',
        "  },",
        '  name = "' .. string.rep("x", 50) .. '"',
        "}" }, "\n"), format.value(t))
    end)

    it("shows a cycle as <cycle> and a shared table twice", function()
      local shared = { 1 }
      local t = { a = shared, b = shared }
      t.self = t
      assert.equal("{ a = { 1 }, b = { 1 }, self = <cycle> }", format.value(t))
    end)

    it("bounds depth and the number of items", function()
      local deep = {}
      local at = deep
      for _ = 1, 20 do at.next = {} at = at.next end
      assert.matches("{...}", format.value(deep, { width = math.huge }), 1, true)
      local many = {}
      for i = 1, 300 do many[i] = i end
      assert.matches("200, ... (100 more) }", format.value(many, { width = math.huge }), 1, true)
    end)

    it("quotes nested strings, keeps a top-level string as it is, marks floats", function()
      assert.equal('{ "a\\nb", 2.0, 3, math.huge }', format.value({ "a\nb", 2.0, 3, math.huge }))
      assert.equal("a\nb", format.value("a\nb", { top = true }))
      assert.equal("<function: builtin>", format.value(print))
      assert.matches("^<function: .*repl_format_spec%.lua:%d+>$", format.value(function() end))
      assert.equal("null", format.value(null))
    end)

    it("uses __tostring when a table has one", function()
      local t = setmetatable({}, { __tostring = function() return "custom" end })
      assert.equal("{ x = custom }", format.value({ x = t }))
    end)
  end)

  describe("sql_error", function()
    it("marks the position under the line of SQL, as psql does", function()
      local err = { severity = "ERROR", sqlstate = "42P01", message = 'relation "nope" does not exist',
        position = 15, query = "select * from nope" }
      assert.equal(table.concat({
        'ERROR 42P01: relation "nope" does not exist',
        "LINE 1: select * from nope",
        "                      ^" }, "\n"), format.sql_error(err))
    end)

    it("finds the line of a multi-line query and counts characters, not bytes", function()
      local err = { sqlstate = "42601", message = 'syntax error at or near "frm"',
        position = 19, query = "select 'é',\n  b\n  frm t" }
      assert.equal(table.concat({
        'ERROR 42601: syntax error at or near "frm"',
        "LINE 3:   frm t",
        "          ^" }, "\n"), format.sql_error(err))
    end)

    it("shows a window of a long line", function()
      local query = string.rep("x", 200) .. " oops " .. string.rep("y", 200)
      local out = format.sql_error({ message = "bad", position = 202, query = query, sqlstate = "42601" })
      local line, caret = out:match("\n(LINE 1: [^\n]*)\n([^\n]*)$")
      assert.matches("^LINE 1: %.%.%.x+ oops y+%.%.%.$", line)
      assert.equal("o", line:sub(#caret, #caret))
      assert.is_true(#line < 90)
    end)

    it("adds detail, hint and context", function()
      local out = format.sql_error({ message = "duplicate key value violates unique constraint \"u_k\"",
        sqlstate = "23505", detail = "Key (k)=(a) already exists.", hint = "Try another.", context = "SQL function" })
      assert.matches("\nDETAIL:  Key %(k%)=%(a%) already exists%.\nHINT:  Try another%.\nCONTEXT:  SQL function$", out)
    end)

    it("fits on one line for scripts", function()
      local err = { sqlstate = "42P01", message = 'relation "nope" does not exist', position = 17,
        query = "select\n  * from nope", where = "stdin:7", detail = "two\nlines" }
      assert.equal('stdin:7: ERROR 42P01: relation "nope" does not exist (SQL line 2, column 10) DETAIL: two lines',
        format.sql_error(err, { one_line = true }))
    end)
  end)
end)
