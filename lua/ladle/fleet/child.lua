-- ladle.fleet.child: one target of a fleet, upgraded by a child
-- `ladle upgrade --json` process.
--
--   local c = assert(child.start { exe = "/usr/bin/ladle", target = "tenant_a",
--     args = { "-d", "migrations" }, output = "/tmp/x/1" })
--   repeat
--     for _, event in ipairs(c:poll()) do ... end   -- the JSON lines so far
--   until c.status                                   -- set once it exited
--
-- The child writes its JSON lines to OUTPUT.out and its messages to
-- OUTPUT.err, files the fleet reads as they grow. It leads its own process
-- group: a Ctrl-C at the terminal reaches the fleet, which passes one on
-- (c:interrupt()); a kill -9 of the fleet leaves it to finish its upgrade.
-- A conninfo's password reaches it as PGPASSWORD, never in its argv.

local errors = require "ladle.errors"
local json = require "ladle.json"
local pg = require "ladle.pg"
local sys = require "ladle.sys"

local child = {}

local Child = {}
Child.__index = Child

-- child.start{exe, target, args, output[, dry_run]} -> child | nil,
-- message, details
function child.start(opts)
  -- a service name goes to -p as it is; a conninfo or URI without its
  -- secrets, the password in the environment
  local conninfo, env, details = pg.child_service(opts.target)
  if not conninfo then return nil, env, errors.with_kind(details, "input") end
  local argv = { opts.exe, "upgrade", "-p", conninfo }
  table.move(opts.args or {}, 1, #(opts.args or {}), #argv + 1, argv)
  argv[#argv + 1] = "--json"
  if opts.dry_run then argv[#argv + 1] = "--dry-run" end
  local out_path, err_path = opts.output .. ".out", opts.output .. ".err"
  local pid, message
  pid, message, details = sys.spawn(argv, {
    wait = false, new_group = true, stdin = "null",
    stdout = { path = out_path }, stderr = { path = err_path },
    env = env,
  })
  if not pid then return nil, message, errors.with_kind(details, "system") end
  local self = setmetatable({ pid = pid, out_path = out_path, err_path = err_path, pending = "",
    started = sys.now() }, Child)
  -- the file exists once spawn returned: the child opened it before exec
  self.out = io.open(out_path, "rb")
  return self
end

-- True once the process has ended (a zombie until reaped). Linux: the
-- state in /proc/PID/stat, read without waiting, since sys.wait blocks.
local function ended(pid)
  local f = io.open("/proc/" .. pid .. "/stat", "rb")
  if not f then return true end
  local stat = f:read("a") or ""
  f:close()
  local state = stat:match("%) (%a)")
  return state == nil or state == "Z" or state == "X"
end

-- Complete lines written since the last call, decoded; a line that is not
-- JSON (it should not happen) is kept as {event = "text", message = line}.
function Child:_read()
  local events = {}
  if not self.out then return events end
  local chunk = self.out:read("a")
  if chunk and chunk ~= "" then self.pending = self.pending .. chunk end
  while true do
    local line, rest = self.pending:match("^([^\n]*)\n(.*)$")
    if not line then break end
    self.pending = rest
    if line ~= "" then
      local event = json.decode(line)
      events[#events + 1] = type(event) == "table" and event or { event = "text", message = line }
    end
  end
  return events
end

-- c:poll() -> the events the child printed since the last poll. Once the
-- child has ended, c.status is its exit status (128 + signal when killed),
-- c.ms how long it ran, and c.stderr what it wrote on stderr.
function Child:poll()
  if self.status then return {} end
  local exited = ended(self.pid)
  if exited then
    local status = sys.wait(self.pid)
    self.status = status or 255
    self.ms = math.floor((sys.now() - self.started) * 1000 + 0.5)
  end
  local events = self:_read()  -- after the exit: everything it wrote is there
  if exited then
    if self.pending ~= "" then events[#events + 1] = json.decode(self.pending) or { event = "text", message = self.pending } end
    if self.out then self.out:close() end
    local f = io.open(self.err_path, "rb")
    self.stderr = f and f:read("a") or ""
    if f then f:close() end
  end
  return events
end

-- The line of its stderr that says why it failed, without "ladle: ".
function Child:reason()
  local last
  for line in (self.stderr or ""):gmatch("[^\n]+") do
    if not line:match("^ladle: WARNING") and not line:match("^%s") then last = line end
  end
  return last and (last:gsub("^ladle: ", ""))
end

-- c:interrupt() passes a Ctrl-C on: the running delta is cancelled and
-- rolled back, and the child exits 130.
function Child:interrupt()
  if not self.status then sys.kill(-self.pid, sys.signals.INT) end
end

return child
