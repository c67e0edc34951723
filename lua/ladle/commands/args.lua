-- ladle.commands.args: the flag parser and the help text of a command,
-- shared by cli.lua and the commands that parse their own words (run,
-- sandbox). Flags follow pum's spelling: single-dash names may be several
-- letters (-p1, -pp), long names accept both dashes and underscores
-- (--pg-service, --pg_service), `many` flags take every following word up
-- to the next flag, `nargs = n` flags take the next n words each time
-- (pum's -v TYPE NAME VALUE). A command module says how many positional
-- arguments it takes with `positional` (default none): args.positional
-- refuses the others.

local errors = require "ladle.errors"

local args = {}
local fail = errors.fail

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

-- Edit distance between a and b (insertions, deletions, substitutions,
-- and swaps of two neighbours).
local function distance(a, b)
  local d = {}
  for i = 0, #a do d[i] = { [0] = i } end
  for j = 0, #b do d[0][j] = j end
  for i = 1, #a do
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      d[i][j] = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        d[i][j] = math.min(d[i][j], d[i - 2][j - 2] + 1)
      end
    end
  end
  return d[#a][#b]
end

-- args.closest(word, candidates) -> the candidate nearest to word when it
-- is near enough to be what was meant (a typo: two edits, one for a short
-- word), else nil.
function args.closest(word, candidates)
  local best, best_distance
  for _, candidate in ipairs(candidates) do
    local d = distance(word:lower(), candidate:lower())
    if not best_distance or d < best_distance then best, best_distance = candidate, d end
  end
  local allowed = #word <= 4 and 1 or 2
  if best_distance and best_distance <= allowed then return best end
end

-- "; did you mean 'x'?" or "".
function args.did_you_mean(word, candidates)
  local close = args.closest(word, candidates)
  return close and string.format("; did you mean '%s'?", close) or ""
end

-- The names of flags, for suggestions (long names as written).
local function flag_names(flags)
  local names = {}
  for _, flag in ipairs(flags or {}) do
    for _, name in ipairs(flag) do names[#names + 1] = name end
  end
  names[#names + 1] = "--help"
  return names
end

-- args.parse(flags, words, command) -> opts, positional
-- Raises a usage failure (exit 2) for an unknown flag, a missing value or
-- a missing required flag.
function args.parse(flags, words, command)
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
  while i <= #words do
    local word = words[i]
    if word == "--" then
      table.move(words, i + 1, #words, #positional + 1, positional)
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
    if flag and flag.nargs then
      local values = table.move(words, i + 1, i + flag.nargs, 1, {})
      if #values < flag.nargs or attached then
        fail(2, "%s: %s needs %d values (%s)", where, name, flag.nargs, flag.arg)
      end
      opts[flag.key] = opts[flag.key] or {}
      table.insert(opts[flag.key], values)
      i = i + 1 + flag.nargs
    elseif flag then
      if not flag.arg then
        if attached then fail(2, "%s: %s takes no value", where, name) end
        opts[flag.key] = true
        i = i + 1
      elseif attached then
        take(flag, name, attached)
        i = i + 1
      else
        local value = words[i + 1]
        if value == nil or (is_flag_word(value, index) and not flag.allow_dash) then
          fail(2, "%s: %s needs a value (%s)", where, name, flag.arg)
        end
        take(flag, name, value)
        i = i + 2
        while flag.many and words[i] and not is_flag_word(words[i], index) and words[i] ~= "--" do
          take(flag, name, words[i])
          i = i + 1
        end
      end
    elseif is_flag_word(word, index) then
      fail(2, "%s: unknown flag '%s'%s (see '%s')", where, word,
        args.did_you_mean(word:match("^[^=]*"), flag_names(flags)), help)
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

-- args.positional(mod, positional, command) refuses positional arguments
-- the command does not take (mod.positional: how many it may take) with a
-- usage failure naming them.
function args.positional(mod, positional, command)
  local allowed = mod.positional or 0
  if #positional <= allowed then return end
  local extra = table.move(positional, allowed + 1, #positional, 1, {})
  for i, word in ipairs(extra) do extra[i] = "'" .. word .. "'" end
  fail(2, "%s: unexpected argument%s %s (see 'ladle %s --help')", command, #extra == 1 and "" or "s",
    table.concat(extra, " "), command)
end

-- Help -------------------------------------------------------------------

function args.flag_lines(flags)
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

function args.command_help(mod)
  local parts = { "usage: " .. (mod.usage or ("ladle " .. mod.name .. " [flags]")) }
  if mod.description then parts[#parts + 1] = "\n" .. mod.description:gsub("%s+$", "") end
  local flags = {}
  for _, f in ipairs(mod.flags or {}) do flags[#flags + 1] = f end
  flags[#flags + 1] = { "-h", "--help", help = "show this help" }
  parts[#parts + 1] = "\nflags:\n" .. args.flag_lines(flags)
  if mod.examples then parts[#parts + 1] = "\nexamples:\n" .. mod.examples:gsub("%s+$", "") end
  return table.concat(parts, "\n") .. "\n"
end

return args
