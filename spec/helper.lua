-- Runs once before the specs: one throwaway cluster for the whole run,
-- started with ladle's own sandbox code and removed at the end. Specs and
-- the ladle processes they start find it through the PG* variables.

local sys = require "ladle.sys"

-- A sanitizer run preloads libasan into this lua5.4 only: the programs the
-- specs start (initdb, postgres, an instrumented ladle) must not inherit it.
if os.getenv("LD_PRELOAD") then sys.setenv("LD_PRELOAD", nil) end

local sandbox = require "ladle.sandbox"
local started = sys.now()
local cluster = assert(sandbox.start {
  -- one role that must give a password, for the authentication specs
  hba = { "local all ladle_pw scram-sha-256" },
})
for name, value in pairs(cluster:env()) do sys.setenv(name, value or nil) end
sys.setenv("LADLE_TEST_CLUSTER", cluster.dir)
sys.setenv("LADLE_TEST_STARTUP", string.format("%.3f", sys.now() - started))
if not os.getenv("LADLE_EXE") then
  sys.setenv("LADLE_EXE", (sys.realpath("build/ladle")))
end

require("busted").subscribe({ "exit" }, function()
  cluster:stop()
  return nil, true
end)
