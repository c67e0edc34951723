-- ladle.repl without its terminal half: compiling chunks, completion, and
-- the catalog helpers (describe, tables) against a real database.

local env = require "support.env"
local repl = require "ladle.repl"

describe("ladle.repl", function()
  local dbname, conninfo, db
  setup(function()
    dbname, conninfo = env.new_database("repl_lua")
    db = assert(require("ladle").connect(conninfo))
    assert(db:exec([[
      create table basket (id int primary key);
      create table fruit (
        id int generated always as identity primary key,
        name text not null default 'apple',
        price numeric(6, 2) check (price > 0),
        basket int references basket (id),
        code text constraint fruit_code_key unique,
        double_price numeric generated always as (price * 2) stored
      );
      create index fruit_name_idx on fruit (lower(name)) where price is not null;
      create function touch() returns trigger language plpgsql as $$ begin return new; end $$;
      create trigger fruit_touch before update on fruit for each row execute function touch();
      create view cheap as select id, name from fruit where price < 1;
      create schema store;
      create table store.shelf (n int);
      create table "Mixed Case" (x int);
      create table measure (at date not null, v int) partition by range (at);
      create table measure_2024 partition of measure for values from ('2024-01-01') to ('2025-01-01');
    ]]))
  end)
  teardown(function()
    db:close()
    env.drop_database(dbname)
  end)

  describe("compile", function()
    it("prints an expression without return, as lua.c 5.4 does", function()
      assert.equal(3, repl.compile("1 + 2", _G)())
      assert.equal(3, repl.compile("=1 + 2", _G)())
      local fn = assert(repl.compile("compiled_global = 7", _G))
      assert.is_nil(fn())
      assert.equal(7, rawget(_G, "compiled_global"))
      rawset(_G, "compiled_global", nil)
    end)

    it("reports an unfinished chunk as incomplete, and a wrong one as an error", function()
      for _, code in ipairs({ "for i = 1, 3 do", "x = {", "f(", "x =", "return 1 +", "s = [[" }) do
        local fn, _, incomplete = repl.compile(code, _G)
        assert.is_nil(fn)
        assert.is_true(incomplete, code)
      end
      local fn, err, incomplete = repl.compile("x = = 1", _G)
      assert.is_nil(fn)
      assert.is_false(incomplete)
      assert.equal("stdin:1: unexpected symbol near '='", err)
    end)

    it("numbers lines as lines of the input", function()
      local fn = assert(repl.compile("\nerror('boom')", _G, 10))
      local _, err = pcall(fn)
      assert.equal("stdin:11: boom", err)
    end)
  end)

  describe("open_string", function()
    it("finds the string literal a line ends in", function()
      assert.same({ '"', 10 }, { repl.open_string('describe "fr') })
      assert.same({ "[[", 4 }, { repl.open_string("sql[[select") })
      assert.is_nil(repl.open_string('describe "fruit" x = \'a\\\'b\''))
      assert.is_nil(repl.open_string('x = 1 -- "not a string'))
      assert.same({ "'", 24 }, { repl.open_string("x = [[done]] .. 'a' .. 'b") })
    end)
  end)

  describe("complete", function()
    local scope = setmetatable({}, { __index = _G })
    setup(function() scope.db, scope.s, scope.ladle = db, "text", require("ladle") end)

    local function complete(line)
      return repl.complete(scope, line, #line - #line:match("[%w_]*$"), #line)
    end

    it("completes methods of a connection", function()
      assert.same({ "query" }, (complete("db:que")))
      assert.same({ "escape_identifier", "escape_literal" }, (complete("x = db:esc")))
    end)

    it("completes fields of tables and globals", function()
      assert.same({ "format" }, (complete("string.form")))
      assert.same({ "upper" }, (complete("s:upp")))
      local list = complete("pri")
      assert.same({ "print" }, list)
      assert.truthy(#complete("x = ") > 20)
      -- the first word of a line may start SQL as well
      assert.same({ "local", "lock" }, (complete("loc")))
      assert.same({ "local" }, (complete("x = loc")))
      assert.same({ "connect" }, (complete("ladle.conn")))
    end)

    it("completes relation names inside describe \"...\" and sql[[...]]", function()
      local list, append = complete('describe "fru')
      assert.same({ "fruit" }, list)
      assert.equal('"', append)
      list = complete('describe "')
      assert.truthy(#list >= 6)
      list, append = complete('describe "sto')
      assert.same({ "store." }, list)
      assert.equal("", append)
      -- after the dot readline starts a new word: only the rest is offered
      local line = 'describe "store.sh'
      list = repl.complete(scope, line, #line - 2, #line)
      assert.same({ "shelf" }, list)
      list = complete("sql[[select * from bask")
      assert.same({ "basket" }, list)
    end)

    it("leaves other strings to file-name completion, and indents at the start of a line", function()
      assert.is_nil(complete('dofile "/tm'))
      assert.same({ "  " }, (complete("  ")))
    end)
  end)

  describe("describe", function()
    it("lists columns with types and defaults, indexes, constraints and triggers", function()
      local d = assert(repl.describe(db, "fruit"))
      assert.equal("public", d.schema)
      assert.equal("r", d.kind)
      local text = d:render()
      assert.equal([[
                                         Table "public.fruit"
    Column    |     Type     | Collation | Nullable |                     Default
--------------+--------------+-----------+----------+-------------------------------------------------
 id           | integer      |           | not null | generated always as identity
 name         | text         |           | not null | 'apple'::text
 price        | numeric(6,2) |           |          |
 basket       | integer      |           |          |
 code         | text         |           |          |
 double_price | numeric      |           |          | generated always as (price * 2::numeric) stored
Indexes:
    "fruit_pkey" PRIMARY KEY, btree (id)
    "fruit_code_key" UNIQUE CONSTRAINT, btree (code)
    "fruit_name_idx" btree (lower(name)) WHERE price IS NOT NULL
Check constraints:
    "fruit_price_check" CHECK (price > 0::numeric)
Foreign-key constraints:
    "fruit_basket_fkey" FOREIGN KEY (basket) REFERENCES basket(id)
Triggers:
    fruit_touch BEFORE UPDATE ON fruit FOR EACH ROW EXECUTE FUNCTION touch()]], text)
    end)

    it("shows who references a table, a view's definition, partitions", function()
      local text = assert(repl.describe(db, "basket")):render()
      assert.matches('Referenced by:\n    TABLE "fruit" CONSTRAINT "fruit_basket_fkey" FOREIGN KEY %(basket%) REFERENCES basket%(id%)', text)
      text = assert(repl.describe(db, "cheap")):render()
      assert.matches('^ +View "public.cheap"\n', text)
      assert.not_matches("View definition", text, 1, true)
      text = assert(repl.describe(db, "cheap", { verbose = true })):render()
      assert.matches("View definition:\n SELECT fruit.id,", text, 1, true)
      assert.matches("Partition key: RANGE (at)", assert(repl.describe(db, "measure")):render(), 1, true)
      assert.matches("Partition of: measure FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
        assert(repl.describe(db, "measure_2024")):render(), 1, true)
    end)

    it("finds qualified, quoted and mixed-case names", function()
      assert.equal("shelf", assert(repl.describe(db, "store.shelf")).name)
      assert.equal("Mixed Case", assert(repl.describe(db, "Mixed Case")).name)
      assert.equal("Mixed Case", assert(repl.describe(db, '"Mixed Case"')).name)
    end)

    it("says so when there is no such relation", function()
      assert.same({ nil, 'no relation named "nope"' }, { repl.describe(db, "nope") })
      assert.same({ nil, 'no relation named "a b c"' }, { repl.describe(db, "a b c") })
    end)
  end)

  describe("tables", function()
    it("lists tables and views with kind and size, filtered like psql's \\dt", function()
      local rows = repl.tables(db)
      assert.same({ "schema", "name", "kind", "rows", "size" }, rows.fields)
      local names = {}
      for _, r in ipairs(rows) do names[#names + 1] = r.schema .. "." .. r.name .. ":" .. r.kind end
      assert.same({ "public.Mixed Case:table", "public.basket:table", "public.cheap:view", "public.fruit:table",
        "public.measure:partitioned table", "public.measure_2024:table", "store.shelf:table" }, names)
      assert.equal(1, #repl.tables(db, "store.*"))
      assert.equal(2, #repl.tables(db, "measure*"))
      assert.equal(1, #repl.tables(db, "fru?t"))
    end)
  end)

  describe("sql errors", function()
    it("carry the query and print on one line through tostring", function()
      local _, message, err = db:query("select * from nope")
      local e = repl.sql_error(message, err, "select * from nope", "stdin:3")
      assert.is_true(repl.is_sql_error(e))
      assert.equal('stdin:3: ERROR 42P01: relation "nope" does not exist (SQL line 1, column 15)', tostring(e))
    end)
  end)
end)
