-- The job queue app's test: the queries version 0.2 or 0.3 of the app sends.
--
-- What a worker and a producer of that version do with the database:
-- enqueue two jobs, fetch one, cancel the other, read them back. It runs in
-- a transaction it rolls back, so the database is left as it was. Exit 0
-- when everything worked, 1 naming the step that failed.
--
--   ladle run examples/jobqueue/app/test.lua -p SERVICE --app 0.3
--   ladle run app-tests -p dev -d examples/jobqueue/migrations \
--     --test-old 'ladle run examples/jobqueue/app/test.lua -p {service} --app 0.2' \
--     --test-new 'ladle run examples/jobqueue/app/test.lua -p {service} --app 0.3'
--
-- @flag --app=VERSION (required) the version of the app whose queries run: 0.2 or 0.3

local ladle = require "ladle"
local opts = ...

local db = ladle.connect(opts.pg_service)
if not db then ladle.fail("database", "cannot connect to %s", ladle.pg.target_name(opts.pg_service)) end

-- One step of the test: the query, or exit 1 naming the step.
local function step(name, sql, ...)
  local rows, message = db:query(sql, ...)
  if not rows then
    db:exec("ROLLBACK")
    ladle.fail("found", "app %s: %s: %s", opts.app, name, message)
  end
  return rows
end

local function expect(name, wanted, got)
  if wanted ~= got then
    db:exec("ROLLBACK")
    ladle.fail("found", "app %s: %s: expected %s, got %s", opts.app, name, tostring(wanted), tostring(got))
  end
end

-- Each version's data access, as its code has it.
local versions = {}

versions["0.2"] = {
  enqueue = function(queue, task, args)
    return step("enqueue", "INSERT INTO jobs (queue_name, task_name, args) VALUES ($1, $2, $3::jsonb) RETURNING id",
      queue, task, args)[1].id
  end,
  fetch = function(queue, worker)
    local job = step("fetch", "SELECT * FROM fetch_job($1)", queue)[1]
    -- 0.2 workers record who took the job and count the attempts themselves
    if job.id then step("record the worker", "UPDATE jobs SET worker = $2, attempts = attempts + 1 WHERE id = $1",
      job.id, worker) end
    return job
  end,
  check = function(id)
    local row = step("read back", "SELECT attempts, worker FROM jobs WHERE id = $1", id)[1]
    expect("attempts", 1, row.attempts)
    expect("worker", "worker-1", row.worker)
  end,
}

versions["0.3"] = {
  -- 0.3 sets a priority; it no longer writes the worker column
  enqueue = function(queue, task, args, priority)
    return step("enqueue", "INSERT INTO jobs (queue_name, task_name, args, priority) VALUES ($1, $2, $3::jsonb, $4) "
      .. "RETURNING id", queue, task, args, priority)[1].id
  end,
  fetch = function(queue)
    return step("fetch", "SELECT * FROM fetch_job($1)", queue)[1]
  end,
  check = function(id, priority)
    expect("priority", priority, step("read back", "SELECT priority FROM jobs WHERE id = $1", id)[1].priority)
  end,
}

local app = versions[opts.app]
if not app then ladle.fail("usage", "--app: expected 0.2 or 0.3, not %s", opts.app) end

assert(db:exec("BEGIN"))
local first = app.enqueue("emails", "send_welcome", '{"to": "a@example.org"}', 5)
local second = app.enqueue("emails", "send_digest", "{}", 10)
local job = app.fetch("emails", "worker-1")
expect("fetch returns a job", true, job.id == first or job.id == second)
expect("a fetched job is doing", "doing", job.status)
local other = job.id == first and second or first
expect("cancel", true, step("cancel", "SELECT cancel_job($1) AS cancelled", other)[1].cancelled)
expect("a cancelled job", "cancelled", step("read back", "SELECT status::text FROM jobs WHERE id = $1", other)[1].status)
app.check(job.id, job.id == first and 5 or 10)
db:exec("ROLLBACK")
db:close()
print(string.format("app %s: enqueue, fetch, cancel: ok", opts.app))
