-- make demo: ladle's main job on a throwaway cluster.
--
-- Starts a private PostgreSQL cluster, creates an empty database and
-- upgrades the example job queue (examples/jobqueue/migrations) the way a
-- deployment would: first to 0.2.0 (the database starts from the install
-- script baseline-0.2.0.sql), then, with jobs in the queue, to the latest
-- version. Prints `ladle info`, and removes the cluster.
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
  print("$ ladle " .. table.concat(argv, " ", 2))
  local status = sys.spawn(argv, { env = cluster:env("jobqueue") })
  print()
  if status ~= 0 then ladle.fail(status, "ladle %s failed (exit %d)", (...), status) end
end

ladle_command("lint", "-d", migrations)
ladle_command("upgrade", "-d", migrations, "--to", "0.2.0")

-- the 0.2 application at work: jobs arrive, a worker takes one, one is cancelled
local db <close> = assert(cluster:connect("jobqueue"))
assert(db:exec [[
  INSERT INTO jobs (queue_name, task_name, args) VALUES
    ('emails', 'send_welcome', '{"user": 1}'),
    ('payments', 'charge', '{"order": 7}'),
    ('reports', 'monthly', '{}');
  SELECT fetch_job('emails');
  SELECT cancel_job(3);
]])
print("The 0.2 application queued 3 jobs, took one, cancelled one.\n")

ladle_command("upgrade", "-d", migrations)
ladle_command("info", "-d", migrations)

for _, row in ipairs(assert(db:query("SELECT id, queue_name, status::text, priority FROM jobs ORDER BY priority DESC, id"))) do
  print(string.format("job %d  %-8s  %-9s  priority %d", row.id, row.queue_name, row.status, row.priority))
end
print("\nStopping the cluster and removing " .. cluster.dir .. ".")
