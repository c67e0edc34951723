-- ladle restore [-p SERVICE] DUMPFILE: pg_restore DUMPFILE into the database.

local common = require "ladle.commands.common"
local errors = require "ladle.errors"
local backup = require "ladle.backup"
local sys = require "ladle.sys"

local command = {
  summary = "restore a database from a dump file (pg_restore)",
  usage = "ladle restore [-p SERVICE] [-c FILE] DUMPFILE",
  description = [[
Restores DUMPFILE (a dump written by `ladle dump` or pg_dump -Fc) into the
database with pg_restore --exit-on-error, as pum does: the first error stops
it (exit 3, with pg_restore's messages).]],
  examples = [[
  ladle restore -p staging /var/backups/prod.dump]],
  flags = (function()
    local flags = common.flags { "pg_service", "config" }
    flags[#flags + 1] = { "--pg-restore-exe", key = "pg_restore_exe", arg = "PATH",
      help = "the pg_restore executable (default pg_restore, or pg_restore_exe in the config file)" }
    return flags
  end)(),
}

function command.run(opts, positional, global)
  if #positional ~= 1 then errors.fail(2, "usage: %s", command.usage) end
  opts = common.options(opts, global)
  local st = sys.stat(positional[1])
  if not st or st.type ~= "file" then errors.fail(2, "restore: cannot read %s", positional[1]) end
  local ok, err, stderr = backup.restore(opts.pg_service, positional[1], opts)
  if not ok then
    if stderr and stderr ~= "" then io.stderr:write(stderr) end
    errors.fail(3, "%s", err)
  end
  return 0
end

return command
