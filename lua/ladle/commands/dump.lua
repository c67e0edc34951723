-- ladle dump -p SERVICE FILE: pg_dump -Fc into FILE (mode 0600).

local errors = require "ladle.errors"
local backup = require "ladle.backup"

local command = {
  summary = "dump a database into a file (pg_dump -Fc)",
  usage = "ladle dump -p SERVICE FILE",
  description = [[
Writes a custom-format dump of the database (pg_dump -Fc, as pum does) into
FILE, created with mode 0600. SERVICE is a service name or a conninfo; the
password, if any, reaches pg_dump through the environment, never its
arguments. pg_dump's own messages are shown when it fails (exit 3).]],
  examples = [[
  ladle dump -p prod /var/backups/prod.dump]],
  flags = {
    { "-p", "--pg-service", key = "pg_service", arg = "SERVICE", required = true,
      help = "service name or conninfo of the database" },
    { "--pg-dump-exe", key = "pg_dump_exe", arg = "PATH", help = "pg_dump executable (default pg_dump)" },
  },
}

function command.run(opts, positional)
  if #positional ~= 1 then errors.fail(2, "usage: %s", command.usage) end
  local ok, err, stderr = backup.dump(opts.pg_service, positional[1], opts)
  if not ok then
    if stderr and stderr ~= "" then io.stderr:write(stderr) end
    errors.fail(3, "%s", err)
  end
  return 0
end

return command
