-- The layering of lua/ladle: each module requires only modules of its own
-- layer or below, nothing requires in a cycle, and no file grows past the
-- size one person can hold in mind. The require calls are read from the
-- source (lazy ones inside functions included), so a lazy require cannot
-- hide an upward edge. doc/development.md shows the same picture.

local sys = require "ladle.sys"

local LAYERS = { "core", "model", "engine", "orchestration", "api", "interface" }
local RANK = {}
for i, name in ipairs(LAYERS) do RANK[name] = i end

-- Module name (or a prefix ending in ".*") -> layer. A module that is
-- missing here fails the spec: a new module must be placed on purpose.
local PLACES = {
  ["ladle.errors"] = "core", ["ladle.pg"] = "core", ["ladle.pg.core"] = "core", ["ladle.sys"] = "core",
  ["ladle.yaml"] = "core", ["ladle.json"] = "core", ["ladle.ident"] = "core", ["ladle.version"] = "core",
  ["ladle.catalog"] = "core", ["ladle.delta.core"] = "core", ["ladle.host"] = "core",
  ["ladle.delta"] = "model", ["ladle.delta.names"] = "model", ["ladle.delta.checks"] = "model",
  ["ladle.tracker"] = "model", ["ladle.schema"] = "model", ["ladle.schema.*"] = "model",
  ["ladle.diff"] = "model", ["ladle.diff.*"] = "model", ["ladle.lint"] = "model",
  ["ladle.plan"] = "engine", ["ladle.plan.*"] = "engine", ["ladle.backup"] = "engine", ["ladle.sandbox"] = "engine",
  ["ladle.sandbox.*"] = "engine", ["ladle.source"] = "engine", ["ladle.rehearse"] = "engine",
  ["ladle.rehearse.*"] = "engine",
  ["ladle.session"] = "orchestration", ["ladle.recipe"] = "orchestration", ["ladle.recipe.*"] = "orchestration",
  ["ladle.report"] = "orchestration",
  ["ladle.report.*"] = "orchestration", ["ladle.fleet"] = "orchestration", ["ladle.fleet.*"] = "orchestration",
  ["ladle"] = "api",
  ["ladle.cli"] = "interface", ["ladle.commands.*"] = "interface", ["ladle.repl"] = "interface",
  ["ladle.repl.*"] = "interface", ["ladle.recipes.*"] = "interface",
}

local function layer_of(name)
  -- a computed name, require("ladle.schema.kinds." .. kind): one of that
  -- folder's modules
  if name:sub(-1) == "." then name = name .. "?" end
  if PLACES[name] then return PLACES[name] end
  local prefix = name
  while prefix:find(".", 1, true) do
    prefix = prefix:match("^(.*)%.[^.]+$")
    if PLACES[prefix .. ".*"] then return PLACES[prefix .. ".*"] end
  end
end

-- Every Lua file under lua/ladle, as module name -> path.
local function modules()
  local found = {}
  local function walk(dir, prefix)
    for _, entry in ipairs(assert(sys.listdir(dir))) do
      local path = dir .. "/" .. entry
      local st = sys.stat(path)
      if st.type == "directory" then
        walk(path, prefix .. "." .. entry)
      elseif entry:match("%.lua$") then
        local base = entry:gsub("%.lua$", "")
        found[base == "init" and prefix or (prefix .. "." .. base)] = path
      end
    end
  end
  walk("lua/ladle", "ladle")
  return found
end

local function read(path)
  local f = assert(io.open(path))
  local text = f:read("a")
  f:close()
  return text
end

-- The ladle modules a file requires, by name (comments left out); a name
-- built at run time counts by its literal prefix ("ladle.schema.kinds.").
local function requires_of(text)
  local code = text:gsub("%-%-%[(=*)%[.-%]%1%]", ""):gsub("%-%-[^\n]*", "")
  local names = {}
  for name in code:gmatch("require%s*%(?%s*[\"']([%w_.]+)[\"']") do
    if name == "ladle" or name:match("^ladle%.") then names[name] = true end
  end
  return names
end

describe("lua/ladle layering", function()
  local all = modules()
  local edges = {}
  for name, path in pairs(all) do edges[name] = requires_of(read(path)) end

  it("places every module in a layer", function()
    local unplaced = {}
    for name in pairs(all) do
      if not layer_of(name) then unplaced[#unplaced + 1] = name end
    end
    table.sort(unplaced)
    assert.same({}, unplaced)
  end)

  it("has no upward require", function()
    local upward = {}
    for name, targets in pairs(edges) do
      local from = layer_of(name)
      for target in pairs(targets) do
        local to = layer_of(target)
        if from and to and RANK[to] > RANK[from] then
          upward[#upward + 1] = string.format("%s (%s) -> %s (%s)", name, from, target, to)
        end
      end
    end
    table.sort(upward)
    assert.same({}, upward)
  end)

  it("has no require cycle", function()
    local state, cycle = {}, nil
    local stack = {}
    local function visit(name)
      if cycle then return end
      state[name] = "open"
      stack[#stack + 1] = name
      local targets = {}
      for target in pairs(edges[name] or {}) do targets[#targets + 1] = target end
      table.sort(targets)
      for _, target in ipairs(targets) do
        if state[target] == "open" then
          local from = 1
          for i, n in ipairs(stack) do if n == target then from = i end end
          cycle = table.concat(stack, " -> ", from) .. " -> " .. target
          return
        elseif not state[target] and all[target] then
          visit(target)
        end
      end
      stack[#stack] = nil
      state[name] = "done"
    end
    local names = {}
    for name in pairs(all) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do
      if not state[name] then visit(name) end
    end
    assert.is_nil(cycle)
  end)

  it("keeps every file under about 450 lines (the schema kinds aside)", function()
    local long = {}
    for name, path in pairs(all) do
      local lines = select(2, read(path):gsub("\n", ""))
      if lines > 450 and not name:match("^ladle%.schema%.kinds%.") then
        long[#long + 1] = string.format("%s (%d lines)", path, lines)
      end
    end
    table.sort(long)
    assert.same({}, long)
  end)
end)
