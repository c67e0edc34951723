-- ladle.recipe: what a recipe needs besides the plan: deploy hooks run
-- without a shell, confirmation, dry runs, progress lines, and the header
-- comment in which a recipe declares its flags.
--
--   -- Blue-green: per version, pre deltas, deploy, post deltas.
--   -- @flag --deploy=CMD (required) deploy the code of version {version}
--   local ladle = require "ladle"
--   local opts = ...
--   local r = ladle.recipe.new(opts)      -- dry run, --yes, output: from opts
--   local plan = r:plan()
--   for _, step in ipairs(plan:versions()) do
--     step:apply("pre")
--     r:hook(opts.deploy, r:vars(step.version))
--     step:apply("post")
--   end
--   r:done(plan)
--
-- Nothing here is process-wide: a recipe context carries its options, and
-- the module functions (recipe.hook, recipe.confirm) take theirs as
-- arguments.

local errors = require "ladle.errors"
local headers = require "ladle.recipe.header"
local pg = require "ladle.pg"
local session = require "ladle.session"
local sys = require "ladle.sys"

local recipe = {}
local fail = errors.fail

-- Command strings ---------------------------------------------------------

-- Splits a command line into words the way a POSIX shell splits plain
-- words and quotes ('...', "...", backslash), without expanding anything.
-- Returns the words, or nil and a message.
function recipe.split(command)
  local words, word, i, n = {}, nil, 1, #command
  local function add(s) word = (word or "") .. s end
  while i <= n do
    local c = command:sub(i, i)
    if c:match("%s") then
      if word then words[#words + 1] = word; word = nil end
      i = i + 1
    elseif c == "'" then
      local close = command:find("'", i + 1, true)
      if not close then return nil, "unterminated ' in: " .. command end
      add(command:sub(i + 1, close - 1))
      i = close + 1
    elseif c == '"' then
      local j, buf = i + 1, {}
      while true do
        local d = command:sub(j, j)
        if d == "" then return nil, 'unterminated " in: ' .. command end
        if d == '"' then break end
        if d == "\\" and command:sub(j + 1, j + 1):match('[\\"$`]') then
          j = j + 1
          d = command:sub(j, j)
        end
        buf[#buf + 1] = d
        j = j + 1
      end
      add(table.concat(buf))
      i = j + 1
    elseif c == "\\" then
      if i == n then return nil, "trailing backslash in: " .. command end
      add(command:sub(i + 1, i + 1))
      i = i + 2
    else
      add(c)
      i = i + 1
    end
  end
  if word then words[#words + 1] = word end
  return words
end

-- Replaces {name} placeholders with vars[name], each value passed through
-- quote(value, at) when given (at: the position of the placeholder). An
-- unknown placeholder is an error rather than a silent empty string: a
-- deploy of version "" is worse than no deploy. vars.unavailable[name]
-- says why a placeholder has no value.
local function substitute(text, vars, quote)
  local missing
  local out = text:gsub("(){([%w_]+)}", function(at, name)
    local v = name ~= "pgpassword" and vars[name] or nil
    if v == nil then missing = missing or name; return nil end
    v = tostring(v)
    return quote and quote(v, at) or v
  end)
  if missing then
    local why = vars.unavailable and vars.unavailable[missing]
    if why then return nil, string.format("{%s}: %s", missing, why) end
    return nil, string.format("{%s} has no value in: %s", missing, text)
  end
  return out
end

function recipe.expand(text, vars)
  return substitute(text, vars)
end

-- The quoting state of a shell script at each byte: "plain", "single"
-- ('...') or "double" ("..."), as sh reads it.
local function quote_states(script)
  local states, state, i = {}, "plain", 1
  while i <= #script do
    local c = script:sub(i, i)
    states[i] = state
    if state == "single" then
      if c == "'" then state = "plain" end
    elseif c == "\\" then
      states[i + 1] = state
      i = i + 1
    elseif state == "double" then
      if c == '"' then state = "plain" end
    elseif c == "'" then
      state = "single"
    elseif c == '"' then
      state = "double"
    end
    i = i + 1
  end
  return states
end

-- recipe.expand_shell(script, vars) -> script | nil, message: the
-- placeholders of a shell script replaced by their values quoted for
-- where they stand (outside quotes, inside '...' or inside "..."), so
-- that a value is one word and never code: `sh -c 'deploy {dir}'` with a
-- folder named `x;rm -rf ~` deploys that folder.
function recipe.expand_shell(script, vars)
  local states = quote_states(script)
  return substitute(script, vars, function(v, at)
    local state = states[at] or "plain"
    if state == "single" then return (v:gsub("'", "'\\''")) end
    if state == "double" then return (v:gsub('[\\"$`]', "\\%0")) end
    return "'" .. v:gsub("'", "'\\''") .. "'"
  end)
end

-- The index of the script in argv when argv runs a shell's -c (sh -c
-- SCRIPT, bash -ec SCRIPT), else nil.
local SHELLS = { sh = true, bash = true, dash = true, ash = true, ksh = true, zsh = true }
local function shell_script_index(argv)
  if not SHELLS[(argv[1] or ""):match("[^/]*$")] then return nil end
  for i = 2, #argv - 1 do
    local word = argv[i]
    if word:sub(1, 1) ~= "-" then return nil end
    if word:sub(2, 2) ~= "-" and word:find("c", 2, true) then return i + 1 end
  end
end

local function describe_hook(hook)
  if type(hook) == "function" then
    local info = debug.getinfo(hook, "S")
    return string.format("Lua function (%s:%d)", info.short_src, info.linedefined)
  end
  return hook
end

-- recipe.vars(opts, version) -> the placeholders of a recipe's hooks:
-- {version}, {service} (the -p target; a conninfo without its secrets),
-- {dir}; the password, if -p held one, goes to the hooks as PGPASSWORD. A
-- target with a secret that cannot go that way (sslpassword) leaves
-- {service} without a value, and says why when a hook asks for it.
function recipe.vars(opts, version)
  local service, password, unavailable = opts.pg_service or "", nil, {}
  if service:find("=", 1, true) or service:find("://", 1, true) then
    local conninfo, env, details = pg.child_target(service)
    if conninfo then
      service, password = conninfo, env.PGPASSWORD
    elseif details and details.kind == "usage" and pg.conninfo_split(service) then
      service, unavailable.service = nil, env
    else
      fail("usage", "-p: %s", env)
    end
  end
  return { version = version, service = service, dir = opts.dir or "", pgpassword = password,
    unavailable = unavailable }
end

local function say_to(out, fmt, ...)
  out:write(select("#", ...) > 0 and string.format(fmt, ...) or fmt, "\n")
  out:flush()
end

-- recipe.hook(cmd, vars, opts) runs a deploy hook.
--   cmd: a command string, or a Lua function called as fn(vars).
--   vars: values for {version}, {service}, {dir}, ... placeholders
--   (vars.pgpassword is never substituted: the hook gets it as PGPASSWORD).
--   opts.shell: run the expanded string with `sh -c` (also when cmd starts
--   with "sh -c", in which case the words are split as usual).
--   opts.dry_run: print what would run (on opts.out, default stdout).
--   opts.env, opts.cwd: for the child process.
--   opts.capture: keep the command's stdout and stderr instead of letting
--   them stream through; returned after true, and on the failure as
--   .stdout and .stderr.
-- Placeholders are replaced after the string is split into words, so a
-- value with spaces stays one argument; inside the script of `sh -c`
-- (and opts.shell) values are shell-quoted (recipe.expand_shell), so a
-- value stays one word there too. Output streams through. A non-zero
-- exit raises a failure naming the command and its status ("system", exit
-- 3, with .status; Ctrl-C in the hook: "interrupted", 130).
function recipe.hook(cmd, vars, opts)
  vars, opts = vars or {}, opts or {}
  local out = opts.out or io.stdout
  if type(cmd) == "function" then
    if opts.dry_run then
      say_to(out, "Would call hook: %s", describe_hook(cmd))
      return true
    end
    return cmd(vars)
  end
  if type(cmd) ~= "string" or cmd:match("^%s*$") then
    error("hook: expected a command string or a function, got " .. type(cmd), 2)
  end
  local argv, err
  if opts.shell then
    local script
    script, err = recipe.expand_shell(cmd, vars)
    argv = script and { "sh", "-c", script }
  else
    argv, err = recipe.split(cmd)
    local script_at = argv and shell_script_index(argv)
    for i = 1, argv and #argv or 0 do
      argv[i], err = (i == script_at and recipe.expand_shell or recipe.expand)(argv[i], vars)
      if not argv[i] then argv = nil break end
    end
  end
  if not argv then fail("usage", "hook: %s", err) end
  if #argv == 0 then fail("usage", "hook: empty command") end
  local shown = opts.shell and ("sh -c " .. argv[3]) or table.concat(argv, " ")
  if opts.dry_run then
    say_to(out, "Would run hook: %s", shown)
    return true
  end
  local env = opts.env
  if vars.pgpassword then
    env = { PGPASSWORD = vars.pgpassword }
    for k, v in pairs(opts.env or {}) do env[k] = v end
  end
  local stream = opts.capture and "capture" or nil
  local status, printed, complained = sys.spawn(argv, { env = env, cwd = opts.cwd, stdout = stream, stderr = stream })
  if status == nil then fail("system", "hook %s: %s", shown, printed) end
  local fields = { status = status, stdout = printed, stderr = complained }
  if status == 130 then error(errors.failure("interrupted", "hook interrupted: " .. shown, fields), 0) end
  if status ~= 0 then
    error(errors.failure("system", string.format("hook failed with exit status %d: %s", status, shown), fields), 0)
  end
  return true, printed, complained
end

-- Confirmation ---------------------------------------------------------------

-- recipe.confirm(question, opts) -> boolean. Asks on a terminal (y/N);
-- with opts.assume_yes it answers yes; in opts.dry_run it says what it
-- would ask; without a terminal and without assume_yes it refuses: a
-- usage failure (exit 2) saying to pass --yes. Lines go to opts.out.
function recipe.confirm(question, opts)
  opts = opts or {}
  local out = opts.out or io.stdout
  if opts.assume_yes then
    say_to(out, "%s yes (--yes)", question)
    return true
  end
  if opts.dry_run then
    say_to(out, "Would ask: %s", question)
    return true
  end
  if not (sys.isatty(io.stdin) and sys.isatty(io.stdout)) then
    fail("usage", "%s: no terminal to ask on; pass --yes to proceed without asking", question)
  end
  io.stdout:write(question, " [y/N] ")
  io.stdout:flush()
  local answer = io.stdin:read("l")
  return answer ~= nil and answer:match("^%s*[yY]") ~= nil
end

-- Recipe contexts --------------------------------------------------------------

local Recipe = {}
Recipe.__index = Recipe
recipe.Recipe = Recipe

-- recipe.new(opts) -> a recipe context for the options a recipe received:
--   r.opts        the options
--   r.dry_run     --dry-run: hooks, deltas and confirmations are printed
--   r.assume_yes  --yes: confirmations answer yes
--   r.out         where progress lines go: stdout, or stderr with --json
--                 (stdout then carries the plan's JSON lines only)
function recipe.new(opts)
  assert(type(opts) == "table", "recipe.new: expected the recipe's options")
  return setmetatable({
    opts = opts, dry_run = opts.dry_run == true, assume_yes = opts.yes == true,
    out = opts.output or (opts.json and io.stderr or io.stdout),
  }, Recipe)
end

-- r:say(fmt, ...) prints a progress line.
function Recipe:say(fmt, ...)
  say_to(self.out, fmt, ...)
end

-- r:plan([overrides[, extra]]) -> plan, with plan.conn open on the
-- target: ladle.session.open with the recipe's options, overridden by
-- `overrides` (another pg_service, say). Checks the plan before any hook
-- runs and holds the upgrades table's lock for the rest of the recipe (not
-- in a dry run). extra: more plan.new options (lock = false: no lock).
function Recipe:plan(overrides, extra)
  local merged = setmetatable({}, { __index = self.opts })
  for k, v in pairs(overrides or {}) do merged[k] = v end
  merged.dry_run = self.dry_run
  return session.open(merged, extra)
end

-- r:hook(cmd, vars[, opts]): recipe.hook with the recipe's dry run.
function Recipe:hook(cmd, vars, opts)
  local merged = { dry_run = self.dry_run, out = self.out }
  for k, v in pairs(opts or {}) do merged[k] = v end
  return recipe.hook(cmd, vars, merged)
end

-- r:confirm(question): recipe.confirm with the recipe's --yes and dry run.
function Recipe:confirm(question)
  return recipe.confirm(question, { assume_yes = self.assume_yes, dry_run = self.dry_run, out = self.out })
end

-- r:vars(version): recipe.vars with the recipe's options.
function Recipe:vars(version)
  return recipe.vars(self.opts, version)
end

-- r:done(plan) prints where the upgrade left the database (or, in a dry
-- run, where it would have).
function Recipe:done(plan)
  if self.dry_run then
    self:say("Dry run: nothing was changed; %s would be at version %s.", plan.table, plan.current_version or "none")
  else
    self:say("%s is at version %s.", plan.table, plan.current_version or "none")
  end
end

-- r:blue_green(plan, deploy): the blue-green order (the stock recipes
-- blue-green and rehearse run it). For each version with pending deltas:
-- its pre deltas, the deploy hook for that version, its post deltas; pum's
-- pre-all / post-all hooks before the first and after the last version
-- (also when nothing is pending), Flyway repeatables after the last one.
-- A failed deploy says which version is half done and that running the
-- recipe again resumes. Ends with r:done(plan).
function Recipe:blue_green(plan, deploy)
  local steps = plan:versions()
  local hooks = #plan.hooks["pre-all"] + #plan.hooks["post-all"]
  if #plan:pending() == 0 and hooks == 0 then
    self:say("Nothing to upgrade.")
    return self:done(plan)
  elseif #steps == 0 and hooks > 0 then
    self:say("No pending delta: the hooks still run (pum runs them on every upgrade).")
  end
  plan:run_hooks("pre-all")
  for _, step in ipairs(steps) do
    step:apply("pre")
    local ok, err = pcall(self.hook, self, deploy, self:vars(step.version))
    if not ok then
      if errors.is_failure(err) then
        err.message = string.format("%s (version %s: pre deltas applied, post deltas not; run the recipe again to "
          .. "resume)", err.message, step.version)
      end
      error(err, 0)
    end
    step:apply("post")
  end
  plan:apply_repeatables()
  plan:run_hooks("post-all")
  self:done(plan)
end

-- Headers --------------------------------------------------------------------

-- recipe.read_header(path) -> {summary, description, flags, examples} or
-- nil, message (ladle.recipe.header).
recipe.read_header = headers.read

return recipe
