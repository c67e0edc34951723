-- ladle.repl: the Lua half of `ladle repl`.
--
-- The pieces, each a module of its own:
--   ladle.repl.session   reading, compiling, running and showing chunks
--   ladle.repl.sql       SQL at the prompt: which input is SQL, statements
--   ladle.repl.commands  backslash commands (\d, \x, \timing, \c, \i, ...)
--   ladle.repl.helpers   the globals chunks see (sql, describe, info, ...)
--   ladle.repl.complete  Tab completion, Lua and SQL
--   ladle.repl.describe  psql's \d and \d+ (laid out by describe_text)
--   ladle.repl.lists     psql's \dt, \df, \dn, \du, \dx, \l, and tables()
--   ladle.repl.query     SQL errors, record lists, catalog sessions,
--                        patterns, connecting with a password prompt
--   ladle.repl.format    grids (expanded too) and SQL errors as text
--   ladle.repl.value     Lua values as text
--
-- The C half (ladle.repl.core, in the executable only) owns readline, the
-- history file and Ctrl-C; it is loaded only by repl.run, so that the rest
-- of this module can be used (and tested) from plain Lua.

local sys = require "ladle.sys"
local complete = require "ladle.repl.complete"
local describe = require "ladle.repl.describe"
local helpers = require "ladle.repl.helpers"
local lists = require "ladle.repl.lists"
local query = require "ladle.repl.query"
local session = require "ladle.repl.session"

local repl = {}

repl.history_size = 1000

repl.sql_error = query.sql_error
repl.is_sql_error = query.is_sql_error
repl.records = query.records
repl.compile = session.compile
repl.open_string = complete.open_string
repl.relation_names = complete.relation_names
repl.complete = complete.complete
repl.describe = describe.describe
repl.tables = lists.tables
repl.connect = query.connect
repl.Session = session.Session

-- repl.new(opts) -> session, with its helpers installed in opts.env (see
-- ladle.repl.session for opts).
function repl.new(opts)
  local s = session.new(opts)
  helpers.install(s)
  return s
end

-- Running ---------------------------------------------------------------------------

local function server_version_text(v)
  if v >= 100000 then return string.format("%d.%d", v // 10000, v % 10000) end
  return string.format("%d.%d.%d", v // 10000, v // 100 % 100, v % 100)
end

local function banner(self)
  local host = package.loaded["ladle.host"] or {}
  local line = string.format("ladle %s (%s)", host.version or "?", host.lua or _VERSION)
  local db = self:db()
  if db then
    local info = db:info()
    line = string.format("%s, connected to %s as %s (PostgreSQL %s)", line, info.dbname, info.user,
      server_version_text(info.server_version))
  end
  self.output:write(line, "\n", "help() lists the helpers; Ctrl-D quits.\n")
end

local function history_path()
  local path = os.getenv("LADLE_HISTORY")
  if path then return path ~= "" and path or false end
  local home = os.getenv("HOME")
  if home and home ~= "" then return home .. "/.ladle_history" end
  return false
end

local function wants_colour()
  local no_colour = os.getenv("NO_COLOR")
  if no_colour and no_colour ~= "" then return false end
  if os.getenv("TERM") == "dumb" then return false end
  return sys.isatty(1)
end

-- The password prompt for connecting at a terminal (nil elsewhere, or
-- outside the ladle executable).
function repl.password_prompt()
  if not sys.isatty(0) then return nil end
  local ok, core = pcall(require, "ladle.repl.core")
  return ok and core.read_password or nil
end

-- repl.run(opts) -> exit code. opts: db (and target, what it connects to),
-- table, dir, interactive (default: stdin is a terminal).
function repl.run(opts)
  local core = require "ladle.repl.core"
  opts = opts or {}
  local interactive = opts.interactive
  if interactive == nil then interactive = sys.isatty(0) end
  local s = session.new {
    interactive = interactive,
    colour = interactive and wants_colour(),
    db = opts.db, target = opts.target, table = opts.table, dir = opts.dir,
    history = interactive and history_path() or false,
  }
  s.screen_size = core.screen_size
  s.readline = core.readline
  s.ask_password = core.read_password
  helpers.install(s)
  if interactive then
    s.add_history = core.history_add
    if s.history then
      core.history_truncate(s.history, repl.history_size)
      local ok, message = core.history_load(s.history, repl.history_size)
      if not ok then io.stderr:write("ladle: history not read: ", message, "\n") end
    end
    core.set_completer(function(line, start, stop)
      return complete.complete(s.env, line, start, stop, s)
    end, complete.word_breaks)
    banner(s)
  end
  local code = core.loop(function() return s:step() end, function(err) return s:report(err) end)
  if interactive then
    core.set_completer(nil)
    if s.history then core.history_truncate(s.history, repl.history_size) end
    core.history_clear()
  end
  io.stdout:flush()
  return code
end

return repl
