-- ladle: the public API in one table.
--
--   local ladle = require "ladle"
--   local db = assert(ladle.connect("prod"))
--
-- Submodules load on first use, so `require "ladle"` stays cheap.

local ladle = {}

local submodules = {
  pg = "ladle.pg",
  sandbox = "ladle.sandbox",
  sys = "ladle.sys",
  errors = "ladle.errors",
  delta = "ladle.delta",
  version = "ladle.version",
  tracker = "ladle.tracker",
  yaml = "ladle.yaml",
  report = "ladle.report",
  json = "ladle.json",
  lint = "ladle.lint",
  backup = "ladle.backup",
  recipe = "ladle.recipe",
  session = "ladle.session",
  fleet = "ladle.fleet",
  schema = "ladle.schema",
  diff = "ladle.diff",
  ident = "ladle.ident",
  catalog = "ladle.catalog",
  rehearse = "ladle.rehearse",
  source = "ladle.source",
}

local pg = require "ladle.pg"
local errors = require "ladle.errors"

ladle.connect = pg.connect
ladle.null = pg.null
ladle.fail = errors.fail
ladle.exit_codes = errors.codes

-- Recipes: deploy hooks and confirmation (lua/ladle/recipe.lua,
-- doc/recipes.md). opts as recipe.hook / recipe.confirm take them
-- (dry_run, assume_yes, shell, env, cwd); a recipe's context
-- (ladle.recipe.new(opts)) passes its own.
function ladle.hook(cmd, vars, opts)
  return require("ladle.recipe").hook(cmd, vars, opts)
end

function ladle.confirm(question, opts)
  return require("ladle.recipe").confirm(question, opts)
end

-- ladle.plan{conn =, dir =, table =, to =, ...} -> plan | nil, message, details
-- (lua/ladle/plan.lua, doc/migrations.md). Reports on the console unless
-- opts.reporter says otherwise (false: nothing).
function ladle.plan(opts)
  assert(type(opts) == "table", "ladle.plan: expected a table of options")
  if opts.reporter == nil then
    local copy = {}
    for k, v in pairs(opts) do copy[k] = v end
    copy.reporter = require("ladle.report").console()
    opts = copy
  end
  return require("ladle.plan").new(opts)
end

-- ladle's own release ("0.1.0"); `ladle.version` is the module that
-- compares delta versions (ladle.version.compare).
do
  local ok, host = pcall(require, "ladle.host")
  ladle._VERSION = ok and host.version or nil
end

return setmetatable(ladle, {
  __index = function(t, key)
    local name = submodules[key]
    if name == nil then return nil end
    local module = require(name)
    rawset(t, key, module)
    return module
  end,
})
