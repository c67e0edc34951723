-- ladle repl [-p SERVICE|CONNINFO] [-t TABLE -d DIR]: a Lua prompt with
-- the ladle API, a connection and helpers to look at a database and its
-- migration state. The work is done by ladle.repl (and its C half).

local errors = require "ladle.errors"
local common = require "ladle.commands.common"

local repl = {
  summary = "explore a database and its migration state at a Lua prompt",
  usage = "ladle repl [-p SERVICE|CONNINFO] [-t TABLE] [-d DIR] [-c FILE]",
  description = [==[
Opens a Lua prompt with the ladle API as the global `ladle`. With -p, `db` is
a connection to that service, conninfo or URI, and the prompt shows its
database name. An expression prints its value without `return`; query results
print as tables, as psql shows them; an unfinished chunk continues on the
next line. help() lists the helpers: sql[[...]], tables(), describe "name",
info() and pending() (with -t and -d), snapshot(), diff(target).

At a terminal: line editing and history (~/.ladle_history, or
$LADLE_HISTORY; a chunk that starts with a space is not kept), Tab completion
of globals, fields and table names, long results through $PAGER. Ctrl-C
cancels a running query (on the server) or clears the line; Ctrl-D quits.
Colour only at a terminal, and never with NO_COLOR set.

With input that is not a terminal, chunks are read line by line without
prompts and results print the same way; the first error is printed as one
line on stderr and ends the run with exit code 3 (or the code given to
ladle.fail; 130 after Ctrl-C). The end of the input exits 0.]==],
  examples = [==[
  ladle repl -p prod
  ladle repl -p "host=db1 dbname=app" -t app.upgrades -d deltas/
  echo 'sql[[select count(*) from app.orders]]' | ladle repl -p prod]==],
  flags = common.flags { "pg_service", "table", "dir", "config" },
}

function repl.run(opts, positional, global)
  if positional[1] then
    errors.fail(errors.codes.usage, "repl: unexpected argument '%s' (see 'ladle repl --help')", positional[1])
  end
  -- -p and the rest may come from the config file (pg_service, upgrades_table, delta_dir)
  local o = common.options(opts, global)
  local db = o.pg_service and common.connect(o)
  local code = require("ladle.repl").run { db = db, table = o.table, dir = o.dir }
  if db then db:close() end
  return code
end

return repl
