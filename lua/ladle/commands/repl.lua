-- ladle repl [-p SERVICE|CONNINFO] [-t TABLE -d DIR]: a prompt for SQL,
-- psql's backslash commands and Lua, with the ladle API, a connection and
-- helpers to look at a database and its migration state. The work is done
-- by ladle.repl (and its C half).

local errors = require "ladle.errors"
local sys = require "ladle.sys"
local common = require "ladle.commands.common"

local repl = {
  summary = "explore a database and its migration state at a SQL and Lua prompt",
  usage = "ladle repl [-p SERVICE|CONNINFO] [-t TABLE] [-d DIR...] [-v TYPE NAME VALUE] [-c FILE]",
  description = [==[
Opens a prompt that takes SQL and psql's backslash commands as well as Lua,
with the ladle API as the global `ladle`. `db` is a connection to the
service, conninfo or URI given with -p, or without -p to libpq's defaults
(the PG* variables), as psql connects; the prompt shows its database name.
At a terminal, when the server asks for a password that was not given, it
is asked for (echo off), as psql does, and a default connection that
cannot be made is said and the prompt starts without `db`.

Input that starts with a SQL keyword (select, insert, create, begin, ...)
is SQL and runs when a line ends with `;`; results print as psql prints
them, with the command tag for other statements. \d, \dt, \df, \dn, \du,
\dx, \l, \x, \timing, \c, \conninfo, \i, \e, \echo, \q do what they do
in psql; \pending, \info, \check SERVICE, \diff SERVICE are ladle's; \sql
makes SQL the default and \lua switches back; \? lists them all. Anything
else is Lua: an expression prints its value without `return`; an unfinished
chunk continues on the next line. help() lists the helpers: sql[[...]],
tables(), describe "name", info() and pending() (with -t and -d),
snapshot(), diff(target).

At a terminal: line editing and history (~/.ladle_history, or
$LADLE_HISTORY; a chunk that starts with a space is not kept), Tab
completion of globals, fields, SQL keywords, table and column names, and
file names after \i, long results through $PAGER. Ctrl-C cancels a running
query (on the server) or clears the line; Ctrl-D quits. Colour only at a
terminal, and never with NO_COLOR set.

With input that is not a terminal, chunks are read line by line without
prompts and results print the same way; no password is asked for, and a
connection that cannot be made (with -p or without) exits 3. The first
error is printed as one line on stderr and ends the run with exit code 3
(2 for an unknown backslash command, or the code given to ladle.fail; 130
after Ctrl-C). The end of the input exits 0.]==],
  examples = [==[
  ladle repl -p prod
  ladle repl -p "host=db1 dbname=app" -t app.upgrades -d deltas/
  echo 'select count(*) from app.orders;' | ladle repl -p prod
  printf '\\d app.orders\n' | ladle repl -p prod]==],
  flags = common.flags { "pg_service", "table", "dir", "variables", "variables_in", "python", "unmarked", "on_changed",
    "config" },
}

function repl.run(opts, positional, global)
  if positional[1] then
    errors.fail("usage", "repl: unexpected argument '%s' (see 'ladle repl --help')", positional[1])
  end
  -- -p and the rest may come from the config file (pg_service, upgrades_table, delta_dir)
  local o = common.options(opts, global)
  local repl_module = require "ladle.repl"
  -- without -p, libpq's defaults (PG* variables), as every command and psql
  -- connect; at a terminal, a password the server asks for is asked of the user
  local db, message = repl_module.connect(o.pg_service, repl_module.password_prompt())
  if not db then
    if o.pg_service or not sys.isatty(0) then
      errors.fail("database", "cannot connect to %s: %s", common.target_name(o.pg_service), message)
    end
    -- a prompt is still useful without a database: say so and go on
    io.stderr:write(string.format("ladle: cannot connect to %s: %s\n", common.target_name(nil), message),
      "ladle: starting without db; connect(target) or \\c TARGET connects it\n")
  end
  local code = repl_module.run { db = db, target = o.pg_service, table = o.table, dirs = o.dirs,
    -- info() and pending() see the deltas as ladle info does
    plan = { variables = o.variables, variables_in = o.variables_in, unmarked = o.unmarked,
      on_changed = o.on_changed, python = o.python } }
  if db then db:close() end
  return code
end

return repl
