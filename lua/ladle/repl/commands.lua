-- ladle.repl.commands: backslash commands at the prompt, with psql's
-- meanings and output (\d, \dt, \df, \x, \timing, \c, \i, \e, \q, \? ...)
-- and ladle's own (\pending, \info, \check, \diff, \lua, \sql).
--
--   commands.run(session, line) -> nil, or the exit code (\q)

local errors = require "ladle.errors"
local ladle = require "ladle"
local pg = require "ladle.pg"
local sys = require "ladle.sys"
local describe = require "ladle.repl.describe"
local lists = require "ladle.repl.lists"
local query = require "ladle.repl.query"
local sql = require "ladle.repl.sql"

local commands = {}

local help_text = [[
General
  \q                     quit
  \?                     this list
  \lua  \sql             what input is by default: Lua (SQL when it starts
                         with a SQL keyword), or SQL
Query
  \g  \gx                send the statement typed so far (\gx: expanded)
  \r                     drop the statement typed so far
  \e [FILE]              edit the last input (or FILE) in $EDITOR, then run it
  \i FILE                run FILE: Lua when it ends in .lua, SQL otherwise
Informational (+: more detail, S: system objects too)
  \d[S+] [PATTERN]       list relations, or describe the ones PATTERN matches
  \dt \dv \dm \di \ds[S+] [PATTERN]
                         tables, views, materialized views, indexes, sequences
  \df[S+] [PATTERN]      functions and procedures
  \dn[S+] [PATTERN]      schemas
  \du[S+] [PATTERN]      roles
  \dx[+] [PATTERN]       extensions
  \l[+] [PATTERN]        databases
Formatting
  \x [on|off|auto]       expanded display (also for db:query results)
  \timing [on|off]       print how long each statement or chunk takes
Connection
  \c [SERVICE|CONNINFO]  connect db to another database (none: the same again)
  \conninfo              where db is connected
ladle
  \pending               the deltas still to apply (-d DIR, -t TABLE)
  \info                  every delta and its status
  \check SERVICE         compare db's schema with SERVICE's, as ladle check
  \diff SERVICE          the SQL that moves db's schema to SERVICE's]]

-- The rest of a command line as one argument: a file name or a target,
-- without surrounding quotes.
local function whole(args)
  local s = args:match("^%s*(.-)%s*$")
  return s:match("^'(.*)'$") or s:match('^"(.*)"$') or s
end

-- The first word of args, double quotes kept (they matter to patterns).
local function first_word(args)
  local word = args:match('^%s*(%S*"[^"]*"%S*)') or args:match("^%s*(%S+)")
  return word
end

local function on_off(value, current, name)
  if value == nil or value == "" then return not current end
  local v = value:lower()
  if v == "on" or v == "true" or v == "yes" or v == "1" then return true end
  if v == "off" or v == "false" or v == "no" or v == "0" then return false end
  errors.fail("usage", '\\%s: unrecognized value "%s": Boolean expected', name, value)
end

local function not_found(session, pattern)
  session.output:flush()
  if pattern then
    session.errors:write(string.format('Did not find any relation named "%s".\n', pattern))
  else
    session.errors:write("Did not find any relations.\n")
  end
end

local function show(session, value)
  session:emit(session:render(value, true))
end

-- \d and its relation lists: \dt, \dv, \dm, \di, \ds, \dE and combinations.
local function relations(session, letters, args, verbose, system)
  local db = session:need_db("\\d" .. letters)
  local pattern = first_word(args)
  if letters == "" and pattern then
    local found = describe.matching(db, pattern, { verbose = verbose })
    if #found == 0 then return not_found(session, pattern) end
    local texts = {}
    for i, d in ipairs(found) do texts[i] = d:render({ colour = session.colour }) end
    session:emit(table.concat(texts, "\n\n"))
    return
  end
  local rows = lists.relations(db, letters == "" and "tvmsE" or letters, pattern,
    { verbose = verbose, system = system })
  if #rows == 0 then return not_found(session, pattern) end
  show(session, rows)
end

local function conninfo(session)
  local db = session:db()
  if not db then
    session:emit("You are currently not connected to a database.")
    return
  end
  local info = db:info()
  local host = info.host or ""
  if host == "" or host:sub(1, 1) == "/" or host:sub(1, 1) == "@" then
    session:emit(string.format('You are connected to database "%s" as user "%s" via socket in "%s" at port "%s".',
      info.dbname, info.user, host ~= "" and host or "/tmp", info.port))
  else
    session:emit(string.format('You are connected to database "%s" as user "%s" on host "%s" at port "%s".',
      info.dbname, info.user, host, info.port))
  end
end

local function edit(session, args)
  local file = whole(args)
  local path, language = file, nil
  if file == "" then
    language = session.last_input and sql.is_sql(session.last_input, session.env) and "sql"
      or session.language
    path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write(session.last_input or "", "\n")
    f:close()
  end
  local editor = os.getenv("PSQL_EDITOR") or os.getenv("EDITOR") or os.getenv("VISUAL") or "vi"
  local argv = {}
  for word in editor:gmatch("%S+") do argv[#argv + 1] = word end
  argv[#argv + 1] = path
  session.output:flush()
  local status, message = sys.spawn(argv)
  local f = io.open(path, "rb")
  local text = f and f:read("a") or ""
  if f then f:close() end
  if file == "" then os.remove(path) end
  if status ~= 0 then error(string.format("\\e: %s: %s", argv[1], message or ("exit status " .. tostring(status))), 0) end
  text = text:gsub("%s+$", "")
  if text == "" then return end
  session:remember(text)
  session.last_input = text
  if file ~= "" and file:match("%.lua$") then language = "lua" end
  session:run_text(text, language)
end

local function include(session, args)
  local path = whole(args)
  if path == "" then errors.fail("usage", "\\i: missing required argument (a file name)") end
  local f, message = io.open(path, "rb")
  if not f then error("\\i: " .. message, 0) end
  local text = f:read("a")
  f:close()
  if path:match("%.lua$") then
    local fn, err = load(text, "@" .. path, "t", session.env)
    if not fn then error(err, 0) end
    session:run_lua(fn)
  else
    sql.run(session, text)
  end
end

local function check(session, args)
  local target = whole(args)
  if target == "" then errors.fail("usage", "\\check: which database? (\\check SERVICE|CONNINFO)") end
  local db = session:need_db("\\check")
  local other, message = query.connect(target, session.interactive and session.ask_password)
  if not other then error("\\check: cannot connect to " .. pg.target_name(target) .. ": " .. message, 0) end
  local snaps, why = ladle.schema.snapshots({ db, other }, { dependencies = false })
  other:close()
  if not snaps then error("\\check: " .. tostring(why), 0) end
  local lines = {}
  for i, d in ipairs(ladle.schema.compare(snaps[1], snaps[2])) do lines[i] = d.line end
  session:emit(#lines > 0 and table.concat(lines, "\n") or "no differences")
end

-- name -> function(session, args, verbose, system)
local handlers = {
  q = function() return errors.codes.ok end,
  quit = function() return errors.codes.ok end,
  ["?"] = function(session) session:emit(help_text) end,
  lua = function(session)
    session.language = "lua"
    session:emit("Input is Lua, or SQL when it starts with a SQL keyword.")
  end,
  sql = function(session)
    session.language = "sql"
    session:emit("Input is SQL (\\lua switches back).")
  end,
  x = function(session, args)
    local value = args:match("^%s*(%S*)")
    local s = session.settings
    if value:lower() == "auto" then s.expanded = "auto"
    else s.expanded = on_off(value, s.expanded == true, "x") end
    session:emit(s.expanded == "auto" and "Expanded display is used automatically."
      or ("Expanded display is " .. (s.expanded and "on." or "off.")))
  end,
  timing = function(session, args)
    session.settings.timing = on_off(args:match("^%s*(%S*)"), session.settings.timing, "timing")
    session:emit("Timing is " .. (session.settings.timing and "on." or "off."))
  end,
  conninfo = conninfo,
  c = function(session, args)
    local target = whole(args)
    if target == "" then target = session.target end
    local db = session:connect(target)
    local info = db:info()
    session:emit(string.format('You are now connected to database "%s" as user "%s".', info.dbname, info.user))
  end,
  i = include,
  e = edit,
  df = function(session, args, verbose, system)
    show(session, lists.functions(session:need_db("\\df"), first_word(args), { verbose = verbose, system = system }))
  end,
  dn = function(session, args, verbose, system)
    show(session, lists.schemas(session:need_db("\\dn"), first_word(args), { verbose = verbose, system = system }))
  end,
  du = function(session, args, verbose, system)
    show(session, lists.roles(session:need_db("\\du"), first_word(args), { verbose = verbose, system = system }))
  end,
  dx = function(session, args)
    show(session, lists.extensions(session:need_db("\\dx"), first_word(args)))
  end,
  l = function(session, args, verbose)
    show(session, lists.databases(session:need_db("\\l"), first_word(args), { verbose = verbose }))
  end,
  pending = function(session) show(session, session.env.pending()) end,
  info = function(session) show(session, session.env.info()) end,
  check = check,
  diff = function(session, args)
    local target = whole(args)
    if target == "" then errors.fail("usage", "\\diff: which database? (\\diff SERVICE|CONNINFO)") end
    session:emit(session.env.diff(target))
  end,
}
handlers.dg, handlers.list, handlers.include, handlers.connect = handlers.du, handlers.l, handlers.i, handlers.c

-- commands.run(session, line) runs one backslash command line.
function commands.run(session, line)
  local token, args = line:match("^%s*\\(%S*)(.*)$")
  if token == nil then error("not a backslash command: " .. line, 2) end
  local name = token
  local verbose, system = false, false
  if #name > 1 and name:sub(-1) == "+" then name, verbose = name:sub(1, -2), true end
  if #name > 1 and name:sub(-1) == "S" then name, system = name:sub(1, -2), true end
  if #name > 1 and not verbose and name:sub(-1) == "+" then name, verbose = name:sub(1, -2), true end
  local handler = handlers[name]
  if handler then return handler(session, args, verbose, system) end
  local letters = name:match("^d([tvmisE]*)$")
  if letters then return relations(session, letters, args, verbose, system) end
  errors.fail("usage", "invalid command \\%s (\\? lists the commands)", token)
end

commands.help_text = help_text

return commands
