-- ladle lint: check a folder of deltas without a database.

local common = require "ladle.commands.common"
local errors = require "ladle.errors"
local json = require "ladle.json"
local lint = require "ladle.lint"

local command = {
  summary = "check a delta folder: names, duplicates, serial gaps, mixed layouts",
  usage = "ladle lint -d DIR [--json]",
  description = [[
Checks DIR without touching a database: files whose names match no delta
layout, two deltas in one slot (same version, phase and serial), gaps in a
version's serials, upper case or spaces in names, folders that mix layouts,
unknown '-- ladle:' directives, pum Python deltas, psql meta-commands and
transaction control in SQL deltas, Lua deltas that do not compile.

Exit status: 0 when the folder is clean, 2 when anything is wrong (one line
per problem on stdout) or the folder cannot be read.]],
  examples = [[
  ladle lint -d sql/migrations
  ladle -c db.yaml lint]],
  flags = common.flags { "dir", "config", "json" },
}

function command.run(opts, _, global)
  local o = common.options(opts, global)
  common.need(o, "dir", "-d/--dir", "delta_dir", "lint")
  local problems, list = lint.check(o.dir)
  if not problems then errors.fail(2, "%s", list) end
  local count = #list + #list.install + #list.hooks["pre-all"] + #list.hooks["post-all"]
  if o.json then
    local out = { dir = o.dir, deltas = count, problems = json.array {} }
    for _, p in ipairs(problems) do out.problems[#out.problems + 1] = p.message end
    io.stdout:write(json.encode(out), "\n")
  else
    for _, p in ipairs(problems) do print(errors.printable(p.message)) end
    if #problems == 0 then
      print(string.format("%s: %d delta%s, no problems.", o.dir, count, count == 1 and "" or "s"))
    else
      print(string.format("%s: %d problem%s in %d delta%s.", o.dir, #problems, #problems == 1 and "" or "s", count,
        count == 1 and "" or "s"))
    end
  end
  return #problems > 0 and 2 or 0
end

return command
