-- ladle.repl.execute: SQL text run as psql runs it (what is typed at the
-- prompt, a file run with \i, what \e left): statement by statement, each
-- result printed as psql prints it, backslash lines where they stand.
--
--   execute.run(session, text, opts) -> nil | the exit code of a \q

local sys = require "ladle.sys"
local query = require "ladle.repl.query"
local sql = require "ladle.repl.sql"

local execute = {}

-- Commands whose tag psql prints after the rows they return (RETURNING).
local tagged = { INSERT = true, UPDATE = true, DELETE = true, MERGE = true }

-- run_one(session, statement, where, opts): one statement, its result
-- printed as psql prints it. A failure raises a SQL error.
local function run_one(session, statement, where, opts)
  local db = session:need_db("SQL")
  local started = sys.now()
  local rows, message, err = db:query(statement)
  local elapsed = sys.now() - started
  if not rows then
    local e = query.sql_error(message, err, statement, where)
    e.from_file = opts.file ~= nil  -- from \i: the place is shown at a terminal too
    error(e, 0)
  end
  if rows.copy then
    -- COPY ... TO STDOUT: the data as the server sent it, as psql shows it
    if rows.copy ~= "" then session:emit(rows.copy) end
  elseif #rows.fields > 0 then
    local shown = session:render(rows, true, opts)
    local tag = rows.command and rows.command:match("^(%u+)")
    if tag and tagged[tag] then shown = shown .. "\n" .. rows.command end
    session:emit(shown)
  elseif rows.command and rows.command ~= "" then
    session:emit(rows.command)
  end
  if session.settings.timing then session:emit(sql.timing_text(elapsed)) end
end

-- pg_dump's lines that only psql acts on: \restrict KEY and \unrestrict KEY
-- guard a dump against backslash commands hidden in its data.
local ignored = { restrict = true, unrestrict = true }

-- Counts lines as offsets grow, so that naming the line of each statement
-- of a long file does not read it from the top each time.
local function line_counter(text, first_line)
  local at, line = 1, first_line
  return function(offset)
    local _, newlines = text:sub(at, offset - 1):gsub("\n", "")
    at, line = offset, line + newlines
    return line
  end
end

-- execute.run(session, text, opts) runs the statements of text one by one (a
-- last one without `;` included), stopping at the first that fails. A
-- backslash line in text (a file run with \i, what \e left) runs where it
-- stands, as psql runs it: \g sends the statement typed before it (\gx
-- expanded), \r drops it, pg_dump's \restrict and \unrestrict are
-- ignored, and any other is opts.command(line, where) (without it, an
-- error); a statement the line cut goes on after it. Returns nil, or the
-- exit code a command returned (\q), which ends the run.
-- opts.file: the file text comes from (messages name FILE:LINE);
-- opts.first_line: the input line text starts on, for messages in piped
-- mode; opts.expanded overrides settings.expanded (\gx).
function execute.run(session, text, opts)
  opts = opts or {}
  local line_at = line_counter(text, opts.first_line or 1)
  local function where(offset)
    if opts.file then return opts.file .. ":" .. line_at(offset) end
    if opts.first_line and not session.interactive then return "stdin:" .. line_at(offset) end
  end
  local function run(statement, place, expanded)
    if statement:match("[^%s;]") then run_one(session, statement, place, { expanded = expanded, file = opts.file }) end
  end
  local init, depth = 1, 0
  local cut, cut_where  -- the statement a backslash line cut, and where it starts
  while true do
    local scan = sql.scan(text, init, depth)
    for i, s in ipairs(scan.statements) do
      if i == 1 and cut then
        run(cut .. "\n" .. s.text, cut_where, opts.expanded)
        cut = nil
      else
        run(s.text, where(s.offset), opts.expanded)
      end
    end
    local rest = scan.rest
    if rest:match("%S") then
      if cut then
        cut = cut .. "\n" .. rest
      else
        cut, cut_where = rest, where(scan.rest_offset)
      end
    end
    if not scan.meta then
      if cut then run(cut, cut_where, opts.expanded) end
      return
    end
    local name = scan.meta:match("^(%S*)")
    if name == "g" or name == "gx" then
      if cut then run(cut, cut_where, name == "gx" or opts.expanded) end
      cut = nil
    elseif name == "r" then
      cut = nil
    elseif not ignored[name] then
      local line = "\\" .. scan.meta
      if not opts.command then error("backslash commands cannot run here: " .. line, 0) end
      local code = opts.command(line, where(scan.meta_at))
      if code then return code end  -- \q
    end
    init = (text:find("\n", scan.meta_at, true) or #text) + 1
    depth = cut and scan.depth or 0
  end
end

return execute
