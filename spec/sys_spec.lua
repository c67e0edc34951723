-- ladle.sys: running programs without a shell, files, clocks.

local env = require "support.env"
local sys = require "ladle.sys"

describe("ladle.sys.spawn", function()
  it("runs a program without a shell and captures its output", function()
    local status, out, err = sys.spawn({ "printf", "%s|%s", "a b", "$HOME;*" }, { stdout = "capture", stderr = "capture" })
    assert.equal(0, status)
    assert.equal("a b|$HOME;*", out)
    assert.equal("", err)
  end)

  it("reports exit codes and signals", function()
    assert.equal(3, (sys.spawn({ "sh", "-c", "exit 3" })))
    assert.equal(128 + sys.signals.TERM, (sys.spawn({ "sh", "-c", "kill -TERM $$" })))
  end)

  it("returns nil, a message and details when the program does not exist", function()
    local status, message, details = sys.spawn({ "no-such-program-for-ladle" })
    assert.is_nil(status)
    assert.equal("cannot run no-such-program-for-ladle: No such file or directory", message)
    assert.same({ errno = 2 }, details)  -- ENOENT
  end)

  it("returns nil, a message and details for a user that does not exist", function()
    local status, message, details = sys.spawn({ "true" }, { user = "no-such-user-for-ladle" })
    assert.is_nil(status)
    assert.equal("no such user: no-such-user-for-ladle", message)
    assert.same({}, details)
  end)

  it("sets and removes environment variables for the child", function()
    sys.setenv("LADLE_SPEC_GONE", "here")
    local _, out = sys.spawn({ "sh", "-c", 'echo "${LADLE_SPEC_NEW}-${LADLE_SPEC_GONE:-unset}"' },
      { stdout = "capture", env = { LADLE_SPEC_NEW = "new", LADLE_SPEC_GONE = false } })
    sys.setenv("LADLE_SPEC_GONE", nil)
    assert.equal("new-unset\n", out)
  end)

  it("runs in a directory and writes to files", function()
    local dir = env.tmpdir()
    assert.equal(0, (sys.spawn({ "sh", "-c", "pwd; echo err >&2" },
      { cwd = dir, stdout = { path = dir .. "/out" }, stderr = { path = dir .. "/out", append = true } })))
    assert.equal(0, (sys.spawn({ "echo", "more" }, { stdout = { path = dir .. "/out", append = true } })))
    local real = sys.realpath(dir)
    assert.equal(real .. "\nmore\n", env.read(dir .. "/out"):gsub("err\n", ""))
  end)

  it("captures large output from both streams", function()
    local status, out, err = sys.spawn({ "sh", "-c", "seq 1 200000; seq 1 100000 >&2" },
      { stdout = "capture", stderr = "capture" })
    assert.equal(0, status)
    assert.equal(200000, select(2, out:gsub("\n", "")))
    assert.equal(100000, select(2, err:gsub("\n", "")))
  end)

  it("reports the child's peak memory and CPU time", function()
    local status, _, _, usage = sys.spawn({ "sh", "-c", "exit 0" })
    assert.equal(0, status)
    assert.is_true(usage.maxrss_kb > 0)
    assert.is_number(usage.user)
    assert.is_number(usage.system)
  end)

  it("starts a child without waiting and waits for it later", function()
    local pid = assert(sys.spawn({ "sh", "-c", "exit 5" }, { wait = false }))
    assert.equal(5, sys.wait(pid))
  end)
end)

describe("ladle.sys files", function()
  it("creates private temporary directories and removes trees", function()
    local dir = assert(sys.mkdtemp("ladle-sys-"))
    assert.equal(tonumber("700", 8), sys.stat(dir).mode)
    assert(sys.spawn({ "mkdir", "-p", dir .. "/a/b" }))
    env.write(dir .. "/a/b/file", "x")
    assert.same({ "a" }, sys.listdir(dir))
    assert.is_true(sys.rmtree(dir))
    assert.is_nil(sys.stat(dir))
    assert.is_true(sys.rmtree(dir))  -- already gone is fine
  end)

  it("creates files with an exact mode", function()
    local path = env.tmpdir() .. "/secret"
    assert.is_true(sys.create(path, tonumber("600", 8)))
    assert.equal(tonumber("600", 8), sys.stat(path).mode)
  end)

  it("finds executables in PATH", function()
    assert.matches("/sh$", sys.which("sh"))
    assert.is_nil(sys.which("no-such-program-for-ladle"))
  end)

  it("has a monotonic clock", function()
    local a = sys.now()
    sys.sleep(0.05)
    assert.is_true(sys.now() - a >= 0.045)
  end)
end)

describe("ladle.sys failures", function()
  -- ENOENT is 2 on Linux; what matters is that errno is a number in a table
  local function assert_enoent(path, value, message, details)
    assert.is_nil(value)
    assert.equal(path .. ": No such file or directory", message)
    assert.same({ errno = 2, path = path }, details)
  end

  it("come back as nil, message, {errno =, path =} for a path that is not there", function()
    local missing = env.tmpdir() .. "/no/such/place"
    assert_enoent(missing, sys.stat(missing))
    assert_enoent(missing, sys.listdir(missing))
    assert_enoent(missing, sys.realpath(missing))
    assert_enoent(missing, sys.chmod(missing, tonumber("700", 8)))
    assert_enoent(missing, sys.create(missing))
    assert_enoent(missing, sys.chown(missing, sys.user()))
  end)

  it("name the template mkdtemp could not use", function()
    local value, message, details = sys.mkdtemp("no/such/dir/ladle-")
    assert.is_nil(value)
    assert.matches("/no/such/dir/ladle%-XXXXXX: No such file or directory$", message)
    assert.equal(2, details.errno)
    assert.equal(message:match("^(.*): "), details.path)
  end)

  it("say which call failed when there is no path", function()
    local pid = assert(sys.spawn({ "true" }, { wait = false }))
    assert.equal(0, sys.wait(pid))
    local value, message, details = sys.wait(pid)
    assert.is_nil(value)
    assert.equal("waitpid: No child processes", message)
    assert.same({ errno = 10 }, details)  -- ECHILD
    value, message, details = sys.chown(env.tmpdir(), "no-such-user-for-ladle")
    assert.is_nil(value)
    assert.equal("no such user: no-such-user-for-ladle", message)
    assert.same({}, details)
  end)
end)
