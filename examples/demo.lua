-- make demo: ladle's main job on a throwaway cluster.
--
-- Starts a private PostgreSQL cluster, creates an empty database and
-- deploys the example job queue (examples/jobqueue/migrations) with the
-- stock blue-green recipe: for each version, its pre deltas, the deploy
-- hook (here it only says what it deploys, and what the database holds at
-- that moment), then its post deltas. Then a 0.3 worker uses the queue,
-- `ladle info` shows every delta, and the cluster is removed.
--
--   ladle run examples/demo.lua

local ladle = require "ladle"
local sys = ladle.sys

local here = (arg and arg[0] or "examples/demo.lua"):match("^(.*)/[^/]*$") or "."
local migrations = here .. "/jobqueue/migrations"
local exe = sys.realpath("/proc/self/exe")

local cluster <close> = assert(ladle.sandbox.start())
assert(cluster:createdb("jobqueue"))
print("Started a throwaway cluster in " .. cluster.dir .. "; database jobqueue is empty.\n")

local function ladle_command(...)
  local argv = { exe, ... }
  local shown = {}
  for i = 2, #argv do
    local word = argv[i]
    shown[#shown + 1] = word:match("^[%w%./_=-]+$") and word or ("'" .. word:gsub("'", [['\'']]) .. "'")
  end
  print("$ ladle " .. table.concat(shown, " "))
  local status = sys.spawn(argv, { env = cluster:env("jobqueue") })
  print()
  if status ~= 0 then ladle.fail(status, "ladle %s failed (exit %d)", (...), status) end
end

ladle_command("lint", "-d", migrations)

-- the deploy hook runs without a shell unless it starts with `sh -c`; it
-- inherits PGHOST and friends, so it can look at the database
local deploy = [[sh -c 'echo "==> deploying jobqueue {version}: $(psql -XAtc "select count(*) from ladle_upgrades") ]]
  .. [[deltas applied so far, the post deltas of {version} come next"']]
ladle_command("run", "blue-green", "-d", migrations, "--deploy", deploy)

-- the 0.3 application at work: jobs arrive with priorities, a worker takes the most urgent
local db <close> = assert(cluster:connect("jobqueue"))
assert(db:exec [[
  INSERT INTO jobs (queue_name, task_name, args, priority) VALUES
    ('emails', 'send_welcome', '{"user": 1}', 10),
    ('payments', 'charge', '{"order": 7}', 20),
    ('reports', 'monthly', '{}', 0);
  SELECT fetch_job('payments');
  SELECT cancel_job(3);
]])
print("The 0.3 application queued 3 jobs, took one, cancelled one.\n")

ladle_command("info", "-d", migrations)

for _, row in ipairs(assert(db:query("SELECT id, queue_name, status::text, priority FROM jobs ORDER BY priority DESC, id"))) do
  print(string.format("job %d  %-8s  %-9s  priority %d", row.id, row.queue_name, row.status, row.priority))
end
print("\nStopping the cluster and removing " .. cluster.dir .. ".")
