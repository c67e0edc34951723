-- Lock-safe apply: each delta's lock_timeout, and retries after a lock
-- timeout (ladle.plan.execute, ladle.plan.retry), end to end with another
-- session that really holds the lock.

local env = require "support.env"
local ladle = require "ladle"
local json = require "ladle.json"
local sys = ladle.sys
local support = require "support.deltas"

local base = {
  ["01.00.00_01_create.sql"] = "create table accounts (id int primary key, email text);\n"
    .. "insert into accounts select g, 'a' || g from generate_series(1, 10) g;\n"
    .. "create table audit (note text);\n",
}

-- The delta that meets the lock: a row first (so that a rolled-back
-- attempt would show as a second row), then the ALTER that waits.
local add_column = {
  ["01.01.00_01_add_note.sql"] = "insert into audit values ('1.1.0 ran');\n"
    .. "alter table accounts add column note text;\n",
}

local function merged(...)
  local all = {}
  for _, t in ipairs({ ... }) do for k, v in pairs(t) do all[k] = v end end
  return all
end

-- Polls a file until it matches pattern (plain), for at most `seconds`.
local function wait_for(path, plain, seconds)
  local deadline = sys.now() + seconds
  repeat
    local text = env.read(path) or ""
    if text:find(plain, 1, true) then return text end
    sys.sleep(0.02)
  until sys.now() > deadline
  return env.read(path) or ""
end

describe("lock-safe apply", function()
  local dbname, db, run_env
  before_each(function()
    dbname = env.new_database("retry")
    db = env.connect(dbname)
    run_env = { PGDATABASE = dbname }
  end)
  after_each(function()
    db:close()
    env.drop_database(dbname)
  end)

  -- A second session that holds ACCESS SHARE on accounts, as a long read
  -- does: ALTER TABLE needs ACCESS EXCLUSIVE and has to wait for it.
  local function hold_read_lock()
    local holder = env.connect(dbname)
    local pid = holder:query("SELECT pg_backend_pid() AS pid")[1].pid
    assert(holder:exec("BEGIN"))
    assert(holder:query("SELECT count(*) FROM accounts /* the long report */"))
    return holder, pid
  end

  it("rolls the delta back, names the blocker, waits, and applies it once when the lock is free", function()
    local dir = support.folder(merged(base, add_column))
    assert.equal(0, (env.ladle({ "upgrade", "-d", dir, "--to", "1.0.0" }, { env = run_env })))
    local holder, holder_pid = hold_read_lock()
    local tmp = env.tmpdir()
    local pid = assert(sys.spawn({ env.exe, "upgrade", "-d", dir, "--lock-timeout", "150ms", "--retries", "50",
      "--retry-wait", "50ms" }, { env = run_env, wait = false, stdout = { path = tmp .. "/out" },
      stderr = { path = tmp .. "/err" } }))
    local err = wait_for(tmp .. "/err", "retry 2 of 50", 30)
    -- while it waits, the delta is not there, nor its row
    assert.equal(0, db:query("SELECT count(*) AS n FROM audit")[1].n)
    assert(holder:exec("COMMIT"))
    holder:close()
    local status = sys.wait(pid)
    local out = env.read(tmp .. "/out")
    err = env.read(tmp .. "/err")
    assert.equal(0, status, out .. err)
    assert.truthy(err:find("01.01.00_01_add_note.sql:2: canceling statement due to lock timeout", 1, true), err)
    assert.truthy(err:find(string.format("waiting for pid %d (", holder_pid), 1, true), err)
    assert.truthy(err:find("SELECT count(*) FROM accounts /* the long report */", 1, true), err)
    assert.truthy(err:find("holding ACCESS SHARE on public.accounts", 1, true), err)
    assert.truthy(out:find("LOCK TIMEOUT", 1, true), out)
    -- applied once: one audit row, one tracking row, the column
    assert.equal(1, db:query("SELECT count(*) AS n FROM audit")[1].n)
    assert.equal(1, db:query("SELECT count(*) AS n FROM ladle_upgrades WHERE version = '1.1.0'")[1].n)
    assert.truthy(support.exists(db, "public.accounts"))
    assert.equal(1, #db:query("SELECT 1 FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attname = 'note'"))
  end)

  it("gives up after the last retry, naming the blocker, with nothing applied (exit 3)", function()
    local dir = support.folder(merged(base, add_column))
    assert.equal(0, (env.ladle({ "upgrade", "-d", dir, "--to", "1.0.0" }, { env = run_env })))
    local holder, holder_pid = hold_read_lock()
    local t0 = sys.now()
    local status, out, err = env.ladle({ "upgrade", "-d", dir, "--lock-timeout", "100ms", "--retries", "2",
      "--retry-wait", "20ms", "--json" }, { env = run_env })
    assert(holder:exec("ROLLBACK"))
    holder:close()
    assert.equal(3, status, out .. err)
    assert.truthy(sys.now() - t0 >= 0.3)
    assert.truthy(err:find("gave up after 3 attempts", 1, true), err)
    assert.truthy(err:find(string.format("pid %d (", holder_pid), 1, true), err)
    local retrying = {}
    for line in out:gmatch("[^\n]+") do
      local event = json.decode(line)
      if event.event == "retrying" then retrying[#retrying + 1] = event end
    end
    assert.equal(2, #retrying)
    assert.equal(1, retrying[1].attempt)
    assert.equal(holder_pid, retrying[1].blockers[1].pid)
    assert.equal("public.accounts", retrying[1].blockers[1].relation)
    assert.equal(0, db:query("SELECT count(*) AS n FROM audit")[1].n)
    assert.equal(0, db:query("SELECT count(*) AS n FROM ladle_upgrades WHERE version = '1.1.0'")[1].n)
  end)

  it("without --retries fails at the first lock timeout and says how to retry", function()
    local dir = support.folder(merged(base, add_column))
    assert.equal(0, (env.ladle({ "upgrade", "-d", dir, "--to", "1.0.0" }, { env = run_env })))
    local holder = hold_read_lock()
    local status, out, err = env.ladle({ "upgrade", "-d", dir, "--lock-timeout", "100ms" }, { env = run_env })
    assert(holder:exec("ROLLBACK"))
    holder:close()
    assert.equal(3, status, out .. err)
    assert.truthy(err:find("(SQLSTATE 55P03)", 1, true), err)
    assert.truthy(err:find("--retries N", 1, true), err)
    assert.falsy(err:find("retry 1", 1, true), err)
  end)

  it("does not retry other errors", function()
    local dir = support.folder(merged(base, {
      ["01.01.00_01_bad.sql"] = "insert into audit values ('x');\nalter table accounts add column id int;\n" }))
    local t0 = sys.now()
    local status, out, err = env.ladle({ "upgrade", "-d", dir, "--lock-timeout", "100ms", "--retries", "5",
      "--retry-wait", "60s" }, { env = run_env })
    assert.equal(3, status, out .. err)
    assert.truthy(sys.now() - t0 < 30, "no wait before a retry")
    assert.truthy(err:find("already exists", 1, true), err)
    assert.falsy((out .. err):find("LOCK TIMEOUT", 1, true))
    assert.equal(0, db:query("SELECT count(*) AS n FROM audit")[1].n)
  end)

  it("sets lock_timeout for each delta only, in and outside a transaction", function()
    local dir = support.folder {
      ["01.00.00_01_in.lua"] = "local conn = ...\n"
        .. "assert(conn:query('show lock_timeout')[1].lock_timeout == '250ms')\n",
      ["01.00.00_02_out.sql"] = "-- ladle: no-transaction\n"
        .. "do $$ begin if current_setting('lock_timeout') <> '250ms' then raise 'got %', "
        .. "current_setting('lock_timeout'); end if; end $$;\n",
      ["01.00.00_03_in.sql"] = "do $$ begin if current_setting('lock_timeout') <> '250ms' then raise 'got %', "
        .. "current_setting('lock_timeout'); end if; end $$;\n",
    }
    local status, out, err = env.ladle({ "upgrade", "-d", dir, "--lock-timeout", "250ms" }, { env = run_env })
    assert.equal(0, status, out .. err)
    -- and the caller's session keeps its own
    assert(db:exec("set lock_timeout = '7s'"))
    local p = assert(ladle.plan { conn = db, dir = dir, reporter = false, lock_timeout = 0.25 })
    assert.equal(0, p:apply())
    assert.equal("7s", db:query("show lock_timeout")[1].lock_timeout)
  end)

  it("retries a no-transaction delta only when nothing of it committed", function()
    local dir = support.folder(merged(base, {
      ["01.01.00_01_two.sql"] = "-- ladle: no-transaction\ninsert into audit values ('committed');\n"
        .. "alter table accounts add column note text;\n" }))
    assert.equal(0, (env.ladle({ "upgrade", "-d", dir, "--to", "1.0.0" }, { env = run_env })))
    local holder = hold_read_lock()
    local status, out, err = env.ladle({ "upgrade", "-d", dir, "--lock-timeout", "100ms", "--retries", "3",
      "--retry-wait", "10ms" }, { env = run_env })
    assert(holder:exec("ROLLBACK"))
    holder:close()
    assert.equal(3, status, out .. err)
    assert.falsy(out:find("LOCK TIMEOUT", 1, true), out)
    assert.equal(1, db:query("SELECT count(*) AS n FROM audit")[1].n)
  end)

  it("reads lock_timeout, retries and retry_wait from the config file", function()
    local dir = support.folder(merged(base, add_column))
    assert.equal(0, (env.ladle({ "upgrade", "-d", dir, "--to", "1.0.0" }, { env = run_env })))
    local config = env.write(env.tmpdir() .. "/db.yaml", "delta_dir: " .. dir .. "\nlock_timeout: 100ms\n"
      .. "retries: 1\nretry_wait: 10ms\nwait_timeout: 5s\n")
    local holder = hold_read_lock()
    local status, out, err = env.ladle({ "-c", config, "upgrade" }, { env = run_env })
    assert(holder:exec("ROLLBACK"))
    holder:close()
    assert.equal(3, status, out .. err)
    assert.truthy(err:find("retry 1 of 1", 1, true), err)
    assert.truthy(err:find("gave up after 2 attempts", 1, true), err)
    env.write(config, "retries: often\n")
    status, _, err = env.ladle({ "-c", config, "upgrade", "-d", dir }, { env = run_env })
    assert.equal(2, status)
    assert.truthy(err:find("retries: expected a whole number", 1, true), err)
  end)

  it("reaches the recipes: blue-green with --lock-timeout and --retries", function()
    local dir = support.folder(merged(base, add_column))
    assert.equal(0, (env.ladle({ "upgrade", "-d", dir, "--to", "1.0.0" }, { env = run_env })))
    local holder = hold_read_lock()
    local status, out, err = env.ladle({ "run", "blue-green", "-d", dir, "--deploy", "true", "--lock-timeout",
      "100ms", "--retries", "1", "--retry-wait", "10ms" }, { env = run_env })
    assert(holder:exec("ROLLBACK"))
    holder:close()
    assert.equal(3, status, out .. err)
    assert.truthy(err:find("gave up after 2 attempts", 1, true), err)
    assert.truthy(err:find("retry 1 of 1", 1, true), err)
  end)
end)
