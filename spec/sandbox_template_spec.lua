-- ladle.sandbox.template: the cached initdb behind fast sandbox starts.
-- Each test uses a cache of its own, so the user's cache is left alone.

local env = require "support.env"
local ladle = require "ladle"
local sys = require "ladle.sys"
local template = require "ladle.sandbox.template"

-- Owner uid and octal mode of a path, read with stat(1), independently of
-- the module.
local function owner(path)
  local status, out = sys.spawn({ "stat", "-c", "%u %a", path }, { stdout = "capture", stderr = "null" })
  assert.equal(0, status, "stat " .. path)
  local uid, mode = out:match("^(%d+) (%d+)")
  return tonumber(uid), mode
end

local function entries(dir)
  local names = {}
  for _, name in ipairs(sys.listdir(dir) or {}) do names[#names + 1] = name end
  return names
end

local function start(cache)
  local cluster = assert(ladle.sandbox.start { cache = cache })
  local db <close> = assert(cluster:connect())
  assert.equal(1, db:query("select 1 as one")[1].one)
  return cluster
end

describe("ladle.sandbox.template", function()
  it("is kept in $XDG_CACHE_HOME/ladle, else ~/.cache/ladle", function()
    assert.equal("/x/cache/ladle", template.cache_dir("/x/cache"))
    local home = os.getenv("HOME")
    local xdg = os.getenv("XDG_CACHE_HOME")
    sys.setenv("XDG_CACHE_HOME", nil)
    assert.equal(home .. "/.cache/ladle", template.cache_dir())
    sys.setenv("XDG_CACHE_HOME", "/elsewhere")
    assert.equal("/elsewhere/ladle", template.cache_dir())
    sys.setenv("XDG_CACHE_HOME", xdg)
  end)

  it("fills the cache on the first start and copies it afterwards, private and the server's", function()
    local cache = env.tmpdir() .. "/ladle"
    local first = start(cache)
    first:stop()
    assert.equal("saved", first.template)
    local names = entries(cache)
    assert.equal(1, #names)
    local entry = cache .. "/" .. names[1]
    local me = sys.geteuid()
    local uid, mode = owner(cache)
    assert.equal(me, uid)
    assert.equal("700", mode)
    uid, mode = owner(entry)
    assert.equal(me, uid)
    assert.equal("700", mode)
    -- root runs the server as postgres: the data directory is postgres's
    local server = me == 0 and sys.user_exists("postgres") or me
    uid, mode = owner(entry .. "/data")
    assert.equal(server, uid)
    assert.equal("700", mode)

    local second = start(cache)
    assert.equal("copied", second.template)
    -- the copy belongs to the server, as initdb's output did
    assert.equal(server, (owner(second.datadir)))
    second:stop()
    assert.same(names, entries(cache))
  end)

  it("rebuilds an entry whose stamp no longer matches the server's binaries", function()
    local cache = env.tmpdir() .. "/ladle"
    start(cache):stop()
    local entry = cache .. "/" .. entries(cache)[1]
    local stamp = env.read(entry .. "/stamp")
    env.write(entry .. "/stamp", stamp:gsub("postgres%.binary=[^\n]*", "postgres.binary=1:1"))
    env.write(entry .. "/data/marker", "from before")
    local cluster = start(cache)
    cluster:stop()
    assert.equal("saved", cluster.template)
    assert.equal(stamp, env.read(entry .. "/stamp"))
    assert.is_nil(sys.stat(entry .. "/data/marker"))
    assert.equal(1, #entries(cache))
  end)

  it("leaves a cache alone that others can write to", function()
    local cache = env.tmpdir() .. "/ladle"
    start(cache):stop()
    local entry = cache .. "/" .. entries(cache)[1]
    env.write(entry .. "/data/planted", "x")
    assert(sys.chmod(cache, tonumber("777", 8)))
    local cluster = start(cache)
    assert.matches("not a private directory", cluster.template)
    assert.is_nil(sys.stat(cluster.datadir .. "/planted"))
    cluster:stop()
    assert(sys.chmod(cache, tonumber("700", 8)))
  end)

  it("runs initdb, without touching the cache, when asked to", function()
    local cache = env.tmpdir() .. "/ladle"
    local cluster = assert(ladle.sandbox.start { cache = cache, template = false })
    cluster:stop()
    assert.equal("off", cluster.template)
    assert.same({}, entries(cache))
  end)

  it("is built once when two processes fill it at the same time", function()
    local base = env.tmpdir()
    local pids = {}
    for i = 1, 2 do
      pids[i] = assert(sys.spawn({ env.exe, "sandbox", "--", "true" }, {
        wait = false, env = { XDG_CACHE_HOME = base }, stdout = "null", stderr = { path = base .. "/err" .. i } }))
    end
    for i = 1, 2 do assert.equal(0, sys.wait(pids[i]), env.read(base .. "/err" .. i)) end
    local names = entries(base .. "/ladle")
    assert.equal(1, #names, table.concat(names, " "))
    assert.matches("^initdb%-", names[1])
    assert.is_not_nil(sys.stat(base .. "/ladle/" .. names[1] .. "/data/PG_VERSION"))
    -- and a third start uses it
    local cluster = start(base .. "/ladle")
    assert.equal("copied", cluster.template)
    cluster:stop()
  end)
end)
