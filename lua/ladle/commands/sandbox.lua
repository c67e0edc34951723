-- ladle sandbox -- COMMAND [ARGS...]: run a command against a fresh
-- throwaway PostgreSQL cluster, then remove the cluster.

local errors = require "ladle.errors"
local args = require "ladle.commands.args"
local sandbox = require "ladle.sandbox"
local sys = require "ladle.sys"

local command = {
  summary = "run a command against a throwaway PostgreSQL cluster",
  usage = "ladle sandbox [--] COMMAND [ARGS...]",
  description = [[
Starts a private PostgreSQL cluster in a temporary directory (unix socket
only, fsync off; as the postgres user when run as root), runs COMMAND with
PGHOST, PGPORT, PGUSER and PGDATABASE pointing at it, then stops the cluster
and removes the directory, also after Ctrl-C. The directory of this ladle
executable comes first on COMMAND's PATH, so `ladle` there is this one,
installed or not. Exits with COMMAND's status (127 when it cannot be run, 2
when no PostgreSQL server is installed).]],
  examples = [[
  ladle sandbox -- psql -c 'select version()'
  ladle sandbox -- ladle run examples/demo.lua]],
  raw_args = true,
}

function command.run(words)
  if words[1] == "-h" or words[1] == "--help" then
    io.write(args.command_help(command))
    return 0
  end
  if words[1] == "--" then table.remove(words, 1) end
  if #words == 0 then
    errors.fail(2, "sandbox: no command given (usage: %s)", command.usage)
  end
  local bindir, why = sandbox.bindir()
  if not bindir then errors.fail(2, "%s", why) end
  local cluster, err = sandbox.start()
  if not cluster then errors.fail(3, "could not start a throwaway cluster: %s", err) end
  local child_env = cluster:env()
  -- `ladle sandbox -- ladle ...` runs this ladle, also from a build tree
  local exe = sys.realpath("/proc/self/exe")
  local exe_dir = exe and exe:match("^(.*)/ladle$")
  if exe_dir then child_env.PATH = exe_dir .. (os.getenv("PATH") and (":" .. os.getenv("PATH")) or "") end
  local status
  status, err = sys.spawn(words, { env = child_env })
  cluster:stop()
  if not status then errors.fail(127, "sandbox: %s", err) end
  return status
end

return command
