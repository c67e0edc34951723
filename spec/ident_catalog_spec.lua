-- ladle.ident (quoting as the server quotes) and ladle.catalog (the one
-- catalog-session helper), both checked against the test server.

local env = require "support.env"
local ident = require "ladle.ident"
local catalog = require "ladle.catalog"

describe("ladle.ident", function()
  local db
  setup(function() db = env.connect() end)
  teardown(function() db:close() end)

  it("quotes every keyword exactly as quote_ident() does", function()
    local rows = assert(db:query("SELECT word, pg_catalog.quote_ident(word) AS quoted FROM pg_catalog.pg_get_keywords()"))
    assert.is_true(#rows > 400)
    for _, row in ipairs(rows) do
      assert.equal(row.quoted, ident.quote(row.word), row.word)
    end
  end)

  it("quotes other names as quote_ident() does", function()
    local names = { "orders", "Orders", "order lines", 'say "hi"', "_x1", "1abc", "a$b", "ünï", "x-y", "" }
    for _, name in ipairs(names) do
      local rows = assert(db:query("SELECT pg_catalog.quote_ident($1) AS q", name))
      assert.equal(rows[1].q, ident.quote(name), name)
    end
    assert.equal('app."T"', ident.qualify("app", "T"))
    assert.equal("t", ident.qualify(nil, "t"))
  end)

  it("reads names as typed and as printed", function()
    assert.same({ "app", "T" }, ident.parse('App."T"'))
    assert.same({ "my schema", "t.x" }, { table.unpack(ident.parse('"my schema"."t.x"')) })
    assert.same({ 'a"b' }, ident.parse('"a""b"'))
    for _, bad in ipairs { "", "a..b", '"open', 'a.""', "a.", "1abc" } do
      local parts, why = ident.parse(bad)
      assert.is_nil(parts, bad)
      assert.is_string(why)
    end
    assert.same({ "App", "a.b" }, ident.split('App."a.b"'))
    assert.equal('"T"', ident.last('app."T"'))
    assert.equal("x", ident.unquote("x"))
    assert.equal('a"b', ident.unquote('"a""b"'))
  end)
end)

describe("ladle.catalog", function()
  local dbname, db
  before_each(function()
    dbname = env.new_database("catalog")
    db = env.connect(dbname)
  end)
  after_each(function()
    db:close()
    env.drop_database(dbname)
  end)

  it("runs with an empty search_path, so a user's function cannot stand in for the built-in", function()
    -- a function that would shadow pg_catalog's if the path put public first
    assert(db:exec([[
      CREATE FUNCTION public.version() RETURNS text LANGUAGE sql AS $$ SELECT 'fake' $$;
      SET search_path = public, pg_catalog]]))
    assert.equal("fake", db:query("SELECT version() AS v")[1].v)
    local rows = assert(catalog.query(db, "SELECT pg_catalog.current_setting('search_path') AS path"))
    assert.equal('""', rows[1].path)
    -- the built-in answers, and the user's objects are out of reach unqualified
    assert.matches("^PostgreSQL", catalog.query(db, "SELECT version() AS v")[1].v)
    assert(db:exec("CREATE TABLE public.t (a int)"))
    local failed, message, details = catalog.query(db, "SELECT a FROM t")
    assert.is_nil(failed)
    assert.matches("does not exist", message)
    assert.equal("42P01", details.sqlstate)
    -- the caller's session is as it was, and idle
    assert.equal("public, pg_catalog", db:query("SHOW search_path")[1].search_path)
    assert.equal("idle", db:transaction_status())
  end)

  it("shares one snapshot on an idle connection and puts settings back inside a transaction", function()
    local first, second = catalog.run(db, function(c)
      local a = c:query("SELECT pg_catalog.txid_current_if_assigned() IS NULL AS ro, "
        .. "pg_catalog.current_setting('transaction_isolation') AS iso")
      local b = c:query("SELECT pg_catalog.current_setting('transaction_read_only') AS ro")
      return a[1], b[1]
    end)
    assert.equal("repeatable read", first.iso)
    assert.equal("on", second.ro)
    assert.equal("idle", db:transaction_status())

    assert(db:exec("BEGIN; SET LOCAL search_path = public"))
    local rows = assert(catalog.query(db, "SELECT c.oid FROM pg_catalog.pg_class c WHERE c.oid >= $1 LIMIT 1",
      catalog.FIRST_NORMAL_OID))
    assert.is_table(rows)
    assert.equal("intrans", db:transaction_status())
    assert.equal("public", db:query("SHOW search_path")[1].search_path)
    assert(db:exec("ROLLBACK"))
  end)
end)
