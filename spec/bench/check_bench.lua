-- ladle check against pg_dump --schema-only, side by side.
--
-- A database with 2000 tables (a primary key, three columns, an index and
-- a check constraint each), 200 views and 200 functions, and a copy with
-- exactly 20 changes; then the same with 10,000 tables. At both sizes
-- `ladle check` of the pair must take at most half the time pg_dump
-- --schema-only takes for one of them, report exactly the 20 changes, and
-- stay under 100 MB of memory.

local ladle = require "ladle"

local VIEWS, FUNCTIONS = 200, 200
local TARGET_RATIO, TARGET_RSS_MB = 0.5, 100
-- tables, and how many alternating runs of each program (the best counts)
local SIZES = { { tables = 2000, runs = 7 }, { tables = 10000, runs = 3 } }

-- The schema in pieces of at most 1000 tables (one statement string runs
-- in one transaction, and 10,000 tables' locks do not fit in one).
local function schema_script(tables)
  local pieces, out = {}, {}
  for i = 1, tables do
    if #out >= 1000 then pieces[#pieces + 1] = table.concat(out, "\n"); out = {} end
    out[#out + 1] = string.format(
      "create table t%d (id int primary key, a text, b int check (b >= 0), c timestamptz default now());\n"
      .. "create index t%d_a on t%d (a);", i, i, i)
  end
  for i = 1, VIEWS do
    out[#out + 1] = string.format("create view v%d as select id, a, b from t%d where b > %d;", i, i, i)
  end
  for i = 1, FUNCTIONS do
    out[#out + 1] = string.format(
      "create function f%d(x int) returns int language plpgsql as $$ begin return x + %d; end $$;", i, i)
  end
  pieces[#pieces + 1] = table.concat(out, "\n")
  return pieces
end

-- The 20 changes, and the line ladle check prints for each.
local CHANGES = [[
alter table t1 add column d int;
alter table t2 drop column c;
alter table t1009 alter column b type bigint;
alter table t4 alter column c set default '2000-01-01';
alter table t5 alter column a set not null;
drop index t6_a;
drop index t7_a; create index t7_a on t7 (b);
create index t8_b on t8 (b);
alter table t9 drop constraint t9_b_check; alter table t9 add constraint t9_b_check check (b > 0);
alter table t10 drop constraint t10_b_check;
alter table t11 add constraint t11_a_key unique (a);
create table extra (id int primary key);
drop table t2000;
create or replace view v13 as select id, a, b from t13 where b > 1300;
drop view v14;
create view v_new as select id from t15;
create or replace function f17(x int) returns int language plpgsql as $$ begin return x * 17; end $$;
drop function f18(int);
create function f_new() returns int language sql as 'select 1';
create sequence seq_new;]]

local EXPECTED = {
  "+ tables public.extra",
  "- tables public.t2000",
  "+ columns public.t1.d",
  "~ columns public.t1009.b",
  "- columns public.t2.c",
  "~ columns public.t4.c",
  "~ columns public.t5.a",
  "+ sequences public.seq_new",
  "+ constraints public.t11.t11_a_key",
  "- constraints public.t10.t10_b_check",
  "~ constraints public.t9.t9_b_check",
  "- indexes public.t6_a",
  "~ indexes public.t7_a",
  "+ indexes public.t8_b",
  "~ views public.v13",
  "- views public.v14",
  "+ views public.v_new",
  "~ functions public.f17(integer)",
  "- functions public.f18(integer)",
  "+ functions public.f_new()",
}

-- Builds the pair for one size, measures, and returns a list of problems.
local function measure(bench, size)
  local tables = size.tables
  local a_name, b_name = "check_a_" .. tables, "check_b_" .. tables
  local admin = assert(bench.cluster:connect("postgres"))
  local build_seconds = bench.time(function()
    assert(admin:exec("CREATE DATABASE " .. a_name))
    local a = assert(bench.cluster:connect(a_name))
    for _, piece in ipairs(schema_script(tables)) do assert(a:exec(piece)) end
    a:close()
    assert(admin:exec(string.format("CREATE DATABASE %s TEMPLATE %s", b_name, a_name)))
    local b = assert(bench.cluster:connect(b_name))
    assert(b:exec(CHANGES))
    b:close()
  end)
  print(string.format("built the pair in %.1f s (%d tables, %d views, %d functions; 20 changes)",
    build_seconds, tables, VIEWS, FUNCTIONS))

  local pg_dump = assert(ladle.sandbox.bindir()) .. "/pg_dump"
  local dump_file = bench.dir .. "/" .. a_name .. ".sql"
  local check_argv = { bench.exe, "check", "-p1", bench.cluster:conninfo(a_name), "-p2", bench.cluster:conninfo(b_name) }
  local dump_argv = { pg_dump, "--schema-only", "-f", dump_file, "-d", bench.cluster:conninfo(a_name) }

  -- alternate the two so that both see the same machine
  local best_check, best_dump, peak_kb, output = math.huge, math.huge, 0, nil
  for _ = 1, size.runs do
    local seconds, status, out, err = bench.run(dump_argv)
    assert(status == 0, "pg_dump failed: " .. tostring(err))
    best_dump = math.min(best_dump, seconds)
    local usage
    seconds, status, out, err, usage = bench.run(check_argv)
    assert(status == 1, "ladle check should exit 1, got " .. tostring(status) .. ": " .. tostring(err))
    best_check = math.min(best_check, seconds)
    peak_kb = math.max(peak_kb, usage and usage.maxrss_kb or 0)
    output = out
  end
  for _, name in ipairs({ a_name, b_name }) do assert(admin:exec("DROP DATABASE " .. name)) end
  admin:close()

  local found = {}
  for line in output:gmatch("[^\n]+") do found[#found + 1] = line:match("^(%S+ %S+ %S+):") or line end
  local ratio = best_check / best_dump
  print(string.format("pg_dump --schema-only (one database)  %6.3f s", best_dump))
  print(string.format("ladle check (the pair)                %6.3f s", best_check))
  print(string.format("ratio at %5d tables                  %6.2f   (target <= %.2f)", tables, ratio, TARGET_RATIO))
  print(string.format("ladle check peak RSS                  %6.1f MB (target < %d MB)", peak_kb / 1024, TARGET_RSS_MB))
  print(string.format("differences reported                  %6d   (expected %d)", #found, #EXPECTED))

  local problems = {}
  local expected = table.move(EXPECTED, 1, #EXPECTED, 1, {})
  table.sort(expected)
  table.sort(found)
  local same = #found == #expected
  for i, line in ipairs(expected) do
    if found[i] ~= line then same = false end
  end
  if not same then
    problems[#problems + 1] = string.format("%d tables: ladle check did not report exactly the 20 changes:\n%s",
      tables, output)
  end
  if ratio > TARGET_RATIO then
    problems[#problems + 1] = string.format("%d tables: check/pg_dump ratio %.2f above %.2f", tables, ratio, TARGET_RATIO)
  end
  if peak_kb / 1024 >= TARGET_RSS_MB then
    problems[#problems + 1] = string.format("%d tables: peak RSS %.1f MB", tables, peak_kb / 1024)
  end
  return problems
end

return function(bench)
  local problems = {}
  for i, size in ipairs(SIZES) do
    if i > 1 then print() end
    for _, p in ipairs(measure(bench, size)) do problems[#problems + 1] = p end
  end
  if #problems > 0 then return false, table.concat(problems, "; ") end
  return true
end
