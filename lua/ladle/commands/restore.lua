-- ladle restore -p SERVICE FILE: pg_restore FILE into the database.

local errors = require "ladle.errors"
local backup = require "ladle.backup"

local command = {
  summary = "restore a database from a dump file (pg_restore)",
  usage = "ladle restore -p SERVICE FILE",
  description = [[
Restores FILE (a dump written by `ladle dump` or pg_dump -Fc) into the
database with pg_restore --exit-on-error, as pum does: the first error stops
it (exit 3, with pg_restore's messages).]],
  examples = [[
  ladle restore -p staging /var/backups/prod.dump]],
  flags = {
    { "-p", "--pg-service", key = "pg_service", arg = "SERVICE", required = true,
      help = "service name or conninfo of the database" },
    { "--pg-restore-exe", key = "pg_restore_exe", arg = "PATH", help = "pg_restore executable (default pg_restore)" },
  },
}

function command.run(opts, positional)
  if #positional ~= 1 then errors.fail(2, "usage: %s", command.usage) end
  local ok, err, stderr = backup.restore(opts.pg_service, positional[1], opts)
  if not ok then
    if stderr and stderr ~= "" then io.stderr:write(stderr) end
    errors.fail(3, "%s", err)
  end
  return 0
end

return command
