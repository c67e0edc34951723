-- ladle.cli: the command line. The host calls cli.main(argv) and exits
-- with what it returns; failures raised with ladle.errors.fail carry their
-- own exit code and one-line message.
--
-- Each command is a module in ladle/commands/ returning
--   { summary = "...", usage = "...", description = "...",
--     flags = { {"-d", "--dir", arg = "DIR", help = "..."}, ... },
--     run = function(opts, positional, global) return exit_code end }
-- Flags follow pum's spelling: single-dash names may be several letters
-- (-p1, -pp), long names accept both dashes and underscores (--pg-service,
-- --pg_service), `many` flags take every following word up to the next flag.

local errors = require "ladle.errors"

local cli = {}
local fail = errors.fail

-- The commands, in the order --help lists them.
cli.commands = {
  { name = "baseline", module = "ladle.commands.baseline" },
  { name = "info", module = "ladle.commands.info" },
  { name = "upgrade", module = "ladle.commands.upgrade" },
  { name = "lint", module = "ladle.commands.lint" },
  { name = "repair", module = "ladle.commands.repair" },
  { name = "check", module = "ladle.commands.check" },
  { name = "diff", module = "ladle.commands.diff" },
  { name = "test-and-upgrade", module = "ladle.commands.test_and_upgrade" },
  { name = "dump", module = "ladle.commands.dump" },
  { name = "restore", module = "ladle.commands.restore" },
  { name = "run", module = "ladle.commands.run" },
  { name = "repl", module = "ladle.commands.repl" },
  { name = "sandbox", module = "ladle.commands.sandbox" },
}

local function find_command(name)
  for _, c in ipairs(cli.commands) do
    if c.name == name then return c end
  end
end

local function load_command(entry)
  local mod = require(entry.module)
  mod.name = entry.name
  return mod
end

-- Flags ------------------------------------------------------------------

local function flag_key(flag)
  if flag.key then return flag.key end
  for _, name in ipairs(flag) do
    if name:sub(1, 2) == "--" then return (name:sub(3):gsub("-", "_")) end
  end
  return (flag[1]:gsub("^%-+", ""):gsub("-", "_"))
end

-- name -> flag, with dash/underscore spellings of long names.
local function flag_index(flags)
  local index = {}
  for _, flag in ipairs(flags or {}) do
    flag.key = flag_key(flag)
    for _, name in ipairs(flag) do
      index[name] = flag
      if name:sub(1, 2) == "--" then
        index["--" .. name:sub(3):gsub("-", "_")] = flag
        index["--" .. name:sub(3):gsub("_", "-")] = flag
      end
    end
  end
  return index
end

local function is_flag_word(word, index)
  if index[word] then return true end
  return word:sub(1, 1) == "-" and #word > 1 and not word:match("^%-%d")
end

-- cli.parse(flags, args, command) -> opts, positional
-- Raises a usage failure (exit 2) for an unknown flag, a missing value or
-- a missing required flag.
function cli.parse(flags, args, command)
  local index = flag_index(flags)
  local opts, positional = {}, {}
  -- messages read "ladle: upgrade: ..." once the host prefixes them
  local where = command or "flags"
  local help = "ladle " .. (command and (command .. " ") or "") .. "--help"
  local i = 1
  local function take(flag, name, value)
    if flag.check then
      local ok, why = flag.check(value)
      if not ok then fail(2, "%s: bad value '%s' for %s: %s", where, value, name, why) end
    end
    if flag.many then
      opts[flag.key] = opts[flag.key] or {}
      table.insert(opts[flag.key], value)
    else
      opts[flag.key] = value
    end
  end
  while i <= #args do
    local word = args[i]
    if word == "--" then
      table.move(args, i + 1, #args, #positional + 1, positional)
      break
    end
    local name, attached = word, nil
    local flag = index[word]
    if not flag and word:sub(1, 2) == "--" and word:find("=", 3, true) then
      name, attached = word:match("^(%-%-[^=]+)=(.*)$")
      flag = index[name]
    end
    if not flag and word:sub(1, 1) == "-" and word:sub(2, 2) ~= "-" and #word > 2 then
      -- -dDIR: a one-letter flag with its value attached
      local short = index[word:sub(1, 2)]
      if short and short.arg then flag, name, attached = short, word:sub(1, 2), word:sub(3) end
    end
    if flag then
      if not flag.arg then
        if attached then fail(2, "%s: %s takes no value", where, name) end
        opts[flag.key] = true
        i = i + 1
      elseif attached then
        take(flag, name, attached)
        i = i + 1
      else
        local value = args[i + 1]
        if value == nil or (is_flag_word(value, index) and not flag.allow_dash) then
          fail(2, "%s: %s needs a value (%s)", where, name, flag.arg)
        end
        take(flag, name, value)
        i = i + 2
        while flag.many and args[i] and not is_flag_word(args[i], index) and args[i] ~= "--" do
          take(flag, name, args[i])
          i = i + 1
        end
      end
    elseif is_flag_word(word, index) then
      fail(2, "%s: unknown flag '%s' (see '%s')", where, word, help)
    else
      positional[#positional + 1] = word
      i = i + 1
    end
  end
  for _, flag in ipairs(flags or {}) do
    if opts[flag.key] == nil and flag.default ~= nil then opts[flag.key] = flag.default end
    if flag.required and opts[flag.key] == nil then
      fail(2, "%s: %s is required", where, table.concat(flag, "/"))
    end
  end
  return opts, positional
end

-- Help -------------------------------------------------------------------

local function flag_lines(flags)
  local rows, width = {}, 0
  for _, flag in ipairs(flags or {}) do
    local left = table.concat(flag, ", ") .. (flag.arg and (" " .. flag.arg) or "")
    if flag.many then left = left .. " ..." end
    rows[#rows + 1] = { left, (flag.help or "") .. (flag.required and " (required)" or "") }
    width = math.max(width, #left)
  end
  local out = {}
  for _, row in ipairs(rows) do
    out[#out + 1] = string.format("  %-" .. width .. "s  %s", row[1], row[2])
  end
  return table.concat(out, "\n")
end

function cli.command_help(mod)
  local parts = { "usage: " .. (mod.usage or ("ladle " .. mod.name .. " [flags]")) }
  if mod.description then parts[#parts + 1] = "\n" .. mod.description:gsub("%s+$", "") end
  local flags = {}
  for _, f in ipairs(mod.flags or {}) do flags[#flags + 1] = f end
  flags[#flags + 1] = { "-h", "--help", help = "show this help" }
  parts[#parts + 1] = "\nflags:\n" .. flag_lines(flags)
  if mod.examples then parts[#parts + 1] = "\nexamples:\n" .. mod.examples:gsub("%s+$", "") end
  return table.concat(parts, "\n") .. "\n"
end

function cli.help()
  local lines = {
    "usage: ladle [-e CODE] COMMAND [ARGS...]",
    "",
    "ladle runs PostgreSQL migrations; the deployment order is a Lua recipe.",
    "",
    "commands:",
  }
  local width = 0
  for _, c in ipairs(cli.commands) do width = math.max(width, #c.name) end
  for _, c in ipairs(cli.commands) do
    local ok, mod = pcall(load_command, c)
    local summary = ok and mod.summary or "(unavailable)"
    lines[#lines + 1] = string.format("  %-" .. width .. "s  %s", c.name, summary)
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "global flags:"
  lines[#lines + 1] = flag_lines(cli.global_flags)
  lines[#lines + 1] = ""
  lines[#lines + 1] = "'ladle COMMAND --help' shows a command's flags. Exit codes: 0 ok, 1 differences"
  lines[#lines + 1] = "or pending work found, 2 bad usage or bad input, 3 database or runtime failure,"
  lines[#lines + 1] = "130 interrupted."
  return table.concat(lines, "\n") .. "\n"
end

cli.global_flags = {
  { "-e", arg = "CODE", help = "run a chunk of Lua (the `ladle` table is a global)" },
  { "-c", "--config_file", arg = "FILE", help = "read defaults from a pum-style YAML config file" },
  { "-v", "--version", help = "print the version and exit" },
  { "-h", "--help", help = "show this help" },
}

-- Running ------------------------------------------------------------------

function cli.version_string()
  local host = package.loaded["ladle.host"] or {}
  local libpq = host.libpq and string.format("%d.%d", host.libpq // 10000, host.libpq % 10000) or "?"
  return string.format("ladle %s (%s, libpq %s)", host.version or "?", host.lua or _VERSION, libpq)
end

-- Scripts and -e chunks see the API as the global `ladle`.
function cli.expose_api()
  if rawget(_G, "ladle") == nil then rawset(_G, "ladle", require "ladle") end
end

local function run_chunk(code)
  local chunk, err = load(code, "=(command line)")
  if not chunk then fail(2, "%s", err) end
  cli.expose_api()
  chunk()
end

local function wants_help(args)
  for _, word in ipairs(args) do
    if word == "--" then return false end
    if word == "-h" or word == "--help" then return true end
  end
  return false
end

function cli.main(argv)
  local global, i, ran_code = {}, 1, false
  while argv[i] do
    local word = argv[i]
    if word == "-h" or word == "--help" then
      io.write(cli.help())
      return 0
    elseif word == "-v" or word == "--version" then
      print(cli.version_string())
      return 0
    elseif word == "-e" then
      if not argv[i + 1] then fail(2, "-e needs a chunk of Lua") end
      run_chunk(argv[i + 1])
      ran_code = true
      i = i + 2
    elseif word == "-c" or word == "--config_file" or word == "--config-file" then
      -- pum's place for it: `ladle -c FILE upgrade ...`; commands read global.config_file
      if not argv[i + 1] then fail(2, "%s needs a value (FILE)", word) end
      global.config_file = argv[i + 1]
      i = i + 2
    elseif word:match("^%-%-config[_-]file=") then
      global.config_file = word:match("=(.*)$")
      i = i + 1
    elseif word:sub(1, 1) == "-" then
      fail(2, "unknown flag '%s' (see 'ladle --help')", word)
    else
      break
    end
  end
  local name = argv[i]
  if name == nil then
    if ran_code then return 0 end
    io.stderr:write(cli.help())
    return 2
  end
  if name == "help" then
    local entry = argv[i + 1] and find_command(argv[i + 1])
    io.write(entry and cli.command_help(load_command(entry)) or cli.help())
    return 0
  end
  local entry = find_command(name)
  if not entry then fail(2, "unknown command '%s' (see 'ladle --help')", name) end
  local mod = load_command(entry)
  local args = table.move(argv, i + 1, #argv, 1, {})
  global.progname = argv[0]
  if mod.raw_args then
    return mod.run(args, global) or 0
  end
  if wants_help(args) then
    io.write(cli.command_help(mod))
    return 0
  end
  local opts, positional = cli.parse(mod.flags, args, name)
  return mod.run(opts, positional, global) or 0
end

return cli
