-- ladle run NAME|FILE [flags] [-- ARGS...]: run a recipe.
--
-- A recipe is a Lua file: a stock one from lua/ladle/recipes/ (by name,
-- `blue-green`) or a file of the user's (a path with a / or ending .lua).
-- It receives one argument, the parsed options (`local opts = ...`): the
-- common flags (-p, -t, -d, -c, --to, --dry-run, --yes, ...) with defaults
-- from the config file, and the flags the recipe declares in its header:
--
--   -- Canary: pre deltas, deploy to one host, smoke test, everywhere, post.
--   -- @flag --canary=CMD (required) deploy {version} to the canary host
--
-- Like lua.c, it also gets the global `arg` (arg[0] the file, arg[1..] the
-- words after it).

local args = require "ladle.commands.args"
local common = require "ladle.commands.common"
local errors = require "ladle.errors"
local recipe = require "ladle.recipe"
local sys = require "ladle.sys"

local fail = errors.fail

local run = {
  summary = "run a recipe: a stock upgrade order or a Lua file of your own",
  usage = "ladle run NAME|FILE.lua [flags] [-- ARGS...]\n       ladle run --list",
  description = [[
Runs a recipe with the options parsed from the flags. NAME is a stock recipe
(see --list): interrupting, blue-green, test-and-upgrade. FILE.lua is your
own: its header comment declares its flags with lines like
  -- @flag --deploy=CMD (required) deploy the code of version {version}
and `local opts = ...` gets them with the common flags below. Words after
-- go to opts.args. A missing or unknown flag is one line and exit 2.

With --dry-run, ladle.hook, step:apply, plan:apply and ladle.confirm only
print what they would do: the recipe shows its plan, in its order, and
changes nothing.

Exit status: 0 done; 1 differences found (test-and-upgrade); 2 bad usage or
input; 3 a delta, a hook or the database failed; 130 interrupted.]],
  examples = [[
  ladle run --list
  ladle run blue-green -p prod -d migrations --deploy './deploy.sh {version}'
  ladle run interrupting -c db.yaml --stop 'systemctl stop app' --start 'systemctl start app'
  ladle run examples/recipes/canary.lua -p prod -d migrations --canary 'deploy canary {version}' --dry-run]],
  raw_args = true,
}

-- The flags every recipe gets, before its own (listed in the help).
run.common_flags = { "pg_service", "table", "dir", "config", "to", "dry_run", "yes", "no_wait", "wait_timeout",
  "lock_timeout", "retries", "retry_wait", "unmarked", "out_of_order", "ignore_missing", "on_changed", "variables",
  "variables_in", "python", "json" }
run.flags = common.flags(run.common_flags)
table.insert(run.flags, 1, { "-l", "--list", help = "list the stock recipes" })

-- The directory of the stock recipes.
local function stock_dir()
  local path = package.searchpath("ladle.recipes.blue_green", package.path)
  return path and path:match("^(.*)/[^/]+$")
end

-- run.find(name) -> {path, name, stock}: a stock recipe by name, or a file.
function run.find(name)
  if name:find("/", 1, true) or name:match("%.lua$") then
    local st = sys.stat(name)
    if not st or st.type ~= "file" then fail(2, "run: cannot open %s", name) end
    return { path = name, name = name, stock = false }
  end
  local path = package.searchpath("ladle.recipes." .. name:gsub("-", "_"), package.path)
  if not path then
    local names = {}
    for _, r in ipairs(run.list()) do names[#names + 1] = r.name end
    fail(2, "run: no stock recipe '%s'%s (see 'ladle run --list'; a file of yours needs a / or .lua)", name,
      args.did_you_mean(name, names))
  end
  return { path = path, name = name, stock = true }
end

-- run.list() -> array of {name, summary}, the stock recipes.
function run.list()
  local dir, list = stock_dir(), {}
  for _, file in ipairs(dir and sys.listdir(dir) or {}) do
    if file:match("%.lua$") then
      local header = recipe.read_header(dir .. "/" .. file)
      list[#list + 1] = { name = file:gsub("%.lua$", ""):gsub("_", "-"), summary = header and header.summary or "" }
    end
  end
  return list
end

local function command_for(found, header, display)
  local flags = common.flags(run.common_flags)
  for _, f in ipairs(header.flags) do flags[#flags + 1] = f end
  display = display or ("run " .. found.name)
  local examples = {}
  for _, example in ipairs(header.examples or {}) do
    examples[#examples + 1] = "  " .. (example:gsub("^ladle run " .. found.name:gsub("%p", "%%%0") .. "%f[%s]",
      "ladle " .. display:gsub("%%", "%%%%")))
  end
  return {
    name = display,
    usage = "ladle " .. display .. " [flags] [-- ARGS...]",
    description = header.description ~= "" and header.description or nil,
    flags = flags,
    examples = #examples > 0 and table.concat(examples, "\n") or nil,
  }
end

-- run.execute(found, opts, script_args) runs the recipe file with opts and
-- returns its exit code (a number it returns, else 0).
function run.execute(found, opts, script_args, progname)
  local chunk, err = loadfile(found.path)
  if not chunk then fail(2, "%s", err) end
  local script_arg = { [0] = found.path, [-1] = "run", [-2] = progname or "ladle" }
  for i, a in ipairs(script_args or {}) do script_arg[i] = a end
  rawset(_G, "arg", script_arg)
  common.expose_api()
  local result = chunk(opts)
  return math.type(result) == "integer" and result or 0
end

function run.run(words, global)
  local first = words[1]
  if first == nil then
    io.stderr:write(args.command_help(run))
    return 2
  end
  if first == "-h" or first == "--help" then
    io.write(args.command_help(run))
    return 0
  end
  if first == "--list" or first == "-l" then
    local list = run.list()
    local width = 0
    for _, r in ipairs(list) do width = math.max(width, #r.name) end
    for _, r in ipairs(list) do print(string.format("%-" .. width .. "s  %s", r.name, r.summary)) end
    return 0
  end
  if first:sub(1, 1) == "-" then
    fail(2, "run: expected a recipe name or file before the flags (see 'ladle run --help')")
  end
  return run.recipe(first, table.move(words, 2, #words, 1, {}), global)
end

-- run.recipe(name, args, global[, display]) parses args against the common
-- flags and the recipe's header, then runs it. display names the command
-- in help and messages ("test-and-upgrade" rather than "run test-and-upgrade").
function run.recipe(name, words, global, display)
  local found = run.find(name)
  local header, why = recipe.read_header(found.path)
  if not header then fail(2, "%s", why) end
  local command = command_for(found, header, display)
  for _, word in ipairs(words) do
    if word == "--" then break end
    if word == "-h" or word == "--help" then
      io.write(args.command_help(command))
      return 0
    end
  end
  -- words after -- are the recipe's own (opts.args); before it, flags only
  local flag_words, after = words, {}
  for i, word in ipairs(words) do
    if word == "--" then
      flag_words, after = table.move(words, 1, i - 1, 1, {}), table.move(words, i + 1, #words, 1, {})
      break
    end
  end
  local parsed, positional = args.parse(command.flags, flag_words, command.name)
  args.positional(command, positional, command.name)
  local opts = common.options(parsed, global)
  opts.args = after
  opts.recipe = found
  return run.execute(found, opts, words, global.progname)
end

return run
