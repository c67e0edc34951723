-- ladle.delta.names: what a delta's file name says (its layout, version,
-- phase, serial, description, kind). ladle.delta.parse is this module's
-- parse; doc/migrations.md has the table of layouts.
--
--   procrastinate   VERSION_SERIAL[_pre|_post][_description].sql
--   pum             delta_X.Y.Z[_description].{pre.sql,sql,post.sql,pre.py,py,post.py}
--                   (pum 0.10's own pattern, exactly; .lua as .sql)
--   hook            pre-all.{py,sql,lua}, post-all.{py,sql,lua}
--   flyway          V<version>__<description>.sql (version digits with . or _),
--                   R__<description>.sql (repeatable)
--   install         baseline-X.Y.Z.sql (only on an empty database)
--   folder          X.Y.Z/[SERIAL_][pre_|post_]description.sql
-- and the same with .lua for Lua deltas. Python runs only in pum's names.

local version = require "ladle.version"

local names = {}

local kinds = { sql = "sql", lua = "lua", py = "python" }

-- What lint prints when a name matches no layout.
names.ACCEPTED = "accepted names: 02.14.01_01_pre_x.sql (procrastinate), delta_1.2.0_x.pre.sql (pum), "
  .. "V1.2__x.sql / R__x.sql (Flyway), 1.2.0/010_x.sql (per-version folder), baseline-1.2.0.sql, "
  .. "pre-all.sql / post-all.sql; .lua for Lua deltas, .py in pum's names"

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
    fields.label = fields.label or fields.version
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

-- pum 0.10's pattern, exactly:
--   ^delta_(\d+\.\d+\.\d+)(_*)(\w*)\.(pre\.sql|sql|post\.sql|pre\.py|py|post\.py)$
-- and ladle's .pre.lua, .lua, .post.lua. The description is group 4.
local pum_extensions = {
  ["pre.sql"] = { "pre", "sql" }, sql = { nil, "sql" }, ["post.sql"] = { "post", "sql" },
  ["pre.py"] = { "pre", "python" }, py = { nil, "python" }, ["post.py"] = { "post", "python" },
  ["pre.lua"] = { "pre", "lua" }, lua = { nil, "lua" }, ["post.lua"] = { "post", "lua" },
}

local function parse_pum(name)
  local pum_version, description, ext = name:match("^delta_(%d+%.%d+%.%d+)_*([%w_]*)%.(.+)$")
  local known = ext and pum_extensions[ext]
  if not known then
    return nil, "pum delta names are delta_X.Y.Z[_description] ending .pre.sql, .sql, .post.sql, .pre.py, .py "
      .. "or .post.py (lower case)"
  end
  local serial = description:match("^(%d+)")
  return result {
    version = pum_version, serial = serial and math.tointeger(tonumber(serial)) or nil,
    phase = known[1], description = description, kind = known[2], layout = "pum",
  }
end

-- Flyway: V<version>__<description>.sql, R__<description>.sql.
local function parse_flyway(name)
  local base, ext = split_extension(name)
  local kind = base and kinds[ext]
  if not kind or kind == "python" then return nil, "Flyway names end .sql or .lua" end
  if base:sub(1, 3) == "R__" then
    if #base == 3 then return nil, "a repeatable needs a description: R__<description>.sql" end
    return { description = base:sub(4), kind = kind, layout = "flyway", repeatable = true }
  end
  local label, description = base:match("^V(%d[%d._]-)__(.+)$")
  if not label then return nil, "Flyway names are V<version>__<description>.sql or R__<description>.sql" end
  local v = label:gsub("_", ".")
  if not version.parse(v) then
    return nil, string.format("bad version '%s' (digits separated by . or _)", label)
  end
  return result { version = v, label = label, description = description, kind = kind, layout = "flyway" }
end

-- names.parse(name) -> fields | nil, reason
-- name is a file name, or "FOLDER/FILE" for a file in a per-version folder.
function names.parse(name)
  assert(type(name) == "string", "delta.parse: name must be a string")
  if name:find("/", 1, true) then
    local folder, file = name:match("^([^/]+)/([^/]+)$")
    if folder then return parse_folder_file(folder, file) end
    return nil, "deltas live at most one folder deep"
  end
  local first = name:byte(1)
  if first and first >= 48 and first <= 57 then return parse_procrastinate(name) end
  if name:sub(1, 6) == "delta_" then return parse_pum(name) end
  if name:match("^V%d") or name:sub(1, 3) == "R__" then return parse_flyway(name) end

  local lower = name:lower()
  local hook, hook_ext = lower:match("^(p[a-z]+)%-all%.([a-z]+)$")
  if (hook == "pre" or hook == "post") and kinds[hook_ext] then
    return { hook = hook .. "-all", kind = kinds[hook_ext], layout = "hook", description = hook .. "-all" }
  end

  local install, install_ext = lower:match("^baseline%-(%d[%d.]*)%.(%a+)$")
  if install and (install_ext == "sql" or install_ext == "lua") then
    return result { version = install, kind = kinds[install_ext], layout = "install",
                    description = name:match("^(.*)%.[^.]+$") }
  end
  if lower:sub(1, 6) == "delta_" then return parse_pum(name) end
  return nil, "matches no delta layout"
end

return names
