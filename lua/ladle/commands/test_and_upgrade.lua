-- ladle test-and-upgrade: pum's command, as the stock recipe of that name.

local run = require "ladle.commands.run"

return {
  summary = "upgrade a restored copy of production, compare it with a reference, then production",
  usage = "ladle test-and-upgrade -pp PROD [-pt TEST] -pc COMP [-t TABLE] -d DIR... [-f FILE] [-i KIND...] [-x]\n"
    .. "                     [-N SCHEMA...] [-P PATTERN...] [-v TYPE NAME VALUE]... [--yes]",
  raw_args = true,
  run = function(args, global)
    return run.recipe("test-and-upgrade", args, global, "test-and-upgrade")
  end,
}
