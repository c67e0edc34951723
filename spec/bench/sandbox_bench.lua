-- A throwaway cluster's start, cold (initdb) against warm (a copy of the
-- cached initdb, ladle.sandbox.template), side by side in one run: rounds
-- alternate which goes first. The cache is a private one made here, so
-- the user's own cache is neither used nor changed.
--
-- Target: warm / cold <= 0.6 (about 0.3 s against 0.75 s on an idle
-- machine).

return function(bench)
  local ladle = require "ladle"
  local sys = ladle.sys
  local cache = bench.dir .. "/template-cache/ladle"
  local function start(template)
    local seconds, cluster = bench.time(ladle.sandbox.start, { template = template, cache = cache })
    assert(cluster, "sandbox.start failed")
    local how = cluster.template
    cluster:stop()
    return seconds, how
  end
  local first, how = start(true)  -- fills the cache
  assert(how == "saved", "the first start did not fill the cache: " .. tostring(how))
  local rounds, cold, warm = 5, {}, {}
  for round = 1, rounds do
    local order = round % 2 == 1 and { false, true } or { true, false }
    for _, template in ipairs(order) do
      local seconds, used = start(template)
      if template then
        assert(used == "copied", "a warm start did not copy the template: " .. tostring(used))
        warm[#warm + 1] = seconds
      else
        cold[#cold + 1] = seconds
      end
    end
  end
  table.sort(cold)
  table.sort(warm)
  local ratio = warm[1] / cold[1]
  print(string.format("sandbox start: cold (initdb) %.0f ms, warm (cached template) %.0f ms: ratio %.2f (target <= 0.6)",
    cold[1] * 1000, warm[1] * 1000, ratio))
  print(string.format("  (best of %d each; the start that filled the cache: %.0f ms)", rounds, first * 1000))
  sys.rmtree(bench.dir .. "/template-cache")
  if ratio > 0.6 then return false, string.format("warm/cold %.2f > 0.6", ratio) end
  return true
end
