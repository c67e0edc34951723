-- What the migration commands share: pum's flags, the YAML config file,
-- connecting, building a plan. Used by baseline, info, upgrade, lint,
-- repair, and meant for every command that works on a database and a
-- delta folder (recipes, test-and-upgrade, the REPL).
--
--   local common = require "ladle.commands.common"
--   flags = common.flags { "pg_service", "table", "dir", "config", "to", "json" }
--   local o = common.options(opts, global)   -- flags > config file > defaults
--   local db = session.connect(o)              -- ladle.session
--   local plan = session.plan(o, db)
--
-- Failures raise ladle.errors failures: 2 for bad usage or input (a bad
-- config file is one line FILE:LINE:COLUMN: problem), 3 for the database.

local errors = require "ladle.errors"
local pg = require "ladle.pg"
local pyformat = require "ladle.plan.pyformat"
local tracker = require "ladle.tracker"
local version = require "ladle.version"
local yaml = require "ladle.yaml"

local common = {}
local fail = errors.fail

-- common.check_version(value) -> true | false, why: the check of a flag
-- that takes a version (--to, baseline's -b).
function common.check_version(value)
  local ok, why = version.parse(value)
  if ok then return true end
  return false, why
end
local check_version = common.check_version

-- A check that accepts one of a few words: "expected pre, post or all".
local function one_of(...)
  local words = { ... }
  local expected = "expected " .. table.concat(words, ", ", 1, #words - 1) .. " or " .. words[#words]
  return function(value)
    for _, word in ipairs(words) do
      if value == word then return true end
    end
    return false, expected
  end
end

local check_phase = one_of("pre", "post", "all")
local check_unmarked = one_of("pre", "post")
local check_on_changed = one_of("fail", "warn")
local check_variables_in = one_of("pum", "all")

-- common.duration("30s") -> seconds | nil, reason. Units ms, s, min/m, h;
-- a bare number is seconds.
function common.duration(text)
  local number, unit = tostring(text):match("^%s*(%d+%.?%d*)%s*(%a*)%s*$")
  local scale = ({ [""] = 1, ms = 0.001, s = 1, sec = 1, m = 60, min = 60, h = 3600 })[unit and unit:lower() or "?"]
  if not number or not scale then
    return nil, string.format("bad duration '%s' (like 500ms, 30s, 5min, 1h)", tostring(text))
  end
  return tonumber(number) * scale
end

local BOOLEANS = { ["true"] = true, yes = true, on = true, ["false"] = false, no = false, off = false }

local function check_boolean(value)
  if BOOLEANS[value:lower()] ~= nil then return true end
  return false, "expected true or false"
end

local function check_duration(value)
  local ok, why = common.duration(value)
  if ok then return true end
  return false, why
end

local function check_count(value)
  if tostring(value):match("^%d+$") then return true end
  return false, "expected a whole number (0, 1, 2, ...)"
end

-- Flag definitions by name; common.flags{...} picks them in order.
common.definitions = {
  pg_service = { "-p", "--pg_service", arg = "SERVICE|CONNINFO",
    help = "the database: a service name (pg_service.conf) or a conninfo/URI; default: PG* variables" },
  table = { "-t", "--table", arg = "TABLE", help = "the upgrades table, schema.table (default " .. tracker.DEFAULT .. ")" },
  dir = { "-d", "--dir", arg = "DIR", key = "dirs", many = true,
    help = "the delta folders (-d A B or -d A -d B), run folder by folder as pum does" },
  variables = { "-v", "--var", arg = "TYPE NAME VALUE", key = "variables", nargs = 3,
    help = "a variable for %(NAME)s in pum's SQL deltas and for Python and Lua ones; TYPE int, float or str "
      .. "(repeat -v for more)" },
  on_changed = { "--on-changed", arg = "POLICY", key = "on_changed", check = check_on_changed,
    help = "an applied delta whose file changed: fail (default) or warn and go on" },
  variables_in = { "--variables-in", arg = "WHERE", key = "variables_in", check = check_variables_in,
    help = "where %(NAME)s is substituted: pum (default: pum's names and hooks) or all" },
  python = { "--python", arg = "PATH", key = "python",
    help = "the interpreter of pum's Python deltas and hooks (default: python_exe in the config file, "
      .. "$LADLE_PYTHON, python3)" },
  config = { "-c", "--config_file", arg = "FILE", key = "config_file",
    help = "read defaults from a pum-style YAML file (also accepted before the command)" },
  to = { "--to", "-u", "--max-version", arg = "VERSION", key = "to", check = check_version,
    help = "upgrade up to this version, included (pum's --max-version)" },
  phase = { "--phase", arg = "PHASE", check = check_phase, help = "pre, post or all (default all)" },
  dry_run = { "--dry-run", help = "print what would run; change nothing" },
  yes = { "-y", "--yes", help = "answer yes to every confirmation (needed without a terminal)" },
  pg_dump_exe = { "--pg-dump-exe", key = "pg_dump_exe", arg = "PATH",
    help = "the pg_dump executable (default: pg_dump_exe in the config file, $PG_DUMP_EXE, pg_dump)" },
  pg_restore_exe = { "--pg-restore-exe", key = "pg_restore_exe", arg = "PATH",
    help = "the pg_restore executable (default: pg_restore_exe in the config file, $PG_RESTORE_EXE, pg_restore)" },
  ignore_restore_errors = { "-x", "--ignore-restore-errors", key = "ignore_errors",
    help = "go on past pg_restore's errors (pum's -x)" },
  exclude_schema = { "-N", "--exclude-schema", arg = "SCHEMA", key = "exclude_schemas", many = true,
    help = "schemas to leave out (pum's -N)" },
  json = { "--json", help = "machine-readable output" },
  no_wait = { "--no-wait", help = "fail at once (exit 3) when another upgrade is running" },
  wait_timeout = { "--wait-timeout", arg = "DURATION", check = check_duration,
    help = "give up waiting for another upgrade to finish after this long (500ms, 30s, 5min)" },
  lock_timeout = { "--lock-timeout", arg = "DURATION", check = check_duration,
    help = "each delta's lock_timeout: a statement that waits longer for a table lock fails" },
  retries = { "--retries", arg = "N", check = check_count,
    help = "after a lock timeout, roll the delta back and try it again, up to N times (default 0)" },
  retry_wait = { "--retry-wait", arg = "DURATION", check = check_duration,
    help = "the wait before the first retry, doubled for each next one, with jitter (default 1s)" },
  out_of_order = { "--out-of-order", help = "apply deltas labelled below the current version that never ran" },
  ignore_missing = { "--ignore-missing", help = "go on when deltas recorded as applied are not in the folder" },
  unmarked = { "--unmarked-phase", arg = "PHASE", key = "unmarked", check = check_unmarked,
    help = "the phase of deltas whose name has no pre/post (default post)" },
}

-- common.flags{"pg_service", "table", ...} -> flag list for a command module.
-- Each call gives fresh tables (args.parse annotates them).
function common.flags(names)
  local list = {}
  for _, name in ipairs(names) do
    local def = assert(common.definitions[name], "no common flag " .. tostring(name))
    local copy = {}
    for k, v in pairs(def) do copy[k] = v end
    list[#list + 1] = copy
  end
  return list
end

-- Config file ----------------------------------------------------------------------------------

-- Keys a config file may have, and the option each one sets. pum's keys,
-- plus pg_service and ladle's own. Other commands may add theirs.
common.config_keys = {
  upgrades_table = { option = "table" },
  delta_dir = { option = "dirs", list = true },
  delta_dirs = { option = "dirs", list = true },
  variables = { option = "variables", variables = true },
  variables_in = { option = "variables_in", check = check_variables_in },
  on_changed = { option = "on_changed", check = check_on_changed },
  python_exe = { option = "python" },
  pg_service = { option = "pg_service" },
  backup_file = { option = "backup_file" },
  ignore_elements = { option = "ignore", list = true },
  pg_dump_exe = { option = "pg_dump_exe" },
  pg_restore_exe = { option = "pg_restore_exe" },
  unmarked_phase = { option = "unmarked", check = check_unmarked },
  wait_timeout = { option = "wait_timeout", check = check_duration },
  lock_timeout = { option = "lock_timeout", check = check_duration },
  ignore_missing = { option = "ignore_missing", check = check_boolean, boolean = true },
  retries = { option = "retries", check = check_count },
  retry_wait = { option = "retry_wait", check = check_duration },
}

-- variables: in the config file, a list of "TYPE NAME VALUE" strings or of
-- [TYPE, NAME, VALUE] lists; -v TYPE NAME VALUE on the command line.
function common.config_variables(path, value)
  if type(value) ~= "table" or (next(value) ~= nil and value[1] == nil) then
    fail(2, "%s: variables must be a list of \"TYPE NAME VALUE\"", path)
  end
  local list = {}
  for _, item in ipairs(value) do
    if type(item) == "string" then
      local kind, name, text = item:match("^%s*(%S+)%s+(%S+)%s+(.-)%s*$")
      item = kind and { kind, name, text } or {}
    end
    if type(item) ~= "table" or #item ~= 3 then
      fail(2, "%s: variables: each is \"TYPE NAME VALUE\", like \"int SRID 2056\"", path)
    end
    list[#list + 1] = item
  end
  return list
end

-- Typed variables (ladle.plan.pyformat) from TYPE, NAME, VALUE triples.
local function typed_variables(triples, where)
  local list = {}
  for _, t in ipairs(triples or {}) do
    local v, why = pyformat.variable(t[1], t[2], t[3])
    if not v then fail(2, "%s: %s", where, why) end
    list[#list + 1] = v
  end
  return list
end

-- common.load_config(path) -> table of options (keyed by option name).
-- Raises a usage failure naming the file (and the line and column for a
-- YAML syntax error).
function common.load_config(path)
  local doc, why = yaml.load_file(path)
  if doc == nil then fail(2, "%s", why) end
  if type(doc) ~= "table" or (next(doc) ~= nil and doc[1] ~= nil) then
    fail(2, "%s: expected a mapping of settings (upgrades_table: ..., delta_dir: ...)", path)
  end
  local options = {}
  local names = {}
  for key in pairs(doc) do names[#names + 1] = key end
  table.sort(names)
  for _, key in ipairs(names) do
    local value = doc[key]
    local spec = common.config_keys[key]
    if not spec then
      local known = {}
      for k in pairs(common.config_keys) do known[#known + 1] = k end
      table.sort(known)
      fail(2, "%s: unknown setting '%s' (known: %s)", path, key, table.concat(known, ", "))
    end
    if spec.variables then
      value = common.config_variables(path, value)
    elseif spec.list then
      if type(value) == "string" then value = { value } end
      if type(value) ~= "table" then fail(2, "%s: %s must be a list", path, key) end
      for _, item in ipairs(value) do
        if type(item) ~= "string" then fail(2, "%s: %s must be a list of names", path, key) end
      end
    elseif type(value) ~= "string" then
      fail(2, "%s: %s must be a single value", path, key)
    end
    if options[spec.option] ~= nil then
      fail(2, "%s: %s sets what another key already set; keep one of them", path, key)
    end
    if spec.check and value ~= "" then
      local ok, reason = spec.check(value)
      if not ok then fail(2, "%s: %s: %s", path, key, reason) end
    end
    if spec.boolean and value ~= "" then
      options[spec.option] = BOOLEANS[value:lower()]
    elseif value ~= "" then
      options[spec.option] = value
    end
  end
  return options
end

-- A word of a command line to paste into a shell.
function common.shell_word(word)
  word = tostring(word)
  if word:match("^[%w%-_./:=@,+%%]+$") then return word end
  return "'" .. word:gsub("'", "'\\''") .. "'"
end

-- Commands whose suggestion repeats the target version (--to), and those
-- that take no database.
local TARGETED = { upgrade = true, info = true }
local NO_DATABASE = { lint = true }

-- common.suggester(flags, config_file) -> fn(command[, extra]): the command
-- line to suggest in a message, pasteable as it is: the config file and
-- the connection, table, folder (and for upgrade and info, target) flags
-- the user gave, secrets masked, then extra (already shell words).
function common.suggester(flags, config_file)
  return function(command, extra)
    local words = { "ladle" }
    local function add(flag, value)
      if type(value) == "table" then
        if #value == 0 then return end
        local quoted = {}
        for i, v in ipairs(value) do quoted[i] = common.shell_word(v) end
        words[#words + 1] = flag .. " " .. table.concat(quoted, " ")
      elseif value ~= nil then
        words[#words + 1] = flag .. " " .. common.shell_word(value)
      end
    end
    add("-c", config_file)
    words[#words + 1] = command
    if not NO_DATABASE[command] then
      add("-p", flags.pg_service and pg.mask_secrets(flags.pg_service))
      add("-t", flags.table)
    end
    add("-d", flags.dirs or flags.dir)
    if TARGETED[command] then add("--to", flags.to) end
    if extra and extra ~= "" then words[#words + 1] = extra end
    return table.concat(words, " ")
  end
end

-- common.options(opts, global, defaults) -> the merged options.
-- Command-line flags win over the config file (-c FILE after the command,
-- or before it as pum has it), which wins over defaults. merged.suggest
-- is common.suggester for these flags.
function common.options(opts, global, defaults)
  local merged = {}
  for k, v in pairs(defaults or {}) do merged[k] = v end
  local path = opts.config_file or (global and global.config_file)
  if path then
    for k, v in pairs(common.load_config(path)) do merged[k] = v end
    merged.config_file = path
  end
  -- the tools' and the interpreter's environment variables, below the config file
  merged.pg_dump_exe = merged.pg_dump_exe or os.getenv("PG_DUMP_EXE")
  merged.pg_restore_exe = merged.pg_restore_exe or os.getenv("PG_RESTORE_EXE")
  merged.python = merged.python or os.getenv("LADLE_PYTHON")
  local variables = typed_variables(merged.variables, path or "-v")
  for k, v in pairs(opts) do merged[k] = v end
  for _, v in ipairs(typed_variables(opts.variables, "-v")) do variables[#variables + 1] = v end
  merged.variables = variables
  if type(merged.dirs) == "string" then merged.dirs = { merged.dirs } end
  if merged.dir and not merged.dirs then merged.dirs = { merged.dir } end
  merged.dir = merged.dirs and merged.dirs[1]
  merged.table = merged.table or tracker.DEFAULT
  merged.suggest = common.suggester(opts, path)
  for _, key in ipairs({ "wait_timeout", "lock_timeout", "retry_wait" }) do
    if merged[key] then merged[key .. "_seconds"] = common.duration(merged[key]) end
  end
  if merged.retries then merged.retries = tonumber(merged.retries) end
  return merged
end

-- Requires an option that may come from a flag or the config file.
function common.need(o, key, flag, config_key, command)
  if type(o[key]) == "table" and #o[key] == 0 then o[key] = nil end
  if o[key] == nil or o[key] == "" then
    fail(2, "%s: %s is required (or %s in the config file)", command, flag, config_key)
  end
  return o[key]
end

-- Database ---------------------------------------------------------------------------------

-- How to name a connection target in a message, password masked.
-- (Options -> connection -> plan is ladle.session's job.)
common.target_name = pg.target_name

-- Ends a command after a pg_dump / pg_restore run (ladle.backup): the
-- tool's own messages, then one line, exit 3.
function common.tool_outcome(ok, message, details)
  if ok then return end
  details = details or {}
  if details.stderr and details.stderr ~= "" then io.stderr:write(details.stderr) end
  errors.raise(message, details, "system")
end

-- Scripts, recipes and -e chunks see the public API as the global `ladle`.
function common.expose_api()
  if rawget(_G, "ladle") == nil then rawset(_G, "ladle", require "ladle") end
end

-- Output ---------------------------------------------------------------------------------------

-- Prints rows (arrays of strings) as aligned columns; empty trailing
-- cells leave no trailing blanks.
function common.print_table(rows, out)
  out = out or io.stdout
  local widths, lengths = {}, {}
  for r, row in ipairs(rows) do
    local lens = {}
    for i, cell in ipairs(row) do
      local n = cell:find("[\128-\255]") and (utf8.len(cell) or #cell) or #cell
      lens[i] = n
      if n > (widths[i] or 0) then widths[i] = n end
    end
    lengths[r] = lens
  end
  local lines = {}
  for r, row in ipairs(rows) do
    local last = #row
    while last > 1 and row[last] == "" do last = last - 1 end
    local cells = {}
    for i = 1, last - 1 do cells[i] = row[i] .. string.rep(" ", widths[i] - lengths[r][i]) end
    cells[last] = row[last]
    lines[r] = table.concat(cells, "  ")
  end
  out:write(table.concat(lines, "\n"), "\n")
end

return common
