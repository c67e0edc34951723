-- ladle rehearse against the truth. For each of 22 deltas the spec
-- measures, on the real server and with its own queries, which table locks
-- the delta's transaction holds just before COMMIT and which tables get a
-- new relfilenode; CREATE INDEX CONCURRENTLY, which cannot run in a
-- transaction, is watched from a second session while it waits. Then
-- `ladle rehearse --json` must report the same locks and rewrites, and the
-- findings those imply, for every delta.

local env = require "support.env"
local json = require "ladle.json"
local ladle = require "ladle"
local support = require "support.deltas"
local sys = ladle.sys

local BASE = [[
create type mood as enum ('happy', 'sad');
create table accounts (id int primary key, email varchar(10) not null, score int, nickname text, legacy text,
  created timestamptz default now(), feeling mood);
create table orders (id int primary key, account_id int, total int, note text);
create table payments (id int primary key, order_id int);
create table events_old (id int);
create view account_nicknames as select id, nickname from accounts;
insert into accounts select g, 'a' || g, g, 'n' || g, 'l', now(), 'happy' from generate_series(1, 2000) g;
insert into orders select g, (g % 2000) + 1, g, null from generate_series(1, 5000) g;
insert into payments select g, g from generate_series(1, 1000) g;
insert into events_old select generate_series(1, 100);
]]

-- In the order ladle runs them (pre deltas first). `breaks` and
-- `not_concurrent` are what the SQL means for the old code and for index
-- builds; locks and rewrites are measured below, not written here.
local FIXTURE = {
  { "01_pre_add_nullable", "alter table accounts add column bio text;" },
  { "02_pre_add_constant_default", "alter table accounts add column active boolean not null default true;" },
  { "03_pre_add_volatile_default", "alter table orders add column token double precision default random();" },
  { "04_pre_int_to_bigint", "alter table orders alter column total type bigint;", breaks = "public.orders" },
  { "05_pre_widen_varchar", "alter table accounts alter column email type varchar(20);" },
  { "06_pre_set_not_null", "alter table accounts alter column score set not null;", breaks = "public.accounts" },
  { "07_pre_drop_column", "alter table accounts drop column legacy;", breaks = "public.accounts" },
  { "08_pre_rename_column", "alter table orders rename column note to remark;", breaks = "public.orders" },
  { "09_pre_drop_table", "drop table events_old;", breaks = "public.events_old" },
  { "10_pre_enum_add_value", "alter type mood add value 'calm';" },
  { "11_pre_replace_view", "create or replace view account_nicknames as select id, nickname, created from accounts;" },
  { "12_post_check", "alter table orders add constraint total_positive check (total >= 0);" },
  { "13_post_check_not_valid", "alter table accounts add constraint score_positive check (score >= 0) not valid;" },
  { "14_post_validate_check", "alter table accounts validate constraint score_positive;" },
  { "15_post_foreign_key",
    "alter table orders add constraint orders_account foreign key (account_id) references accounts (id);" },
  { "16_post_foreign_key_not_valid",
    "alter table payments add constraint payments_order foreign key (order_id) references orders (id) not valid;" },
  { "17_post_validate_foreign_key", "alter table payments validate constraint payments_order;" },
  { "18_post_create_index", "create index orders_account_id on orders (account_id);",
    not_concurrent = "public.orders" },
  { "19_post_index_concurrently", "create index concurrently accounts_nickname on accounts (nickname);",
    no_transaction = true },
  { "20_post_new_table_with_index", "create table events (id int, at timestamptz);\n"
    .. "create index events_at on events (at);" },
  { "21_post_big_update", "update orders set total = total + 1;" },
  { "22_post_drop_column", "alter table orders drop column token;" },
}

local function files()
  local list = { ["01.00.00_01_base.sql"] = BASE }
  for _, d in ipairs(FIXTURE) do
    list["01.01.00_" .. d[1] .. ".sql"] = (d.no_transaction and "-- ladle: no-transaction\n" or "") .. d[2] .. "\n"
  end
  return list
end

-- The spec's own reading of the lock table: what each mode stops.
local BLOCKS_READS = { AccessExclusiveLock = true }
local BLOCKS_WRITES = { ShareLock = true, ShareRowExclusiveLock = true, ExclusiveLock = true,
  AccessExclusiveLock = true }
local STRENGTH = { AccessShareLock = 1, RowShareLock = 2, RowExclusiveLock = 3, ShareUpdateExclusiveLock = 4,
  ShareLock = 5, ShareRowExclusiveLock = 6, ExclusiveLock = 7, AccessExclusiveLock = 8 }
local SQL_NAME = { AccessShareLock = "ACCESS SHARE", RowShareLock = "ROW SHARE", RowExclusiveLock = "ROW EXCLUSIVE",
  ShareUpdateExclusiveLock = "SHARE UPDATE EXCLUSIVE", ShareLock = "SHARE",
  ShareRowExclusiveLock = "SHARE ROW EXCLUSIVE", ExclusiveLock = "EXCLUSIVE",
  AccessExclusiveLock = "ACCESS EXCLUSIVE" }

local function user_relations(db)
  local out = {}
  for _, r in ipairs(assert(db:query([[select c.oid, n.nspname || '.' || c.relname as name, c.relkind, c.relfilenode
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'public' and c.relkind in ('r', 'p', 'm', 'v')]]))) do
    out[r.oid] = r
  end
  return out
end

-- Strongest granted mode per pre-existing relation, from pg_locks rows.
local function strongest(rows, before)
  local modes = {}
  for _, row in ipairs(rows) do
    local rel = before[row.relation]
    if rel then
      local old = modes[rel.name]
      if not old or STRENGTH[row.mode] > STRENGTH[old] then modes[rel.name] = row.mode end
    end
  end
  return modes
end

local function rewritten(before, after)
  local out = {}
  for oid, rel in pairs(before) do
    if rel.relkind == "r" and after[oid] and after[oid].relfilenode ~= rel.relfilenode then out[#out + 1] = rel.name end
  end
  table.sort(out)
  return out
end

-- CREATE INDEX CONCURRENTLY, run by psql while a writer's transaction is
-- open: it waits for the writer, and meanwhile its locks are visible.
local function watch_concurrent(dbname, sql)
  local writer = env.connect(dbname)
  assert(writer:exec("begin; insert into accounts (id, email, score) values (-1, 'w', 0)"))
  local watcher = env.connect(dbname)
  local before = user_relations(watcher)
  local tmp = env.tmpdir()
  local pid = assert(sys.spawn({ "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dbname, "-c", sql },
    { wait = false, stdout = "null", stderr = { path = tmp .. "/err" } }))
  local rows = {}
  for _ = 1, 500 do
    rows = assert(watcher:query([[select l.relation, l.mode from pg_locks l join pg_stat_activity a on a.pid = l.pid
      where a.query ilike 'create index concurrently%' and l.locktype = 'relation' and l.granted]]))
    local waiting = watcher:query([[select 1 from pg_stat_activity
      where query ilike 'create index concurrently%' and wait_event_type = 'Lock']])
    if #rows > 0 and #waiting > 0 then break end
    sys.sleep(0.02)
  end
  assert(writer:exec("rollback"))
  writer:close()
  assert.equal(0, sys.wait(pid), env.read(tmp .. "/err"))
  local after = user_relations(watcher)
  watcher:close()
  return strongest(rows, before), rewritten(before, after)
end

-- Applies the fixture to a database holding the base, measuring each delta.
local function measure(dbname)
  local db = env.connect(dbname)
  local truth = {}
  for i, d in ipairs(FIXTURE) do
    local t = {}
    if d.no_transaction then
      t.locks, t.rewrites = watch_concurrent(dbname, d[2])
    else
      local before = user_relations(db)
      assert(db:exec("begin"))
      assert(db:exec(d[2]))
      local rows = assert(db:query([[select relation, mode from pg_locks
        where pid = pg_backend_pid() and locktype = 'relation' and granted]]))
      assert(db:exec("commit"))
      t.locks, t.rewrites = strongest(rows, before), rewritten(before, user_relations(db))
    end
    truth[i] = t
  end
  db:close()
  return truth
end

local function by_relation(list, field)
  local out = {}
  for _, item in ipairs(list) do out[item.relation] = item[field] end
  return out
end

local function rules(findings)
  local out = {}
  for _, f in ipairs(findings) do out[#out + 1] = f.rule .. " " .. f.relation end
  table.sort(out)
  return out
end

describe("ladle rehearse", function()
  local source, truth_db, dir, report

  setup(function()
    dir = support.folder(files())
    source = env.new_database("rehearse_src")
    local status, out, err = env.ladle({ "upgrade", "-d", dir, "--to", "1.0.0" }, { env = { PGDATABASE = source } })
    assert(status == 0, out .. err)
    truth_db = env.new_database("rehearse_truth")
    local db = env.connect(truth_db)
    assert(db:exec(BASE))
    db:close()
  end)

  teardown(function()
    env.drop_database(source)
    env.drop_database(truth_db)
  end)

  it("reports, for each of the 22 deltas, the locks and rewrites measured on the server", function()
    local truth = measure(truth_db)
    -- what the server did is not nothing: the measurement itself is checked
    assert.equal("AccessExclusiveLock", truth[1].locks["public.accounts"])
    assert.same({ "public.orders" }, truth[3].rewrites)
    assert.same({}, truth[1].rewrites)
    assert.equal("ShareLock", truth[18].locks["public.orders"])
    assert.equal("ShareUpdateExclusiveLock", truth[19].locks["public.accounts"])
    assert.same({}, truth[20].locks)

    local status, out, err = env.ladle({ "rehearse", "-d", dir, "--json" }, { env = { PGDATABASE = source } })
    assert.equal(1, status, err)
    assert.truthy(out:find('"failed":null', 1, true))
    report = assert(json.decode(out))
    assert.is_nil(report.failed)  -- null in the JSON
    assert.equal(#FIXTURE, #report.deltas)
    for i, d in ipairs(FIXTURE) do
      local seen, t = report.deltas[i], truth[i]
      local name = d[1]
      assert.truthy(seen.file:find("01.01.00_" .. name .. ".sql", 1, true), seen.file)
      local expected_rules = {}
      if d.no_transaction then
        assert.same({}, seen.locks, name)
        assert.truthy(seen.unobserved[1]:find("locks", 1, true), name)
      else
        local expected_locks = {}
        for rel, mode in pairs(t.locks) do expected_locks[rel] = SQL_NAME[mode] end
        assert.same(expected_locks, by_relation(seen.locks, "mode"), name)
      end
      -- findings: what the measured locks and rewrites imply, plus the SQL's meaning
      for rel, mode in pairs(t.locks) do
        if BLOCKS_READS[mode] then
          expected_rules[#expected_rules + 1] = "blocks-reads " .. rel
        elseif BLOCKS_WRITES[mode] then
          expected_rules[#expected_rules + 1] = "blocks-writes " .. rel
        end
      end
      for _, rel in ipairs(t.rewrites) do expected_rules[#expected_rules + 1] = "rewrite " .. rel end
      if d.breaks then expected_rules[#expected_rules + 1] = "breaks-old-code " .. d.breaks end
      if d.not_concurrent then expected_rules[#expected_rules + 1] = "not-concurrent " .. d.not_concurrent end
      table.sort(expected_rules)
      assert.same(t.rewrites, seen.rewrites, name)
      assert.same(expected_rules, rules(seen.findings), name)
    end
  end)

  it("reports each delta's schema changes with the diff's hazards", function()
    assert(report, "the first test ran the rehearsal")
    local first = report.deltas[1].changes[1]
    assert.equal("columns", first.kind)
    assert.equal("public.accounts.bio", first.name)
    assert.equal("+", first.change)
    local volatile = report.deltas[3].changes[1]
    assert.truthy(table.concat(volatile.hazards, " "):find("table_rewrite", 1, true))
    assert.same({}, report.deltas[21].changes)
  end)

  it("never writes the source database", function()
    local db = env.connect(source)
    local before = assert(ladle.schema.snapshot(db))
    local rows = db:query("select count(*) as n from ladle_upgrades")[1].n
    local status = env.ladle({ "rehearse", "-d", dir, "--json" }, { env = { PGDATABASE = source } })
    assert.equal(1, status)
    assert.equal(rows, db:query("select count(*) as n from ladle_upgrades")[1].n)
    assert.is_true(assert(ladle.diff(before, assert(ladle.schema.snapshot(db)))):is_empty())
    assert.equal(2000, db:query("select count(*) as n from accounts")[1].n)
    db:close()
  end)

  it("draws one row per delta in an SVG that is well-formed XML", function()
    local tmp = env.tmpdir()
    local status, _, err = env.ladle({ "rehearse", "-d", dir, "--svg", tmp .. "/r.svg" },
      { env = { PGDATABASE = source } })
    assert.equal(1, status, err)
    local path = tmp .. "/r.svg"
    local ok, out, lint_err = sys.spawn({ "xmllint", "--noout", path }, { stdout = "capture", stderr = "capture" })
    assert.equal(0, ok, (out or "") .. (lint_err or ""))
    local count
    ok, count = sys.spawn({ "xmllint", "--xpath", 'count(//*[local-name()="g"][@class="delta"])', path },
      { stdout = "capture", stderr = "null" })
    assert.equal(0, ok)
    assert.equal(#FIXTURE, tonumber(count))
    local text = env.read(path)
    local _, rewrites = text:gsub(">REWRITE<", "")
    local _, breaks = text:gsub(">BREAKS OLD CODE<", "")
    assert.equal(2, rewrites)
    assert.equal(5, breaks)
  end)
end)
