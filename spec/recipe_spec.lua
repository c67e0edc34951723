-- ladle.recipe: hooks, command splitting, placeholders, confirmation and
-- recipe headers.

local env = require "support.env"
local recipe = require "ladle.recipe"
local errors = require "ladle.errors"

-- what recipes say goes to a file, not into the test log
local said_path = env.tmpdir() .. "/said"
local said = assert(io.open(said_path, "w"))

local function failure_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok)
  assert.is_true(errors.is_failure(err), tostring(err))
  return err
end

describe("recipe.split", function()
  it("splits words and honours quotes and backslashes without expanding", function()
    assert.same({ "deploy", "--to", "prod eu", "it's", "$HOME", "a\"b", "x y" },
      recipe.split([[deploy  --to 'prod eu' "it's" $HOME "a\"b" x\ y]]))
    assert.same({ "sh", "-c", "echo a; echo b" }, recipe.split("sh -c 'echo a; echo b'"))
    assert.same({ "" }, recipe.split("''"))
    assert.same({}, recipe.split("   "))
  end)

  it("reports an unterminated quote", function()
    local words, err = recipe.split("echo 'oops")
    assert.is_nil(words)
    assert.matches("unterminated '", err)
  end)
end)

describe("recipe.expand", function()
  it("replaces placeholders and refuses unknown ones", function()
    assert.equal("v1.2.0 in /srv", recipe.expand("v{version} in {dir}", { version = "1.2.0", dir = "/srv" }))
    local out, err = recipe.expand("deploy {verison}", { version = "1" })
    assert.is_nil(out)
    assert.matches("{verison} has no value", err, 1, true)
  end)
end)

describe("recipe.hook", function()
  local dir
  before_each(function() dir = env.tmpdir() end)

  it("runs a command without a shell, placeholders as single words", function()
    recipe.hook("sh -c 'printf \"%s|\" \"$@\" > " .. dir .. "/out' argv0 {version} {dir}",
      { version = "1.2.0", dir = "/path with spaces;rm" })
    assert.equal("1.2.0|/path with spaces;rm|", env.read(dir .. "/out"))
    recipe.hook("touch {dir}/made", { dir = dir })
    assert.is_not_nil(env.read(dir .. "/made"))
  end)

  it("runs through sh -c when asked", function()
    recipe.hook("echo {version} > " .. dir .. "/v && echo ok >> " .. dir .. "/v", { version = "3.0" }, { shell = true })
    assert.equal("3.0\nok\n", env.read(dir .. "/v"))
  end)

  it("D9: quotes placeholder values inside an sh -c script, so that each stays one word", function()
    local evil = "x;touch " .. dir .. "/PWNED1 $(touch " .. dir .. "/PWNED2) `touch " .. dir .. "/PWNED3` 'q\" \\ \n"
    local vars = { dir = evil }
    recipe.hook("sh -c 'printf %s {dir} > " .. dir .. "/a'", vars)                 -- plain
    recipe.hook("sh -c \"printf %s '{dir}' > " .. dir .. "/b\"", vars)             -- inside '...'
    recipe.hook("sh -c 'printf %s \"{dir}\" > " .. dir .. "/c'", vars)             -- inside "..."
    recipe.hook("bash -ec 'printf %s x{dir}x > " .. dir .. "/d'", vars)            -- another shell, -ec
    recipe.hook("printf %s {dir} > " .. dir .. "/e", vars, { shell = true })       -- opts.shell
    for _, name in ipairs { "a", "b", "c", "e" } do assert.equal(evil, env.read(dir .. "/" .. name), name) end
    assert.equal("x" .. evil .. "x", env.read(dir .. "/d"))
    for i = 1, 3 do assert.is_nil(env.read(dir .. "/PWNED" .. i)) end
  end)

  it("accepts a Lua function wherever a command is", function()
    local seen
    recipe.hook(function(vars) seen = vars.version end, { version = "2.0" })
    assert.equal("2.0", seen)
  end)

  it("raises a failure naming the command and its status", function()
    local f = failure_of(recipe.hook, "sh -c 'exit 4'", {})
    assert.equal(3, f.exit)
    assert.equal("hook failed with exit status 4: sh -c exit 4", f.message)
    f = failure_of(recipe.hook, "/no/such/deployer {version}", { version = "1" })
    assert.equal(3, f.exit)
    assert.matches("cannot run /no/such/deployer", f.message, 1, true)
    f = failure_of(recipe.hook, "deploy {nope}", {})
    assert.equal(2, f.exit)
  end)

  it("keeps a hook's output with capture, also on the failure", function()
    local ok, out, err = recipe.hook("sh -c 'echo to-out; echo to-err >&2'", {}, { capture = true })
    assert.same({ true, "to-out\n", "to-err\n" }, { ok, out, err })
    local f = failure_of(recipe.hook, "sh -c 'echo why; exit 5'", {}, { capture = true })
    assert.same({ 3, 5, "why\n", "" }, { f.exit, f.status, f.stdout, f.stderr })
  end)

  it("only prints in a dry run", function()
    local ok = pcall(recipe.hook, "touch " .. dir .. "/never", {}, { dry_run = true, out = said })
    assert.is_true(ok)
    assert.is_nil(env.read(dir .. "/never"))
    assert.matches("Would run hook: touch " .. dir .. "/never\n", env.read(said_path), 1, true)
    -- a recipe context passes its own dry run: nothing process-wide
    local r = recipe.new { dry_run = true, output = said }
    assert.is_true(r:hook("touch {dir}/never2", { dir = dir }))
    assert.is_nil(env.read(dir .. "/never2"))
    recipe.hook("touch {dir}/made2", { dir = dir })
    assert.is_not_nil(env.read(dir .. "/made2"))
  end)
end)

describe("recipe.confirm", function()
  it("answers yes with --yes", function()
    local ok, answer = pcall(recipe.confirm, "Upgrade production?", { assume_yes = true, out = said })
    assert.is_true(ok)
    assert.is_true(answer)
    local r = recipe.new { yes = true, output = said }
    assert.is_true(r:confirm("Upgrade production?"))
    assert.matches("Upgrade production%? yes %(%-%-yes%)", env.read(said_path))
  end)

  it("refuses without a terminal", function()
    local f = failure_of(recipe.confirm, "Upgrade production?")
    assert.equal(2, f.exit)
    assert.matches("pass %-%-yes", f.message)
  end)
end)

describe("recipe.read_header", function()
  it("reads the summary and the declared flags", function()
    local path = env.write(env.tmpdir() .. "/r.lua", [[
#!/usr/bin/env ladle
-- Canary: pre deltas, deploy to one host, smoke test,
-- then everywhere.
--
-- More words here.
-- @flag --canary=CMD (required) deploy to the canary host
-- @flag -s, --smoke=CMD run the smoke test
-- @flag --hosts=HOST (many) hosts to deploy to
-- @flag --force skip the smoke test
local opts = ...
-- @flag --not-a-flag this is not in the header
]])
    local h = assert(recipe.read_header(path))
    assert.equal("Canary: pre deltas, deploy to one host, smoke test, then everywhere.", h.summary)
    assert.equal(4, #h.flags)
    assert.same({ "--canary", arg = "CMD", required = true, help = "deploy to the canary host" }, h.flags[1])
    assert.same({ "-s", "--smoke", arg = "CMD", help = "run the smoke test" }, h.flags[2])
    assert.same({ "--hosts", arg = "HOST", many = true, help = "hosts to deploy to" }, h.flags[3])
    assert.same({ "--force", help = "skip the smoke test" }, h.flags[4])
  end)

  it("names the file and line of a bad declaration", function()
    local path = env.write(env.tmpdir() .. "/bad.lua", "-- x\n-- @flag --a=B (sometimes) help\n")
    local h, err = recipe.read_header(path)
    assert.is_nil(h)
    assert.matches("bad.lua:2: unknown flag property %(sometimes%)", err)
  end)
end)
