-- ladle dump [-p SERVICE] DUMPFILE: pg_dump -Fc into DUMPFILE (mode 0600).

local common = require "ladle.commands.common"
local errors = require "ladle.errors"
local backup = require "ladle.backup"

local command = {
  summary = "dump a database into a file (pg_dump -Fc)",
  usage = "ladle dump [-p SERVICE] [-c FILE] DUMPFILE",
  description = [[
Writes a custom-format dump of the database (pg_dump -Fc, as pum does) into
DUMPFILE, created with mode 0600. SERVICE is a service name or a conninfo; the
password, if any, reaches pg_dump through the environment, never its
arguments. pg_dump's own messages are shown when it fails (exit 3).]],
  examples = [[
  ladle dump -p prod /var/backups/prod.dump]],
  flags = (function()
    local flags = common.flags { "pg_service", "config" }
    flags[#flags + 1] = { "--pg-dump-exe", key = "pg_dump_exe", arg = "PATH",
      help = "the pg_dump executable (default pg_dump, or pg_dump_exe in the config file)" }
    return flags
  end)(),
}

function command.run(opts, positional, global)
  if #positional ~= 1 then errors.fail(2, "usage: %s", command.usage) end
  opts = common.options(opts, global)
  local ok, err, stderr = backup.dump(opts.pg_service, positional[1], opts)
  if not ok then
    if stderr and stderr ~= "" then io.stderr:write(stderr) end
    errors.fail(3, "%s", err)
  end
  return 0
end

return command
