-- ladle dump [-p SERVICE] DUMPFILE: pg_dump -Fc into DUMPFILE (mode 0600).

local common = require "ladle.commands.common"
local errors = require "ladle.errors"
local backup = require "ladle.backup"

local command = {
  summary = "dump a database into a file (pg_dump -Fc)",
  usage = "ladle dump [-p SERVICE] [-c FILE] [-N SCHEMA...] DUMPFILE",
  description = [[
Writes a custom-format dump of the database (pg_dump -Fc, as pum does) into
DUMPFILE, created with mode 0600. SERVICE is a service name or a conninfo; the
password, if any, reaches pg_dump through the environment, never its
arguments. -N leaves schemas out (pg_dump --exclude-schema). pg_dump's own
messages are shown when it fails (exit 3).]],
  examples = [[
  ladle dump -p prod /var/backups/prod.dump
  ladle dump -p prod -N audit -- /var/backups/prod.dump]],
  positional = 1,
  flags = common.flags { "pg_service", "config", "exclude_schema", "pg_dump_exe" },
}

function command.run(opts, positional, global)
  if #positional ~= 1 then errors.fail(2, "usage: %s", command.usage) end
  opts = common.options(opts, global)
  local ok, err, stderr = backup.dump(opts.pg_service, positional[1], opts)
  common.tool_outcome(ok, err, stderr)
  return 0
end

return command
