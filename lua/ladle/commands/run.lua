-- ladle run FILE.lua [ARGS...]: run a Lua script with the ladle API.
--
-- Like lua.c: the script gets the global `arg` (arg[0] the script, arg[1..]
-- its arguments, negative indices for what came before) and its arguments
-- as `...`. Everything after FILE belongs to the script.

local errors = require "ladle.errors"
local cli = require "ladle.cli"

local run = {
  summary = "run a Lua script with the ladle API",
  usage = "ladle run FILE.lua [ARGS...]",
  description = [[
Runs FILE.lua. The script sees `arg` as lua.c sets it and its arguments as
`...`; `local ladle = require "ladle"` (or the global `ladle`) is the API.
A Lua error prints its message and traceback and exits 3; a syntax error in
the script exits 2; Ctrl-C cancels a running query and exits 130.]],
  examples = [[
  ladle run examples/demo.lua
  ladle run migrate.lua --target 1.2.0]],
  raw_args = true,
}

function run.run(args, global)
  local file = args[1]
  if file == nil or file == "-h" or file == "--help" then
    io.write(cli.command_help(run))
    return file == nil and 2 or 0
  end
  local chunk, err = loadfile(file)
  if not chunk then
    errors.fail(2, "%s", err)
  end
  local script_arg = { [0] = file, [-1] = "run", [-2] = global.progname or "ladle" }
  for i = 2, #args do script_arg[i - 1] = args[i] end
  rawset(_G, "arg", script_arg)
  cli.expose_api()
  chunk(table.unpack(script_arg, 1, #args - 1))
  return 0
end

return run
