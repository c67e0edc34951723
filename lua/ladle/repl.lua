-- ladle.repl: the Lua half of `ladle repl`.
--
-- A session reads chunks (readline at a terminal, plain lines otherwise),
-- compiles them the way lua.c 5.4 does (`return <line>` first, so an
-- expression prints without `return`; an unfinished chunk waits for more
-- lines), runs them, and shows what they return: query results as psql-like
-- grids, other values pretty-printed. Errors are one line (SQL errors with
-- their position marked) and the prompt comes back; piped input stops at the
-- first error instead.
--
-- The C half (ladle.repl.core, in the executable only) owns readline, the
-- history file and Ctrl-C; it is loaded only by repl.run, so that the rest
-- of this module can be used (and tested) from plain Lua.

local ladle = require "ladle"
local errors = require "ladle.errors"
local sys = require "ladle.sys"
local format = require "ladle.repl.format"

local repl = {}

repl.history_size = 1000

-- SQL errors -----------------------------------------------------------------

-- What sql() raises: the fields of a ladle.pg error plus the query and the
-- place in the chunk (`where`), so that the position can be shown.
local SqlError = {}
SqlError.__index = SqlError
SqlError.__name = "ladle.repl.sql_error"
SqlError.__tostring = function(e) return format.sql_error(e, { one_line = true }) end

function repl.sql_error(message, err, query, where)
  local e = setmetatable({}, SqlError)
  for k, v in pairs(err or {}) do e[k] = v end
  e.message = e.message or message
  e.query = query
  e.where = where
  return e
end

function repl.is_sql_error(v)
  return getmetatable(v) == SqlError
end

-- Records: lists of tables printed as grids ------------------------------------

-- records(rows, fields, title): rows (tables keyed by field) shaped like a
-- query result, so that the REPL prints them as a grid under title.
local function records(rows, fields, title)
  rows.fields = fields
  rows.title = title
  return rows
end
repl.records = records

-- Compiling ------------------------------------------------------------------

local EOF_MARK = "<eof>"

local function is_incomplete(message)
  return message ~= nil and message:sub(-#EOF_MARK) == EOF_MARK
end

-- compile(code, env, first_line) -> fn | nil, message, incomplete
-- `=expr` and a chunk that makes sense after `return` are expressions;
-- first_line numbers the chunk's lines as lines of the input.
function repl.compile(code, env, first_line)
  local lead = string.rep("\n", (first_line or 1) - 1)
  if code:sub(1, 1) == "=" then code = "return " .. code:sub(2) end
  local fn, expr_err = load(lead .. "return " .. code, "=stdin", "t", env)
  if fn then return fn end
  local err
  fn, err = load(lead .. code, "=stdin", "t", env)
  if fn then return fn end
  return nil, err, is_incomplete(err) or is_incomplete(expr_err)
end

-- Completion ---------------------------------------------------------------------

local keywords = {}
for word in ([[and break do else elseif end false for function goto if in
  local nil not or repeat return then true until while]]):gmatch("%a+") do
  keywords[#keywords + 1] = word
end

-- The string literal the text ends inside, if any: its opening delimiter
-- and where it starts.
local function open_string(s)
  local i, n = 1, #s
  while i <= n do
    local c = s:sub(i, i)
    if c == '"' or c == "'" then
      local j = i + 1
      while j <= n do
        local d = s:sub(j, j)
        if d == "\\" then j = j + 2
        elseif d == c then break
        else j = j + 1 end
      end
      if j > n then return c, i end
      i = j + 1
    elseif c == "-" and s:sub(i + 1, i + 1) == "-" then
      local eq = s:match("^%-%-%[(=*)%[", i)
      if eq then
        local close = s:find("]" .. eq .. "]", i, true)
        if not close then return nil end
        i = close + #eq + 2
      else
        local nl = s:find("\n", i, true)
        if not nl then return nil end
        i = nl + 1
      end
    elseif c == "[" and s:match("^%[=*%[", i) then
      local eq = s:match("^%[(=*)%[", i)
      local close = s:find("]" .. eq .. "]", i, true)
      if not close then return "[" .. eq .. "[", i end
      i = close + #eq + 2
    else
      i = i + 1
    end
  end
end
repl.open_string = open_string

local function safe_index(v, key)
  local ok, value = pcall(function() return v[key] end)
  if ok then return value end
end

-- Names a value offers after `.` (any field) or `:` (methods).
local function field_names(v, methods_only)
  local names, seen = {}, {}
  local function add_table(t, depth)
    if type(t) ~= "table" or seen[t] or depth > 4 then return end
    seen[t] = true
    for k, value in pairs(t) do
      if format.is_identifier(k) and (not methods_only or type(value) == "function") then
        names[k] = true
      end
    end
    local mt = getmetatable(t)
    if type(mt) == "table" and type(rawget(mt, "__index")) == "table" then
      add_table(rawget(mt, "__index"), depth + 1)
    end
  end
  if type(v) == "table" then
    add_table(v, 1)
  elseif type(v) == "string" then
    add_table(string, 1)
  else
    local mt = getmetatable(v)
    if type(mt) == "table" and type(rawget(mt, "__index")) == "table" then
      add_table(rawget(mt, "__index"), 1)
    end
  end
  return names
end

local function matching(names, prefix)
  local list = {}
  for name in pairs(names) do
    if name:sub(1, #prefix) == prefix then list[#list + 1] = name end
  end
  table.sort(list)
  return list
end

-- Relations for describe "...": visible ones by name, schema names (with
-- their dot), and after a dot the relations of that schema. The server
-- filters by prefix, so that a large catalog stays quick to complete.
function repl.relation_names(db, typed)
  if db == nil or db:is_closed() then return {} end
  local schema, prefix = typed:match("^([^.]*)%.(.*)$")
  local rows = db:query([[
    select c.relname as name, n.nspname as schema,
           pg_catalog.pg_table_is_visible(c.oid) as visible
      from pg_catalog.pg_class c
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p', 'v', 'm', 'f')
       and n.nspname <> 'information_schema'
       and (n.nspname !~ '^pg_' or $1 like 'pg%')
       and case when $2::text is null
                then left(c.relname, length($1)) = $1 or left(n.nspname, length($1)) = $1
                else n.nspname = $2 and left(c.relname, length($3)) = $3 end
     limit 2000]], typed, schema, prefix or "")
  if not rows then return {} end
  local names = {}
  for _, row in ipairs(rows) do
    if schema then
      names[row.schema .. "." .. row.name] = true
    else
      if row.visible then names[row.name] = true end
      names[row.schema .. "."] = true
    end
  end
  return matching(names, typed)
end

-- Returns (candidates, append): words that may replace the word
-- line[start+1 .. stop], and what to add after a single match; nil to let
-- readline complete file names.
function repl.complete(env, line, start, stop)
  local before = line:sub(1, start)
  local word = line:sub(start + 1, stop)
  local quote, at = open_string(before)
  if quote then
    local callee = before:sub(1, at - 1)
    local content = before:sub(at + #quote)
    local in_sql = callee:match("sql%s*%(?%s*$")
    if in_sql then content = content:match("[%w_%.]*$") end  -- the name being typed
    if in_sql or callee:match("describe%s*%(?%s*$") then
      local db = rawget(env, "db")
      if type(db) ~= "userdata" then return {} end
      local typed = content .. word
      local ok, names = pcall(repl.relation_names, db, typed)
      if not ok then return {} end
      local list = {}
      for i, name in ipairs(names) do list[i] = name:sub(#content + 1) end
      local closing = ""
      if #list == 1 and not names[1]:match("%.$") and #quote == 1 then closing = quote end
      return list, closing
    end
    return nil
  end
  if word == "" and before:match("^%s*$") then return { "  " }, "" end
  local chain = before:match("([%a_][%w_%.:]*[%.:])$")
  if chain then
    local sep = chain:sub(-1)
    local path = chain:sub(1, -2)
    if path:find(":", 1, true) or path:find("..", 1, true) then return {} end
    local value = env
    for name in path:gmatch("[^%.]+") do
      value = safe_index(value, name)
      if value == nil then return {} end
    end
    return matching(field_names(value, sep == ":"), word), ""
  end
  local names = field_names(env, false)
  for _, k in ipairs(keywords) do names[k] = true end
  return matching(names, word), ""
end

-- Describe -------------------------------------------------------------------

local relation_kinds = {
  r = "Table", p = "Partitioned table", v = "View", m = "Materialized view",
  f = "Foreign table", i = "Index", I = "Partitioned index", S = "Sequence",
  c = "Composite type", t = "TOAST table",
}

local Description = {}
Description.__index = Description
Description.__name = "ladle.repl.description"

local function plain(v) return v == nil and "" or v end

function Description:render(opts)
  opts = opts or {}
  local out = {}
  local grid_opts = { colour = opts.colour, footer = false, null = "" }
  out[#out + 1] = format.colour(opts, "1",
    string.format('%s "%s.%s"', relation_kinds[self.kind] or "Relation", self.schema, self.name))
  local rows = {}
  for i, c in ipairs(self.columns) do
    rows[i] = { Column = c.name, Type = c.type, Collation = plain(c.collation),
      Nullable = c.not_null and "not null" or "", Default = plain(c.default) }
  end
  if #rows > 0 then
    out[#out + 1] = (format.grid(rows, { "Column", "Type", "Collation", "Nullable", "Default" }, grid_opts)
      :gsub("\n$", ""))
  end
  local function section(title, lines)
    if #lines == 0 then return end
    out[#out + 1] = title .. ":"
    for _, line in ipairs(lines) do out[#out + 1] = "    " .. line end
  end
  if self.partition_key then out[#out + 1] = "Partition key: " .. self.partition_key end
  if self.partition_of then out[#out + 1] = "Partition of: " .. self.partition_of end
  local lines = {}
  for _, ix in ipairs(self.indexes) do
    local what = ix.primary and "PRIMARY KEY, " or ix.constraint and "UNIQUE CONSTRAINT, "
      or ix.unique and "UNIQUE, " or ""
    lines[#lines + 1] = string.format('"%s" %s%s%s', ix.name, what, ix.method_and_columns,
      ix.valid and "" or " INVALID")
  end
  section("Indexes", lines)
  local checks, fkeys = {}, {}
  for _, c in ipairs(self.constraints) do
    local line = string.format('"%s" %s', c.name, c.definition)
    if c.type == "c" then checks[#checks + 1] = line
    elseif c.type == "f" then fkeys[#fkeys + 1] = line end
  end
  section("Check constraints", checks)
  section("Foreign-key constraints", fkeys)
  lines = {}
  for _, r in ipairs(self.referenced_by) do
    lines[#lines + 1] = string.format('TABLE "%s" CONSTRAINT "%s" %s', r.table, r.name, r.definition)
  end
  section("Referenced by", lines)
  lines = {}
  for _, t in ipairs(self.triggers) do
    lines[#lines + 1] = t.definition .. (t.enabled and "" or " (disabled)")
  end
  section("Triggers", lines)
  if self.view_definition then
    out[#out + 1] = "View definition:"
    out[#out + 1] = self.view_definition
  end
  if self.comment then out[#out + 1] = "Comment: " .. self.comment end
  return table.concat(out, "\n")
end

Description.__tostring = function(d) return d:render() end
Description.__repl = function(d, opts) return d:render(opts) end

local function must(db, sql, ...)
  local rows, message, err = db:query(sql, ...)
  if not rows then error(repl.sql_error(message, err, sql), 0) end
  return rows
end

-- describe(db, name) -> description | nil, message
-- Catalog queries as pg_dump writes them: pg_catalog-qualified, one per
-- object kind, columns gated on the server version.
function repl.describe(db, name)
  local version = db:server_version()
  -- an exact name first, so that "Mixed Case" needs no quoting
  local rows, message, err = db:query([[
    select coalesce(
             (select c.oid from pg_catalog.pg_class c
               where c.relname = $1 and pg_catalog.pg_table_is_visible(c.oid) limit 1),
             pg_catalog.to_regclass($1))::oid as oid]], name)
  if not rows and err.sqlstate ~= "42602" then return nil, message end  -- 42602: not a name
  if not rows or rows[1].oid == nil then
    return nil, string.format('no relation named "%s"', name)
  end
  local oid = rows[1].oid
  local rel = must(db, [[
    select c.relname, n.nspname, c.relkind::text as relkind,
           pg_catalog.obj_description(c.oid, 'pg_class') as comment
      from pg_catalog.pg_class c
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where c.oid = $1]], oid)[1]
  local d = setmetatable({
    name = rel.relname, schema = rel.nspname, kind = rel.relkind, comment = rel.comment,
    columns = {}, indexes = {}, constraints = {}, referenced_by = {}, triggers = {},
  }, Description)

  local identity = version >= 100000 and "a.attidentity::text" or "''"
  local generated = version >= 120000 and "a.attgenerated::text" or "''"
  for _, c in ipairs(must(db, string.format([[
    select a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) as type,
           case when a.attcollation <> t.typcollation then co.collname end as collation,
           a.attnotnull, pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true) as default_expr,
           %s as identity, %s as generated
      from pg_catalog.pg_attribute a
      join pg_catalog.pg_type t on t.oid = a.atttypid
      left join pg_catalog.pg_attrdef ad on ad.adrelid = a.attrelid and ad.adnum = a.attnum
      left join pg_catalog.pg_collation co on co.oid = a.attcollation
     where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped
     order by a.attnum]], identity, generated), oid)) do
    local default = c.default_expr
    if c.identity == "a" then default = "generated always as identity"
    elseif c.identity == "d" then default = "generated by default as identity"
    elseif c.generated == "s" then default = "generated always as (" .. default .. ") stored" end
    d.columns[#d.columns + 1] = { name = c.attname, type = c.type, collation = c.collation,
      not_null = c.attnotnull, default = default }
  end

  for _, ix in ipairs(must(db, [[
    select i.relname, x.indisprimary, x.indisunique, x.indisvalid,
           pg_catalog.pg_get_indexdef(x.indexrelid, 0, true) as definition,
           (select con.conname from pg_catalog.pg_constraint con
             where con.conindid = x.indexrelid and con.conrelid = x.indrelid
               and con.contype in ('p', 'u', 'x') limit 1) as constraint_name
      from pg_catalog.pg_index x
      join pg_catalog.pg_class i on i.oid = x.indexrelid
     where x.indrelid = $1
     order by x.indisprimary desc, i.relname]], oid)) do
    d.indexes[#d.indexes + 1] = {
      name = ix.relname, primary = ix.indisprimary, unique = ix.indisunique, valid = ix.indisvalid,
      constraint = (not ix.indisprimary and ix.indisunique and ix.constraint_name) or nil,
      definition = ix.definition,
      method_and_columns = ix.definition:match(" USING (.*)$") or ix.definition,
    }
  end

  for _, c in ipairs(must(db, [[
    select c.conname, c.contype::text as contype, pg_catalog.pg_get_constraintdef(c.oid, true) as definition
      from pg_catalog.pg_constraint c
     where c.conrelid = $1 and c.contype in ('c', 'f')
     order by c.contype, c.conname]], oid)) do
    d.constraints[#d.constraints + 1] = { name = c.conname, type = c.contype, definition = c.definition }
  end

  for _, r in ipairs(must(db, [[
    select c.conname, c.conrelid::pg_catalog.regclass::text as tbl,
           pg_catalog.pg_get_constraintdef(c.oid, true) as definition
      from pg_catalog.pg_constraint c
     where c.confrelid = $1 and c.contype = 'f'
     order by 2, 1]], oid)) do
    d.referenced_by[#d.referenced_by + 1] = { name = r.conname, table = r.tbl, definition = r.definition }
  end

  for _, t in ipairs(must(db, [[
    select t.tgname, pg_catalog.pg_get_triggerdef(t.oid, true) as definition, t.tgenabled::text as enabled
      from pg_catalog.pg_trigger t
     where t.tgrelid = $1 and not t.tgisinternal
     order by t.tgname]], oid)) do
    d.triggers[#d.triggers + 1] = { name = t.tgname, enabled = t.enabled ~= "D",
      definition = t.definition:gsub("^CREATE ", ""):gsub("^CONSTRAINT ", ""):gsub("^TRIGGER ", "") }
  end

  if d.kind == "v" or d.kind == "m" then
    d.view_definition = must(db, "select pg_catalog.pg_get_viewdef($1::oid, true) as def", oid)[1].def
  end
  if version >= 100000 then
    local p = must(db, [[
      select case when c.relkind = 'p' then pg_catalog.pg_get_partkeydef(c.oid) end as key,
             (select i.inhparent::pg_catalog.regclass::text || ' ' || pg_catalog.pg_get_expr(c.relpartbound, c.oid)
                from pg_catalog.pg_inherits i where i.inhrelid = c.oid and c.relispartition) as parent
        from pg_catalog.pg_class c where c.oid = $1]], oid)[1]
    d.partition_key, d.partition_of = p.key, p.parent
  end
  return d
end

-- tables(db, pattern) -> rows: schema, name, kind, estimated rows, size.
-- pattern as psql's \dt takes it: `*` and `?` wildcards, `schema.name`.
function repl.tables(db, pattern)
  local schema_re, name_re = nil, nil
  if pattern then
    local function regex(p)
      p = p:lower():gsub("[%^%$%(%)%%%.%[%]%+%-|{}\\]", "\\%0"):gsub("%*", ".*"):gsub("%?", ".")
      return "^(" .. p .. ")$"
    end
    local s, n = pattern:match("^([^.]*)%.(.*)$")
    if s then schema_re, name_re = regex(s), regex(n ~= "" and n or "*")
    else name_re = regex(pattern) end
  end
  return must(db, [[
    select n.nspname as schema, c.relname as name,
           case c.relkind when 'r' then 'table' when 'p' then 'partitioned table'
                          when 'v' then 'view' when 'm' then 'materialized view'
                          when 'f' then 'foreign table' end as kind,
           case when c.relkind in ('r', 'm') and c.reltuples >= 0 then c.reltuples::bigint end as rows,
           pg_catalog.pg_size_pretty(pg_catalog.pg_total_relation_size(c.oid)) as size
      from pg_catalog.pg_class c
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p', 'v', 'm', 'f')
       and n.nspname <> 'information_schema' and n.nspname !~ '^pg_'
       and ($1::text is null or n.nspname ~ $1)
       and ($2::text is null or c.relname ~ $2)
     order by 1, 2]], schema_re, name_re)
end

-- Sessions ---------------------------------------------------------------------

local Session = {}
Session.__index = Session

-- repl.new(opts) -> session. opts: interactive (prompts, history,
-- readline), colour, input/output/errors (files; default stdin, stdout,
-- stderr), env (the globals chunks see; default _G), db (a connection),
-- table and dir (for info/pending), history (a file path, or false).
function repl.new(opts)
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
    line_no = 0,
    last_traceback = nil,
  }, Session)
  s.settings = {
    max_rows = opts.interactive and 1000 or nil,
    pager = opts.interactive and true or false,
    null = "(null)",
  }
  s:attach(opts.db)
  return s
end

-- Makes conn the session's `db`; its notices print as psql prints them
-- (kept on the connection, they would pile up over a long session).
function Session:attach(conn)
  if conn then
    conn:on_notice(function(n)
      self.errors:write(n.severity or "NOTICE", ":  ", n.message or "", "\n")
    end)
  end
  self.env.db = conn
end

function Session:db()
  local db = rawget(self.env, "db")
  if type(db) == "userdata" and not db:is_closed() then return db end
end

function Session:need_db(helper)
  local db = self:db()
  if not db then
    error(helper .. ": not connected (start with -p SERVICE|CONNINFO, or call connect(target))", 0)
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
  return name .. (continued and ">> " or "> ")
end

-- Output ---------------------------------------------------------------------------

function Session:render(v, top)
  local cols = 80
  if self.interactive and self.screen_size then
    local rows, width = self.screen_size()
    if rows then cols = width end
  end
  if type(v) == "table" then
    local mt = getmetatable(v)
    if mt and mt.__repl then return (mt.__repl(v, { colour = self.colour, null = self.settings.null })) end
    if format.is_result(v) then
      return (format.grid(v, v.fields, { colour = self.colour, null = self.settings.null,
        max_rows = self.settings.max_rows, title = rawget(v, "title") }):gsub("\n$", ""))
    end
  end
  return format.value(v, { top = top, width = cols })
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
  elseif repl.is_sql_error(err) then
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
    if not repl.is_sql_error(err) then text = format.colour(self, "1;31", text) end
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
  if self.add_history then self.add_history(entry, self.history or nil) end
end

-- read_chunk() -> "chunk", fn | "eof" | "interrupted" | "syntax", message
function Session:read_chunk()
  local buffer, first_line, last_err
  while true do
    local line = self:read_line(buffer ~= nil)
    if line == nil then
      if buffer and not self.interactive then return "syntax", last_err end
      return "eof"
    end
    if line == false then return "interrupted" end
    if buffer == nil then
      if line:match("^%s*$") then goto next_line end
      buffer, first_line = line, self.line_no
    else
      buffer = buffer .. "\n" .. line
    end
    do
      local fn, err, incomplete = repl.compile(buffer, self.env,
        (not self.interactive) and first_line or 1)
      self.chunk_line = first_line
      if fn then
        self:remember(buffer)
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

-- One turn of the loop: read a chunk, run it, show its results. Returns nil
-- to carry on, or the exit code.
function Session:step()
  local what, value = self:read_chunk()
  if what == "eof" then return errors.codes.ok end
  if what == "interrupted" then return nil end
  if what == "syntax" then error(value, 0) end
  local session = self
  local results = table.pack(xpcall(value, function(e)
    local trace = debug.traceback(type(e) == "string" and e or format.value(e, { top = true }), 2)
    -- the frames below the chunk are the REPL's own
    session.last_traceback = trace:gsub("\n[^\n]*%[C%]: in function 'xpcall'.*$", "")
    return e
  end))
  if not results[1] then error(results[2], 0) end
  self:show(table.pack(table.unpack(results, 2, results.n)))
  return nil
end

-- Helpers ---------------------------------------------------------------------------

local help_text = [==[
  db                 the connection (-p SERVICE|CONNINFO, or connect())
  connect(target)    connect db to a service, conninfo or URI (none: PG*)
  sql[[select ...]]  run SQL on db; the result prints as a table
  tables([pattern])  tables and views, their kind, rows and size ("app.*")
  describe "name"    columns, indexes, constraints, triggers of a relation
  info()             every delta and its status (-t TABLE -d DIR)
  pending()          the deltas still to apply (-t TABLE -d DIR)
  snapshot()         a snapshot of db's schema (ladle.schema)
  diff(target)       the SQL that moves db's schema to target's (ladle.diff)
  traceback()        the traceback of the last error
  settings           how results are shown: max_rows, pager, null
  ladle              the API, as require "ladle" returns it
  help()             this list

An expression prints without `return`; an unfinished chunk continues on the
next line. Locals last one chunk: keep values in globals. Tab completes
globals, fields (db:que<Tab>) and table names (describe "<Tab>). Ctrl-C
cancels a running query or clears the line; Ctrl-D quits.]==]

function Session:install()
  local env, session = self.env, self
  env.ladle = env.ladle or ladle
  env.settings = self.settings

  function env.help()
    session:emit("Helpers:\n" .. help_text)
  end

  function env.connect(target)
    local conn, message = ladle.connect(target)
    if not conn then error("connect: " .. message, 0) end
    local old = rawget(env, "db")
    if type(old) == "userdata" and old ~= conn then old:close() end
    session:attach(conn)
    return conn
  end

  function env.sql(text, ...)
    local db = session:need_db("sql")
    if type(text) ~= "string" then error("sql: expected the SQL text as a string", 2) end
    local rows, message, err = db:query(text, ...)
    if not rows then
      local info = debug.getinfo(2, "Sl")
      local where = info and info.currentline and info.currentline > 0
        and (info.short_src .. ":" .. info.currentline) or nil
      error(repl.sql_error(message, err, text, where), 0)
    end
    return rows
  end

  function env.tables(pattern)
    return repl.tables(session:need_db("tables"), pattern)
  end

  function env.describe(name)
    local db = session:need_db("describe")
    if name == nil then return repl.tables(db) end
    if type(name) ~= "string" then error("describe: expected a relation name", 2) end
    local d, message = repl.describe(db, name)
    if not d then error("describe: " .. message, 0) end
    return d
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

-- Running ---------------------------------------------------------------------------

local function server_version_text(v)
  if v >= 100000 then return string.format("%d.%d", v // 10000, v % 10000) end
  return string.format("%d.%d.%d", v // 10000, v // 100 % 100, v % 100)
end

function Session:banner()
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
  local s = repl.new {
    interactive = interactive,
    colour = interactive and wants_colour(),
    db = opts.db, table = opts.table, dir = opts.dir,
    history = interactive and history_path() or false,
  }
  s.screen_size = core.screen_size
  s.readline = core.readline
  s:install()
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
    s:banner()
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

repl.Session = Session

return repl
