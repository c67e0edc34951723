-- ladle.cli: the command line. The host calls cli.main(argv) and exits
-- with what it returns. A failure raised with ladle.errors.fail ends the
-- command here (cli.report): its one-line message (control characters
-- shown escaped) on stderr, psql's detail of a server error, what a run
-- applied and how to resume, a JSON error object on stdout for a command
-- given --json, and its own exit code. The host's interrupt object goes on
-- to the host (which says "interrupted"), unless JSON is to be printed.
--
-- Each command is a module in ladle/commands/ returning
--   { summary = "...", usage = "...", description = "...",
--     flags = { {"-d", "--dir", arg = "DIR", help = "..."}, ... },
--     positional = 1,   -- how many positional arguments it takes (default 0)
--     run = function(opts, positional, global) return exit_code end }
-- Arguments a command does not take are refused (exit 2) before it runs.
-- The flags are parsed by ladle.commands.args.

local args = require "ladle.commands.args"
local common = require "ladle.commands.common"
local errors = require "ladle.errors"
local json = require "ladle.json"
local pg = require "ladle.pg"
local report = require "ladle.report"

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
  { name = "rehearse", module = "ladle.commands.rehearse" },
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
  lines[#lines + 1] = args.flag_lines(cli.global_flags)
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

local function run_chunk(code)
  local chunk, err = load(code, "=(command line)")
  if not chunk then fail("input", "%s", err) end
  common.expose_api()
  chunk()
end

local function wants_help(words)
  for _, word in ipairs(words) do
    if word == "--" then return false end
    if word == "-h" or word == "--help" then return true end
  end
  return false
end

local function dispatch(argv)
  local global, i, ran_code = {}, 1, false
  while argv[i] do
    local word = argv[i]
    if word == "-h" or word == "--help" then
      io.write(cli.help())
      return errors.codes.ok
    elseif word == "-v" or word == "--version" then
      print(cli.version_string())
      return errors.codes.ok
    elseif word == "-e" then
      if not argv[i + 1] then fail("usage", "-e needs a chunk of Lua") end
      run_chunk(argv[i + 1])
      ran_code = true
      i = i + 2
    elseif word == "-c" or word == "--config_file" or word == "--config-file" then
      -- pum's place for it: `ladle -c FILE upgrade ...`; commands read global.config_file
      if not argv[i + 1] then fail("usage", "%s needs a value (FILE)", word) end
      global.config_file = argv[i + 1]
      i = i + 2
    elseif word:match("^%-%-config[_-]file=") then
      global.config_file = word:match("=(.*)$")
      i = i + 1
    elseif word:sub(1, 1) == "-" then
      local names = {}
      for _, flag in ipairs(cli.global_flags) do table.move(flag, 1, #flag, #names + 1, names) end
      fail("usage", "unknown flag '%s'%s (see 'ladle --help')", word, args.did_you_mean(word, names))
    else
      break
    end
  end
  local name = argv[i]
  if name == nil then
    if ran_code then return errors.codes.ok end
    io.stderr:write(cli.help())
    return errors.codes.usage
  end
  if name == "help" then
    local entry = argv[i + 1] and find_command(argv[i + 1])
    io.write(entry and args.command_help(load_command(entry)) or cli.help())
    return errors.codes.ok
  end
  local entry = find_command(name)
  if not entry then
    local names = {}
    for _, c in ipairs(cli.commands) do names[#names + 1] = c.name end
    fail("usage", "unknown command '%s'%s (see 'ladle --help')", name, args.did_you_mean(name, names))
  end
  local mod = load_command(entry)
  local words = table.move(argv, i + 1, #argv, 1, {})
  global.progname = argv[0]
  if mod.raw_args then
    return mod.run(words, global) or 0
  end
  if wants_help(words) then
    io.write(args.command_help(mod))
    return errors.codes.ok
  end
  local opts, positional = args.parse(mod.flags, words, name)
  args.positional(mod, positional, name)
  return mod.run(opts, positional, global) or 0
end

-- Failures and interruptions pass as they are; anything else is a bug,
-- kept with where it happened.
local function handler(err)
  if errors.is_failure(err) or errors.is_interrupt(err) then return err end
  local message = type(err) == "string" and err or ("(error object is a " .. type(err) .. " value)")
  return errors.failure("runtime", message, { traceback = debug.traceback("", 2) })
end

-- "1 delta was applied in this run and stays applied; fix FILE and run
-- the same command again to resume:" after a failure while applying.
local function resume_note(f)
  local n = f.applied_in_run
  local fix = (f.kind ~= "interrupted" and f.delta) and ("fix " .. errors.printable(f.delta.path) .. " and ") or ""
  return string.format("%d delta%s applied in this run%s; %srun the same command again to resume:", n,
    n == 1 and " was" or "s were", n == 0 and "" or (n == 1 and " and stays applied" or " and stay applied"), fix)
end

-- cli.report(failure[, out[, resume]]) prints a failure the way the
-- command line ends with one: its message, the server's detail as psql
-- shows it, and after a failure while applying, what the run applied and
-- the command (resume) that goes on from there.
function cli.report(f, out, resume)
  out = out or io.stderr
  if f.message ~= "" then out:write("ladle: ", errors.printable(f.message), "\n") end
  for _, line in ipairs(errors.explain(f)) do out:write(errors.printable(line), "\n") end
  if f.traceback then out:write(f.traceback:gsub("^\n", ""), "\n") end
  if f.resumable and f.applied_in_run and resume then
    out:write("ladle: ", resume_note(f), "\n  ", resume, "\n")
  end
end

-- cli.error_object(failure[, resume]) -> the JSON object of a failure.
function cli.error_object(f, resume)
  local object = report.failure_fields(f, { event = "error", kind = f.kind })
  if f.delta then object.file, object.script = f.delta.path, f.delta.script end
  if f.resumable then object.resume = resume end
  return object
end

-- True when the command's words ask for JSON.
local function wants_json(argv)
  for i = 1, #argv do
    if argv[i] == "--" then return false end
    if argv[i] == "--json" then return true end
  end
  return false
end

-- The command line as given, secrets masked: what runs it again.
local function same_command(argv)
  local words = { "ladle" }
  for i = 1, #argv do words[#words + 1] = common.shell_word(pg.mask_secrets(argv[i])) end
  return table.concat(words, " ")
end

function cli.main(argv)
  local results = table.pack(xpcall(dispatch, handler, argv))
  if results[1] then return table.unpack(results, 2, results.n) end
  local err = results[2]
  if not errors.is_failure(err) then
    if not wants_json(argv) then error(err, 0) end  -- the host says "interrupted"
    err = errors.failure("interrupted", "interrupted")
  end
  local resume = same_command(argv)
  -- not for what was found (exit 1: the command's JSON says it), nor for
  -- a failure the command's JSON already reported
  if wants_json(argv) and err.kind ~= "found" and not err.json_reported then
    io.stdout:write(json.encode(cli.error_object(err, resume)), "\n")
  end
  io.stdout:flush()
  cli.report(err, io.stderr, resume)
  return err.exit
end

return cli
