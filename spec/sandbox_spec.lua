-- ladle.sandbox and `ladle sandbox`: throwaway clusters.

local env = require "support.env"
local ladle = require "ladle"
local sys = require "ladle.sys"

describe("ladle.sandbox", function()
  it("finds the server binaries", function()
    local dir = assert(ladle.sandbox.bindir())
    assert.is_not_nil(sys.stat(dir .. "/initdb"))
  end)

  it("starts a private cluster, creates databases and removes everything on stop", function()
    local cluster = assert(ladle.sandbox.start())
    assert.is_true(cluster:running())
    assert.equal("directory", sys.stat(cluster.dir).type)
    local info = assert(cluster:createdb("made_here"))
    local db = assert(ladle.connect(info))
    assert.equal("made_here", db:query("select current_database() as d")[1].d)
    assert.equal("", db:query("show listen_addresses")[1].listen_addresses)
    assert.equal("off", db:query("show fsync")[1].fsync)
    db:close()
    assert.is_true(cluster:dropdb("made_here"))
    local dir = cluster.dir
    assert.is_true(cluster:stop())
    assert.is_true(cluster:stop())
    assert.is_false(cluster:running())
    assert.is_nil(sys.stat(dir))
    assert.is_nil(ladle.connect(string.format("host=%s dbname=postgres connect_timeout=2", dir)))
  end)

  it("stops a cluster at the end of a <close> scope", function()
    local dir
    do
      local cluster <close> = assert(ladle.sandbox.start())
      dir = cluster.dir
      local db <close> = assert(cluster:connect())
      assert(db:query("select 1"))
    end
    assert.is_nil(sys.stat(dir))
  end)

  it("gives libpq environment variables for a client", function()
    local cluster <close> = assert(ladle.sandbox.start())
    local vars = cluster:env("x")
    assert.equal(cluster.dir, vars.PGHOST)
    assert.equal("x", vars.PGDATABASE)
    assert.is_false(vars.PGSERVICE)
  end)

  it("reports a missing server installation with the package to install", function()
    sys.setenv("LADLE_PG_BINDIR", "/nonexistent/bin")
    local cluster, err = ladle.sandbox.start()
    sys.setenv("LADLE_PG_BINDIR", nil)
    assert.is_nil(cluster)
    assert.matches("apt-get install -y postgresql-15", err, 1, true)
  end)

  it("started the test cluster quickly", function()
    -- the helper measured it; a slow start shows up here, not as a timeout
    local seconds = tonumber(os.getenv("LADLE_TEST_STARTUP"))
    assert.is_true(seconds < 10, "start took " .. tostring(seconds) .. " s")
  end)
end)

describe("ladle.sandbox.core guard", function()
  local core = require "ladle.sandbox.core"

  -- A cluster-shaped directory without a server: the guard has nothing to
  -- stop and everything to remove.
  local function root_with_data()
    local root = env.tmpdir()
    assert(sys.spawn({ "mkdir", "-p", root .. "/data/base" }))
    env.write(root .. "/data/base/file", "x")
    return root
  end

  it("lives in the sandbox's own module, not in ladle.sys", function()
    assert.is_nil(sys.cluster_guard)
    assert.is_function(core.guard)
  end)

  it("removes the directory on close, once", function()
    local root = root_with_data()
    local guard = core.guard(root .. "/data", root)
    assert.is_true(guard:active())
    assert.is_true(guard:close())
    assert.is_false(guard:active())
    assert.is_nil(sys.stat(root))
    assert.is_true(guard:close())
  end)

  it("removes the directory when collected and at the end of a <close> scope", function()
    local root = root_with_data()
    core.guard(root .. "/data", root)
    collectgarbage()
    collectgarbage()
    assert.is_nil(sys.stat(root))
    root = root_with_data()
    do
      local guard <close> = core.guard(root .. "/data", root)
      assert.equal("directory", sys.stat(root).type)
    end
    assert.is_nil(sys.stat(root))
  end)

  it("removes the directory at exit, even through os.exit", function()
    local root = root_with_data()
    local status = env.ladle({ "-e", string.format(
      "guard = require('ladle.sandbox.core').guard(%q, %q) os.exit(0)", root .. "/data", root) })
    assert.equal(0, status)
    assert.is_nil(sys.stat(root))
  end)
end)

describe("ladle sandbox -- COMMAND", function()
  it("passes the command's exit status through", function()
    local status = env.ladle({ "sandbox", "--", "sh", "-c", "exit 7" })
    assert.equal(7, status)
    status = env.ladle({ "sandbox", "true" })
    assert.equal(0, status)
  end)

  it("points the command at the cluster and removes it afterwards", function()
    local status, out = env.ladle({ "sandbox", "--", "sh", "-c",
      'echo "$PGHOST"; psql -X -Atc "select current_user, current_database()"' })
    assert.equal(0, status)
    local dir, who = out:match("^(%S+)\n(%S+)\n$")
    assert.equal("postgres|postgres", who)
    assert.matches("ladle%-sandbox%-", dir)
    assert.is_nil(sys.stat(dir))
  end)

  it("runs ladle itself inside", function()
    local status, out = env.ladle({ "sandbox", "--", env.exe, "-e",
      "print(assert(ladle.connect('')):query('select 40 + 2 as x')[1].x)" })
    assert.equal(0, status)
    assert.equal("42\n", out)
  end)

  it("removes the cluster when Ctrl-C stops the command", function()
    local dir = env.tmpdir()
    -- a new process group stands for the terminal's foreground job
    local pid = assert(sys.spawn({ env.exe, "sandbox", "--", "sh", "-c",
      'echo "$PGHOST" > ' .. dir .. '/host; exec sleep 30' },
      { wait = false, new_group = true, stderr = { path = dir .. "/err" } }))
    local host
    for _ = 1, 3000 do  -- a cluster start may take seconds on a loaded machine
      host = env.read(dir .. "/host")
      if host and host:match("\n$") then break end
      sys.sleep(0.01)
    end
    host = assert(host):match("^(%S+)")
    assert.equal("directory", sys.stat(host).type)
    sys.kill(-pid, sys.signals.INT)
    assert.equal(130, sys.wait(pid))
    assert.is_nil(sys.stat(host))
  end)

  it("exits 127 when the command cannot be run", function()
    local status, _, err = env.ladle({ "sandbox", "--", "/no/such/program" })
    assert.equal(127, status)
    assert.matches("cannot run /no/such/program", err, 1, true)
  end)

  it("exits 2 naming the package when no server is installed", function()
    local status, _, err = env.ladle({ "sandbox", "--", "true" }, { env = { LADLE_PG_BINDIR = "/nonexistent" } })
    assert.equal(2, status)
    assert.matches("apt-get install -y postgresql-15", err, 1, true)
    assert.equal(1, select(2, err:gsub("\n", "")))
  end)

  it("exits 2 without a command", function()
    local status, _, err = env.ladle({ "sandbox" })
    assert.equal(2, status)
    assert.matches("no command given", err)
  end)
end)
