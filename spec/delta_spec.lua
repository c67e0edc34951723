-- ladle.delta and ladle.version: names, layouts, order, checksums, statements.

local env = require "support.env"
local delta = require "ladle.delta"
local version = require "ladle.version"
local core = require "ladle.delta.core"
local support = require "support.deltas"

local folder, scripts = support.folder, support.scripts

describe("ladle.version", function()
  it("compares numerically, component by component", function()
    assert.equal(1, version.compare("1.10.0", "1.9.0"))
    assert.equal(-1, version.compare("1.9.9", "1.10.0"))
    assert.equal(0, version.compare("02.01.00", "2.1.0"))
    assert.equal(0, version.compare("1.2", "1.2.0"))
    assert.equal(-1, version.compare("1.2", "1.2.1"))
    assert.equal(1, version.compare("123456789012345678901234567890.0", "9.0"))
  end)

  it("normalizes zero padding", function()
    assert.equal("2.14.1", version.normalize("02.14.01"))
    assert.equal("0.0.0", version.normalize("00.00.00"))
    local parsed = version.parse("1.02.3")
    assert.same({ "1", "2", "3" }, { parsed[1], parsed[2], parsed[3] })
    assert.equal("1.2.3", parsed.text)
  end)

  it("rejects what is not digits and dots", function()
    for _, bad in ipairs { "1.x", "v1.2.0", "1..2", "1.2.", ".1", "", "1.2-beta" } do
      local ok, why = version.parse(bad)
      assert.is_nil(ok, bad)
      assert.truthy(why:find("bad version", 1, true), bad)
    end
    assert.has_error(function() version.compare("1.0", "nope") end)
  end)
end)

describe("ladle.delta.parse", function()
  it("reads procrastinate names with and without pre/post, serials of any width", function()
    local d = assert(delta.parse("02.14.01_01_pre_add_column.sql"))
    assert.same({ version = "2.14.1", label = "02.14.01", serial = 1, phase = "pre",
      description = "01_pre_add_column", kind = "sql", layout = "procrastinate" }, d)
    d = assert(delta.parse("00.11.00_003_add_index.sql"))
    assert.equal("0.11.0", d.version)
    assert.equal(3, d.serial)
    assert.is_nil(d.phase)
    assert.equal("003_add_index", d.description)
    d = assert(delta.parse("1.0.0_0000000042_post_drop.sql"))
    assert.equal(42, d.serial)
    assert.equal("post", d.phase)
    d = assert(delta.parse("1.0.0_7_post.sql"))
    assert.equal("post", d.phase)
    d = assert(delta.parse("1.0.0_7.sql"))
    assert.is_nil(d.phase)
    d = assert(delta.parse("1.0.0_7_preview_of_things.sql"))
    assert.is_nil(d.phase, "pre must be a word of its own")
  end)

  it("reads pum 0.x names", function()
    local d = assert(delta.parse("delta_1.0.1_002_fix_view.pre.sql"))
    assert.same({ version = "1.0.1", label = "1.0.1", serial = 2, phase = "pre", description = "002_fix_view",
      kind = "sql", layout = "pum" }, d)
    d = assert(delta.parse("delta_0.5.0_001_drop_started_at_column.sql"))
    assert.is_nil(d.phase)
    assert.equal("001_drop_started_at_column", d.description)
    d = assert(delta.parse("delta_2.0.0.post.sql"))
    assert.equal("post", d.phase)
    assert.equal("", d.description)
    assert.is_nil(d.serial)
    d = assert(delta.parse("delta_2.0.0_views.post.lua"))
    assert.equal("lua", d.kind)
    d = assert(delta.parse("delta_2.0.0_x.pre.py"))
    assert.equal("python", d.kind)
  end)

  it("reads hooks, install scripts, per-version folders and Lua deltas", function()
    assert.same({ hook = "pre-all", kind = "sql", layout = "hook", description = "pre-all" }, delta.parse("pre-all.sql"))
    assert.equal("post-all", delta.parse("post-all.lua").hook)
    local d = assert(delta.parse("baseline-0.5.0.sql"))
    assert.equal("install", d.layout)
    assert.equal("0.5.0", d.version)
    d = assert(delta.parse("1.2.0/010_x.sql"))
    assert.same({ version = "1.2.0", label = "1.2.0", serial = 10, phase = nil, description = "010_x", kind = "sql",
      layout = "folder" }, d)
    d = assert(delta.parse("1.2.0/020_post_cleanup.lua"))
    assert.equal("post", d.phase)
    assert.equal("lua", d.kind)
    d = assert(delta.parse("1.2.0/create_tables.sql"))
    assert.is_nil(d.serial)
    d = assert(delta.parse("3.0.0_01_pre_backfill.lua"))
    assert.equal("lua", d.kind)
  end)

  it("says why a name matches no layout", function()
    for _, name in ipairs { "notes.sql", "README.md", "1.x.0_01_a.sql", "02.00.00-01-pre-x.sql", "02.00.00_01_x.txt",
                            "delta_1.0_x.sql", "x/y/z.sql", "notaversion/01_a.sql", "1.0.0/01_a.b.sql" } do
      local ok, why = delta.parse(name)
      assert.is_nil(ok, name)
      assert.is_string(why, name)
    end
  end)
end)

describe("ladle.delta.scan", function()
  it("lists a folder that holds a dangling link", function()
    local dir = folder { ["1.0.0_01_a.sql"] = "select 1;" }
    assert.equal(0, (require("ladle.sys").spawn({ "ln", "-s", dir .. "/gone.sql", dir .. "/link.sql" })))
    local list = assert(delta.scan(dir))
    assert.equal("1.0.0_01_a.sql", list[1].script)
  end)

  it("orders by version, then pre, unmarked, post, then serial, then name", function()
    local dir = folder {
      ["01.10.00_01_pre_a.sql"] = "select 1;",
      ["01.09.00_02_post_b.sql"] = "select 1;",
      ["01.09.00_03_pre_c.sql"] = "select 1;",
      ["01.09.00_01_d.sql"] = "select 1;",
      ["01.09.00_10_pre_e.sql"] = "select 1;",
      ["01.09.00_9_pre_f.sql"] = "select 1;",
      ["1.2.0_01_g.sql"] = "select 1;",
    }
    local list = assert(delta.scan(dir))
    assert.same({ "1.2.0_01_g.sql", "01.09.00_03_pre_c.sql", "01.09.00_9_pre_f.sql", "01.09.00_10_pre_e.sql",
      "01.09.00_01_d.sql", "01.09.00_02_post_b.sql", "01.10.00_01_pre_a.sql" }, scripts(list))
  end)

  it("keeps pum's order and puts hooks and install scripts aside", function()
    local dir = folder {
      ["delta_1.0.1_002_fix_view.pre.sql"] = "select 1;",
      ["delta_1.0.1_001_add.sql"] = "select 1;",
      ["delta_1.0.1_003_drop.post.sql"] = "select 1;",
      ["delta_1.0.0.sql"] = "select 1;",
      ["pre-all.sql"] = "select 1;",
      ["post-all.sql"] = "select 1;",
      ["baseline-1.0.0.sql"] = "select 1;",
      ["baseline-0.9.0.sql"] = "select 1;",
      ["notes.txt"] = "not a delta",
    }
    local list = assert(delta.scan(dir))
    assert.same({ "delta_1.0.0.sql", "delta_1.0.1_002_fix_view.pre.sql", "delta_1.0.1_001_add.sql",
      "delta_1.0.1_003_drop.post.sql" }, scripts(list))
    assert.same({ "baseline-0.9.0.sql", "baseline-1.0.0.sql" }, scripts(list.install))
    assert.equal("pre-all.sql", list.hooks["pre-all"][1].file)
    assert.equal("post-all.sql", list.hooks["post-all"][1].file)
    assert.equal(1, #list.ignored)
    assert.equal(dir .. "/notes.txt", list.ignored[1].path)
  end)

  it("reads per-version folders, in file order inside each", function()
    local dir = folder {
      ["1.10.0/010_x.sql"] = "select 1;",
      ["1.2.0/020_post_b.sql"] = "select 1;",
      ["1.2.0/010_a.sql"] = "select 1;",
      ["1.2.0/005_pre_c.lua"] = "return",
      ["misc/010_y.sql"] = "select 1;",
    }
    local list = assert(delta.scan(dir))
    assert.same({ "1.2.0/005_pre_c.lua", "1.2.0/010_a.sql", "1.2.0/020_post_b.sql", "1.10.0/010_x.sql" }, scripts(list))
    assert.equal(dir .. "/1.2.0/010_a.sql", list[2].path)
    assert.equal("010_a.sql", list[2].file)
    assert.same({ "1.10.0", "1.2.0" }, list.folders)
    assert.equal("folder name is not a version", list.ignored[1].reason)
  end)

  it("records md5 checksums of the bytes, as pum does", function()
    local dir = folder { ["1.0.0_01_a.sql"] = "create table a (id int);\n", ["1.0.0_02_b.sql"] = "" }
    local list = assert(delta.scan(dir))
    assert.equal("1a552d6d70c6f6fe3f866e61af568ad6", list[1].checksum)
    assert.equal("d41d8cd98f00b204e9800998ecf8427e", list[2].checksum)
    assert.equal(25, list[1].size)
  end)

  it("knows the no-transaction marker and refuses unknown directives", function()
    local dir = folder {
      ["1.0.0_01_a.sql"] = "-- ladle: no-transaction\ncreate index concurrently i on t (x);\n",
      ["1.0.0_02_b.sql"] = "--ladle:NO-TRANSACTION  \r\nselect 1;",
      ["1.0.0_03_c.sql"] = "select 1; -- ladle: no-transaction\n",
    }
    local list = assert(delta.scan(dir))
    assert.is_false(list[1].transaction)
    assert.is_false(list[2].transaction)
    assert.is_true(list[3].transaction)
    env.write(dir .. "/1.0.0_04_d.sql", "-- ladle: no-transactions\nselect 1;")
    local ok, why = delta.scan(dir)
    assert.is_nil(ok)
    assert.equal(dir .. "/1.0.0_04_d.sql:1: unknown ladle directive 'no-transactions' (known: no-transaction)", why)
  end)

  it("refuses two deltas with the same version, phase and serial, naming both", function()
    local dir = folder { ["01.00.00_01_pre_a.sql"] = "select 1;", ["1.0.0_1_pre_b.sql"] = "select 2;" }
    local ok, why = delta.scan(dir)
    assert.is_nil(ok)
    assert.truthy(why:find("01.00.00_01_pre_a.sql", 1, true), why)
    assert.truthy(why:find("1.0.0_1_pre_b.sql", 1, true), why)
    assert.truthy(why:find("version 1.0.0, phase pre and serial 1", 1, true), why)
    -- the same serial in another phase is another slot
    dir = folder { ["01.00.00_01_pre_a.sql"] = "select 1;", ["01.00.00_01_post_b.sql"] = "select 2;" }
    assert.equal(2, #assert(delta.scan(dir)))
    -- a .sql and a .lua of one name
    dir = folder { ["delta_1.0.0_views.sql"] = "select 1;", ["delta_1.0.0_views.lua"] = "return" }
    ok, why = delta.scan(dir)
    assert.is_nil(ok)
    assert.truthy(why:find("same version 1.0.0, phase unmarked and name", 1, true), why)
  end)

  it("refuses equal versions spelled differently in one slot (1.2 and 1.2.0), naming both", function()
    local dir = folder { ["1.2_01_a.sql"] = "select 1;", ["1.2.0_01_b.sql"] = "select 2;" }
    local ok, why = delta.scan(dir)
    assert.is_nil(ok)
    assert.truthy(why:find(dir .. "/1.2.0_01_b.sql and " .. dir .. "/1.2_01_a.sql", 1, true), why)
    assert.truthy(why:find("same version 1.2, phase unmarked and serial 1", 1, true), why)
    dir = folder { ["1.2/a.sql"] = "select 1;", ["1.2.0/a.sql"] = "select 2;" }
    ok, why = delta.scan(dir)
    assert.is_nil(ok)
    assert.truthy(why:find("phase unmarked and name", 1, true), why)
    assert.truthy(why:find(dir .. "/1.2/a.sql", 1, true) and why:find(dir .. "/1.2.0/a.sql", 1, true), why)
    -- other serials, or another phase, are other slots
    assert.equal(2, #assert(delta.scan(folder { ["1.2_01_a.sql"] = "select 1;", ["1.2.0_02_b.sql"] = "select 2;" })))
    assert.equal(2, #assert(delta.scan(folder { ["1.2_01_pre_a.sql"] = "select 1;", ["1.2.0_01_b.sql"] = "select 2;" })))
  end)

  it("fails on an unreadable folder with one line", function()
    local ok, why = delta.scan("/nonexistent/deltas")
    assert.is_nil(ok)
    assert.equal("/nonexistent/deltas: No such file or directory", why)
  end)

  it("scans a thousand deltas quickly", function()
    local files = {}
    for i = 1, 1000 do files[string.format("01.00.%02d_%04d_t.sql", i // 100, i)] = "create table t (id int);\n" end
    local dir = folder(files)
    local sys = require "ladle.sys"
    local t0 = sys.now()
    local list = assert(delta.scan(dir))
    local seconds = sys.now() - t0
    assert.equal(1000, #list)
    assert.equal("01.00.00_0001_t.sql", list[1].script)
    assert.equal("01.00.10_1000_t.sql", list[1000].script)
    assert.truthy(seconds < 1, string.format("scan took %.3f s", seconds))  -- generous: a loaded machine
  end)
end)

-- core.split's positions as {start, stop, line} per statement.
local function split(sql, opts)
  local at, meta = core.split(sql, opts)
  local list = {}
  for i = 1, at.n do
    local start, stop, line = string.unpack("<I4I4I4", at.positions, 12 * (i - 1) + 1)
    list[i] = { start = start, stop = stop, line = line }
  end
  return list, meta
end

describe("ladle.delta.core", function()
  it("computes MD5 as RFC 1321 does", function()
    assert.equal("d41d8cd98f00b204e9800998ecf8427e", core.md5(""))
    assert.equal("0cc175b9c0f1b6a831c399e269772661", core.md5("a"))
    assert.equal("900150983cd24fb0d6963f7d28e17f72", core.md5("abc"))
    assert.equal("f96b697d7cb7938d525a2f31aaf161d0", core.md5("message digest"))
    assert.equal("c3fcd3d76192e4007dfb496cca67e13b", core.md5("abcdefghijklmnopqrstuvwxyz"))
    assert.equal("57edf4a22be3c955ac49da2e2107b67a", core.md5(string.rep("1234567890", 8)))
    -- block boundaries: 55, 56, 63, 64, 65 bytes
    local dir = env.tmpdir()
    for _, n in ipairs { 55, 56, 63, 64, 65, 100000 } do
      local text = string.rep("x", n)
      local path = env.write(dir .. "/f" .. n, text)
      local from_file = core.file(path)
      local content, checksum = core.read(path)
      assert.equal(core.md5(text), from_file)
      assert.equal(core.md5(text), checksum)
      assert.equal(text, content)
    end
  end)

  it("reports what it cannot read as nil, message, details with errno and path", function()
    local missing = env.tmpdir() .. "/missing"
    local none, why, details = core.list(missing)
    assert.is_nil(none)
    assert.equal(missing .. ": No such file or directory", why)
    assert.same({ errno = 2, path = missing }, details)  -- ENOENT
    none, why, details = core.file(missing)
    assert.is_nil(none)
    assert.equal(missing .. ": No such file or directory", why)
    assert.same({ errno = 2, path = missing }, details)
    local dir = env.tmpdir()
    none, why, details = core.read(dir)
    assert.is_nil(none)
    assert.equal(dir .. ": Is a directory", why)
    assert.same({ errno = 21, path = dir }, details)  -- EISDIR
  end)

  it("splits SQL into statements like psql", function()
    local sql = table.concat({
      "-- header",                                                        -- 1
      "BEGIN;",                                                           -- 2
      "create table a (x int); /* c ; /* nested ; */ */ insert into a values (1) ;",  -- 3
      "select 'a;b', E'it\\'s;', $$ ; $$, $f$ x $$ ; $f$, \"we;ird\", $1;", -- 4
      "CREATE FUNCTION f() RETURNS int LANGUAGE sql",                     -- 5
      "BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END;",    -- 6
      "create rule r as on insert to a do also (insert into a values (2); insert into a values (3));", -- 7
      ";;",                                                               -- 8
      "select a$b$ from t",                                               -- 9
      "-- trailing comment",                                              -- 10
    }, "\n")
    local list, meta = split(sql)
    assert.is_nil(meta)
    local got = {}
    for _, s in ipairs(list) do got[#got + 1] = { s.line, sql:sub(s.start, s.stop) } end
    assert.same({
      { 2, "BEGIN;" },
      { 3, "create table a (x int);" },
      { 3, "insert into a values (1) ;" },
      { 4, "select 'a;b', E'it\\'s;', $$ ; $$, $f$ x $$ ; $f$, \"we;ird\", $1;" },
      { 5, "CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END;" },
      { 7, "create rule r as on insert to a do also (insert into a values (2); insert into a values (3));" },
      { 9, "select a$b$ from t" },
    }, got)
  end)

  it("reads backslash escapes in '...' when standard_conforming_strings is off, and in E'...' always", function()
    local sql = "select 'a\\' as q, ';\ncommit;\nselect E'b\\';', 2;\n"
    local function texts(list)
      local out = {}
      for _, st in ipairs(list) do out[#out + 1] = sql:sub(st.start, st.stop) end
      return out
    end
    assert.same({ "select 'a\\' as q, ';", "commit;", "select E'b\\';', 2;" },
      texts(split(sql, { standard_conforming_strings = false })))
    -- on (the default since PostgreSQL 9.1): the backslash is a plain character
    assert.same({ sql:sub(1, -2) }, texts(split(sql)))
    assert.same(texts(split(sql)), texts(split(sql, { standard_conforming_strings = true })))
  end)

  it("finds psql meta-commands and survives unterminated quotes", function()
    local list, meta = split("select 1;\n\\set x 1\nselect :x;")
    assert.equal(2, meta.line)
    assert.equal(2, #list)
    list = split("select 1;\nselect 'open\n;\nselect 2;")
    assert.equal(2, #list)
    assert.equal(2, list[2].line)
    list = split("select $x$ never closed ;")
    assert.equal(1, #list)
    assert.same({}, (split("  -- only a comment\n/* and this */\n")))
    -- twelve bytes of positions a statement, not a table each
    local at = core.split("select 1;\n select 2;")
    assert.same({ n = 2, positions = string.pack("<I4I4I4I4I4I4", 1, 9, 1, 12, 20, 2) }, at)
  end)
end)

describe("delta:statements", function()
  local function statements(content, transaction)
    local dir = folder { ["1.0.0_01_a.sql"] = content }
    local d = assert(delta.scan(dir))[1]
    if transaction == false then d.transaction = false end
    return d:statements(assert(d:read()))
  end

  it("drops psql's BEGIN ... COMMIT wrapper of a delta that runs in ladle's transaction", function()
    local list = assert(statements("BEGIN;\ncreate table a (id int);\ninsert into a values (1);\nCOMMIT;\n"))
    assert.equal(2, #list)
    assert.equal("create table a (id int);", list[1].text)
    assert.equal(2, list[1].line)
    list = assert(statements("start transaction;\nselect 1;\nend work;"))
    assert.equal(1, #list)
  end)

  it("refuses other transaction control, naming the line", function()
    local ok, why = statements("create table a (id int);\ncommit;\nselect 1;")
    assert.is_nil(ok)
    assert.truthy(why:match("1%.0%.0_01_a%.sql:2: transaction control %(COMMIT%)"), why)
    ok, why = statements("BEGIN ISOLATION LEVEL SERIALIZABLE;\nselect 1;\nCOMMIT;")
    assert.is_nil(ok)
    assert.truthy(why:find(":1: transaction control (BEGIN)", 1, true), why)
    ok = statements("select 1;\nsavepoint s;\nrollback to savepoint s;\nrelease s;")
    assert.equal(4, #ok)
    -- a no-transaction delta manages its own transactions
    assert.equal(3, #assert(statements("begin;\nselect 1;\ncommit;", false)))
  end)

  it("runs pg_dump's output: \\restrict and \\unrestrict are psql's business", function()
    local list = assert(statements("\\restrict abc123\nSET statement_timeout = 0;\ncreate table a (id int);\n\n\\unrestrict abc123\n"))
    assert.equal(2, #list)
    assert.equal(3, list[2].line)
    assert.equal("create table a (id int);", list[2].text)
  end)

  it("refuses psql meta-commands, naming the line", function()
    local ok, why = statements("select 1;\n\n\\i other.sql\n")
    assert.is_nil(ok)
    assert.truthy(why:find("1.0.0_01_a.sql:3: psql meta-commands", 1, true), why)
  end)
end)
