-- The ladle executable: flags, scripts, errors and exit codes.

local env = require "support.env"
local sys = require "ladle.sys"

describe("ladle", function()
  it("prints its version", function()
    local status, out = env.ladle({ "--version" })
    assert.equal(0, status)
    assert.matches("^ladle %d+%.%d+%.%d+ %(Lua 5%.4", out)
  end)

  it("lists its commands in --help", function()
    local status, out = env.ladle({ "--help" })
    assert.equal(0, status)
    assert.matches("\n  run ", out)
    assert.matches("\n  sandbox ", out)
  end)

  it("shows a command's help", function()
    local status, out = env.ladle({ "sandbox", "--help" })
    assert.equal(0, status)
    assert.matches("^usage: ladle sandbox", out)
    status, out = env.ladle({ "help", "run" })
    assert.equal(0, status)
    assert.matches("^usage: ladle run", out)
  end)

  it("runs -e chunks with the API as a global", function()
    local status, out = env.ladle({ "-e", "print(type(ladle.connect), ladle.null)", "-e", "print(2)" })
    assert.equal(0, status)
    assert.equal("function\tnull\n2\n", out)
  end)

  it("runs a script with its options as ... and arg like lua.c", function()
    local script = env.write(env.tmpdir() .. "/args.lua", [[
      local opts = ...
      print(arg[0]:match("[^/]+$"), arg[1], arg[2], arg[3], arg[-1], select("#", ...))
      print(opts.dir, opts.args[1], opts.args[2], opts.table)
      local ladle = require "ladle"
      local db = assert(ladle.connect(""))
      print(db:query("select $1::int * 2 as x", tonumber(opts.args[1]))[1].x)
    ]])
    local status, out = env.ladle({ "run", script, "-d", "deltas", "--", "21", "--flag" })
    assert.equal(0, status)
    assert.equal("args.lua\t-d\tdeltas\t--\trun\t1\ndeltas\t21\t--flag\tpublic.ladle_upgrades\n42\n", out)
  end)

  it("exits 3 with message and traceback on a Lua error", function()
    local script = env.write(env.tmpdir() .. "/boom.lua", "local function f() error('kaboom') end\nf()\n")
    local status, out, err = env.ladle({ "run", script })
    assert.equal(3, status)
    assert.equal("", out)
    assert.matches("^ladle: .*boom%.lua:1: kaboom\n", err)
    assert.matches("stack traceback:", err, 1, true)
  end)

  it("exits 2 with one line for a syntax error in the script", function()
    local script = env.write(env.tmpdir() .. "/bad.lua", "x = = 1\n")
    local status, _, err = env.ladle({ "run", script })
    assert.equal(2, status)
    assert.matches("^ladle: .*bad%.lua:1: unexpected symbol near '='\n$", err)
  end)

  it("exits 2 for a missing script, an unknown command or flag", function()
    local status, _, err = env.ladle({ "run", "/no/such/script.lua" })
    assert.equal(2, status)
    assert.matches("cannot open /no/such/script.lua", err, 1, true)
    status, _, err = env.ladle({ "frobnicate" })
    assert.equal(2, status)
    assert.equal("ladle: unknown command 'frobnicate' (see 'ladle --help')\n", err)
    status, _, err = env.ladle({ "--frob" })
    assert.equal(2, status)
    assert.matches("unknown flag '%-%-frob'", err)
  end)

  it("exits with the code of a failure raised by ladle.fail, without traceback", function()
    local status, _, err = env.ladle({ "-e", "ladle.fail(1, 'pending: %d deltas', 3)" })
    assert.equal(1, status)
    assert.equal("ladle: pending: 3 deltas\n", err)
  end)

  it("interrupts a busy Lua loop and exits 130 on Ctrl-C", function()
    local dir = env.tmpdir()
    local pid = assert(sys.spawn({ env.exe, "-e", "io.stdout:write('go\\n') io.stdout:flush() while true do end" },
      { wait = false, stdout = { path = dir .. "/out" }, stderr = { path = dir .. "/err" } }))
    for _ = 1, 500 do
      if env.read(dir .. "/out") == "go\n" then break end
      sys.sleep(0.01)
    end
    sys.kill(pid, sys.signals.INT)
    assert.equal(130, sys.wait(pid))
    assert.equal("ladle: interrupted\n", env.read(dir .. "/err"))
  end)

  it("raises the interrupt object, and exits 130 even when a chunk catches it", function()
    local dir = env.tmpdir()
    local chunk = [[
      local ok, err = pcall(function()
        io.stdout:write('go\n') io.stdout:flush()
        while true do end
      end)
      print(ok, require('ladle.errors').is_interrupt(err), tostring(err), err.exit, type(err))
      io.stdout:flush()]]
    local pid = assert(sys.spawn({ env.exe, "-e", chunk },
      { wait = false, stdout = { path = dir .. "/out" }, stderr = { path = dir .. "/err" } }))
    for _ = 1, 500 do
      if env.read(dir .. "/out") == "go\n" then break end
      sys.sleep(0.01)
    end
    sys.kill(pid, sys.signals.INT)
    assert.equal(130, sys.wait(pid))
    assert.equal("go\nfalse\ttrue\tinterrupted\t130\tuserdata\n", env.read(dir .. "/out"))
    assert.equal("", env.read(dir .. "/err"))
  end)

  it("reports a rethrown interrupt object as an interruption, without traceback", function()
    local dir = env.tmpdir()
    local chunk = [[
      local ok, err = pcall(function()
        io.stdout:write('go\n') io.stdout:flush()
        while true do end
      end)
      error(err)]]
    local pid = assert(sys.spawn({ env.exe, "-e", chunk },
      { wait = false, stdout = { path = dir .. "/out" }, stderr = { path = dir .. "/err" } }))
    for _ = 1, 500 do
      if env.read(dir .. "/out") == "go\n" then break end
      sys.sleep(0.01)
    end
    sys.kill(pid, sys.signals.TERM)
    assert.equal(128 + sys.signals.TERM, sys.wait(pid))
    assert.equal("ladle: interrupted\n", env.read(dir .. "/err"))
  end)

  it("ends a long sys.sleep on Ctrl-C", function()
    local dir = env.tmpdir()
    local pid = assert(sys.spawn({ env.exe, "-e", "io.stdout:write('go\\n') io.stdout:flush() ladle.sys.sleep(60)" },
      { wait = false, stdout = { path = dir .. "/out" }, stderr = { path = dir .. "/err" } }))
    for _ = 1, 500 do
      if env.read(dir .. "/out") == "go\n" then break end
      sys.sleep(0.01)
    end
    local started = sys.now()
    sys.kill(pid, sys.signals.INT)
    assert.equal(130, sys.wait(pid))
    assert.is_true(sys.now() - started < 2)
  end)

  it("cancels the running query and exits 130 on Ctrl-C", function()
    local dir = env.tmpdir()
    local pid = assert(sys.spawn({ env.exe, "-e",
      "local db = assert(ladle.connect('')) db:query('select pg_sleep(30) as interrupted_sleep')" },
      { wait = false, stdout = { path = dir .. "/out" }, stderr = { path = dir .. "/err" } }))
    local admin = env.connect()
    -- wait for the query to be running, then interrupt
    local seen = false
    for _ = 1, 200 do
      local r = assert(admin:query([[select count(*) as n from pg_stat_activity
        where query like 'select pg_sleep(30) as %' and pid <> pg_backend_pid()]]))
      if r[1].n > 0 then seen = true break end
      sys.sleep(0.02)
    end
    assert.is_true(seen)
    local started = sys.now()
    sys.kill(pid, sys.signals.INT)
    local status = sys.wait(pid)
    local elapsed = sys.now() - started
    assert.equal(130, status)
    assert.is_true(elapsed < 2, "took " .. elapsed .. " s")
    assert.equal("ladle: interrupted\n", env.read(dir .. "/err"))
    local r = assert(admin:query([[select count(*) as n from pg_stat_activity
      where query like 'select pg_sleep(30) as %' and pid <> pg_backend_pid()]]))
    assert.equal(0, r[1].n)
    admin:close()
  end)
end)
