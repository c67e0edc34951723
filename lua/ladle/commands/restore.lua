-- ladle restore [-p SERVICE] DUMPFILE: pg_restore DUMPFILE into the database.

local common = require "ladle.commands.common"
local errors = require "ladle.errors"
local backup = require "ladle.backup"
local sys = require "ladle.sys"

local command = {
  summary = "restore a database from a dump file (pg_restore)",
  usage = "ladle restore [-p SERVICE] [-c FILE] [-x] [-N SCHEMA...] DUMPFILE",
  description = [[
Restores DUMPFILE (a dump written by `ladle dump` or pg_dump -Fc) into the
database with pg_restore --exit-on-error, as pum does: the first error stops
it (exit 3, with pg_restore's messages). -x (pum's) ignores pg_restore's
errors: it goes on past them, its messages are shown and the exit status is
0. -N leaves schemas out (pg_restore --exclude-schema).]],
  examples = [[
  ladle restore -p staging /var/backups/prod.dump
  ladle restore -p staging -x -N audit -- /var/backups/prod.dump]],
  positional = 1,
  flags = common.flags { "pg_service", "config", "ignore_restore_errors", "exclude_schema", "pg_restore_exe" },
}

function command.run(opts, positional, global)
  if #positional ~= 1 then errors.fail(2, "usage: %s", command.usage) end
  opts = common.options(opts, global)
  local st = sys.stat(positional[1])
  if not st or st.type ~= "file" then errors.fail(2, "restore: cannot read %s", positional[1]) end
  local ok, err, details = backup.restore(opts.pg_service, positional[1], {
    pg_restore_exe = opts.pg_restore_exe, exclude_schemas = opts.exclude_schemas, ignore_errors = opts.ignore_errors,
  })
  common.tool_outcome(ok, err, details)
  if details and details.status then
    io.stderr:write(details.stderr or "")
    io.stderr:write(string.format("ladle: pg_restore exited with status %d; its errors were ignored (-x)\n",
      details.status))
  end
  return 0
end

return command
