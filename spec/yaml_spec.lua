-- ladle.yaml: libyaml documents as plain Lua tables.

local env = require "support.env"
local yaml = require "ladle.yaml"

describe("ladle.yaml", function()
  it("reads pum's config file", function()
    local doc = assert(yaml.load([[
upgrades_table: qwat_sys.upgrades
delta_dir: ../update/delta/
backup_file: /tmp/backup.dump
ignore_elements:
  - columns
  - constraints
pg_dump_exe: pg_dump
pg_restore_exe: pg_restore
]], "db.yaml"))
    assert.same({
      upgrades_table = "qwat_sys.upgrades", delta_dir = "../update/delta/", backup_file = "/tmp/backup.dump",
      ignore_elements = { "columns", "constraints" }, pg_dump_exe = "pg_dump", pg_restore_exe = "pg_restore",
    }, doc)
  end)

  it("refuses nesting too deep to build, with the line and column", function()
    local doc, err = yaml.load(string.rep("[", 100000), "deep.yaml")
    assert.is_nil(doc)
    assert.equal("deep.yaml:1:513: nested too deeply", err)
  end)

  it("reads a file without the io library, and names a missing one", function()
    local path = env.write(env.tmpdir() .. "/c.yaml", "delta_dir: sql\n")
    local saved = io
    io = nil  -- luacheck: ignore
    local ok, doc = pcall(yaml.load_file, path)
    io = saved  -- luacheck: ignore
    assert.is_true(ok, doc)
    assert.equal("sql", doc.delta_dir)
    local none, err = yaml.load_file("/nonexistent/c.yaml")
    assert.is_nil(none)
    assert.equal("/nonexistent/c.yaml: No such file or directory", err)
  end)

  it("keeps every scalar as the string written", function()
    local doc = assert(yaml.load("a: 1.0\nb: yes\nc: ~\nd:\ne: '007'\nf: \"x\\ty\"\ng: |\n  two\n  lines\n"))
    assert.same({ a = "1.0", b = "yes", c = "~", d = "", e = "007", f = "x\ty", g = "two\nlines\n" }, doc)
  end)

  it("reads flow style, nesting, anchors and aliases", function()
    local doc = assert(yaml.load("base: &b {host: db1, port: '5432'}\nprod: *b\nlist: [a, [b, c], {d: e}]\n"))
    assert.equal("db1", doc.base.host)
    assert.equal(doc.base, doc.prod)
    assert.same({ "a", { "b", "c" }, { d = "e" } }, doc.list)
  end)

  it("returns every document of a stream, and {} for an empty one", function()
    local a, b = yaml.load("--- 1\n--- [2]\n")
    assert.equal("1", a)
    assert.same({ "2" }, b)
    assert.same({}, yaml.load("# only a comment\n"))
  end)

  it("reports problems as NAME:LINE:COLUMN: problem", function()
    local ok, why = yaml.load("a: 1\n b: 2\n", "bad.yaml")
    assert.is_nil(ok)
    assert.equal("bad.yaml:2:3: mapping values are not allowed in this context", why)
    ok, why = yaml.load("a: 1\nlist: [1, 2\n", "open.yaml")
    assert.is_nil(ok)
    assert.truthy(why:match("^open%.yaml:%d+:%d+: "), why)
    local details
    ok, why, details = yaml.load("a: 1\nb: 2\na: 3\n", "dup.yaml")
    assert.is_nil(ok)
    assert.equal("dup.yaml:3:1: duplicate key 'a'", why)
    assert.same({ file = "dup.yaml", line = 3, column = 1 }, details)
    ok, why = yaml.load("a: *nowhere\n", "alias.yaml")
    assert.is_nil(ok)
    assert.equal("alias.yaml:1:4: unknown anchor 'nowhere'", why)
    ok, why = yaml.load("? [a, b]\n: c\n", "key.yaml")
    assert.is_nil(ok)
    assert.equal("key.yaml:1:3: mapping keys must be scalars", why)
  end)

  it("reads files, and names the file it cannot read", function()
    local path = env.write(env.tmpdir() .. "/c.yaml", "delta_dir: sql\n")
    assert.same({ delta_dir = "sql" }, yaml.load_file(path))
    local ok, why, details = yaml.load_file("/nonexistent/c.yaml")
    assert.is_nil(ok)
    assert.equal("/nonexistent/c.yaml: No such file or directory", why)
    assert.same({ errno = 2, path = "/nonexistent/c.yaml" }, details)  -- ENOENT
    path = env.write(env.tmpdir() .. "/bad.yaml", "a: [\n")
    ok, why, details = yaml.load_file(path)
    assert.is_nil(ok)
    assert.truthy(why:find(path .. ":2:1: ", 1, true), why)
    assert.same({ file = path, line = 2, column = 1 }, details)
    ok, why, details = yaml.load_file(env.tmpdir())
    assert.is_nil(ok)
    assert.matches(": Is a directory$", why)
    assert.equal(21, details.errno)  -- EISDIR
  end)

  it("refuses a non-string argument", function()
    assert.has_error(function() yaml.load({}) end)
  end)
end)
