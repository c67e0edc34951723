-- ladle.delta: delta files, their names, their order.
--
--   delta.parse("02.14.01_01_pre_add_column.sql")
--     -> {version = "2.14.1", label = "02.14.01", serial = 1, phase = "pre",
--         description = "01_pre_add_column", kind = "sql", layout = "procrastinate"}
--   delta.scan("migrations") -> ordered deltas (with path, checksum, read())
--
-- The layouts (doc/migrations.md has the table):
--   procrastinate   VERSION_SERIAL[_pre|_post][_description].sql
--   pum             delta_X.Y.Z[_description].{pre.sql,sql,post.sql}
--   hook            pre-all.sql, post-all.sql (every upgrade, not recorded)
--   install         baseline-X.Y.Z.sql (only on an empty database)
--   folder          X.Y.Z/[SERIAL_][pre_|post_]description.sql
-- and the same with .lua for Lua deltas. pum's .py deltas are recognised
-- (kind "python") so that they are reported rather than silently skipped.

local checks = require "ladle.delta.checks"
local core = require "ladle.delta.core"
local version = require "ladle.version"

local delta = {}

-- pum's type codes: PRE = 1, POST = 2, PYTHON = 4, SQL = 8; 0 is a baseline.
delta.type_codes = {
  sql = { pre = 9, unmarked = 8, post = 10 },
  lua = { pre = 5, unmarked = 4, post = 6 },
  python = { pre = 5, unmarked = 4, post = 6 },
}
delta.BASELINE_TYPE = 0
delta.COLUMN_LIMITS = checks.COLUMN_LIMITS

local kinds = { sql = "sql", lua = "lua", py = "python" }

-- "pre" / "post" at the start of a description (case-insensitive).
local function phase_prefix(text)
  local lower = text:lower()
  for _, phase in ipairs { "pre", "post" } do
    if lower == phase or lower:sub(1, #phase + 1) == phase .. "_" then return phase end
  end
  return nil
end

local function split_extension(name)
  local base, ext = name:match("^(.+)%.([^.]+)$")
  if not base then return nil end
  return base, ext:lower()
end

local function result(fields)
  if fields.version then
    local parsed = version.parse(fields.version)
    if not parsed then return nil, "bad version '" .. fields.version .. "'" end
    fields.label = fields.version
    fields.version = parsed.text
  end
  return fields
end

local function parse_folder_file(folder, name)
  if not version.parse(folder) then
    return nil, string.format("folder '%s' is not a version", folder)
  end
  local base, ext = split_extension(name)
  local kind = base and kinds[ext]
  if not kind or kind == "python" then return nil, "not a .sql or .lua file" end
  if base:find(".", 1, true) then return nil, "no dots allowed in a file name inside a version folder" end
  local serial, rest = base:match("^(%d+)_(.*)$")
  if not serial then serial, rest = base:match("^(%d+)$"), "" end
  return result {
    version = folder, serial = serial and math.tointeger(tonumber(serial)) or nil,
    phase = phase_prefix(serial and rest or base), description = base, kind = kind,
    layout = "folder",
  }
end

-- procrastinate: VERSION_SERIAL[_pre|_post][_description].sql
local function parse_procrastinate(name)
  local v, serial, rest, ext = name:match("^(%d+%.%d[%d.]*)_(%d+)(.-)%.(%w+)$")
  if not v then
    if name:match("^%d+%.%d[%d.]*_%d+[^.]*$") then return nil, "deltas end .sql or .lua" end
    return nil, "matches no delta layout"
  end
  local kind = kinds[ext] or kinds[ext:lower()]
  if not kind or kind == "python" then return nil, "deltas end .sql or .lua" end
  if rest ~= "" and rest:byte(1) ~= 95 then return nil, "matches no delta layout" end  -- "_"
  return result {
    version = v, serial = math.tointeger(tonumber(serial)), phase = phase_prefix(rest:sub(2)),
    description = name:sub(#v + 2, -(#ext + 2)), kind = kind, layout = "procrastinate",
  }
end

-- pum 0.x: delta_X.Y.Z[_description].{pre.sql,sql,post.sql} (and .lua, .py)
local function parse_pum(name)
  local pum_version, pum_rest = name:match("^[Dd][Ee][Ll][Tt][Aa]_(%d+%.%d+%.%d+)(.*)$")
  if not pum_version then return nil, "matches no delta layout" end
  local description, ext = pum_rest:match("^_*([%w_]*)%.(.+)$")
  local phase, kind_ext
  if ext then
    ext = ext:lower()
    phase, kind_ext = ext:match("^(p[a-z]+)%.([a-z]+)$")
    if phase ~= "pre" and phase ~= "post" then phase, kind_ext = nil, ext end
  end
  local kind = kind_ext and kinds[kind_ext]
  if not kind then return nil, "pum delta names end .sql, .pre.sql or .post.sql" end
  local serial = description:match("^(%d+)")
  return result {
    version = pum_version, serial = serial and math.tointeger(tonumber(serial)) or nil,
    phase = phase, description = description, kind = kind, layout = "pum",
  }
end

-- delta.parse(name) -> fields | nil, reason
-- name is a file name, or "FOLDER/FILE" for a file in a per-version folder.
function delta.parse(name)
  assert(type(name) == "string", "delta.parse: name must be a string")
  if name:find("/", 1, true) then
    local folder, file = name:match("^([^/]+)/([^/]+)$")
    if folder then return parse_folder_file(folder, file) end
    return nil, "deltas live at most one folder deep"
  end
  local first = name:byte(1)
  if first and first >= 48 and first <= 57 then return parse_procrastinate(name) end
  local lower = name:lower()
  if lower:sub(1, 6) == "delta_" then return parse_pum(name) end

  local hook, hook_ext = lower:match("^(p[a-z]+)%-all%.([a-z]+)$")
  if (hook == "pre" or hook == "post") and kinds[hook_ext] then
    return { hook = hook .. "-all", kind = kinds[hook_ext], layout = "hook",
             description = hook .. "-all" }
  end

  local install, install_ext = lower:match("^baseline%-(%d[%d.]*)%.(%a+)$")
  if install and (install_ext == "sql" or install_ext == "lua") then
    return result { version = install, kind = kinds[install_ext], layout = "install",
                    description = name:match("^(.*)%.[^.]+$") }
  end
  return nil, "matches no delta layout"
end

-- Ordering ------------------------------------------------------------------

local phase_rank = { install = 0, pre = 1, unmarked = 2, post = 3 }

-- The rank of a delta inside its version: install script, pre, unmarked,
-- post (by the name's marker, whatever phase unmarked deltas run in).
function delta.rank(d)
  if d.layout == "install" then return phase_rank.install end
  local marked = d.phase_marked
  if marked == nil and not d.unmarked then marked = d.phase end
  return phase_rank[marked or "unmarked"]
end

-- A string that sorts like the deltas run: each version component with
-- its length in front (so "10" sorts after "9"), trailing zero components
-- dropped (1.2 = 1.2.0), then the rank, the serial (none last), the name.
function delta.sort_key(d)
  if d.sort_key then return d.sort_key end
  local parsed = version.parse(d.version or "0") or { "0" }
  local last = #parsed
  while last > 1 and parsed[last] == "0" do last = last - 1 end
  local parts = {}
  for i = 1, last do parts[i] = string.format("%03d%s", #parsed[i], parsed[i]) end
  local key = string.format("%s %d%020d %s", table.concat(parts), delta.rank(d), d.serial or math.maxinteger,
    d.file or "")
  d.sort_key = key
  return key
end

-- True when a runs before b: version, then install/pre/unmarked/post, then
-- serial (deltas without one after those with one), then name.
function delta.before(a, b)
  return delta.sort_key(a) < delta.sort_key(b)
end

-- Delta objects ----------------------------------------------------------------

local Delta = {}
Delta.__index = Delta
delta.Delta = Delta

function Delta:__tostring()
  return string.format("delta %s (%s)", self.path or self.file, self.status or self.layout)
end

-- The pum type code recorded for this delta.
function Delta:type_code()
  if self.layout == "install" then return delta.BASELINE_TYPE end
  local codes = delta.type_codes[self.kind]
  return codes[self.phase_marked or "unmarked"]
end

-- A UTF-8 byte order mark, which editors on Windows put first and psql skips.
delta.BOM = "\239\187\191"

-- delta:read() -> content | nil, message
-- Refuses a file that changed since it was scanned: what runs is what was
-- planned and what gets recorded. A byte order mark at the start reads as
-- blanks (so that lines and columns still match the file); the checksum
-- stays the file's.
function Delta:read()
  local content, checksum, details = core.read(self.path)
  if not content then return nil, checksum, details end
  if self.checksum and checksum ~= self.checksum then
    return nil, string.format("%s: the file changed while ladle was running (checksum %s, planned %s)",
      self.path, checksum, self.checksum)
  end
  if content:sub(1, 3) == delta.BOM then content = "   " .. content:sub(4) end
  return content
end

local function is_word(text, ...)
  for i = 1, select("#", ...) do
    if text == select(i, ...) then return true end
  end
  return false
end

-- What a statement does to the transaction: "begin", "commit" or "other"
-- (and "control" for any other transaction-control statement).
local function transaction_role(content, stmt)
  local w1, w2, w3 = content:match("^(%a+)%s*(%a*)%s*(%a*)", stmt.start)
  if not w1 then return "other" end
  w1, w2, w3 = w1:lower(), w2:lower(), w3:lower()
  local text = content:sub(stmt.start, stmt.stop):gsub(";%s*$", ""):lower()
  local plain = text:match("^%a+[%a%s]*$") ~= nil
  if w1 == "begin" or (w1 == "start" and w2 == "transaction") then
    if plain and (w2 == "" or is_word(w2, "work", "transaction")) and (w1 == "begin" or w3 == "") then
      return "begin"
    end
    return "control"
  end
  if w1 == "commit" or w1 == "end" then
    if plain and (w2 == "" or is_word(w2, "work", "transaction")) and w3 == "" then return "commit" end
    return "control"
  end
  if w1 == "rollback" and w2 ~= "to" then return "control" end
  if w1 == "abort" or (w1 == "prepare" and w2 == "transaction") then return "control" end
  return "other"
end

local function line_at(content, byte)
  local line = 1
  for _ in content:sub(1, byte - 1):gmatch("\n") do line = line + 1 end
  return line
end
delta.line_at = line_at

-- delta:statements(content[, opts]) -> statements | nil, message
-- The statements of a SQL delta ({start, stop, line, text}), with psql's
-- BEGIN ... COMMIT wrapper removed from a delta that runs in ladle's own
-- transaction. psql meta-commands and other transaction control in such a
-- delta are refused (bad input), naming the line.
-- opts.standard_conforming_strings: false when the session that will run
-- the delta has it off (backslashes then escape inside '...').
function Delta:statements(content, opts)
  -- Recent pg_dump releases bracket a dump with \restrict KEY and
  -- \unrestrict KEY, which only mean something to psql: blank them, keeping
  -- every byte where it was so that lines and positions still match.
  if content:find("\\restrict", 1, true) or content:find("\\unrestrict", 1, true) then
    content = content:gsub("[^\n]+", function(line)
      if line:match("^\\restrict%s") or line:match("^\\unrestrict%s") then return string.rep(" ", #line) end
    end)
  end
  local list, meta = core.split(content, opts and { standard_conforming_strings = opts.standard_conforming_strings })
  if meta then
    return nil, string.format("%s:%d: psql meta-commands (backslash commands) are not SQL; ladle cannot run them",
      self.path, meta.line)
  end
  if self.transaction ~= false and #list > 0 then
    if transaction_role(content, list[1]) == "begin" and #list > 1
        and transaction_role(content, list[#list]) == "commit" then
      table.remove(list, #list)
      table.remove(list, 1)
    end
    for _, stmt in ipairs(list) do
      local role = transaction_role(content, stmt)
      if role ~= "other" then
        return nil, string.format("%s:%d: transaction control (%s) inside a delta that runs in ladle's transaction; "
          .. "remove it, or start the file with '-- ladle: no-transaction'", self.path, stmt.line,
          content:match("^%a+", stmt.start):upper())
      end
    end
  end
  for _, stmt in ipairs(list) do stmt.text = content:sub(stmt.start, stmt.stop) end
  return list
end

-- Scanning -----------------------------------------------------------------------

delta.MARKER = "no-transaction"

-- The directive of a `-- ladle: ...` first line: directive or nil; false
-- plus the text for an unknown one.
local function first_line_directive(line)
  local directive = line:match("^%s*%-%-%s*ladle%s*:%s*(.-)%s*$")
  if not directive then return nil end
  directive = directive:lower()
  if directive == delta.MARKER then return directive end
  return false, directive
end

local function duplicate_error(a, b, what)
  return string.format("%s and %s are two deltas with the same %s", a.path, b.path, what)
end

-- delta.scan(dir [, opts]) -> list | nil, message
-- list: the versioned deltas in the order they run (array part), plus
--   list.install  install scripts (baseline-X.Y.Z.sql), oldest first
--   list.hooks    {["pre-all"] = {...}, ["post-all"] = {...}}
--   list.ignored  {{path =, reason =}} files that match no layout
--   list.folders  names of the per-version folders read
--   list.problems duplicates and unknown `-- ladle:` directives; scan fails
--                 with the first one unless opts.lenient (what lint uses)
-- opts.unmarked: the phase of deltas whose name has no pre/post marker
-- ("post", the default, or "pre"); d.phase is settled here, d.phase_marked
-- is the name's marker (nil when unmarked) and d.unmarked says which.
-- Each delta has the fields of delta.parse plus path (dir/name), file (the
-- base name), script (the name relative to dir), checksum (md5 hex of the
-- bytes), size, transaction (false with the no-transaction marker).
function delta.scan(dir, opts)
  assert(type(dir) == "string", "delta.scan: dir must be a string")
  opts = opts or {}
  local unmarked = opts.unmarked or "post"
  assert(unmarked == "pre" or unmarked == "post", "delta.scan: unmarked must be \"pre\" or \"post\"")
  local names, kinds_of, details = core.list(dir)
  if not names then return nil, kinds_of, details end
  local list = { install = {}, hooks = { ["pre-all"] = {}, ["post-all"] = {} }, ignored = {}, folders = {}, dir = dir,
                 problems = {} }
  local prefix = dir:sub(-1) == "/" and dir or dir .. "/"

  local function add(rel, file)
    local path = prefix .. rel
    local fields, why = delta.parse(rel)
    if not fields then
      list.ignored[#list.ignored + 1] = { path = path, script = rel, reason = why }
      return true
    end
    local checksum, size, first, nul_byte, nul_line = core.file(path)
    if not checksum then return nil, size, first end
    if nul_byte then list.problems[#list.problems + 1] = checks.zero_byte(path, nul_byte, nul_line) end
    if first:sub(1, 3) == delta.BOM then first = first:sub(4) end
    local directive, unknown = first_line_directive(first)
    if directive == false then
      list.problems[#list.problems + 1] = string.format("%s:1: unknown ladle directive '%s' (known: %s)", path,
        unknown, delta.MARKER)
    end
    local d = setmetatable(fields, Delta)
    d.path, d.file, d.script, d.checksum, d.size = path, file, rel, checksum, size
    local why_not = d.layout ~= "hook" and checks.unrecordable(d)
    if why_not then list.problems[#list.problems + 1] = path .. ": " .. why_not end
    d.transaction = directive ~= delta.MARKER
    -- the phase is settled here, once: the name's marker, else the
    -- configured phase of unmarked deltas
    d.phase_marked = d.phase
    d.unmarked = d.layout ~= "install" and d.layout ~= "hook" and d.phase == nil
    if d.layout == "install" then
      d.phase = "install"
    elseif d.unmarked then
      d.phase = unmarked
    end
    if d.layout == "hook" then
      local hooks = list.hooks[d.hook]
      hooks[#hooks + 1] = d
    elseif d.layout == "install" then
      list.install[#list.install + 1] = d
    else
      list[#list + 1] = d
    end
    return true
  end

  for _, name in ipairs(names) do
    local kind = kinds_of[name]
    if kind == "file" then
      local ok, err, details = add(name, name)
      if not ok then return nil, err, details end
    elseif kind == "dir" then
      if version.parse(name) then
        local inner, inner_kinds, why = core.list(prefix .. name)
        if not inner then return nil, inner_kinds, why end
        list.folders[#list.folders + 1] = name
        for _, file in ipairs(inner) do
          if inner_kinds[file] == "file" then
            local ok, err, details = add(name .. "/" .. file, file)
            if not ok then return nil, err, details end
          else
            list.ignored[#list.ignored + 1] = { path = prefix .. name .. "/" .. file, script = name .. "/" .. file,
              reason = "deltas live at most one folder deep" }
          end
        end
      else
        list.ignored[#list.ignored + 1] = { path = prefix .. name, script = name, reason = "folder name is not a version",
          folder = true }
      end
    end
  end

  table.sort(list, delta.before)
  table.sort(list.install, delta.before)

  -- Two files in the same slot are an error, not a coin toss.
  local problems = list.problems
  local slots, names_seen = {}, {}
  for _, d in ipairs(list) do
    local phase = d.phase_marked or "unmarked"
    local key = d.serial and (d.version .. "|" .. phase .. "|" .. d.serial)
    if key and slots[key] then
      problems[#problems + 1] = duplicate_error(slots[key], d,
        string.format("version %s, phase %s and serial %d", d.version, phase, d.serial))
    else
      if key then slots[key] = d end
      key = d.version .. "|" .. phase .. "|" .. d.description:lower()
      if names_seen[key] then
        problems[#problems + 1] = duplicate_error(names_seen[key], d,
          string.format("version %s, phase %s and name", d.version, phase))
      end
      names_seen[key] = d
    end
  end
  for _, problem in ipairs(checks.spelled_twice(list)) do problems[#problems + 1] = problem end
  local installs = {}
  for _, d in ipairs(list.install) do
    if installs[d.version] then
      problems[#problems + 1] = duplicate_error(installs[d.version], d, "install version " .. d.version)
    end
    installs[d.version] = d
  end
  for _, name in ipairs { "pre-all", "post-all" } do
    local hooks = list.hooks[name]
    table.sort(hooks, function(a, b) return a.file < b.file end)
    if #hooks > 1 then problems[#problems + 1] = duplicate_error(hooks[1], hooks[2], "hook name") end
  end
  if #problems > 0 and not opts.lenient then return nil, problems[1], { kind = "input" } end
  return list
end

return delta
