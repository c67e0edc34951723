-- 'ladle check' and 'ladle diff' end to end: exit codes, output, flags,
-- .sql sides on a throwaway cluster and on a scratch server.

local env = require "support.env"
local sandbox = require "ladle.sandbox"
local sys = require "ladle.sys"

local function database(sql)
  local name, conninfo = env.new_database("cmd")
  local conn = env.connect(name)
  assert(conn:exec(sql))
  conn:close()
  return name, conninfo
end

-- A pg_service.conf naming databases of the test cluster.
local function service_file(services)
  local lines = {}
  for service, dbname in pairs(services) do
    lines[#lines + 1] = string.format("[%s]\nhost=%s\nport=5432\nuser=postgres\ndbname=%s\n",
      service, env.cluster_dir, dbname)
  end
  return env.write(env.tmpdir() .. "/pg_service.conf", table.concat(lines, "\n"))
end

local function count_lines(text)
  local n = 0
  for _ in text:gmatch("[^\n]+") do n = n + 1 end
  return n
end

local A = [[
  create schema audit;
  create table audit.log (id int);
  create table t (id int primary key, a int);
  create table gone (x int);
  create view v as select id from t;]]
local B = [[
  create schema audit;
  create table audit.log (id int, extra text);
  create table t (id int primary key, a bigint, b text);
  create view v as select id, a from t;
  create index t_a on t (a);]]

describe("ladle check", function()
  local an, ac, bn, bc, cn, cc
  setup(function()
    local admin = env.connect()
    if #assert(admin:query("select 1 from pg_roles where rolname = 'ladle_cmd_viewer'")) == 0 then
      assert(admin:exec("create role ladle_cmd_viewer"))
    end
    admin:close()
    an, ac = database(A)
    bn, bc = database(B)
    cn, cc = database(A)
  end)
  teardown(function()
    env.drop_database(an); env.drop_database(bn); env.drop_database(cn)
  end)

  it("exits 0 and prints nothing when the schemas are equal", function()
    local status, out, err = env.ladle({ "check", "-p1", ac, "-p2", cc })
    assert.equal(0, status, err)
    assert.equal("", out)
  end)

  it("exits 1 with one line per difference", function()
    local status, out = env.ladle({ "check", "-p1", ac, "-p2", bc })
    assert.equal(1, status)
    assert.equal(table.concat({
      "- tables public.gone: table",
      "+ columns audit.log.extra: text",
      "~ columns public.t.a: type: integer -> bigint",
      "+ columns public.t.b: text",
      "+ indexes public.t_a: CREATE INDEX t_a ON public.t USING btree (a)",
      "~ views public.v: definition differs at line 1: 'SELECT t.id' -> 'SELECT t.id,'",
    }, "\n") .. "\n", out)
  end)

  it("takes service names, pum's long flags and -i, -N, -T", function()
    local file = service_file({ ladle_a = an, ladle_b = bn })
    local envs = { PGSERVICEFILE = file }
    local status, out = env.ladle({ "check", "--pg_service1", "ladle_a", "--pg-service2", "ladle_b",
      "-i", "views", "indexes", "-N", "audit", "-T", "gone" }, { env = envs })
    assert.equal(1, status)
    assert.equal("~ columns public.t.a: type: integer -> bigint\n+ columns public.t.b: text\n", out)
    status, out = env.ladle({ "check", "-p1", "ladle_a", "-p2", "ladle_b", "-i", "views", "indexes", "columns",
      "tables" }, { env = envs })
    assert.equal(0, status)
    assert.equal("", out)
    status, out = env.ladle({ "check", "-p1", "ladle_a", "-p2", "ladle_b", "-s" }, { env = envs })
    assert.equal(1, status)
    assert.equal("", out)
  end)

  it("takes pum's -P (columns by LIKE pattern) and several -N", function()
    local status, out = env.ladle({ "check", "-p1", ac, "-p2", bc, "-i", "views", "indexes", "tables",
      "-T", "gone", "-P", "ext%", "b" })
    assert.equal(1, status)
    assert.equal("~ columns public.t.a: type: integer -> bigint\n", out)
    status, out = env.ladle({ "check", "-p1", ac, "-p2", bc, "-i", "views", "indexes", "tables",
      "-T", "gone", "--exclude-field-pattern", "_", "-P", "%x%", "b" })
    assert.equal(0, status, out)
    status, out = env.ladle({ "check", "-p1", ac, "-p2", bc, "-N", "audit", "public" })
    assert.equal(0, status, out)
  end)

  it("compares owners and sequence values when asked", function()
    local db = env.connect(cn)
    assert(db:exec("create sequence cmd_s; alter view v owner to ladle_cmd_viewer"))
    db:close()
    local status, out = env.ladle({ "check", "-p1", ac, "-p2", cc })
    assert.equal(1, status)
    assert.equal("+ sequences public.cmd_s: bigint\n", out)
    status, out = env.ladle({ "check", "-p1", ac, "-p2", cc, "--owners", "--sequence-values", "-i", "sequences" })
    assert.equal(1, status)
    assert.equal("~ owners view public.v: postgres -> ladle_cmd_viewer\n", out)
    status, out = env.ladle({ "diff", ac, cc, "--owners" })
    assert.equal(1, status)
    assert.matches("ALTER VIEW public.v OWNER TO ladle_cmd_viewer;", out, 1, true)
    db = env.connect(cn)
    assert(db:exec("drop sequence cmd_s; alter view v owner to postgres"))
    db:close()
  end)

  it("prints JSON with --json", function()
    local status, out = env.ladle({ "check", "-p1", ac, "-p2", bc, "--json" })
    assert.equal(1, status)
    assert.matches('^{"differences":%[{"category":"tables","name":"public.gone","sign":"%-","what":"table"},', out)
    assert.matches('"equal":false}\n$', out)
    status, out = env.ladle({ "check", "-p1", ac, "-p2", cc, "--json" })
    assert.equal(0, status)
    assert.equal('{"differences":[],"equal":true}\n', out)
  end)

  it("exits 2 naming a --schema that is in neither database", function()
    local status, out, err = env.ladle({ "check", "-p1", ac, "-p2", bc, "--schema", "audit", "audti" })
    assert.equal(2, status)
    assert.equal("", out)
    assert.equal("ladle: check: no schema audti in either database\n", err)
  end)

  it("exits 2 on bad usage and 3 when a database cannot be read", function()
    local status, _, err = env.ladle({ "check", "-p1", ac })
    assert.equal(2, status)
    assert.equal("ladle: check: -p2/--pg_service2 is required\n", err)
    status, _, err = env.ladle({ "check", "-p1", ac, "-p2", bc, "-i", "tablez" })
    assert.equal(2, status)
    assert.matches("bad value 'tablez' for %-i: known kinds: schemas", err)
    status, _, err = env.ladle({ "check", "-p1", ac, "-p2", "host=/nonexistent dbname=x" })
    assert.equal(3, status)
    assert.matches("^ladle: check: cannot connect to %-p2 %(dbname=x host=/nonexistent%): ", err)
    assert.equal(1, count_lines(err))
  end)
end)

describe("ladle diff", function()
  local an, ac, bn, bc, cn, cc
  setup(function()
    an, ac = database(A)
    bn, bc = database(B)
    cn, cc = database(A)
  end)
  teardown(function()
    env.drop_database(an); env.drop_database(bn); env.drop_database(cn)
  end)

  it("exits 0 with nothing to do", function()
    local status, out, err = env.ladle({ "diff", ac, cc })
    assert.equal(0, status, err)
    assert.equal("", out)
  end)

  it("refuses changes that delete data unless --unsafe (exit 2: the command line must ask)", function()
    local status, out, err = env.ladle({ "diff", ac, bc })
    assert.equal(2, status)
    assert.equal("", out)
    assert.matches("  %- tables public.gone: DROP TABLE public.gone;\n", err)
    assert.matches("\nladle: diff: refusing to print changes that delete data %(1 statement above%); "
      .. "run again with %-%-unsafe to print them\n$", err)
    status, out = env.ladle({ "diff", ac, bc, "--unsafe" })
    assert.equal(1, status)
    assert.matches("DROP TABLE public.gone;", out, 1, true)
    assert.matches("%-%- ~ columns public.t.a  %[table_rewrite, access_exclusive_lock%]\n"
      .. "ALTER TABLE public.t ALTER COLUMN a TYPE bigint;", out)
  end)

  it("prints the SQL that turns FROM into TO, which applies cleanly (exit 1: differences found)", function()
    local status, out = env.ladle({ "diff", ac, bc, "--exclude-table", "gone", "--no-comments" })
    assert.equal(1, status)
    assert.is_nil(out:find("%-%- "))
    local db = env.connect(an)
    db:transaction(function(tx) assert(tx:exec(out)) end)
    db:close()
    status, out = env.ladle({ "diff", ac, bc, "--exclude-table", "gone" })
    assert.equal(0, status)
    assert.equal("", out)
    status = env.ladle({ "check", "-p1", ac, "-p2", bc, "-T", "gone" })
    assert.equal(0, status)
    local restore = env.connect(an)
    assert(restore:exec("drop view v; drop index t_a; alter table t drop column b; alter table t alter a type int; "
      .. "create view v as select id from t; alter table audit.log drop column extra"))
    restore:close()
  end)

  it("limits itself to schemas and kinds", function()
    local status, out = env.ladle({ "diff", ac, bc, "--schema", "audit" })
    assert.equal(1, status)
    assert.equal("-- + columns audit.log.extra  [access_exclusive_lock]\nALTER TABLE audit.log ADD COLUMN extra text;\n", out)
    status, out = env.ladle({ "diff", ac, bc, "--exclude-schema", "public" })
    assert.equal(1, status)
    assert.matches("audit.log ADD COLUMN extra", out, 1, true)
    status, out = env.ladle({ "diff", ac, bc, "-N", "audit", "-i", "tables", "columns", "views", "indexes" })
    assert.equal(0, status)
    assert.equal("", out)
  end)

  it("prints JSON with --json", function()
    local status, out = env.ladle({ "diff", ac, bc, "--schema", "audit", "--json" })
    assert.equal(1, status)
    assert.equal('{"changes":[{"hazards":["access_exclusive_lock"],"kind":"columns","name":"audit.log.extra",'
      .. '"sign":"+","sql":["ALTER TABLE audit.log ADD COLUMN extra text;"],"what":"text"}],"refused":false,'
      .. '"sql":"-- + columns audit.log.extra  [access_exclusive_lock]\\nALTER TABLE audit.log ADD COLUMN extra text;\\n"}\n',
      out)
    status, out = env.ladle({ "diff", ac, bc, "--json" })
    assert.equal(2, status)
    assert.matches('"refused":true', out, 1, true)
    assert.is_nil(out:find('"sql":"', 1, true))
    -- a refused statement is not printed, in JSON either; the others are
    local result = require("ladle.json").decode(out)
    local seen = {}
    for _, c in ipairs(result.changes) do
      seen[c.name] = c
      if c.refused then assert.is_nil(c.sql, c.name) else assert.is_table(c.sql, c.name) end
    end
    assert.is_true(seen["public.gone"].refused)
    assert.same({ "deletes_data", "access_exclusive_lock" }, seen["public.gone"].hazards)
    assert.is_nil(seen["public.t.a"].refused)
  end)

  it("loads a .sql side into a database on --scratch and drops it afterwards", function()
    local file = env.write(env.tmpdir() .. "/target.sql", B)
    local services = service_file({ ladle_scratch = "postgres" })
    local admin = env.connect()
    local before = #assert(admin:query("select datname from pg_database"))
    local status, out, err = env.ladle({ "diff", ac, file, "--scratch", "ladle_scratch", "--unsafe" },
      { env = { PGSERVICEFILE = services } })
    assert.equal(1, status, err)
    assert.matches("ALTER TABLE public.t ALTER COLUMN a TYPE bigint;", out, 1, true)
    assert.equal(before, #assert(admin:query("select datname from pg_database")))
    admin:close()
  end)

  it("loads .sql sides on a throwaway cluster, pg_dump files included", function()
    local dir = env.tmpdir()
    local db = env.connect(bn)
    -- roles of the test cluster that the throwaway cluster does not have
    for _, role in ipairs({ "ladle_cmd_reader", "ladle_cmd_owner" }) do
      if #assert(db:query("select 1 from pg_roles where rolname = $1", role)) == 0 then
        assert(db:exec("create role " .. role))
      end
    end
    assert(db:exec("grant select on t to ladle_cmd_reader; alter table t owner to ladle_cmd_owner"))
    db:close()
    local pg_dump = assert(sandbox.bindir()) .. "/pg_dump"
    local status, _, err = sys.spawn({ pg_dump, "--schema-only", "-f", dir .. "/dump.sql", "-d", bc },
      { stdout = "null", stderr = "capture" })
    assert.equal(0, status, err)
    local dump = env.read(dir .. "/dump.sql")
    assert.matches("\n\\restrict ", dump)
    assert.matches("OWNER TO ladle_cmd_owner", dump, 1, true)
    -- the dump and its database are the same schema
    local out
    status, out, err = env.ladle({ "diff", dir .. "/dump.sql", bc })
    assert.equal(0, status, err)
    assert.equal("", out)
    -- check takes files too
    status, out = env.ladle({ "check", "-p1", dir .. "/dump.sql", "-p2", bc })
    assert.equal(0, status, out)
    -- two files
    env.write(dir .. "/a.sql", A)
    status, out = env.ladle({ "diff", dir .. "/a.sql", dir .. "/dump.sql", "--unsafe" })
    assert.equal(1, status)
    assert.matches("GRANT SELECT ON TABLE public.t TO ladle_cmd_reader;", out, 1, true)
  end)

  it("names the file and line of a load error", function()
    local file = env.write(env.tmpdir() .. "/broken.sql", "create table ok (a int);\n\ncreate tabel broken (a int);\n")
    local status, out, err = env.ladle({ "diff", ac, file })
    assert.equal(2, status)
    assert.equal("", out)
    assert.equal(string.format("ladle: diff: %s:3: ERROR: syntax error at or near \"tabel\"\n", file), err)
    status, _, err = env.ladle({ "diff", ac, "/nonexistent/schema.sql" })
    assert.equal(2, status)
    assert.equal("ladle: diff: cannot read /nonexistent/schema.sql: No such file or directory\n", err)
  end)

  it("says exit 2 has one meaning, bad usage or input, of which a missing --unsafe is a case", function()
    local status, help = env.ladle({ "diff", "--help" })
    assert.equal(0, status)
    local codes = help:match("Exit codes:(.-)\n\n") or help:match("Exit codes:(.*)$")
    codes = codes:gsub("%s+", " ")
    assert.matches(" 2 bad usage or input: a command line that is wrong or lacks %-%-unsafe for changes that delete "
      .. "data, or a %.sql file that does not load", codes)
    assert.is_nil(codes:find("refused", 1, true))
    local manual = env.read("doc/schema-diff.md")
    assert.matches("| 2 | bad usage or input: a command line that is wrong or lacks `--unsafe` for changes that delete "
      .. "data, or a `.sql` file that does not load |", manual, 1, true)
  end)

  it("exits 2 naming a --schema that is in neither database", function()
    local status, out, err = env.ladle({ "diff", ac, bc, "--schema", "audti", "public", "Public" })
    assert.equal(2, status)
    assert.equal("", out)
    assert.equal("ladle: diff: no schemas audti, Public in either database\n", err)
  end)

  it("names a side it cannot read with its password masked", function()
    -- a role that may not call a function the catalog queries call
    local name, conninfo = env.new_database("cmd")
    local db = env.connect(name)
    assert(db:exec([[
      do $$ begin
        if not exists (select from pg_roles where rolname = 'ladle_cmd_plain') then create role ladle_cmd_plain login; end if;
      end $$;
      revoke execute on function pg_catalog.quote_ident(text) from public]]))
    db:close()
    local target = conninfo:gsub("user=postgres", "user=ladle_cmd_plain") .. " password=s3cret-horse"
    for _, args in ipairs({ { "diff", ac, target }, { "diff", target, ac }, { "check", "-p1", ac, "-p2", target } }) do
      local status, out, err = env.ladle(args)
      assert.equal(3, status, err)
      assert.equal("", out)
      assert.is_nil(err:find("s3cret", 1, true), err)
      assert.matches("password=%*%*%*.*: ERROR: +permission denied for function quote_ident", err)
      assert.equal(1, count_lines(err))
    end
    env.drop_database(name)
  end)

  it("exits 2 on bad usage and 3 when a database cannot be read", function()
    local status, _, err = env.ladle({ "diff", ac })
    assert.equal(2, status)
    assert.matches("expected FROM and TO, got 1 argument", err)
    status, _, err = env.ladle({ "diff", ac, bc, "--bogus" })
    assert.equal(2, status)
    assert.matches("unknown flag '%-%-bogus'", err)
    status, _, err = env.ladle({ "diff", ac, "host=/nonexistent dbname=x" })
    assert.equal(3, status)
    assert.matches("^ladle: diff: cannot connect to dbname=x host=/nonexistent: ", err)
  end)
end)

describe("ladle.source.role_names", function()
  it("finds the roles a file grants to or makes owners", function()
    local source = require "ladle.source"
    assert.same({ "reader", "Odd Owner", "bob", "carol", "dave", "eve" }, source.role_names([[
--
-- Name: TABLE t; Type: ACL; Schema: public; Owner: someone
--
GRANT SELECT ON TABLE public.t TO reader;
ALTER TABLE public.t OWNER TO "Odd Owner";
CREATE SCHEMA s AUTHORIZATION bob;
REVOKE ALL ON TABLE x FROM carol, PUBLIC;
/* a comment; GRANT ALL ON t TO nobody; */
CREATE POLICY p ON t TO dave, eve USING (true);
GRANT ALL ON t TO current_user;]]))
  end)

  it("finds the roles of default privileges and of role grants", function()
    local source = require "ladle.source"
    assert.same({ "alice", "bob", "Carol", "dave", "erin", "frank", "gina", "hal", "ivy", "jo" }, source.role_names([[
ALTER DEFAULT PRIVILEGES FOR ROLE alice, bob IN SCHEMA app GRANT SELECT ON TABLES TO "Carol";
ALTER DEFAULT PRIVILEGES FOR USER dave REVOKE GRANT OPTION FOR ALL ON FUNCTIONS FROM erin;
GRANT frank TO gina WITH ADMIN OPTION GRANTED BY hal;
REVOKE ADMIN OPTION FOR ivy FROM jo;
GRANT SELECT ON t TO PUBLIC;]]))
  end)
end)

describe("ladle.source.pair", function()
  it("reads two sides, a .sql file among them, with one set of options, as check and diff do", function()
    local source = require "ladle.source"
    local side = [[
      create schema keep; create table keep.t (a int, tmp_x int); create table public.other (b int);]]
    local name, conninfo = database(side .. " alter table keep.t add column c text;")
    local file = env.write(env.tmpdir() .. "/side.sql", side)
    local sa, sb = source.pair(file, conninfo, { schemas = { "keep" }, exclude_field_patterns = { "tmp%" },
      scratch = env.conninfo("postgres") })
    assert.truthy(sa, sb)
    assert.is_nil(sa.tables["public.other"])
    assert.truthy(sa.columns["keep.t.a"])
    assert.is_nil(sa.columns["keep.t.tmp_x"])
    assert.same({ "+ columns keep.t.c: text" }, (function()
      local out = {}
      for i, d in ipairs(require("ladle.schema").compare(sa, sb)) do out[i] = d.line end
      return out
    end)())
    -- a side that cannot be reached: the message names it, details say which
    local a, message, details = source.pair(file, "host=/nonexistent dbname=x password=pw",
      { scratch = env.conninfo("postgres"), labels = { "FROM", "TO" } })
    assert.is_nil(a)
    assert.matches("^cannot connect to TO: ", message)
    assert.equal(2, details.index)
    assert.equal("database", details.kind)
    env.drop_database(name)
  end)
end)

describe("ladle.source workspaces", function()
  it("load a .sql file with default privileges on a throwaway cluster", function()
    local file = env.write(env.tmpdir() .. "/defaults.sql", [[
      CREATE SCHEMA app;
      ALTER DEFAULT PRIVILEGES FOR ROLE ladle_src_owner IN SCHEMA app GRANT SELECT ON TABLES TO ladle_src_reader;
      GRANT ladle_src_group TO ladle_src_reader;]])
    local name, b = database("create table t (a int)")
    local status, out, err = env.ladle({ "diff", file, b, "--unsafe" })
    assert.equal(1, status, err)
    assert.matches("DROP SCHEMA app;", out, 1, true)
    env.drop_database(name)
  end)

  it("return an error when the throwaway cluster refuses them, rather than raising", function()
    local source = require "ladle.source"
    -- a cluster on which a new database can be made but not entered
    local cluster <close> = assert(sandbox.start({ hba = { "local postgres all trust", "local all all reject" } }))
    local ws <close> = source.workspace({ cluster = cluster })
    local file = env.write(env.tmpdir() .. "/owned.sql", "create table t (a int); alter table t owner to someone;")
    local conninfo, message, details = ws:load(file)
    assert.is_nil(conninfo)
    assert.matches("rejects connection", message)
    assert.equal("database", details.kind)
  end)

  it("keep a --scratch URI's password and options for the databases they make", function()
    local admin = env.connect()
    assert(admin:exec("drop role if exists ladle_pw; create role ladle_pw login createdb password 'scratch-pw-3'"))
    admin:close()
    local uri = string.format("postgresql://ladle_pw:scratch-pw-3@/postgres?host=%s&port=5432&sslmode=disable"
      .. "&application_name=ladle_scratch_spec", env.cluster_dir)
    local file = env.write(env.tmpdir() .. "/side.sql", "create table side (a int);")
    local source = require "ladle.source"
    local ws <close> = source.workspace({ scratch = uri })
    local conninfo, message = ws:load(file)
    assert.truthy(conninfo, message)
    assert.matches("sslmode='disable'", conninfo, 1, true)
    assert.matches("application_name='ladle_scratch_spec'", conninfo, 1, true)
    local db = assert(require("ladle").connect(conninfo))
    assert.equal(0, assert(db:query("select count(*)::int as n from side"))[1].n)
    db:close()
    ws:close()
    local name, other = database("create table other (b int)")
    local status, out, err = env.ladle({ "diff", file, other, "--scratch", uri, "--unsafe" })
    assert.equal(1, status, err)
    assert.matches("DROP TABLE public.side;", out, 1, true)
    env.drop_database(name)
  end)

  it("drop their scratch databases on close; a forgotten one is reported, not dropped, by the collector", function()
    local file = env.write(env.tmpdir() .. "/side.sql", "create table side (a int);")
    local script = string.format([[
      local source = require "ladle.source"
      local ws = source.workspace({ scratch = %q })
      local conninfo = assert(ws:load(%q))
      print((conninfo:match(".*dbname='?([^'%%s]+)")))
      ws = nil
      collectgarbage()
      collectgarbage()
    ]], env.conninfo("postgres"), file)
    local status, out, err = env.ladle({ "-e", script })
    assert.equal(0, status, err)
    local dbname = out:match("^(%S+)\n$")
    assert.truthy(dbname, out)
    assert.matches("^ladle: warning: temporary database " .. dbname:gsub("%p", "%%%0") .. " left on .* %(the workspace "
      .. "was not closed%)\n$", err)
    local admin = env.connect()
    assert.equal(1, #assert(admin:query("select 1 from pg_database where datname = $1", dbname)))
    admin:close()
    env.drop_database(dbname)

    -- closed: gone, and nothing to report
    script = script:gsub("ws = nil", "ws:close() ws = nil")
    status, out, err = env.ladle({ "-e", script })
    assert.equal(0, status, err)
    assert.equal("", err)
    admin = env.connect()
    assert.equal(0, #assert(admin:query("select 1 from pg_database where datname = $1", (out:match("^(%S+)")))))
    admin:close()
  end)
end)
