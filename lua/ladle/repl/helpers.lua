-- ladle.repl.helpers: the globals a REPL session gives its chunks (db,
-- connect, sql, tables, describe, info, pending, snapshot, diff, ...).

local ladle = require "ladle"
local describe = require "ladle.repl.describe"
local lists = require "ladle.repl.lists"
local query = require "ladle.repl.query"

local helpers = {}

local records = query.records

local help_text = [==[
  db                 the connection (-p SERVICE|CONNINFO, or connect())
  connect(target)    connect db to a service, conninfo or URI (none: PG*)
  sql[[select ...]]  run SQL on db; the result prints as a table
  tables([pattern])  tables and views, their kind, rows and size ("app.*")
  describe "name"    a relation as psql's \d shows it (describe("name", "+"): \d+)
  info()             every delta and its status (-t TABLE -d DIR)
  pending()          the deltas still to apply (-t TABLE -d DIR)
  snapshot()         a snapshot of db's schema (ladle.schema)
  diff(target)       the SQL that moves db's schema to target's (ladle.diff)
  traceback()        the traceback of the last error
  settings           how results are shown: max_rows, pager, null, expanded, timing
  ladle              the API, as require "ladle" returns it
  help()             this list

SQL works as at psql's prompt: input that starts with a SQL keyword
(select, insert, create, ...) runs as SQL up to a `;`, and backslash
commands (\d, \dt, \df, \x, \timing, \c, \i, \e, \q; \? lists them) do
what they do in psql. Anything else is Lua: an expression prints without
`return`; an unfinished chunk continues on the next line. Locals last one
chunk: keep values in globals. Tab completes globals, fields (db:que<Tab>),
SQL keywords, table and column names (from ord<Tab>, o.<Tab>). Ctrl-C
cancels a running query or clears the line; Ctrl-D or \q quits.]==]

function helpers.install(self)
  local env, session = self.env, self
  env.ladle = env.ladle or ladle
  env.settings = self.settings

  function env.help()
    session:emit("Helpers:\n" .. help_text)
  end

  function env.connect(target)
    return session:connect(target)
  end

  function env.sql(text, ...)
    local db = session:need_db("sql")
    if type(text) ~= "string" then error("sql: expected the SQL text as a string", 2) end
    local rows, message, err = db:query(text, ...)
    if not rows then
      local info = debug.getinfo(2, "Sl")
      local where = info and info.currentline and info.currentline > 0
        and (info.short_src .. ":" .. info.currentline) or nil
      error(query.sql_error(message, err, text, where), 0)
    end
    return rows
  end

  function env.tables(pattern)
    return lists.tables(session:need_db("tables"), pattern)
  end

  -- describe "name" is \d name, describe("name", "+") \d+ name; a name
  -- that is no relation but a function shows as \df+ does, one record.
  function env.describe(name, detail)
    local db = session:need_db("describe")
    if name == nil then return lists.tables(db) end
    if type(name) ~= "string" then error("describe: expected a relation name", 2) end
    local verbose = detail == "+" or (type(detail) == "table" and detail.verbose) or false
    local d, message = describe.describe(db, name, { verbose = verbose })
    if d then return d end
    local pattern = name:find('[".]') and name or ('"' .. name .. '"')
    local functions = lists.functions(db, pattern, { verbose = true })
    if #functions > 0 then
      functions.display = { null = "", numbers = false, expanded = true }
      return functions
    end
    error("describe: " .. message, 0)
  end

  local function plan(helper, opts)
    opts = opts or {}
    local dir = opts.dir or session.dir
    local tbl = opts.table or session.table
    if not dir then
      error(helper .. ": start ladle repl with -d DIR (and -t TABLE), or call "
        .. helper .. "{dir = ..., table = ...}", 0)
    end
    local p, message = ladle.plan { conn = session:need_db(helper), table = tbl, dir = dir, reporter = false }
    if not p then error(helper .. ": " .. tostring(message), 0) end
    return p
  end

  local function version_text(v)
    if v == nil then return "none" end
    return tostring(v)
  end

  function env.info(opts)
    local p = plan("info", opts)
    local rows = {}
    for i, d in ipairs(p.deltas or {}) do
      rows[i] = { version = version_text(d.version), phase = d.phase, file = d.file,
        status = d.status, installed_on = d.installed_on, reason = d.reason }
    end
    return records(rows, { "version", "phase", "file", "status", "installed_on", "reason" },
      "current version: " .. version_text(p.current_version))
  end

  function env.pending(opts)
    local p = plan("pending", opts)
    local rows = {}
    for i, d in ipairs(p:pending() or {}) do
      rows[i] = { version = version_text(d.version), phase = d.phase, file = d.file }
    end
    return records(rows, { "version", "phase", "file" },
      string.format("pending (current version: %s)", version_text(p.current_version)))
  end

  function env.snapshot()
    local snap, message = ladle.schema.snapshot(session:need_db("snapshot"))
    if not snap then error("snapshot: " .. tostring(message), 0) end
    return snap
  end

  -- diff(target): the SQL that turns db into target (a service, conninfo,
  -- connection or snapshot).
  function env.diff(target)
    local changes, message = ladle.diff(session:need_db("diff"), target)
    if not changes then error("diff: " .. tostring(message), 0) end
    local sql = changes:sql()
    if sql == nil or sql:match("^%s*$") then return "-- no differences" end
    return sql
  end

  function env.traceback()
    if session.last_traceback then session:emit(session.last_traceback) end
  end
end

return helpers
