-- The pum project of spec/fixtures/pum_project, run unchanged through ladle
-- and through a minimal pum-like reference runner (spec/support/
-- pum_reference.py, psycopg2 doing the pyformat substitution), then the two
-- databases compared with `ladle check` and row by row.

local env = require "support.env"
local ladle = require "ladle"
local pyformat = require "ladle.plan.pyformat"
local sys = ladle.sys

local FIXTURE = "spec/fixtures/pum_project"
local DIRS = { FIXTURE .. "/delta", FIXTURE .. "/delta_custom" }

-- An interpreter that has psycopg2: python3 from PATH, else Debian's.
local function interpreter()
  for _, candidate in ipairs { "python3", "/usr/bin/python3" } do
    local status = sys.spawn({ candidate, "-c", "import psycopg2" }, { stdout = "null", stderr = "null" })
    if status == 0 then return candidate end
  end
  return nil, "neither python3 on PATH nor /usr/bin/python3 can import psycopg2 (Debian: python3-psycopg2)"
end

describe("a pum 0.x project", function()
  local python, why = interpreter()
  if not python then
    io.write("\npum_compare_spec: skipped: ", why, "\n")
    it("needs python3 with psycopg2", function() pending(why) end)
    return
  end

  local names, run_env = {}, nil
  setup(function()
    names.ladle, names.ref = env.new_database("pum_ladle"), env.new_database("pum_ref")
    local services = env.write(env.tmpdir() .. "/pg_service.conf", string.format(
      "[pum_ladle]\nhost=%s\nport=5432\nuser=postgres\ndbname=%s\n\n[pum_ref]\nhost=%s\nport=5432\nuser=postgres\n"
      .. "dbname=%s\n", env.cluster_dir, names.ladle, env.cluster_dir, names.ref))
    run_env = { PGSERVICEFILE = services, LADLE_PYTHON = python }
    for _, name in pairs(names) do
      local conn = env.connect(name)
      assert(conn:exec("CREATE SCHEMA app_sys"))
      conn:close()
    end
  end)
  teardown(function()
    for _, name in pairs(names) do env.drop_database(name) end
  end)

  local function ladle_run(args)
    return env.ladle(args, { env = run_env })
  end

  local function reference(args)
    local argv = { python, "spec/support/pum_reference.py" }
    table.move(args, 1, #args, #argv + 1, argv)
    local status, out, err = sys.spawn(argv, { env = run_env, stdout = "capture", stderr = "capture" })
    assert.equal(0, status, (out or "") .. (err or ""))
    return out
  end

  local function query(name, sql)
    local conn = env.connect(name)
    local rows = assert(conn:query(sql))
    conn:close()
    return rows
  end

  it("runs through ladle unchanged, twice, as pum runs it", function()
    local status, out, err = ladle_run { "baseline", "-p", "pum_ladle", "-t", "app_sys.upgrades", "-b", "1.0.0" }
    assert.equal(0, status, out .. err)
    for round = 1, 2 do
      status, out, err = ladle_run { "upgrade", "-p", "pum_ladle", "-t", "app_sys.upgrades", "-d", DIRS[1], DIRS[2],
        "-v", "int", "SRID", "2056" }
      assert.equal(0, status, out .. err)
      if round == 1 then
        assert.truthy(out:find("Applying delta 1.0.0 002_fill... OK", 1, true), out)
        assert.truthy(out:find("Message from FillPoints: filled 2 points in EPSG:2056", 1, true), out)
      else
        assert.truthy(out:find("Nothing to apply", 1, true), out)
      end
    end
    reference { "baseline", "pum_ref", "app_sys.upgrades", "1.0.0" }
    for _ = 1, 2 do
      reference { "upgrade", "pum_ref", "app_sys.upgrades", DIRS[1], DIRS[2], "--var", "int", "SRID", "2056" }
    end
  end)

  it("leaves the same schema as the pum-like runner, upgrades table included", function()
    local status, out, err = ladle_run { "check", "-p1", "pum_ladle", "-p2", "pum_ref" }
    assert.equal(0, status, out .. err)
    assert.equal("", out)
  end)

  it("records the same rows in the same order, and ran the hooks in the same order", function()
    for _, sql in ipairs {
      "SELECT version, description, type, checksum, success FROM app_sys.upgrades ORDER BY id",
      "SELECT seq, what FROM public.hook_log ORDER BY seq",
      "SELECT id, name, srid, commune, x, y FROM app.points ORDER BY id",
    } do
      assert.same(query(names.ref, sql), query(names.ladle, sql), sql)
    end
    local log = query(names.ladle, "SELECT what FROM public.hook_log ORDER BY seq")
    assert.same({ "delta_custom/pre-all.sql", "delta/pre-all.py at 1.0.0", "delta/pre-all.sql",
      "delta/post-all.sql", "delta_custom/post-all.sql" }, { log[1].what, log[2].what, log[3].what, log[4].what,
      log[5].what })
    assert.equal(10, #log)
  end)

  it("reads the table the pum-like runner wrote", function()
    local status, out, err = ladle_run { "info", "-p", "pum_ref", "-t", "app_sys.upgrades", "-d", DIRS[1], DIRS[2],
      "--json", "--exit-code" }
    assert.equal(0, status, out .. err)
    local doc = assert(ladle.json.decode(out))
    assert.same({ 0, 8, 1 }, { doc.counts.pending, doc.counts.applied, doc.counts.below_baseline })
  end)

  it("writes each variable as psycopg2 does", function()
    local values = {
      { "int", "2056" }, { "int", "-5" }, { "int", "0" }, { "float", "2" }, { "float", "-1.5" }, { "float", "1e20" },
      { "float", "1e-5" }, { "float", "0.1" }, { "float", "123456789.125" }, { "float", "1e16" }, { "float", "inf" },
      { "float", "-inf" }, { "float", "nan" }, { "str", "it's" }, { "str", "a\\b" }, { "str", "naïve %" },
    }
    local script = { "import psycopg2", "conn = psycopg2.connect('service=pum_ref')", "cur = conn.cursor()" }
    for _, v in ipairs(values) do
      local py_value = v[1] == "str" and string.format("%q", v[2]) or string.format("%s(%q)", v[1], v[2])
      script[#script + 1] = string.format("print(cur.mogrify('%%(v)s', {'v': %s}).decode())", py_value)
    end
    local status, out, err = sys.spawn({ python, "-c", table.concat(script, "\n") },
      { env = run_env, stdout = "capture", stderr = "capture" })
    assert.equal(0, status, err)
    local expected = {}
    for _, v in ipairs(values) do
      expected[#expected + 1] = pyformat.literal(assert(pyformat.variable(v[1], "v", v[2])), true)
    end
    assert.equal(table.concat(expected, "\n") .. "\n", out)
  end)
end)
