-- ladle.diff on the fixture pairs of spec/fixtures/diff/*.lua: for each
-- pair, the script that turns A into B is applied to A in one transaction;
-- then `check` must find nothing, a second diff must be empty, and A's
-- `pg_dump --schema-only` must equal B's (normalized: column order and the
-- order of pg_dump's entries aside). Then the same back, from B to A as it
-- was. So every pair covers creating, dropping and altering both ways.
--
-- A fixture file returns a list of pairs:
--   { name, a = sql, b = sql,
--     data = sql run on A first, after = function(db, schema) after A -> B,
--     forward = { "substring", ... }, back = { ... }   in the scripts
--     forward_order = { "first", "second", ... }       in this order (or a
--                     list of such lists)
--     absent = { ... } not in the pair's forward statements,
--     hazards = function(forward, back, schema) on the changes
--     opts = { ... } diff and check options, solo = true, one_way = true }
-- In the SQL and the substrings, {s} stands for the pair's schema.
--
-- global = true: the pair runs in public, in a batch with other global
-- pairs (it names schemas or other database-wide objects, whose names must
-- differ from every other global pair's); solo = true: it runs alone.
--
-- Pairs run in batches, several to a pair of databases, each pair in a
-- schema of its own (fx_N, on the search_path while its SQL runs), so
-- that one batch costs one round of databases, scripts and pg_dumps. When
-- a batch fails, its pairs run one by one to tell which fails.

local env = require "support.env"
local ladle = require "ladle"
local schema = require "ladle.schema"
local sys = require "ladle.sys"

local BATCH = 40

local pg_dump = assert(ladle.sandbox.bindir()) .. "/pg_dump"

local dump_dir = env.tmpdir()
local dump_serial = 0

-- Starts pg_dump --schema-only of a database; returns a function that
-- waits for it and returns its output.
local function start_dump(dbname)
  dump_serial = dump_serial + 1
  local file = string.format("%s/%d.sql", dump_dir, dump_serial)
  local pid = assert(sys.spawn({ pg_dump, "--schema-only", "-f", file, "-d", env.conninfo(dbname) },
    { stdout = "null", stderr = "null", wait = false }))
  return function()
    local status = sys.wait(pid)
    assert(status == 0, "pg_dump failed on " .. dbname)
    local out = assert(env.read(file))
    os.remove(file)
    return out
  end
end

-- pg_dump's entries (split at its "-- Name: ...; Type: ..." headers),
-- sorted, with the columns of each CREATE TABLE sorted and \restrict lines
-- (a random token per run) left out.
local function normalize(out)
  local entries, current = {}, nil
  local in_table, columns = false, nil
  local function flush()
    if current then entries[#entries + 1] = table.concat(current, "\n") end
  end
  for line in out:gmatch("[^\n]*") do
    if line:match("^%-%- Name: ") then
      flush()
      current = { line }
    elseif current and line ~= "" and not line:match("^%-%-") and not line:match("^\\u?n?restrict ") then
      if in_table then
        if line:match("^%)") then
          table.sort(columns)
          for _, c in ipairs(columns) do current[#current + 1] = c end
          current[#current + 1] = line
          in_table = false
        else
          columns[#columns + 1] = (line:gsub(",$", ""))
        end
      else
        current[#current + 1] = line
        if line:match("^CREATE .*TABLE .* %($") then in_table, columns = true, {} end
      end
    end
  end
  flush()
  table.sort(entries)
  return entries
end

-- The first entries that differ, for a message.
local function dump_difference(got, want)
  local in_want, in_got = {}, {}
  for _, e in ipairs(want) do in_want[e] = true end
  for _, e in ipairs(got) do in_got[e] = true end
  local out = {}
  for _, e in ipairs(got) do if not in_want[e] then out[#out + 1] = "only after the script:\n" .. e end end
  for _, e in ipairs(want) do if not in_got[e] then out[#out + 1] = "only in the target:\n" .. e end end
  while #out > 6 do table.remove(out) end
  return table.concat(out, "\n\n")
end

local function lines(list)
  local out = {}
  for _, d in ipairs(list) do out[#out + 1] = d.line end
  return out
end

local function in_schema(sql, name)
  return string.format("CREATE SCHEMA %s; SET search_path = %s, public;\n%s;\nRESET search_path;", name, name, sql)
end

-- Turns the database `from` into `to`: applies the script, checks, diffs
-- again and compares the dumps. Returns the changes and the script, or
-- raises with what went wrong.
local function apply(from_name, from, to, to_dump, opts)
  local changes = assert(ladle.diff(from, to, opts))
  local script = changes:sql()
  local ok, err = pcall(from.transaction, from, function(tx)
    local done, message = tx:exec(script)
    if not done then error(message, 0) end
  end)
  if not ok then error("applying the script failed: " .. tostring(err) .. "\n--- script:\n" .. script, 0) end
  -- pg_dump works while the two sides are read again (once, for both
  -- check's comparison and the second diff)
  local wait_dump = start_dump(from_name)
  local sa, sb = schema.pair(from, to, opts)
  local dump = wait_dump()
  assert(sa, sb)
  local left = lines(schema.compare(sa, sb, opts))
  if #left > 0 then
    error("check still finds differences:\n" .. table.concat(left, "\n") .. "\n--- script:\n" .. script, 0)
  end
  local again = ladle.diff.plan(sa, sb, opts)
  if #again > 0 then
    error("a second diff is not empty:\n" .. table.concat(lines(again), "\n") .. "\n--- script:\n" .. script, 0)
  end
  local difference = dump_difference(normalize(dump), to_dump)
  if difference ~= "" then
    error("pg_dump differs after the script:\n" .. difference .. "\n--- script:\n" .. script, 0)
  end
  return changes, script
end

-- Runs pairs in one pair of databases; returns the forward and back
-- scripts and changes, or raises.
local function run_batch(pairs_list, solo)
  local a_sql, b_sql, data = {}, {}, {}
  for i, p in ipairs(pairs_list) do
    local function expand(text) return text and (text:gsub("{s}", p.schema)) end
    if solo then
      a_sql[i], b_sql[i], data[i] = expand(p.a), expand(p.b), expand(p.data)
    else
      a_sql[i], b_sql[i] = in_schema(expand(p.a), p.schema), in_schema(expand(p.b), p.schema)
      data[i] = p.data and string.format("SET search_path = %s, public;\n%s;\nRESET search_path;", p.schema,
        expand(p.data))
    end
  end
  local opts = pairs_list[1].opts
  local an = env.new_database("fx")
  local bn = env.new_database("fx")
  local a, b = env.connect(an), env.connect(bn)
  local result = {}
  local ok, err = pcall(function()
    for i, p in ipairs(pairs_list) do
      local done, message = a:exec(a_sql[i])
      if not done then error(string.format("%s: A does not load: %s", p.name, message), 0) end
      done, message = b:exec(b_sql[i])
      if not done then error(string.format("%s: B does not load: %s", p.name, message), 0) end
      if data[i] then assert(a:exec(data[i])) end
    end
    local original = assert(schema.snapshot(a, opts))
    local wait_a, wait_b = start_dump(an), start_dump(bn)
    local a_dump, b_dump = normalize(wait_a()), normalize(wait_b())
    result.forward, result.forward_script = apply(an, a, b, b_dump, opts)
    for _, p in ipairs(pairs_list) do
      if p.after then p.after(a, p.schema) end
    end
    local one_way = false
    for _, p in ipairs(pairs_list) do one_way = one_way or p.one_way end
    if not one_way then result.back, result.back_script = apply(an, a, original, a_dump, opts) end
  end)
  a:close()
  b:close()
  env.drop_database(an)
  env.drop_database(bn)
  if not ok then error(err, 0) end
  return result
end

-- What a pair expects of the scripts.
local function check_expectations(p, result)
  local function expand(text) return (text:gsub("{s}", p.schema)) end
  local function has(script, text, label)
    assert(script:find(expand(text), 1, true), string.format("%s: the %s script lacks %s\n%s", p.name, label,
      expand(text), script))
  end
  for _, text in ipairs(p.forward or {}) do has(result.forward_script, text, "forward") end
  for _, text in ipairs(p.back or {}) do has(result.back_script, text, "back") end
  -- the statements of this pair (those that name its schema)
  local own = {}
  for _, st in ipairs(result.forward:statements()) do
    if p.schema == "public" or st.sql:find(p.schema .. ".", 1, true) then own[#own + 1] = st.sql end
  end
  own = table.concat(own, "\n")
  for _, text in ipairs(p.absent or {}) do
    assert(not own:find(expand(text), 1, true), string.format("%s: the forward script has %s\n%s", p.name,
      expand(text), own))
  end
  local chains = p.forward_order or {}
  if type(chains[1]) == "string" then chains = { chains } end
  for _, chain in ipairs(chains) do
    local last = 0
    for _, text in ipairs(chain) do
      local at = result.forward_script:find(expand(text), last + 1, true)
      assert(at, string.format("%s: %s is not where expected in\n%s", p.name, expand(text), result.forward_script))
      last = at
    end
  end
  if p.hazards then p.hazards(result.forward, result.back, p.schema) end
end

local function options_key(opts)
  if not opts then return "" end
  local keys = {}
  for k, v in pairs(opts) do keys[#keys + 1] = k .. "=" .. tostring(type(v) == "table" and table.concat(v, ",") or v) end
  table.sort(keys)
  return table.concat(keys, ";")
end

-- The pairs of every fixture file, in batches.
local function load_batches()
  local files = {}
  for _, name in ipairs(assert(sys.listdir("spec/fixtures/diff"))) do
    if name:match("%.lua$") then files[#files + 1] = name end
  end
  table.sort(files)
  local batches, open, serial = {}, {}, 0
  for _, file in ipairs(files) do
    for _, p in ipairs(assert(loadfile("spec/fixtures/diff/" .. file))()) do
      serial = serial + 1
      p.file = file
      p.name = file:gsub("%.lua$", "") .. ": " .. p[1]
      if p.solo then
        p.schema = "public"
        batches[#batches + 1] = { solo = true, p }
      elseif p.global then
        p.schema = "public"
        local key = "global|" .. options_key(p.opts) .. (p.one_way and "|one way" or "")
        local batch = open[key]
        if not batch or #batch >= BATCH then
          batch = { key = key, solo = true }
          open[key] = batch
          batches[#batches + 1] = batch
        end
        batch[#batch + 1] = p
      else
        p.schema = "fx_" .. serial
        local key = options_key(p.opts) .. (p.one_way and "|one way" or "")
        local batch = open[key]
        if not batch or #batch >= BATCH then
          batch = { key = key }
          open[key] = batch
          batches[#batches + 1] = batch
        end
        batch[#batch + 1] = p
      end
    end
  end
  return batches
end

local function admin_setup()
  local admin = env.connect()
  for _, role in ipairs({ "ladle_reader", "ladle_writer" }) do
    if #assert(admin:query("select 1 from pg_roles where rolname = $1", role)) == 0 then
      assert(admin:exec("create role " .. role))
    end
  end
  admin:close()
end

describe("ladle.diff fixture pairs", function()
  setup(admin_setup)
  local batches = load_batches()
  local total = 0
  for _, batch in ipairs(batches) do total = total + #batch end
  it(string.format("are at least 120 (%d)", total), function()
    assert.is_true(total >= 120, total)
  end)
  for _, batch in ipairs(batches) do
    local outcome  -- run once, for the first pair of the batch
    local function run()
      if outcome then return outcome end
      local ok, result = pcall(run_batch, batch, batch.solo)
      if ok then
        outcome = { result = result }
      else
        -- one by one, to tell which pair fails
        outcome = { single = {}, batch_error = result }
        for _, p in ipairs(batch) do
          local single_ok, single = pcall(run_batch, { p }, batch.solo)
          outcome.single[p] = single_ok and { result = single } or { error = single }
        end
      end
      return outcome
    end
    for _, p in ipairs(batch) do
      it(p.name, function()
        local o = run()
        local mine = o.result and o or o.single[p]
        if mine.error then error(mine.error, 0) end
        if not mine.result then error("the batch failed, this pair alone did not: " .. tostring(o.batch_error), 0) end
        check_expectations(p, mine.result)
      end)
    end
  end
end)
