-- ladle.repl.session: one REPL session. It reads chunks (readline at a
-- terminal, plain lines otherwise), compiles them the way lua.c 5.4 does
-- (`return <line>` first, so an expression prints without `return`; an
-- unfinished chunk waits for more lines), runs them, and shows what they
-- return: query results as psql-like grids, other values pretty-printed.
-- Errors are one line (SQL errors with their position marked) and the
-- prompt comes back; piped input stops at the first error instead.

local errors = require "ladle.errors"
local sys = require "ladle.sys"
local commands = require "ladle.repl.commands"
local format = require "ladle.repl.format"
local query = require "ladle.repl.query"
local sql = require "ladle.repl.sql"

local session = {}

-- Compiling ------------------------------------------------------------------

local EOF_MARK = "<eof>"

local function is_incomplete(message)
  return message ~= nil and message:sub(-#EOF_MARK) == EOF_MARK
end

-- compile(code, env, first_line) -> fn | nil, message, incomplete
-- `=expr` and a chunk that makes sense after `return` are expressions;
-- first_line numbers the chunk's lines as lines of the input.
function session.compile(code, env, first_line)
  local lead = string.rep("\n", (first_line or 1) - 1)
  if code:sub(1, 1) == "=" then code = "return " .. code:sub(2) end
  local fn, expr_err = load(lead .. "return " .. code, "=stdin", "t", env)
  if fn then return fn end
  local err
  fn, err = load(lead .. code, "=stdin", "t", env)
  if fn then return fn end
  return nil, err, is_incomplete(err) or is_incomplete(expr_err)
end

local Session = {}
Session.__index = Session

-- session.new(opts) -> session. opts: interactive (prompts, history,
-- readline), colour, input/output/errors (files; default stdin, stdout,
-- stderr), env (the globals chunks see; default _G), db (a connection) and
-- target (what it was connected to), table and dir (for info/pending),
-- history (a file path, or false), language ("lua" or "sql": what input
-- that is not clearly SQL is).
function session.new(opts)
  opts = opts or {}
  local s = setmetatable({
    interactive = opts.interactive or false,
    colour = opts.colour or false,
    input = opts.input or io.stdin,
    output = opts.output or io.stdout,
    errors = opts.errors or io.stderr,
    env = opts.env or _G,
    table = opts.table,
    dir = opts.dir,
    history = opts.history,
    target = opts.target,
    language = opts.language or "lua",
    line_no = 0,
    last_traceback = nil,
  }, Session)
  s.settings = {
    max_rows = opts.interactive and 1000 or nil,
    pager = opts.interactive and true or false,
    null = "(null)",
    expanded = false,   -- \x: true, false or "auto"
    timing = false,     -- \timing
  }
  s:attach(opts.db)
  return s
end

-- Makes conn the session's `db`; its notices print as psql prints them
-- (kept on the connection, they would pile up over a long session).
function Session:attach(conn)
  if conn then
    conn:on_notice(function(n)
      self.output:flush()  -- after what was printed before it
      self.errors:write(n.severity or "NOTICE", ":  ", n.message or "", "\n")
    end)
  end
  self.env.db = conn
end

function Session:db()
  local db = rawget(self.env, "db")
  if type(db) == "userdata" and not db:is_closed() then return db end
end

-- Connects db to target (asking for a password at a terminal when the
-- server wants one), closing the connection it had.
function Session:connect(target)
  local conn, message = query.connect(target, self.interactive and self.ask_password)
  if not conn then error("connect: " .. message, 0) end
  local old = rawget(self.env, "db")
  if type(old) == "userdata" and old ~= conn then old:close() end
  self:attach(conn)
  self.target = target
  return conn
end

function Session:need_db(helper)
  local db = self:db()
  if not db then
    error(helper .. ": not connected (start with -p SERVICE|CONNINFO, or call connect(target), or \\c TARGET)", 0)
  end
  return db
end

function Session:prompt(continued)
  local db = self:db()
  local name = "ladle"
  if db then
    name = db:info().dbname
    local status = db:transaction_status()
    if status == "intrans" then name = name .. "*"
    elseif status == "inerror" then name = name .. "!" end
  end
  if self.language == "sql" then return name .. (continued and "-> " or "=> ") end
  return name .. (continued and ">> " or "> ")
end

-- Output ---------------------------------------------------------------------------

function Session:columns()
  if self.interactive and self.screen_size then
    local rows, width = self.screen_size()
    if rows then return width end
  end
end

-- render(v, top, opts) -> text. Results print as grids with the settings
-- (expanded or not, NULL, max_rows) and what the rows bring (display);
-- opts.expanded overrides settings.expanded (\gx).
function Session:render(v, top, opts)
  local cols = self:columns()
  if type(v) == "table" then
    local mt = getmetatable(v)
    if mt and mt.__repl then return (mt.__repl(v, { colour = self.colour, null = self.settings.null })) end
    if format.is_result(v) then
      local o = { colour = self.colour, null = self.settings.null, max_rows = self.settings.max_rows,
        title = rawget(v, "title"), expanded = self.settings.expanded, width = cols }
      for k, value in pairs(rawget(v, "display") or {}) do o[k] = value end
      if opts and opts.expanded ~= nil then o.expanded = opts.expanded end
      return (format.grid(v, v.fields, o):gsub("\n$", ""))
    end
  end
  return format.value(v, { top = top, width = cols or 80 })
end

-- Output taller than the terminal goes through the pager ($PAGER, split on
-- spaces, else less when installed), or is cut to the screen with a note.
function Session:emit(text)
  if text == "" then return end
  if not text:find("\n$") then text = text .. "\n" end
  local rows, cols
  if self.interactive and sys.isatty(1) then
    rows, cols = self.screen_size()
  end
  if not rows then
    self.output:write(text)
    return
  end
  local height, lines = 0, {}
  for line in text:gmatch("([^\n]*)\n") do
    lines[#lines + 1] = line
    local w = format.width((line:gsub("\27%[[%d;]*m", "")))
    height = height + math.max(1, (w + cols - 1) // cols)  -- the terminal wraps long lines
  end
  if height < rows then
    self.output:write(text)
    return
  end
  local pager = self.settings.pager
  if pager == true then
    pager = os.getenv("PAGER")
    if pager == nil and sys.which("less") then pager = "less" end
  end
  if type(pager) == "string" and pager:match("%S") then
    local argv = {}
    for word in pager:gmatch("%S+") do argv[#argv + 1] = word end
    local path = os.tmpname()
    local f = io.open(path, "wb")
    if f then
      f:write(text)
      f:close()
      self.output:flush()
      local status = sys.spawn(argv, { stdin = { path = path },
        env = { LESS = os.getenv("LESS") or "FRSX" } })
      os.remove(path)
      if status then return end
    end
  end
  local keep = math.max(1, math.min(#lines, rows - 2))
  self.output:write(table.concat(lines, "\n", 1, keep), "\n",
    string.format("... (%d more lines; set PAGER to page long results)\n", #lines - keep))
end

-- Shows what a chunk returned: one value per line, or tab-separated when
-- they are all short (as lua.c prints them).
function Session:show(results)
  if results.n == 0 then return end
  local pieces, multiline = {}, false
  for i = 1, results.n do
    pieces[i] = self:render(results[i], true)
    if pieces[i]:find("\n", 1, true) then multiline = true end
  end
  self:emit(table.concat(pieces, multiline and "\n" or "\t"))
end

-- report(err) -> nil to carry on, or the exit code (input not at a terminal).
function Session:report(err)
  self.output:flush()
  local text
  local code = errors.codes.runtime
  if errors.is_interrupt(err) then
    text = "interrupted"
    code = errors.codes.interrupted
  elseif query.is_sql_error(err) then
    if not err.where and not self.interactive and self.chunk_line then
      err.where = "stdin:" .. self.chunk_line  -- sql() was a tail call: no line of its own
    end
    text = format.sql_error(err, { one_line = not self.interactive, colour = self.colour })
  elseif errors.is_failure(err) then
    text = err.message
    code = err.exit
  elseif type(err) == "string" or type(err) == "number" then
    text = tostring(err)
  elseif getmetatable(err) and getmetatable(err).__tostring then
    text = tostring(err)
  else
    text = string.format("(error object is a %s value)", type(err))
  end
  if self.interactive then
    if not query.is_sql_error(err) then text = format.colour(self, "1;31", text) end
    self.errors:write(text, "\n")
    return nil
  end
  self.errors:write("ladle: ", (text:gsub("%s*\n%s*", " ")), "\n")
  return code
end

-- Input ----------------------------------------------------------------------------

function Session:read_line(continued)
  if self.interactive then
    return self.readline(self:prompt(continued))
  end
  local line = self.input:read("L")
  if line == nil then return nil end
  self.line_no = self.line_no + 1
  return (line:gsub("\r?\n$", ""))
end

-- A chunk that starts with a space stays out of the history (as with
-- HISTCONTROL=ignorespace), for lines with passwords in them.
function Session:remember(entry)
  if not self.interactive or entry:match("^%s") then return end
  -- nor a chunk that spells out a password (a conninfo's or a URI's)
  if entry:lower():match("password%s*=") or entry:match("://[^/@%s]*:[^/@%s]*@") then return end
  if self.add_history then self.add_history(entry, self.history or nil) end
end

-- A backslash command met inside an unfinished SQL statement: \g and \gx
-- send it, \r drops it, any other runs at once and the statement goes on
-- (as in psql). Returns what read_chunk returns, or nil and the buffer to
-- carry on with.
function Session:statement_command(buffer, scan, first_line)
  local name = scan.meta:match("^(%S*)")
  local before = buffer:sub(1, scan.meta_at - 1)
  if name == "g" or name == "gx" then
    self:remember(buffer)
    return { "sql", before, first_line, { expanded = name == "gx" or nil } }
  end
  if name == "r" then
    self.output:write("Query buffer reset (cleared).\n")
    return nil, nil
  end
  local code = commands.run(self, "\\" .. scan.meta)
  if code then return { "exit", code } end
  if before:match("^%s*$") then return nil, nil end
  return nil, before
end

-- read_chunk() -> "chunk", fn | "sql", text, first_line, opts | "command",
-- line | "exit", code | "eof" | "interrupted" | "syntax", message
function Session:read_chunk()
  local buffer, first_line, last_err, language
  while true do
    self.partial, self.partial_language = buffer, language  -- for completion
    local line = self:read_line(buffer ~= nil)
    if line == nil then
      -- piped: what is left of a statement runs, as psql runs it
      if buffer and language == "sql" and not self.interactive then return "sql", buffer, first_line end
      if buffer and not self.interactive then return "syntax", last_err end
      return "eof"
    end
    if line == false then return "interrupted" end
    if buffer == nil then
      if line:match("^%s*$") then goto next_line end
      if line:match("^%s*\\") then
        self:remember(line)
        self.chunk_line = self.line_no
        return "command", line
      end
      language = (self.language == "sql" or sql.is_sql(line, self.env)) and "sql" or "lua"
      buffer, first_line = line, self.line_no
    else
      buffer = buffer .. "\n" .. line
    end
    self.chunk_line = first_line
    if language == "sql" then
      local scan = sql.scan(buffer)
      if scan.meta then
        local result, rest = self:statement_command(buffer, scan, first_line)
        if result then return table.unpack(result) end
        buffer = rest
        if buffer == nil then goto next_line end
      elseif scan.complete then
        self:remember(buffer)
        self.last_input = buffer
        return "sql", buffer, first_line
      end
    else
      local fn, err, incomplete = session.compile(buffer, self.env,
        (not self.interactive) and first_line or 1)
      if fn then
        self:remember(buffer)
        self.last_input = buffer
        return "chunk", fn
      end
      last_err = err
      if not incomplete then
        self:remember(buffer)
        return "syntax", err
      end
    end
    ::next_line::
  end
end

-- Runs a Lua chunk and shows what it returns.
function Session:run_lua(fn)
  local s = self
  local results = table.pack(xpcall(fn, function(e)
    local trace = debug.traceback(type(e) == "string" and e or format.value(e, { top = true }), 2)
    -- the frames below the chunk are the REPL's own
    s.last_traceback = trace:gsub("\n[^\n]*%[C%]: in function 'xpcall'.*$", "")
    return e
  end))
  if not results[1] then error(results[2], 0) end
  self:show(table.pack(table.unpack(results, 2, results.n)))
end

-- Runs input as it would have been typed (\e, \i): SQL or Lua by the same
-- rule as at the prompt, or by `language` when given.
function Session:run_text(text, language)
  language = language or ((self.language == "sql" or sql.is_sql(text, self.env)) and "sql" or "lua")
  if language == "sql" then
    sql.run(self, text)
    return
  end
  local fn, err = session.compile(text, self.env)
  if not fn then error(err, 0) end
  self:run_lua(fn)
end

-- One turn of the loop: read a chunk, run it, show its results. Returns nil
-- to carry on, or the exit code.
function Session:step()
  local what, value, first_line, opts = self:read_chunk()
  if what == "eof" then return errors.codes.ok end
  if what == "exit" then return value end
  if what == "interrupted" then return nil end
  if what == "syntax" then error(value, 0) end
  if what == "command" then return commands.run(self, value) end
  if what == "sql" then
    sql.run(self, value, { first_line = first_line, expanded = opts and opts.expanded })
    return nil
  end
  local started = sys.now()
  self:run_lua(value)
  if self.settings.timing then self:emit(sql.timing_text(sys.now() - started)) end
  return nil
end

session.Session = Session

return session
