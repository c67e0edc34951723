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
  schema = "ladle.schema",
  diff = "ladle.diff",
}

local pg = require "ladle.pg"
local errors = require "ladle.errors"

ladle.connect = pg.connect
ladle.null = pg.null
ladle.fail = errors.fail
ladle.exit_codes = errors.codes

do
  local ok, host = pcall(require, "ladle.host")
  ladle.version = ok and host.version or nil
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
