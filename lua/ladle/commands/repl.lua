-- ladle repl [-p SERVICE|CONNINFO] [-t TABLE -d DIR]: a Lua prompt with
-- the ladle API, a connection and helpers to look at a database and its
-- migration state. The work is done by ladle.repl (and its C half).

local errors = require "ladle.errors"

local repl = {
  summary = "explore a database and its migration state at a Lua prompt",
  usage = "ladle repl [-p SERVICE|CONNINFO] [-t TABLE] [-d DIR]",
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
  flags = {
    { "-p", "--pg-service", arg = "SERVICE", help = "connect `db` to this service, conninfo or URI" },
    { "-t", "--table", arg = "TABLE", help = "the upgrades table, for info() and pending()" },
    { "-d", "--dir", arg = "DIR", help = "the deltas directory, for info() and pending()" },
  },
}

function repl.run(opts, positional)
  if positional[1] then
    errors.fail(errors.codes.usage, "repl: unexpected argument '%s' (see 'ladle repl --help')", positional[1])
  end
  local ladle = require "ladle"
  local db
  if opts.pg_service then
    local message
    db, message = ladle.connect(opts.pg_service)
    if not db then
      errors.fail(errors.codes.runtime, "repl: cannot connect to %s: %s", opts.pg_service, message)
    end
  end
  local code = require("ladle.repl").run { db = db, table = opts.table, dir = opts.dir }
  if db then db:close() end
  return code
end

return repl
