-- conn:send / conn:receive (libpq's pipeline mode) and ladle.pg.wait: what
-- ladle.schema uses to keep several servers working at once.

local env = require "support.env"
local pg = require "ladle.pg"

describe("conn:send and conn:receive", function()
  local db
  before_each(function() db = env.connect() end)
  after_each(function() db:close() end)

  it("returns the results in the order the statements were sent", function()
    assert.is_true(db:send("select 1 as a"))
    assert.is_true(db:send("select $1::int + 1 as b", 41))
    assert.is_true(db:send("select g from generate_series(1, 3) g"))
    assert.equal(1, db:receive()[1].a)
    assert.equal(42, db:receive()[1].b)
    local rows = db:receive()
    assert.equal(3, #rows)
    assert.same({ "g" }, rows.fields)
    assert.equal("select", db:query("select 'select' as word")[1].word)
  end)

  it("keeps the connection busy until everything sent is received", function()
    assert(db:send("select 1"))
    assert.has_error(function() db:query("select 2") end,
      "connection is busy: a query sent with send() awaits receive()")
    assert.has_error(function() db:exec("select 2") end)
    db:receive()
    assert.has_error(function() db:receive() end, "nothing to receive: no statement was sent with send()")
  end)

  it("reports a failing statement without cancelling the next one", function()
    assert(db:send("select 1 / 0"))
    assert(db:send("select 'after' as x"))
    local rows, message, err = db:receive()
    assert.is_nil(rows)
    assert.equal("ERROR: division by zero", message)
    assert.equal("22012", err.sqlstate)
    assert.equal("after", db:receive()[1].x)
  end)

  it("runs inside the caller's transaction", function()
    assert(db:exec("create temp table pipe (x int)"))
    assert(db:exec("begin"))
    assert(db:send("insert into pipe values (1)"))
    assert(db:send("select count(*) as n from pipe"))
    assert.equal(1, db:receive().affected_rows)
    assert.equal(1, db:receive()[1].n)
    assert.equal("intrans", db:transaction_status())
    assert(db:exec("rollback"))
    assert.equal(0, db:query("select count(*) as n from pipe")[1].n)
  end)

  it("refuses while a rows() loop is open", function()
    for _ in db:rows("select 1") do
      assert.has_error(function() db:send("select 2") end, "connection is busy: a rows() loop on it is still open")
    end
  end)
end)

describe("ladle.pg.wait", function()
  it("returns a connection whose result is ready", function()
    local slow, fast = env.connect(), env.connect()
    assert(slow:send("select pg_sleep(0.3), 'slow' as who"))
    assert(fast:send("select 'fast' as who"))
    local i = pg.wait({ slow, fast })
    assert.equal(2, i)
    assert.equal("fast", fast:receive()[1].who)
    assert.equal(1, pg.wait({ slow }))
    assert.equal("slow", slow:receive()[1].who)
    slow:close()
    fast:close()
  end)

  it("rejects connections with nothing sent", function()
    local db = env.connect()
    assert.has_error(function() pg.wait({ db }) end)
    assert.has_error(function() pg.wait({}) end)
    db:close()
  end)
end)
