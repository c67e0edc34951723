-- ladle.delta: delta files, their names, their order.
--
--   delta.parse("02.14.01_01_pre_add_column.sql")
--     -> {version = "2.14.1", label = "02.14.01", serial = 1, phase = "pre",
--         description = "01_pre_add_column", kind = "sql", layout = "procrastinate"}
--   delta.scan("migrations") -> ordered deltas (with path, checksum, read())
--   delta.scan({"delta", "delta_custom"}) -> several folders, folder by folder
--
-- The layouts are ladle.delta.names'; this module orders, reads and scans.

local checks = require "ladle.delta.checks"
local core = require "ladle.delta.core"
local names = require "ladle.delta.names"
local version = require "ladle.version"

local delta = {}

-- pum's type codes: PRE = 1, POST = 2, PYTHON = 4, SQL = 8; 0 is a baseline.
-- Lua deltas take the Python codes. A Flyway repeatable adds 16, a code
-- pum never writes (it reads the type only to print it).
delta.type_codes = {
  sql = { pre = 9, unmarked = 8, post = 10, repeatable = 24 },
  lua = { pre = 5, unmarked = 4, post = 6, repeatable = 20 },
  python = { pre = 5, unmarked = 4, post = 6 },
}
delta.BASELINE_TYPE = 0
delta.REPEATABLE_FLAG = 16
delta.COLUMN_LIMITS = checks.COLUMN_LIMITS

-- delta.parse(name) -> fields | nil, reason (ladle.delta.names)
delta.parse = names.parse
delta.ACCEPTED_NAMES = names.ACCEPTED

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

-- A string that sorts like the deltas run: versioned deltas before
-- Flyway repeatables; then the folder (several -d folders run folder by
-- folder, as pum runs them); then each version component with its length
-- in front (so "10" sorts after "9"), trailing zero components dropped
-- (1.2 = 1.2.0), then the rank; then, for pum's names, the description
-- (pum's own order), for the others the serial (none last) and the name.
function delta.sort_key(d)
  if d.sort_key then return d.sort_key end
  local folder = string.format("%04d", d.folder_index or 0)
  local key
  if d.repeatable then
    key = string.format("1%s %s %s", folder, d.description or "", d.file or "")
  else
    local parsed = version.parse(d.version or "0") or { "0" }
    local last = #parsed
    while last > 1 and parsed[last] == "0" do last = last - 1 end
    local parts = {}
    for i = 1, last do parts[i] = string.format("%03d%s", #parsed[i], parsed[i]) end
    local tail
    if d.layout == "pum" then
      tail = string.format("%s %s", d.description or "", d.file or "")
    else
      tail = string.format("%020d %s", d.serial or math.maxinteger, d.file or "")
    end
    key = string.format("0%s %s %d%s", folder, table.concat(parts), delta.rank(d), tail)
  end
  d.sort_key = key
  return key
end

-- True when a runs before b (see delta.sort_key).
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
  if self.repeatable then return codes.repeatable end
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
      self.path, checksum, self.checksum), { kind = "input", path = self.path }
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

-- Words that start transaction control; any other statement is "other"
-- without looking further (a delta of a million INSERTs is not copied).
local CONTROL = { begin = true, start = true, commit = true, ["end"] = true, rollback = true, abort = true,
  prepare = true }

-- What the statement from byte start to stop does to the transaction:
-- "begin", "commit" or "other" (and "control" for any other
-- transaction-control statement).
local function transaction_role(content, start, stop)
  local w1, w2, w3 = content:match("^(%a+)%s*(%a*)%s*(%a*)", start)
  if not w1 or not CONTROL[w1:lower()] then return "other" end
  w1, w2, w3 = w1:lower(), w2:lower(), w3:lower()
  local text = content:sub(start, stop):gsub(";%s*$", ""):lower()
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

-- The line of content that byte is on.
local function line_at(content, byte)
  local line, at = 1, 1
  while true do
    local newline = content:find("\n", at, true)
    if not newline or newline >= byte then return line end
    line, at = line + 1, newline + 1
  end
end
delta.line_at = line_at

-- Statement k of what core.split returned: start, stop, line.
local function position(at, k)
  return string.unpack("<I4I4I4", at.positions, 12 * (k - 1) + 1)
end

-- The statements of a SQL delta, list-like (#list, ipairs, list[i]): the
-- positions core.split found, and list[i] made when asked,
-- {start =, stop =, line =, text =}, so that a big delta is held once.
local Statements = {}
Statements.__len = function(list) return list.last - list.first + 1 end
Statements.__index = function(list, i)
  if math.type(i) ~= "integer" or i < 1 or i > list.last - list.first + 1 then return nil end
  local start, stop, line = position(list.positions, list.first + i - 1)
  return { start = start, stop = stop, line = line, text = list.content:sub(start, stop) }
end

-- delta:statements(content[, opts]) -> statements | nil, message
-- The statements of a SQL delta (list-like, each {start, stop, line,
-- text}), with psql's BEGIN ... COMMIT wrapper removed from a delta that
-- runs in ladle's own transaction. psql meta-commands and other
-- transaction control in such a delta are refused (bad input), naming the
-- line. opts.standard_conforming_strings: false when the session that
-- will run the delta has it off (backslashes then escape inside '...').
function Delta:statements(content, opts)
  -- Recent pg_dump releases bracket a dump with \restrict KEY and
  -- \unrestrict KEY, which only mean something to psql: blank them, keeping
  -- every byte where it was so that lines and positions still match.
  if content:find("\\restrict", 1, true) or content:find("\\unrestrict", 1, true) then
    content = content:gsub("[^\n]+", function(line)
      if line:match("^\\restrict%s") or line:match("^\\unrestrict%s") then return string.rep(" ", #line) end
    end)
  end
  local at, meta = core.split(content, opts and { standard_conforming_strings = opts.standard_conforming_strings })
  if meta then
    return nil, string.format("%s:%d: psql meta-commands (backslash commands) are not SQL; ladle cannot run them",
      self.path, meta.line)
  end
  local first, last = 1, at.n
  local function role(k)
    local start, stop = position(at, k)
    return transaction_role(content, start, stop)
  end
  if self.transaction ~= false and at.n > 0 then
    if at.n > 1 and role(1) == "begin" and role(at.n) == "commit" then first, last = 2, at.n - 1 end
    for k = first, last do
      if role(k) ~= "other" then
        local start, _, line = position(at, k)
        return nil, string.format("%s:%d: transaction control (%s) inside a delta that runs in ladle's transaction; "
          .. "remove it, or start the file with '-- ladle: no-transaction'", self.path, line,
          content:match("^%a+", start):upper())
      end
    end
  end
  return setmetatable({ positions = at, first = first, last = last, content = content }, Statements)
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

-- Reads one folder: its deltas, install scripts, hooks and what it ignored
-- go into `found`; the problems into found.problems. A failure to read
-- returns nil, message, details.
local function scan_folder(found, dir, index, opts)
  local entries, kinds_of, details = core.list(dir)
  if not entries then return nil, kinds_of, details end
  local prefix = dir:sub(-1) == "/" and dir or dir .. "/"

  local function add(rel, file)
    local path = prefix .. rel
    local fields, why = delta.parse(rel)
    if not fields then
      found.ignored[#found.ignored + 1] = { path = path, script = rel, reason = why, dir = dir }
      return true
    end
    local checksum, size, first, nul_byte, nul_line = core.file(path)
    if not checksum then return nil, size, first end
    if nul_byte then found.problems[#found.problems + 1] = checks.zero_byte(path, nul_byte, nul_line) end
    if first:sub(1, 3) == delta.BOM then first = first:sub(4) end
    local directive, unknown = first_line_directive(first)
    if directive == false then
      found.problems[#found.problems + 1] = string.format("%s:1: unknown ladle directive '%s' (known: %s)", path,
        unknown, delta.MARKER)
    end
    local d = setmetatable(fields, Delta)
    d.path, d.file, d.script, d.checksum, d.size, d.dir = path, file, rel, checksum, size, dir
    d.folder_index = opts.several and d.layout ~= "install" and index or nil
    local why_not = d.layout ~= "hook" and checks.unrecordable(d)
    if why_not then found.problems[#found.problems + 1] = path .. ": " .. why_not end
    d.transaction = directive ~= delta.MARKER
    -- the phase is settled here, once: the name's marker, else the
    -- configured phase of unmarked deltas
    d.phase_marked = d.phase
    d.unmarked = d.layout ~= "install" and d.layout ~= "hook" and not d.repeatable and d.phase == nil
    if d.layout == "install" then
      d.phase = "install"
    elseif d.unmarked then
      d.phase = opts.unmarked
    end
    local bucket = d.layout == "hook" and found.hooks[d.hook] or d.layout == "install" and found.install or found
    bucket[#bucket + 1] = d
    return true
  end

  for _, name in ipairs(entries) do
    local kind = kinds_of[name]
    if kind == "file" then
      local ok, err, details = add(name, name)
      if not ok then return nil, err, details end
    elseif kind == "dir" then
      if version.parse(name) then
        local inner, inner_kinds, why = core.list(prefix .. name)
        if not inner then return nil, inner_kinds, why end
        found.folders[#found.folders + 1] = name
        for _, file in ipairs(inner) do
          if inner_kinds[file] == "file" then
            local ok, err, details = add(name .. "/" .. file, file)
            if not ok then return nil, err, details end
          else
            found.ignored[#found.ignored + 1] = { path = prefix .. name .. "/" .. file, script = name .. "/" .. file,
              reason = "deltas live at most one folder deep", dir = dir }
          end
        end
      else
        found.ignored[#found.ignored + 1] = { path = prefix .. name, script = name, reason = "folder name is not a version",
          folder = true, dir = dir }
      end
    end
  end
  return true
end

-- A version as it compares: trailing zero components dropped (1.2 = 1.2.0).
-- Versions are normalized, so those are exactly the trailing ".0"s.
local canonical_of = {}
local function canonical(v)
  local found = canonical_of[v]
  if not found then
    found = v
    while found:sub(-2) == ".0" do found = found:sub(1, -3) end
    canonical_of[v] = found
  end
  return found
end

-- Two files in the same slot of one folder are an error, not a coin toss.
-- pum's names may share a serial (pum orders them by description): a
-- warning. Equal versions written differently (1.02.0, 1.2.0) are an error
-- in pum's names, whose order pum takes from the text, and in Flyway's,
-- where a version names one delta (V1__a and V1__b, V1.2__a and V1_2__b).
local function check_slots(list, problems, warnings)
  local slots, names_seen, labels = {}, {}, {}
  for _, d in ipairs(list) do
    local phase = d.phase_marked or "unmarked"
    local v = not d.repeatable and canonical(d.version)
    if d.repeatable then
      local key = "R|" .. d.description:lower()
      if names_seen[key] then problems[#problems + 1] = duplicate_error(names_seen[key], d, "repeatable name") end
      names_seen[key] = d
    else
      local key = d.serial and (v .. "|" .. phase .. "|" .. d.serial)
      local other = key and slots[key]
      if d.layout == "pum" or d.layout == "flyway" then
        local seen = labels[d.layout .. "|" .. v]
        if seen and seen.label ~= d.label then
          problems[#problems + 1] = string.format("%s and %s have versions %s and %s, equal when compared numerically; "
            .. "%s", seen.path, d.path, seen.label, d.label,
            d.layout == "flyway" and "a Flyway version names one delta" or "write them the same way")
        elseif seen and d.layout == "flyway" then
          problems[#problems + 1] = duplicate_error(seen, d, "Flyway version " .. d.label)
        end
        labels[d.layout .. "|" .. v] = seen or d
      end
      if other and other.layout == "pum" and d.layout == "pum" then
        warnings[#warnings + 1] = string.format("%s and %s share version %s, phase %s and serial %d; they run in pum's "
          .. "order, by description", other.path, d.path, d.version, phase, d.serial)
        other = nil
      end
      if other then
        problems[#problems + 1] = duplicate_error(other, d,
          string.format("version %s, phase %s and serial %d", d.version, phase, d.serial))
      else
        if key and not slots[key] then slots[key] = d end
        key = v .. "|" .. phase .. "|" .. d.description:lower()
        if names_seen[key] then
          problems[#problems + 1] = duplicate_error(names_seen[key], d,
            string.format("version %s, phase %s and name", d.version, phase))
        end
        names_seen[key] = d
      end
    end
  end
end

-- A folder's hooks run .py, then .sql, then .lua (pum: .py before .sql).
local hook_rank = { python = 1, sql = 2, lua = 3 }
local function hook_before(a, b)
  if hook_rank[a.kind] ~= hook_rank[b.kind] then return hook_rank[a.kind] < hook_rank[b.kind] end
  return a.file < b.file
end

-- delta.scan(dirs [, opts]) -> list | nil, message
-- dirs: a folder, or a list of folders read one after the other.
-- list: the deltas in the order they run (array part): folder by folder,
-- each folder ordered by delta.before, then the Flyway repeatables; plus
--   list.install  install scripts (baseline-X.Y.Z.sql), oldest first
--   list.hooks    {["pre-all"] = {...}, ["post-all"] = {...}} in the order
--                 they run: pre-all over the folders in reverse order,
--                 post-all in the given order; in each folder .py, .sql, .lua
--   list.ignored  {{path =, reason =, dir =}} files that match no layout
--   list.folders  names of the per-version folders read
--   list.problems duplicates and unknown `-- ladle:` directives; scan fails
--                 with the first one unless opts.lenient (what lint uses)
--   list.warnings pum deltas that share a serial (lint shows them)
--   list.dirs, list.dir (the first folder)
-- opts.unmarked: the phase of deltas whose name has no pre/post marker
-- ("post", the default, or "pre"); d.phase is settled here, d.phase_marked
-- is the name's marker (nil when unmarked) and d.unmarked says which.
-- Each delta has the fields of delta.parse plus path (dir/name), file (the
-- base name), script (the name relative to its folder), dir (its folder),
-- folder_index (with several folders), checksum (md5 hex of the bytes),
-- size, transaction (false with the no-transaction marker).
function delta.scan(dirs, opts)
  if type(dirs) == "string" then dirs = { dirs } end
  assert(type(dirs) == "table" and #dirs > 0, "delta.scan: expected a folder or a list of folders")
  opts = opts or {}
  local unmarked = opts.unmarked or "post"
  assert(unmarked == "pre" or unmarked == "post", "delta.scan: unmarked must be \"pre\" or \"post\"")
  local list = { install = {}, hooks = { ["pre-all"] = {}, ["post-all"] = {} }, ignored = {}, folders = {},
                 dir = dirs[1], dirs = dirs, problems = {}, warnings = {} }
  local per_folder = {}
  for index, dir in ipairs(dirs) do
    assert(type(dir) == "string", "delta.scan: folders are strings")
    local found = { install = list.install, hooks = { ["pre-all"] = {}, ["post-all"] = {} }, ignored = list.ignored,
                    folders = list.folders, problems = list.problems }
    local ok, err, details = scan_folder(found, dir, index, { unmarked = unmarked, several = #dirs > 1 })
    if not ok then return nil, err, details end
    table.sort(found, delta.before)
    check_slots(found, list.problems, list.warnings)
    for _, name in ipairs { "pre-all", "post-all" } do
      local hooks = found.hooks[name]
      table.sort(hooks, hook_before)
      for i = 2, #hooks do
        if hooks[i].kind == hooks[i - 1].kind then
          list.problems[#list.problems + 1] = duplicate_error(hooks[i - 1], hooks[i], "hook name")
        end
      end
    end
    per_folder[index] = found
  end
  for index = 1, #dirs do
    table.move(per_folder[index], 1, #per_folder[index], #list + 1, list)
    local post, pre = per_folder[index].hooks["post-all"], per_folder[#dirs - index + 1].hooks["pre-all"]
    table.move(post, 1, #post, #list.hooks["post-all"] + 1, list.hooks["post-all"])
    table.move(pre, 1, #pre, #list.hooks["pre-all"] + 1, list.hooks["pre-all"])
  end
  -- one folder's list is sorted already; several folders' interleave
  if #dirs > 1 then table.sort(list, delta.before) end
  table.sort(list.install, delta.before)
  local installs = {}
  for _, d in ipairs(list.install) do
    if installs[d.version] then
      list.problems[#list.problems + 1] = duplicate_error(installs[d.version], d, "install version " .. d.version)
    end
    installs[d.version] = d
  end
  if #list.problems > 0 and not opts.lenient then return nil, list.problems[1], { kind = "input" } end
  return list
end

return delta
