-- ladle.recipe: what a recipe needs besides the plan: deploy hooks run
-- without a shell, confirmation, dry runs, and the header comment in which
-- a recipe declares its flags.
--
--   -- Blue-green: per version, pre deltas, deploy, post deltas.
--   -- @flag --deploy=CMD (required) deploy the code of version {version}
--   local ladle = require "ladle"
--   local opts = ...

local errors = require "ladle.errors"
local pg = require "ladle.pg"
local sys = require "ladle.sys"

local recipe = {}
local fail = errors.fail

-- Process-wide modes, set by `ladle run` from --dry-run and --yes: in a dry
-- run, hooks and deltas are printed, not run; with assume_yes, confirm()
-- answers yes without asking.
recipe.dry_run = false
recipe.assume_yes = false

-- Where recipes print their progress (a file handle; tests swap it).
recipe.output = io.stdout

function recipe.say(fmt, ...)
  recipe.output:write(select("#", ...) > 0 and string.format(fmt, ...) or fmt, "\n")
  recipe.output:flush()
end

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

-- Replaces {name} placeholders with vars[name]. An unknown placeholder is
-- an error rather than a silent empty string: a deploy of version "" is
-- worse than no deploy.
function recipe.expand(text, vars)
  local missing
  local out = text:gsub("{([%w_]+)}", function(name)
    local v = name ~= "pgpassword" and vars[name] or nil
    if v == nil then missing = missing or name; return nil end
    return tostring(v)
  end)
  if missing then return nil, string.format("{%s} has no value in: %s", missing, text) end
  return out
end

local function describe_hook(hook)
  if type(hook) == "function" then
    local info = debug.getinfo(hook, "S")
    return string.format("Lua function (%s:%d)", info.short_src, info.linedefined)
  end
  return hook
end

-- recipe.vars(opts, version) -> the placeholders of a recipe's hooks:
-- {version}, {service} (the -p target; a conninfo without its password),
-- {dir}; the password, if -p held one, goes to the hooks as PGPASSWORD.
function recipe.vars(opts, version)
  local service, password = opts.pg_service or "", nil
  if service:find("=", 1, true) or service:find("://", 1, true) then
    service, password = pg.conninfo_split(service)
    if not service then fail(2, "-p: %s", password) end
  end
  return { version = version, service = service, dir = opts.dir or "", pgpassword = password }
end

-- recipe.hook(cmd, vars, opts) runs a deploy hook.
--   cmd: a command string, or a Lua function called as fn(vars).
--   vars: values for {version}, {service}, {dir}, ... placeholders
--   (vars.pgpassword is never substituted: the hook gets it as PGPASSWORD).
--   opts.shell: run the expanded string with `sh -c` (also when cmd starts
--   with "sh -c", in which case the words are split as usual).
-- Placeholders are replaced after the string is split into words, so a
-- value with spaces stays one argument. Output streams through. A non-zero
-- exit raises a failure naming the command and its status (exit 3; Ctrl-C
-- in the hook: 130). In a dry run, prints what would run.
function recipe.hook(cmd, vars, opts)
  vars, opts = vars or {}, opts or {}
  if type(cmd) == "function" then
    if recipe.dry_run then
      recipe.say("Would call hook: %s", describe_hook(cmd))
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
    script, err = recipe.expand(cmd, vars)
    argv = script and { "sh", "-c", script }
  else
    argv, err = recipe.split(cmd)
    for i = 1, argv and #argv or 0 do
      argv[i], err = recipe.expand(argv[i], vars)
      if not argv[i] then argv = nil break end
    end
  end
  if not argv then fail(2, "hook: %s", err) end
  if #argv == 0 then fail(2, "hook: empty command") end
  local shown = opts.shell and ("sh -c " .. argv[3]) or table.concat(argv, " ")
  if recipe.dry_run then
    recipe.say("Would run hook: %s", shown)
    return true
  end
  local env = opts.env
  if vars.pgpassword then
    env = { PGPASSWORD = vars.pgpassword }
    for k, v in pairs(opts.env or {}) do env[k] = v end
  end
  local status
  status, err = sys.spawn(argv, { env = env, cwd = opts.cwd })
  if status == nil then fail(3, "hook %s: %s", shown, err) end
  if status == 130 then fail(130, "hook interrupted: %s", shown) end
  if status ~= 0 then fail(3, "hook failed with exit status %d: %s", status, shown) end
  return true
end

-- Confirmation ---------------------------------------------------------------

-- recipe.confirm(question) -> boolean. Asks on a terminal (y/N); with --yes
-- it answers yes; without a terminal and without --yes it refuses: a usage
-- failure (exit 2) saying to pass --yes.
function recipe.confirm(question)
  if recipe.assume_yes then
    recipe.say("%s yes (--yes)", question)
    return true
  end
  if recipe.dry_run then
    recipe.say("Would ask: %s", question)
    return true
  end
  if not (sys.isatty(io.stdin) and sys.isatty(io.stdout)) then
    fail(2, "%s: no terminal to ask on; pass --yes to proceed without asking", question)
  end
  io.stdout:write(question, " [y/N] ")
  io.stdout:flush()
  local answer = io.stdin:read("l")
  return answer ~= nil and answer:match("^%s*[yY]") ~= nil
end

-- Plans ----------------------------------------------------------------------

-- recipe.plan(opts[, extra]) -> plan, with plan.conn open on opts.pg_service.
-- Builds the plan of opts.dir for opts.table up to opts.to (the options a
-- recipe receives), prints progress as `ladle upgrade` does, and takes the
-- upgrades table's lock for the rest of the recipe (not in a dry run), so
-- that pre deltas, deploy and post deltas run as one upgrade. Failures
-- raise: 2 for bad input, 3 for the database; a second upgrade running
-- waits, or fails at once with --no-wait.
-- extra: more plan.new options (reporter, unmarked, lock = false, ...).
function recipe.plan(opts, extra)
  local common = require "ladle.commands.common"
  extra = extra or {}
  if not opts.dir then fail(2, "no delta folder: pass -d DIR (or delta_dir in the config file)") end
  local conn = common.connect(opts)
  local take_lock = extra.lock ~= false
  local plan_opts = {}
  for k, v in pairs(extra) do if k ~= "lock" then plan_opts[k] = v end end
  local plan = common.plan(opts, conn, plan_opts)
  common.warn_ignored(plan)
  -- what would refuse the upgrade refuses it now, before any hook runs
  plan:check(plan:pending())
  if take_lock and not plan.dry_run then
    local ok, message = plan:lock()
    if not ok then fail(3, "%s", message) end
  end
  return plan
end

-- recipe.done(plan) prints where the upgrade left the database (or, in a
-- dry run, where it would have).
function recipe.done(plan)
  if plan.dry_run then
    recipe.say("Dry run: nothing was changed; %s would be at version %s.", plan.table,
      plan.current_version or "none")
  else
    recipe.say("%s is at version %s.", plan.table, plan.current_version or "none")
  end
end

-- Headers --------------------------------------------------------------------

-- Parses one "@flag" line: "-s, --stop=CMD (required) (many) help text".
local function parse_flag(spec, where)
  local flag = {}
  local rest = spec
  while true do
    local name, tail = rest:match("^%s*(%-%-?[%w][%w_-]*[=%w_]*),?(.*)$")
    if not name then break end
    local bare, arg = name:match("^([^=]+)=(.+)$")
    flag[#flag + 1] = bare or name
    if arg then flag.arg = arg end
    rest = tail
  end
  if #flag == 0 then return nil, string.format("%s: @flag without a flag name", where) end
  while true do
    local word, tail = rest:match("^%s*%((%a+)%)(.*)$")
    if not word then break end
    if word == "required" then flag.required = true
    elseif word == "many" then flag.many = true
    else return nil, string.format("%s: unknown flag property (%s)", where, word) end
    rest = tail
  end
  flag.help = rest:match("^%s*(.-)%s*$")
  return flag
end

-- recipe.read_header(path) -> {summary, description, flags} or nil, message.
-- The header is the comment block at the top of the file: its first
-- paragraph is the summary; "@flag" lines declare flags.
function recipe.read_header(path)
  local f, err = io.open(path)
  if not f then return nil, err end
  local header = { flags = {}, lines = {} }
  local n = 0
  for line in f:lines() do
    n = n + 1
    if not (n == 1 and line:match("^#!")) then
      local text = line:match("^%s*%-%-(.*)$")
      if not text or line:match("^%s*%-%-%[") then break end
      local spec = text:match("^%s*@flag%s+(.*)$")
      if spec then
        local flag, why = parse_flag(spec, string.format("%s:%d", path, n))
        if not flag then f:close() return nil, why end
        header.flags[#header.flags + 1] = flag
      else
        header.lines[#header.lines + 1] = (text:gsub("^ ", ""))
      end
    end
  end
  f:close()
  local summary = {}
  for _, line in ipairs(header.lines) do
    if line:match("^%s*$") then break end
    summary[#summary + 1] = line
  end
  header.summary = table.concat(summary, " ")
  header.description = table.concat(header.lines, "\n")
  header.lines = nil
  return header
end

return recipe
