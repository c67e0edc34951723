-- Test first: upgrade a copy of production, compare it, then production.
--
-- Dumps production (pg_dump -Fc into a 0600 file), restores the dump into a
-- test database (a throwaway cluster unless -pt names one), upgrades the
-- test copy, and compares it with a reference database at the target
-- version using ladle's check (the upgrades table and the -i kinds left
-- out). When they match, and once confirmed (--yes without a terminal),
-- production is upgraded. When they differ, the differences are printed,
-- production is left untouched, and the exit status is 1. Production's
-- upgrades table is locked from the start, so no other upgrade slips in
-- between the test and the real thing. Also `ladle test-and-upgrade`, with
-- pum's flags.
--
-- @flag -pp, --pg_service_prod=SERVICE the production database (default: -p)
-- @flag -pt, --pg_service_test=SERVICE a database to restore the test copy into, emptied first (default: a throwaway cluster)
-- @flag -pc, --pg_service_comp=SERVICE (required) a reference database at the target version
-- @flag -f, --file=FILE the dump file (default: backup_file from the config file, else a private temporary file)
-- @flag -i, --ignore=KIND (many) kinds left out of the comparison: tables columns constraints views sequences indexes triggers functions rules ...

local ladle = require "ladle"
local recipe = ladle.recipe
local sys = ladle.sys
local opts = ...

local fail = ladle.fail
local prod = opts.pg_service_prod or opts.pg_service
if not prod then fail(2, "test-and-upgrade: -pp/--pg_service_prod is required") end
local comp = opts.pg_service_comp

-- A name to print for a target: a service name as it is, never a conninfo
-- (it may hold a password).
local function label(target, conn, otherwise)
  if target and not target:find("[=/]") then return target end
  if conn then
    local info = conn:info()
    return string.format("%s on %s:%s", info.dbname, info.host or "localhost", info.port)
  end
  return otherwise
end

-- Production first: its lock is held until the end.
local prod_opts = setmetatable({ pg_service = prod }, { __index = opts })
local prod_plan = recipe.plan(prod_opts)
local prod_name = label(prod, prod_plan.conn)
local comp_name = label(comp, nil, "the reference database")
local test_name = opts.pg_service_test and label(opts.pg_service_test, nil, "the test database") or "a throwaway cluster"
if recipe.dry_run then
  recipe.say("Would dump %s, restore it into %s, upgrade the copy and compare it with %s;",
    prod_name, test_name, comp_name)
  recipe.say("when they match and once confirmed, would upgrade %s:", prod_name)
  prod_plan:apply("all")
  recipe.done(prod_plan)
  return
end

if #prod_plan:pending() == 0 then
  recipe.say("Nothing to upgrade.")
  recipe.done(prod_plan)
  return
end

-- What is created here goes away however the recipe ends.
local scratch <close> = setmetatable({}, { __close = function(s)
  if s.dir then sys.rmtree(s.dir) end
end })

local file = opts.file or opts.backup_file
if not file then
  scratch.dir = assert(sys.mkdtemp("ladle-test-and-upgrade-"))
  file = scratch.dir .. "/production.dump"
end

recipe.say("Dumping %s into %s...", prod_name, file)
local ok, err, stderr = ladle.backup.dump(prod, file, { pg_dump_exe = opts.pg_dump_exe })
if not ok then
  if stderr then io.stderr:write(stderr) end
  fail(3, "dumping %s: %s", prod_name, err)
end

-- A throwaway cluster for the test copy, with production's roles (owners
-- and grants in the dump name them).
local function start_cluster()
  local c, why = ladle.sandbox.start()
  if not c then fail(3, "could not start a throwaway cluster for the test copy: %s", why) end
  local admin <close> = assert(c:connect())
  for _, row in ipairs(assert(prod_plan.conn:query(
      "SELECT rolname FROM pg_catalog.pg_roles WHERE rolname !~ '^pg_' ORDER BY rolname"))) do
    local exists = assert(admin:query("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", row.rolname))
    if #exists == 0 then assert(admin:exec("CREATE ROLE " .. admin:escape_identifier(row.rolname))) end
  end
  return c
end

local cluster <close> = not opts.pg_service_test and start_cluster() or nil
local test = opts.pg_service_test or assert(cluster:createdb("test_copy"))
-- a named test database may hold an older copy: pg_restore drops what it restores first
local restore_args = opts.pg_service_test and { "--clean", "--if-exists" } or {}
recipe.say("Restoring it into %s...", test_name)
ok, err, stderr = ladle.backup.restore(test, file, { pg_restore_exe = opts.pg_restore_exe, args = restore_args })
if not ok then
  if stderr then io.stderr:write(stderr) end
  fail(3, "restoring into %s: %s", test_name, err)
end

recipe.say("Upgrading the test copy:")
local test_plan = recipe.plan(setmetatable({ pg_service = test }, { __index = opts }))
test_plan:apply("all")

recipe.say("Comparing the test copy with %s...", comp_name)
local differences, why = ladle.schema.check(test_plan.conn, comp, {
  ignore = opts.ignore, exclude_tables = { test_plan.table },
})
test_plan.conn:close()
if not differences then fail(3, "comparing with %s: %s", comp_name, why) end
if #differences > 0 then
  recipe.say("The upgraded test copy differs from %s (- only in the copy, + only in the reference):", comp_name)
  for _, d in ipairs(differences) do recipe.say("  %s", d.line) end
  fail(1, "%d difference%s: %s was not upgraded", #differences, #differences == 1 and "" or "s", prod_name)
end
recipe.say("The upgraded test copy matches %s.", comp_name)

local pending = #prod_plan:pending()
if not ladle.confirm(string.format("Apply %d pending delta%s to %s?", pending, pending == 1 and "" or "s", prod_name)) then
  fail(1, "%s was not upgraded: not confirmed", prod_name)
end
prod_plan:apply("all")
recipe.done(prod_plan)
