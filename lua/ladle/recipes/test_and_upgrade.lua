-- Test first: upgrade a copy of production, compare it, then production.
--
-- Dumps production (pg_dump -Fc into a 0600 file), restores the dump into a
-- test database (a throwaway cluster unless -pt names one), upgrades the
-- test copy, and compares it with a reference database at the target
-- version using ladle's check (the upgrades table and the -i kinds left
-- out, and -N schemas and -P column patterns). When they match, and once
-- confirmed (--yes without a terminal),
-- production is upgraded. When they differ, the differences are printed,
-- production is left untouched, and the exit status is 1. Production's
-- upgrades table is locked from the start, so no other upgrade slips in
-- between the test and the real thing. Also `ladle test-and-upgrade`, with
-- pum's flags.
--
-- @flag -pp, --pg_service_prod=SERVICE the production database (default: -p)
-- @flag -pt, --pg_service_test=SERVICE an empty database for the test copy (default: one on a throwaway cluster)
-- @flag -pc, --pg_service_comp=SERVICE (required) a reference database at the target version
-- @flag -f, --file=FILE the dump file (default: backup_file from the config file, else a private temporary file)
-- @flag -i, --ignore=KIND (many) kinds left out of the comparison: tables columns constraints views sequences indexes triggers functions rules ...
-- @flag -x, --ignore-restore-errors go on past pg_restore's errors when restoring the test copy (pum's -x)
-- @flag -N, --exclude-schema=SCHEMA (many) schemas left out of the dump, the restore and the comparison
-- @flag -P, --exclude-field-pattern=PATTERN (many) columns whose name matches this SQL LIKE pattern are left out of the comparison
-- @example ladle run test-and-upgrade -pp prod -pc reference_2_1 -d migrations --to 2.1.0
-- @example ladle run test-and-upgrade -c db.yaml -pp prod -pt test_copy -pc reference -i views triggers --yes

local ladle = require "ladle"
local source = require "ladle.source"
local sys = ladle.sys
local opts = ...
local r = ladle.recipe.new(opts)

local fail = ladle.fail
local prod = opts.pg_service_prod or opts.pg_service
if not prod then fail("usage", "test-and-upgrade: -pp/--pg_service_prod is required") end
local comp = opts.pg_service_comp

for _, kind in ipairs(opts.ignore or {}) do
  local known, why = ladle.schema.known_kind(kind)
  if not known then fail("usage", "test-and-upgrade: -i %s: %s", kind, why) end
end

-- How to name a target: a service as it is, a conninfo as libpq reads it,
-- without the password.
local function label(target)
  if target and not target:find("[=/]") then return target end
  return ladle.pg.target_name(target)
end

-- What the database behind an open connection is, to tell two apart.
local function identity(conn)
  local info = conn:info()
  return string.format("%s:%s/%s", info.host or "", info.port or "", info.dbname)
end

-- Production first: its lock is held until the end.
local prod_plan = r:plan { pg_service = prod }
local prod_name = label(prod)
local comp_name = label(comp)
local test_name = opts.pg_service_test and label(opts.pg_service_test) or "a throwaway cluster"
if r.dry_run then
  r:say("Would dump %s, restore it into %s, upgrade the copy and compare it with %s;",
    prod_name, test_name, comp_name)
  r:say("when they match and once confirmed, would upgrade %s:", prod_name)
  prod_plan:apply("all")
  r:done(prod_plan)
  return
end

-- pum's hooks run on every upgrade: with hooks, there is something to test
if #prod_plan:pending() == 0 and #prod_plan.hooks["pre-all"] + #prod_plan.hooks["post-all"] == 0 then
  r:say("Nothing to upgrade.")
  r:done(prod_plan)
  return
end

-- What is created here goes away however the recipe ends.
local scratch <close> = setmetatable({}, { __close = function(s)
  if s.dir then sys.rmtree(s.dir) end
end })

local file = opts.file or opts.backup_file
if not file then
  local why
  scratch.dir, why = sys.mkdtemp("ladle-test-and-upgrade-")
  if not scratch.dir then fail("system", "%s", why) end
  file = scratch.dir .. "/production.dump"
end

r:say("Dumping %s into %s...", prod_name, file)
local ok, err, details = ladle.backup.dump(prod, file, { pg_dump_exe = opts.pg_dump_exe,
  exclude_schemas = opts.exclude_schema })
if not ok then
  if details and details.stderr then io.stderr:write(details.stderr) end
  fail("system", "dumping %s: %s", prod_name, err)
end

-- A throwaway cluster for the test copy, with production's roles (owners
-- and grants in the dump name them).
local function must(value, message, ...)
  if value == nil then fail("database", "preparing the test copy: %s", message) end
  return value, message, ...
end

local function start_cluster()
  local c, why = ladle.sandbox.start()
  if not c then fail("system", "could not start a throwaway cluster for the test copy: %s", why) end
  local admin <close> = must(c:connect())
  -- the cluster goes away with its roles
  must(source.create_roles(admin, must(source.server_roles(prod_plan.conn))))
  return c
end

local cluster <close> = not opts.pg_service_test and start_cluster() or nil
local test = opts.pg_service_test or must(cluster:createdb("test_copy"))
if opts.pg_service_test then
  local conn <close> = must(ladle.connect(test))
  if identity(conn) == identity(prod_plan.conn) then
    fail("usage", "test-and-upgrade: -pt and -pp name the same database (%s)", identity(conn))
  end
end
-- a named test database should be empty; what the dump holds is dropped first anyway
local restore_args = opts.pg_service_test and { "--clean", "--if-exists" } or {}
r:say("Restoring it into %s...", test_name)
ok, err, details = ladle.backup.restore(test, file, { pg_restore_exe = opts.pg_restore_exe, args = restore_args,
  ignore_errors = opts.ignore_restore_errors, exclude_schemas = opts.exclude_schema })
if not ok then
  if details and details.stderr then io.stderr:write(details.stderr) end
  fail("system", "restoring into %s: %s", test_name, err)
elseif details and details.status then
  io.stderr:write(details.stderr or "")
  r:say("pg_restore exited with status %d; its errors were ignored (-x).", details.status)
end

r:say("Upgrading the test copy:")
local test_plan = r:plan { pg_service = test }
local applied, failure = pcall(test_plan.apply, test_plan, "all")
if not applied then
  if not ladle.errors.is_failure(failure) then error(failure, 0) end
  fail(failure.kind, "on the test copy: %s (%s was not touched)", failure.message, prod_name)
end

r:say("Comparing the test copy with %s...", comp_name)
local differences, why = ladle.schema.check(test_plan.conn, comp, {
  ignore = opts.ignore, exclude_tables = { test_plan.table }, exclude_schemas = opts.exclude_schema,
  exclude_field_patterns = opts.exclude_field_pattern,
})
test_plan.conn:close()
if not differences then fail("database", "comparing with %s: %s", comp_name, why) end
if #differences > 0 then
  r:say("The upgraded test copy differs from %s (- only in the copy, + only in the reference):", comp_name)
  for _, d in ipairs(differences) do r:say("  %s", d.line) end
  fail("found", "%d difference%s: %s was not upgraded", #differences, #differences == 1 and "" or "s", prod_name)
end
r:say("The upgraded test copy matches %s.", comp_name)

local pending = #prod_plan:pending()
if not r:confirm(string.format("Apply %d pending delta%s to %s?", pending, pending == 1 and "" or "s", prod_name)) then
  fail("found", "%s was not upgraded: not confirmed", prod_name)
end
prod_plan:apply("all")
r:done(prod_plan)
