-- ladle dump / ladle restore and ladle.backup: real pg_dump and pg_restore.

local env = require "support.env"
local sys = require "ladle.sys"

describe("ladle dump and restore", function()
  it("round-trips a database through a 0600 dump file", function()
    local src = env.new_database("dump_src")
    local db = env.connect(src)
    assert(db:exec([[create table item (id int primary key, name text);
      insert into item values (1, 'one'), (2, 'two');
      create view item_names as select name from item]]))
    db:close()
    local file = env.tmpdir() .. "/src.dump"
    local status, _, err = env.ladle({ "dump", "-p", env.conninfo(src), file })
    assert.equal(0, status, err)
    assert.equal(tonumber("600", 8), sys.stat(file).mode)

    local dst = env.new_database("dump_dst")
    status, _, err = env.ladle({ "restore", "-p", env.conninfo(dst), file })
    assert.equal(0, status, err)
    db = env.connect(dst)
    local rows = assert(db:query("select name from item_names order by name"))
    assert.same({ "one", "two" }, { rows[1].name, rows[2].name })
    db:close()

    -- restoring again collides with what is there: pg_restore's message, exit 3
    status, _, err = env.ladle({ "restore", "-p", env.conninfo(dst), file })
    assert.equal(3, status)
    assert.matches('relation "item" already exists', err, 1, true)
    assert.matches("\nladle: pg_restore failed %(exit status 1%): pg_restore: error:", err)
  end)

  it("keeps the password out of the tool's arguments", function()
    local dir = env.tmpdir()
    local fake = env.write(dir .. "/fake_pg_dump", '#!/bin/sh\necho "$@" > "$0.args"\nenv | grep ^PG | sort > "$0.env"\n')
    sys.chmod(fake, tonumber("755", 8))
    local status = env.ladle({ "dump", "--pg-dump-exe", fake, "-p",
      "postgresql://bob:s3cret-word@db.example:6543/app", dir .. "/out.dump" })
    assert.equal(0, status)
    local args = env.read(fake .. ".args")
    assert.not_matches("s3cret", args, 1, true)
    assert.matches("--format=custom", args, 1, true)
    assert.matches("--dbname=user='bob' dbname='app' host='db.example' port='6543'", args, 1, true)
    assert.matches("PGPASSWORD=s3cret-word", env.read(fake .. ".env"), 1, true)
  end)

  it("gives a service's own settings precedence, as libpq does", function()
    local name = env.new_database("dump_service")
    local dir = env.tmpdir()
    local file = env.write(dir .. "/services.conf", string.format("[dump_spec]\nhost=%s\nport=5432\nuser=postgres\ndbname=%s\n",
      env.cluster_dir, name))
    local conn = env.connect(name)
    assert(conn:exec("CREATE TABLE only_here (x int)"))
    conn:close()
    local out = dir .. "/svc.dump"
    local status, _, err = env.ladle({ "dump", "-p", "dump_spec", out }, { env = { PGSERVICEFILE = file } })
    assert.equal(0, status, err)
    local _, listing = sys.spawn({ "pg_restore", "--list", out }, { stdout = "capture" })
    assert.matches("TABLE public only_here", listing, 1, true)
  end)

  it("exits 3 with pg_dump's message when the database does not exist", function()
    local file = env.tmpdir() .. "/none.dump"
    local status, _, err = env.ladle({ "dump", "-p", env.conninfo("no_such_db_for_dump"), file })
    assert.equal(3, status)
    assert.matches('database "no_such_db_for_dump" does not exist', err, 1, true)
  end)

  it("exits 2 without a dump file, or with one that cannot be read", function()
    assert.equal(2, (env.ladle({ "dump" })))
    assert.equal(2, (env.ladle({ "restore" })))
    local status, _, err = env.ladle({ "restore", "-p", env.conninfo(), "/no/such/file.dump" })
    assert.equal(2, status)
    assert.equal("ladle: restore: cannot read /no/such/file.dump\n", err)
  end)
end)
