-- ladle.lint: what is wrong with a folder of deltas, before it reaches a
-- database.
--
--   local problems = assert(ladle.lint.check("migrations"))
--   for _, p in ipairs(problems) do print(p.message) end
--
-- Reports names that match no layout (and which names are accepted),
-- duplicates, gaps in serials, upper case (but in Flyway's names) or
-- spaces in names, mixed
-- layouts in a folder, unknown `-- ladle:` directives, psql meta-commands
-- and transaction control in SQL deltas, and Lua deltas that do not
-- compile. Warnings (problem.warning = true) do not stop an upgrade: pum
-- deltas that share a serial, which run in pum's order.

local delta = require "ladle.delta"

local lint = {}

-- Files that may sit in a delta folder without being deltas.
local function is_documentation(name)
  local lower = name:lower()
  return lower:match("%.md$") or lower:match("%.txt$") or lower:match("%.rst$") or lower:match("^readme")
    or lower:match("^license")
end

local function add(problems, message, warning)
  problems[#problems + 1] = { message = message, warning = warning }
end

-- lint.check(dirs) -> problems, deltas | nil, message (unreadable folder)
-- dirs: a folder or a list of folders.
function lint.check(dirs)
  local list, why = delta.scan(dirs, { lenient = true })
  if not list then return nil, why end
  local problems = {}
  for _, message in ipairs(list.problems) do add(problems, message) end
  for _, message in ipairs(list.warnings) do add(problems, "warning: " .. message, true) end

  local unnamed = false
  for _, item in ipairs(list.ignored) do
    if item.folder then
      add(problems, string.format("%s: folder name is not a version; ladle does not look inside it", item.path))
    elseif not is_documentation(item.script:match("[^/]*$")) then
      add(problems, string.format("%s: %s", item.path, item.reason))
      unnamed = true
    end
  end
  if unnamed then add(problems, delta.ACCEPTED_NAMES, true) end

  local all = {}
  for _, d in ipairs(list) do all[#all + 1] = d end
  for _, d in ipairs(list.install) do all[#all + 1] = d end
  for _, name in ipairs { "pre-all", "post-all" } do
    for _, d in ipairs(list.hooks[name]) do all[#all + 1] = d end
  end

  local folders_reported = {}
  for _, d in ipairs(all) do
    local folder = d.script:match("^([^/]+)/")
    if folder and not folders_reported[folder] and folder:find("%s") then
      folders_reported[folder] = true
      add(problems, string.format("%s/%s: spaces in a folder name", d.dir, folder))
    end
    -- Flyway's own convention is V/U/R prefixes and CamelCase descriptions
    if d.file:find("%u") and d.layout ~= "flyway" then
      add(problems, string.format("%s: upper case in the name (names are lower case)", d.path))
    end
    if d.file:find("%s") then add(problems, string.format("%s: spaces in the name", d.path)) end
  end

  -- one layout per folder (install scripts and hooks go with any)
  for _, dir in ipairs(list.dirs) do
    local layouts, order = {}, {}
    for _, d in ipairs(list) do
      if d.dir == dir then
        if not layouts[d.layout] then
          layouts[d.layout] = 0
          order[#order + 1] = d.layout
        end
        layouts[d.layout] = layouts[d.layout] + 1
      end
    end
    if #order > 1 then
      local parts = {}
      for _, layout in ipairs(order) do parts[#parts + 1] = string.format("%d %s", layouts[layout], layout) end
      add(problems, string.format("%s: mixed layouts (%s); use one naming scheme", dir, table.concat(parts, ", ")))
    end
  end

  -- serials: per folder and version, from 1 (or 0) without holes (pum's
  -- names are ordered by description: their numbers are not serials)
  local by_version, versions = {}, {}
  for _, d in ipairs(list) do
    if d.serial and d.layout ~= "pum" then
      local key = d.dir .. "|" .. d.version
      if not by_version[key] then
        by_version[key] = {}
        versions[#versions + 1] = key
      end
      by_version[key][d.serial] = by_version[key][d.serial] or d
    end
  end
  for _, key in ipairs(versions) do
    local serials, v = {}, key:match("|([^|]*)$")
    for serial in pairs(by_version[key]) do serials[#serials + 1] = serial end
    table.sort(serials)
    if serials[1] > 1 then
      add(problems, string.format("%s: the serials of version %s start at %d", by_version[key][serials[1]].path, v,
        serials[1]))
    end
    for i = 2, #serials do
      if serials[i] > serials[i - 1] + 1 then
        local gap = serials[i] - serials[i - 1] == 2 and tostring(serials[i - 1] + 1)
          or string.format("%d to %d", serials[i - 1] + 1, serials[i] - 1)
        add(problems, string.format("%s: gap in the serials of version %s: %s missing",
          by_version[key][serials[i]].path, v, gap))
      end
    end
  end

  -- contents
  for _, d in ipairs(all) do
    if d.kind == "sql" or d.kind == "lua" then
      local content, err = d:read()
      if not content then
        add(problems, err)
      elseif d.kind == "sql" then
        local ok, message = d:statements(content)
        if not ok then add(problems, message) end
      else
        local chunk, message = load(content, "@" .. d.path, "t", {})
        if not chunk then add(problems, message) end
      end
    end
  end
  return problems, list
end

return lint
