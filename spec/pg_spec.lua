-- ladle.pg against the test cluster: connecting, queries, types, errors,
-- rows(), transactions, notices, closing, cancelling.

local env = require "support.env"
local ladle = require "ladle"
local sys = require "ladle.sys"

local dbname, conninfo = env.new_database("pg")

local function connect()
  return assert(ladle.connect(conninfo))
end

describe("ladle.connect", function()
  it("takes a conninfo string", function()
    local db = assert(ladle.connect(conninfo))
    assert.equal(dbname, db:query("select current_database() as d")[1].d)
    db:close()
  end)

  it("takes a postgresql:// URI", function()
    local uri = string.format("postgresql://postgres@/%s?host=%s", dbname, env.cluster_dir)
    local db = assert(ladle.connect(uri))
    assert.equal(dbname, db:info().dbname)
    db:close()
  end)

  it("takes a table of libpq keywords, numbers included", function()
    local db = assert(ladle.connect { host = env.cluster_dir, port = 5432, user = "postgres", dbname = dbname })
    assert.equal("5432", db:info().port)
    db:close()
  end)

  it("takes a service name, looked up in PGSERVICEFILE", function()
    local dir = env.tmpdir()
    local file = env.write(dir .. "/services.conf", string.format(
      "[ladle_spec]\nhost=%s\nport=5432\nuser=postgres\ndbname=%s\n", env.cluster_dir, dbname))
    sys.setenv("PGSERVICEFILE", file)
    local db, err = ladle.connect("ladle_spec")
    sys.setenv("PGSERVICEFILE", nil)
    assert.is_nil(err)
    assert.equal(dbname, db:query("select current_database() as d")[1].d)
    db:close()
  end)

  it("uses the PG* environment for an empty target", function()
    local db = assert(ladle.connect())
    assert.equal("postgres", db:info().dbname)
    db:close()
  end)

  it("reports an unknown service by name", function()
    local db, err = ladle.connect("no_such_service_for_ladle")
    assert.is_nil(db)
    assert.matches('service "no_such_service_for_ladle" not found', err, 1, true)
  end)

  it("reports an unreachable server", function()
    local db, err = ladle.connect("host=/nonexistent/ladle port=5432 dbname=x")
    assert.is_nil(db)
    assert.matches("/nonexistent/ladle", err, 1, true)
    db, err = ladle.connect("host=127.0.0.1 port=1 connect_timeout=2 dbname=x")
    assert.is_nil(db)
    assert.is_string(err)
  end)

  it("reports a bad password without ever showing it", function()
    local admin = connect()
    assert(admin:exec("DROP ROLE IF EXISTS ladle_pw; CREATE ROLE ladle_pw LOGIN PASSWORD 'right-horse-9'"))
    admin:close()
    local secret = "wrong-battery-staple-42"
    local db, err = ladle.connect(string.format("host=%s user=ladle_pw dbname=%s password=%s",
      env.cluster_dir, dbname, secret))
    assert.is_nil(db)
    assert.matches("password authentication failed", err, 1, true)
    assert.not_matches(secret, err, 1, true)

    db = assert(ladle.connect(string.format("postgresql://ladle_pw:right-horse-9@/%s?host=%s",
      dbname, env.cluster_dir)))
    assert.not_matches("right-horse-9", tostring(db), 1, true)
    assert.matches("ladle_pw@", tostring(db), 1, true)
    for _, v in pairs(db:info()) do assert.not_matches("right-horse-9", tostring(v), 1, true) end
    db:close()
  end)

  it("rejects a target that is neither string nor table", function()
    assert.has_error(function() ladle.connect(42) end)
  end)
end)

describe("conn:query", function()
  local db
  setup(function() db = connect() end)
  teardown(function() db:close() end)

  it("returns rows keyed by column name, with fields in order", function()
    local rows = assert(db:query("select 1 as b, 'x' as a union all select 2, 'y' order by 1"))
    assert.equal(2, #rows)
    assert.same({ "b", "a" }, rows.fields)
    assert.same({ b = 1, a = "x" }, rows[1])
    assert.same({ b = 2, a = "y" }, rows[2])
  end)

  it("reports affected rows for commands", function()
    assert(db:exec("create table counted (id int)"))
    local r = assert(db:query("insert into counted select generate_series(1, 5)"))
    assert.equal(5, r.affected_rows)
    assert.equal(0, #r)
    r = assert(db:query("update counted set id = id + 1 where id > 2"))
    assert.equal(3, r.affected_rows)
    assert.equal("UPDATE 3", r.command)
  end)

  it("converts integers exactly, int8 included", function()
    local r = assert(db:query([[select 32767::int2 as s, (-2147483648)::int4 as i,
      9223372036854775807::int8 as big, (-9223372036854775808)::int8 as small, 'pg_class'::regclass::oid as o]]))[1]
    assert.equal(32767, r.s)
    assert.equal(-2147483648, r.i)
    assert.equal(math.maxinteger, r.big)
    assert.equal(math.mininteger, r.small)
    assert.equal(1259, r.o)
    assert.equal("integer", math.type(r.big))
  end)

  it("converts floats, NaN and infinities", function()
    local r = assert(db:query([[select 1.5::float4 as f4, 0.1::float8 as f8, 'NaN'::float8 as nan,
      'Infinity'::float8 as inf, '-Infinity'::float8 as ninf]]))[1]
    assert.equal(1.5, r.f4)
    assert.equal(0.1, r.f8)
    assert.is_true(r.nan ~= r.nan)
    assert.equal(math.huge, r.inf)
    assert.equal(-math.huge, r.ninf)
  end)

  it("keeps numeric exact, as a string", function()
    local r = assert(db:query("select 12345678901234567890.123456789::numeric as n"))[1]
    assert.equal("12345678901234567890.123456789", r.n)
  end)

  it("converts booleans and leaves NULLs out", function()
    local r = assert(db:query("select true as t, false as f, null::int as n, null::text as s"))[1]
    assert.is_true(r.t)
    assert.is_false(r.f)
    assert.is_nil(r.n)
    assert.is_nil(r.s)
  end)

  it("gives other types in the server's text form", function()
    local r = assert(db:query([[select 'héllo'::text as t, '{"a": [1, 2]}'::jsonb as j,
      '2024-02-29'::date as d, '1 day 02:00'::interval as iv, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid as u,
      '\x0001ff'::bytea as b]]))[1]
    assert.equal("héllo", r.t)
    assert.equal('{"a": [1, 2]}', r.j)
    assert.equal("2024-02-29", r.d)
    assert.equal("1 day 02:00:00", r.iv)
    assert.equal("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", r.u)
    assert.equal("\\x0001ff", r.b)
  end)

  it("turns arrays into sequences, NULL elements into ladle.null", function()
    local r = assert(db:query([=[select array[1, null, 3]::int[] as ints,
      array['a b', 'c,d', 'q"uote', 'back\slash', '', null, 'NULL']::text[] as texts,
      array[true, false] as bools, array[1.5, 2.5]::float8[] as floats,
      array[[1, 2], [3, 4]] as matrix, '{}'::int[] as empty, '[0:1]={7,8}'::int[] as bounded,
      array[1.10, 2.20]::numeric[] as nums]=]))[1]
    assert.same({ 1, ladle.null, 3 }, r.ints)
    assert.same({ "a b", "c,d", 'q"uote', "back\\slash", "", ladle.null, "NULL" }, r.texts)
    assert.same({ true, false }, r.bools)
    assert.same({ 1.5, 2.5 }, r.floats)
    assert.same({ { 1, 2 }, { 3, 4 } }, r.matrix)
    assert.same({}, r.empty)
    assert.same({ 7, 8 }, r.bounded)
    assert.same({ "1.10", "2.20" }, r.nums)
  end)

  it("turns int2vector catalog columns into sequences", function()
    assert(db:exec("create table vec (a int, b int, c int); create index vec_idx on vec (c, a)"))
    local r = assert(db:query([[select indkey from pg_catalog.pg_index
      where indexrelid = 'vec_idx'::regclass]]))[1]
    assert.same({ 3, 1 }, r.indkey)
  end)

  it("sends parameters with the extended protocol", function()
    local r = assert(db:query("select $1::int + 1 as i, $2::text as s, $3::float8 as f, $4::bool as b, $5::int8 as big",
      41, "it's", 2.5, true, math.maxinteger))[1]
    assert.same({ i = 42, s = "it's", f = 2.5, b = true, big = math.maxinteger }, r)
  end)

  it("sends nil and ladle.null as SQL NULL", function()
    local r = assert(db:query("select $1::int is null as a, $2::text is null as b, $3::int as c",
      nil, ladle.null, 3))[1]
    assert.is_true(r.a)
    assert.is_true(r.b)
    assert.equal(3, r.c)
  end)

  it("sends Lua sequences as arrays", function()
    local r = assert(db:query([[select $1::int[] as ints, $2::text[] as texts,
      array_length($2::text[], 1) as n, $3::int[] as matrix, $4::text[] as empty]],
      { 1, 2, ladle.null, 4 }, { 'a"b', "c\\d", "e,f", "{g}", "NULL" }, { { 1, 2 }, { 3, 4 } }, {}))[1]
    assert.same({ 1, 2, ladle.null, 4 }, r.ints)
    assert.same({ 'a"b', "c\\d", "e,f", "{g}", "NULL" }, r.texts)
    assert.equal(5, r.n)
    assert.same({ { 1, 2 }, { 3, 4 } }, r.matrix)
    assert.same({}, r.empty)
  end)

  it("sends special floats", function()
    local r = assert(db:query("select $1::float8 as inf, $2::float8 = 'NaN' as nan", math.huge, 0 / 0))[1]
    assert.equal(math.huge, r.inf)
    assert.is_true(r.nan)
  end)

  it("refuses parameters it cannot send", function()
    assert.has_error(function() db:query("select $1", function() end) end)
    assert.has_error(function() db:query("select $1", "a\0b") end)
  end)

  it("reports a syntax error with its position", function()
    local rows, message, err = db:query("select 1 frm nothing")
    assert.is_nil(rows)
    assert.equal("42601", err.sqlstate)
    assert.equal("ERROR", err.severity)
    assert.equal(14, err.position)  -- "frm" parses as an alias
    assert.matches("^ERROR: syntax error", message)
  end)

  it("reports division by zero as 22012", function()
    local rows, message, err = db:query("select 1 / 0")
    assert.is_nil(rows)
    assert.equal("22012", err.sqlstate)
    assert.equal("ERROR: division by zero", message)
    assert.equal("division by zero", err.message)
  end)

  it("reports a unique violation with its detail and constraint", function()
    assert(db:exec("create table uniq (k text constraint uniq_k unique); insert into uniq values ('a')"))
    local rows, _, err = db:query("insert into uniq values ($1)", "a")
    assert.is_nil(rows)
    assert.equal("23505", err.sqlstate)
    assert.equal("Key (k)=(a) already exists.", err.detail)
    assert.equal("uniq_k", err.constraint)
    assert.equal("uniq", err.table)
  end)

  it("reports hint and context from PL/pgSQL", function()
    local _, _, err = db:query([[do $$ begin
      raise exception 'custom failure' using hint = 'try again', errcode = 'P0042'; end $$]])
    assert.equal("P0042", err.sqlstate)
    assert.equal("try again", err.hint)
    assert.matches("PL/pgSQL function", err.context)
  end)

  it("reports a wrong parameter count", function()
    local rows, message = db:query("select $1::int, $2::int", 1)
    assert.is_nil(rows)
    assert.matches("bind message supplies 1 parameters", message)
  end)

  it("returns the last result of a multi-statement query", function()
    local rows = assert(db:query("select 1 as a; select 2 as b"))
    assert.same({ { b = 2 } }, { rows[1] })
  end)

  it("reads and drops COPY TO STDOUT, reporting the rows it copied", function()
    assert(db:exec("create table copied_out (x int); insert into copied_out values (1), (2), (3)"))
    local rows = assert(db:query("copy copied_out to stdout"))
    assert.equal(0, #rows)
    assert.equal(3, rows.affected_rows)
    assert.equal(1, db:query("select 1 as one")[1].one)
  end)

  it("refuses COPY FROM STDIN cleanly and stays usable", function()
    assert(db:exec("create table copied (x int)"))
    local rows, message = db:query("copy copied from stdin")
    assert.is_nil(rows)
    assert.matches("COPY FROM STDIN is not supported", message)
    assert.equal(1, db:query("select 1 as one")[1].one)
  end)
end)

describe("conn:exec", function()
  it("runs a script of many statements", function()
    local db = connect()
    assert.is_true(db:exec([[
      create table script_a (id int);
      insert into script_a values (1), (2);
      create view script_v as select count(*) as n from script_a;
    ]]))
    assert.equal(2, db:query("select n from script_v")[1].n)
    db:close()
  end)

  it("returns nil, message, err when a statement fails", function()
    local db = connect()
    local ok, message, err = db:exec("select 1; select * from no_such_table_x; select 2")
    assert.is_nil(ok)
    assert.matches("no_such_table_x", message)
    assert.equal("42P01", err.sqlstate)
    assert.equal(25, err.position)
    db:close()
  end)

  it("raises on SQL with a zero byte instead of sending half of it (query, exec, send, rows)", function()
    local db = connect()
    assert.has_error(function() db:exec("select 1\0; select 2") end, "bad argument #1 to 'exec' (SQL contains a zero byte at byte 9)")
    assert.has_error(function() db:query("select 1\0") end)
    assert.has_error(function() db:send("select 1\0") end)
    assert.has_error(function() for _ in db:rows("select 1\0") do end end)
    assert.equal(1, db:query("select 1 as n")[1].n)
    db:close()
  end)
end)

describe("conn:rows", function()
  local db
  setup(function() db = connect() end)
  teardown(function() db:close() end)

  it("iterates a large result row by row", function()
    local n, sum = 0, 0
    for row in db:rows("select g from generate_series(1, 100000) g") do
      n = n + 1
      sum = sum + row.g
    end
    assert.equal(100000, n)
    assert.equal(5000050000, sum)
  end)

  it("takes parameters", function()
    local got = {}
    for row in db:rows("select g from generate_series($1::int, $2::int) g", 3, 5) do got[#got + 1] = row.g end
    assert.same({ 3, 4, 5 }, got)
  end)

  it("releases the connection on break", function()
    for row in db:rows("select g from generate_series(1, 50000) g") do
      if row.g == 10 then break end
    end
    assert.equal(7, db:query("select 7 as x")[1].x)
  end)

  it("releases the connection when the loop body raises", function()
    local ok, err = pcall(function()
      for row in db:rows("select g from generate_series(1, 1000) g") do
        if row.g == 3 then error("stop here") end
      end
    end)
    assert.is_false(ok)
    assert.matches("stop here", err)
    assert.equal(8, db:query("select 8 as x")[1].x)
  end)

  it("raises a SQL error met mid-stream and stays usable", function()
    local seen = 0
    local ok, err = pcall(function()
      for _ in db:rows("select 1 / (5 - g) as x from generate_series(1, 10) g") do seen = seen + 1 end
    end)
    assert.is_false(ok)
    assert.matches("division by zero", err)
    assert.is_true(seen < 5)
    assert.equal(9, db:query("select 9 as x")[1].x)
  end)

  it("goes through COPY in a loop, and breaks out of one", function()
    assert(db:exec("create table copy_rows (x int); insert into copy_rows values (1), (2)"))
    local n = 0
    for _ in db:rows("copy copy_rows to stdout") do n = n + 1 end
    assert.equal(0, n)
    for row in db:rows("select 1 as a; copy copy_rows to stdout; select 2 as b") do
      n = n + 1
      if row.a then break end
    end
    assert.equal(1, n)
    assert.equal(3, db:query("select 3 as x")[1].x)
  end)

  it("refuses another command while a loop is open", function()
    local ok, err = pcall(function()
      for _ in db:rows("select 1 from generate_series(1, 10)") do db:query("select 1") end
    end)
    assert.is_false(ok)
    assert.matches("connection is busy", err)
    assert.equal(1, db:query("select 1 as x")[1].x)
  end)
end)

describe("conn:transaction", function()
  local db
  setup(function()
    db = connect()
    assert(db:exec("create table tx (id int primary key)"))
  end)
  teardown(function() db:close() end)
  before_each(function() assert(db:exec("truncate tx")) end)

  local function ids()
    local out = {}
    for _, r in ipairs(assert(db:query("select id from tx order by id"))) do out[#out + 1] = r.id end
    return out
  end

  it("commits and returns what fn returns", function()
    local a, b = db:transaction(function(c)
      assert(c:exec("insert into tx values (1)"))
      return "done", 2
    end)
    assert.equal("done", a)
    assert.equal(2, b)
    assert.same({ 1 }, ids())
    assert.equal("idle", db:transaction_status())
  end)

  it("rolls back and re-raises the same error object", function()
    local marker = { reason = "custom" }
    local ok, err = pcall(db.transaction, db, function(c)
      assert(c:exec("insert into tx values (1)"))
      error(marker)
    end)
    assert.is_false(ok)
    assert.equal(marker, err)
    assert.same({}, ids())
    assert.equal("idle", db:transaction_status())
  end)

  it("rolls back after a failing statement", function()
    local ok, err = pcall(db.transaction, db, function(c)
      assert(c:exec("insert into tx values (1)"))
      assert(c:exec("insert into tx values (1)"))  -- duplicate key
    end)
    assert.is_false(ok)
    assert.matches("duplicate key", err)
    assert.same({}, ids())
  end)

  it("does not commit when a failure was ignored inside fn", function()
    local ok, err = pcall(db.transaction, db, function(c)
      assert(c:exec("insert into tx values (1)"))
      c:exec("select * from no_such_table_y")  -- failure not checked
    end)
    assert.is_false(ok)
    assert.matches("transaction aborted", err)
    assert.same({}, ids())
  end)

  it("nests with savepoints", function()
    db:transaction(function(c)
      assert(c:exec("insert into tx values (1)"))
      local ok = pcall(c.transaction, c, function(inner)
        assert(inner:exec("insert into tx values (2)"))
        error("inner fails")
      end)
      assert.is_false(ok)
      c:transaction(function(inner)
        assert(inner:exec("insert into tx values (3)"))
        inner:transaction(function(deeper) assert(deeper:exec("insert into tx values (4)")) end)
      end)
    end)
    assert.same({ 1, 3, 4 }, ids())
  end)

  it("passes extra arguments to fn", function()
    db:transaction(function(c, a, b) assert(c:exec("insert into tx values (" .. (a + b) .. ")")) end, 2, 3)
    assert.same({ 5 }, ids())
  end)
end)

describe("connection helpers", function()
  it("escapes identifiers and literals", function()
    local db = connect()
    assert.equal('"we""ird name"', db:escape_identifier('we"ird name'))
    assert.equal("'it''s'", db:escape_literal("it's"))
    assert.matches("E'back\\\\slash'", db:escape_literal("back\\slash"), 1, true)
    local q = string.format("select %s as %s", db:escape_literal("O'Reilly \\ co"), db:escape_identifier("a b"))
    assert.equal("O'Reilly \\ co", db:query(q)[1]["a b"])
    db:close()
  end)

  it("tells the server version as an integer", function()
    local db = connect()
    local v = db:server_version()
    assert.equal("integer", math.type(v))
    assert.is_true(v >= 150000)
    assert.equal(tonumber(db:query("show server_version_num")[1].server_version_num), v)
    db:close()
  end)

  it("keeps notices when no handler is set", function()
    local db = connect()
    assert(db:exec("do $$ begin raise notice 'first %', 1; raise warning 'second'; end $$"))
    local notices = db:notices()
    assert.equal(2, #notices)
    assert.equal("first 1", notices[1].message)
    assert.equal("NOTICE", notices[1].severity)
    assert.equal("00000", notices[1].sqlstate)
    assert.equal("WARNING", notices[2].severity)
    assert.same({}, db:notices())
    db:close()
  end)

  it("delivers notices to a handler", function()
    local db = connect()
    local got = {}
    assert.is_nil(db:on_notice(function(n) got[#got + 1] = n.message end))
    assert(db:query("select 1; do $$ begin raise notice 'hello'; end $$"))
    for _ in db:rows("select 1 as x from generate_series(1, 2)") do end
    assert(db:exec("drop table if exists surely_not_there"))
    assert.same({ "hello", 'table "surely_not_there" does not exist, skipping' }, got)
    assert.same({}, db:notices())
    db:close()
  end)
end)

describe("closing", function()
  it("is idempotent and makes every later use raise", function()
    local db = connect()
    assert.is_true(db:close())
    assert.is_true(db:close())
    assert.is_true(db:is_closed())
    assert.equal("ladle.pg.conn (closed)", tostring(db))
    for _, call in ipairs {
      function() db:query("select 1") end,
      function() db:exec("select 1") end,
      function() db:rows("select 1") end,
      function() db:escape_literal("x") end,
      function() db:server_version() end,
    } do
      assert.has_error(call, "connection is closed")
    end
  end)

  it("closes a <close> variable at the end of its scope", function()
    local held
    do
      local db <close> = connect()
      held = db
      assert.is_false(db:is_closed())
    end
    assert.is_true(held:is_closed())
  end)

  it("frees a forgotten connection when collected", function()
    local admin = connect()
    local pid
    do
      local db = connect()
      pid = db:info().backend_pid
    end
    collectgarbage()
    collectgarbage()
    local gone = false
    for _ = 1, 100 do
      local r = assert(admin:query("select count(*) as n from pg_stat_activity where pid = $1", pid))
      if r[1].n == 0 then gone = true break end
      sys.sleep(0.02)
    end
    assert.is_true(gone)
    admin:close()
  end)
end)

describe("Ctrl-C", function()
  it("cancels a running query on the server and raises", function()
    local db = connect()
    local admin = connect()
    local killer = assert(sys.spawn({ "sh", "-c", "sleep 0.4; kill -INT " .. sys.getpid() }, { wait = false }))
    local started = sys.now()
    local ok, err = pcall(function()
      local r = db:query("select pg_sleep(30)")
      return r
    end)
    local elapsed = sys.now() - started
    sys.wait(killer)
    assert.is_false(ok)
    assert.matches("interrupted", tostring(err))
    assert.is_true(elapsed < 5, "took " .. elapsed .. " s")
    local pid = db:info().backend_pid
    local r = assert(admin:query([[select count(*) as n from pg_stat_activity
      where pid = $1 and state = 'active']], pid))
    assert.equal(0, r[1].n)
    assert.equal(1, db:query("select 1 as x")[1].x)
    db:close()
    admin:close()
  end)
end)
