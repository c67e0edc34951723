-- ladle.tracker: the upgrades table (pum 0.x's columns) and its lock.

local env = require "support.env"
local tracker = require "ladle.tracker"

describe("ladle.tracker", function()
  local dbname, db
  before_each(function()
    dbname = env.new_database("tracker")
    db = env.connect(dbname)
  end)
  after_each(function()
    db:close()
    env.drop_database(dbname)
  end)

  it("parses schema.table names as PostgreSQL does", function()
    assert.same({ "public", "ladle_upgrades" }, { tracker.parse_name("public.ladle_upgrades") })
    assert.same({ "qwat_sys", "upgrades" }, { tracker.parse_name("QWAT_SYS.Upgrades") })
    assert.same({ "public", "pum" }, { tracker.parse_name("pum") })
    assert.same({ "My Schema", "t.x" }, { tracker.parse_name('"My Schema"."t.x"') })
    assert.same({ "a\"b", "t" }, { tracker.parse_name('"a""b".t') })
    for _, bad in ipairs { "", "a.b.c", "1abc.t", '"open.t', "a..b", "a. b", 'a.""' } do
      local ok, why = tracker.parse_name(bad)
      assert.is_nil(ok, bad)
      assert.is_string(why)
    end
  end)

  it("cuts text that does not fit its column between two characters", function()
    local t = assert(tracker.open(db, "public.ladle_upgrades"))
    assert(t:create())
    local description = "01_" .. string.rep("\u{e9}", 250)
    assert(db:exec(t:insert_sql { version = "1.0.0", description = description, type = 8, script = "x.sql",
      checksum = "", execution_time = 0 }))
    local row = db:query("select description from public.ladle_upgrades")[1]
    assert.equal(200, utf8.len(row.description))
    assert.equal(description:sub(1, #row.description), row.description)
  end)

  it("creates pum 0.10's table, exactly", function()
    local t = assert(tracker.open(db, "app_sys.upgrades"))
    local state = assert(t:inspect())
    assert.is_false(state.exists)
    assert.is_false(state.schema_exists)
    assert(t:create())
    local columns = assert(db:query([[
      SELECT a.attname::text AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull,
             pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS default
      FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = 'app_sys.upgrades'::regclass AND a.attnum > 0 ORDER BY a.attnum]]))
    local got = {}
    for _, c in ipairs(columns) do got[#got + 1] = { c.name, c.type, c.notnull } end
    assert.same({
      { "id", "integer", true }, { "version", "character varying(50)", true },
      { "description", "character varying(200)", true }, { "type", "integer", true },
      { "script", "character varying(1000)", true }, { "checksum", "character varying(32)", true },
      { "installed_by", "character varying(100)", true }, { "installed_on", "timestamp without time zone", true },
      { "execution_time", "integer", true }, { "success", "boolean", true },
    }, got)
    assert.equal("now()", columns[8].default)
    assert.truthy(columns[1].default:find("nextval", 1, true))
    local constraints = {}
    for _, c in ipairs(assert(db:query([[
      SELECT pg_catalog.pg_get_constraintdef(oid) AS def FROM pg_catalog.pg_constraint
      WHERE conrelid = 'app_sys.upgrades'::regclass ORDER BY contype]]))) do
      constraints[#constraints + 1] = c.def
    end
    assert.same({ "PRIMARY KEY (id)", "EXCLUDE USING btree (version WITH =) WHERE ((type = 0))" }, constraints)
    assert.is_true(assert(t:inspect()).exists)
  end)

  it("records a baseline as pum does and reads the current version numerically", function()
    local t = assert(tracker.open(db))
    assert(t:baseline("01.09.00"))
    local rows = assert(t:rows())
    assert.equal(1, #rows)
    assert.same({ "1.9.0", "baseline", 0, "", "" }, { rows[1].version, rows[1].description, rows[1].type, rows[1].script,
      rows[1].checksum })
    assert.is_true(rows[1].success)
    assert.equal("postgres", rows[1].installed_by)
    assert(db:exec([[INSERT INTO public.ladle_upgrades (version, description, type, script, checksum, installed_by,
      execution_time, success) VALUES ('1.10.0', 'x', 8, 'x.sql', 'abc', 'me', 1, true),
      ('2.0.0', 'failed', 8, 'y.sql', 'abc', 'me', 1, false)]]))
    assert.equal("1.10.0", t:current_version())
    assert.equal("1.9.0", tracker.baseline_version(assert(t:rows())))
    local ok, why = t:baseline("x.y")
    assert.is_nil(ok)
    assert.truthy(why:find("bad version", 1, true))
  end)

  it("refuses a table that is not an upgrades table", function()
    assert(db:exec("CREATE TABLE public.not_pum (id int, version text)"))
    local t = assert(tracker.open(db, "public.not_pum"))
    local ok, why, details = t:inspect()
    assert.is_nil(ok)
    assert.equal("input", details.kind)
    assert.truthy(why:find("public.not_pum is not an upgrades table: it has no column description", 1, true), why)
  end)

  it("takes an advisory lock that a second session cannot have", function()
    local other = env.connect(dbname)
    local mine = assert(tracker.open(db))
    local theirs = assert(tracker.open(other))
    assert(mine:lock())
    assert.is_true(mine.locked)
    local ok, why = theirs:lock { wait = false }
    assert.is_nil(ok)
    assert.truthy(why:match("^another upgrade holds the lock on public%.ladle_upgrades %(pid %d+, ladle"), why)
    local sys = require "ladle.sys"
    local t0 = sys.now()
    local waited
    ok, why = theirs:lock { timeout = 0.3, on_wait = function(_, text) waited = text end }
    assert.is_nil(ok)
    assert.truthy(sys.now() - t0 >= 0.25)
    assert.truthy(why:find("gave up after 0.3s waiting for the lock on public.ladle_upgrades, held by pid", 1, true), why)
    assert.truthy(waited:match("^pid %d+"))
    -- another table has another lock
    assert(assert(tracker.open(other, "public.other_upgrades")):lock { wait = false })
    assert(mine:unlock())
    assert(theirs:lock { wait = false })
    assert(theirs:unlock())
    other:close()
  end)

  it("knows an empty database from one with objects", function()
    local t = assert(tracker.open(db))
    assert.is_true(t:database_is_empty())
    assert(t:create())
    assert.is_true(t:database_is_empty(), "its own table does not count")
    assert(db:exec("CREATE EXTENSION IF NOT EXISTS plpgsql"))
    assert.is_true(t:database_is_empty())
    for _, ddl in ipairs { "CREATE TABLE x (id int)", "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1'",
                           "CREATE TYPE e AS ENUM ('a')", "CREATE SCHEMA s", "CREATE VIEW v AS SELECT 1 AS one",
                           "CREATE SEQUENCE q" } do
      assert(db:exec("BEGIN; " .. ddl))
      assert.is_false(t:database_is_empty(), ddl)
      assert(db:exec("ROLLBACK"))
    end
  end)
end)
