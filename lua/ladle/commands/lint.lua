-- ladle lint: check a folder of deltas without a database.

local common = require "ladle.commands.common"
local errors = require "ladle.errors"
local json = require "ladle.json"
local lint = require "ladle.lint"

local command = {
  summary = "check a delta folder: names, duplicates, serial gaps, mixed layouts",
  usage = "ladle lint -d DIR... [--json]",
  description = [[
Checks the folders without touching a database: files whose names match no
delta layout (and which names are accepted), two deltas in one slot (same
version, phase and serial), gaps in a version's serials, upper case or
spaces in names, folders that mix layouts, unknown '-- ladle:' directives,
psql meta-commands and transaction control in SQL deltas, Lua deltas that
do not compile. pum deltas that share a serial are a warning: they run in
pum's order, by description.

Exit status: 0 when the folders are clean (warnings allowed), 2 when
anything is wrong (one line per problem on stdout) or a folder cannot be
read.]],
  examples = [[
  ladle lint -d sql/migrations
  ladle -c db.yaml lint]],
  flags = common.flags { "dir", "config", "json" },
}

function command.run(opts, _, global)
  local o = common.options(opts, global)
  common.need(o, "dir", "-d/--dir", "delta_dir", "lint")
  local problems, list = lint.check(o.dirs)
  if not problems then errors.fail(2, "%s", list) end
  local count = #list + #list.install + #list.hooks["pre-all"] + #list.hooks["post-all"]
  local errors_found = 0
  for _, p in ipairs(problems) do
    if not p.warning then errors_found = errors_found + 1 end
  end
  local where = table.concat(o.dirs, ", ")
  if o.json then
    local out = { dir = o.dir, dirs = json.array(o.dirs), deltas = count, problems = json.array {},
                  warnings = json.array {} }
    for _, p in ipairs(problems) do
      local into = p.warning and out.warnings or out.problems
      into[#into + 1] = p.message
    end
    io.stdout:write(json.encode(out), "\n")
  else
    for _, p in ipairs(problems) do print(errors.printable(p.message)) end
    if errors_found == 0 then
      print(string.format("%s: %d delta%s, no problems.", where, count, count == 1 and "" or "s"))
    else
      print(string.format("%s: %d problem%s in %d delta%s.", where, errors_found, errors_found == 1 and "" or "s",
        count, count == 1 and "" or "s"))
    end
  end
  return errors_found > 0 and 2 or 0
end

return command
