-- ladle.repl: the Lua half of `ladle repl`.
--
-- The pieces, each a module of its own:
--   ladle.repl.session   reading, compiling, running and showing chunks
--   ladle.repl.helpers   the globals chunks see (sql, describe, info, ...)
--   ladle.repl.complete  Tab completion
--   ladle.repl.describe  psql's \d, and tables()
--   ladle.repl.query     SQL errors and record lists
--   ladle.repl.format    grids, Lua values and SQL errors as text
--
-- The C half (ladle.repl.core, in the executable only) owns readline, the
-- history file and Ctrl-C; it is loaded only by repl.run, so that the rest
-- of this module can be used (and tested) from plain Lua.

local sys = require "ladle.sys"
local complete = require "ladle.repl.complete"
local describe = require "ladle.repl.describe"
local helpers = require "ladle.repl.helpers"
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
repl.tables = describe.tables
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

-- repl.run(opts) -> exit code. opts: db, table, dir, interactive (default:
-- stdin is a terminal).
function repl.run(opts)
  local core = require "ladle.repl.core"
  opts = opts or {}
  local interactive = opts.interactive
  if interactive == nil then interactive = sys.isatty(0) end
  local s = session.new {
    interactive = interactive,
    colour = interactive and wants_colour(),
    db = opts.db, table = opts.table, dir = opts.dir,
    history = interactive and history_path() or false,
  }
  s.screen_size = core.screen_size
  s.readline = core.readline
  helpers.install(s)
  if interactive then
    s.add_history = core.history_add
    if s.history then
      core.history_truncate(s.history, repl.history_size)
      local ok, message = core.history_load(s.history, repl.history_size)
      if not ok then io.stderr:write("ladle: history not read: ", message, "\n") end
    end
    core.set_completer(function(line, start, stop)
      return repl.complete(s.env, line, start, stop)
    end)
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
