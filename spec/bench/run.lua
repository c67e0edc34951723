-- make bench: starts one throwaway cluster, points PG* at it, and runs
-- every spec/bench/*_bench.lua in name order. A benchmark file returns a
-- function(bench) that measures side by side and prints its figures; it
-- may return false plus a message when a target is missed, which makes
-- `make bench` exit 1 after all benchmarks ran.
--
--   bench.cluster      the sandbox cluster (bench.cluster:createdb(name))
--   bench.exe          the ladle executable under test
--   bench.run(argv, opts) -> seconds, status, out, err, usage  (sys.spawn, timed)
--   bench.time(fn)     -> seconds, fn's results
--   bench.best(n, fn)  -> the fastest of n timings of fn (which returns seconds)
--   bench.dir          a scratch directory, removed afterwards
--
-- LADLE_BENCH=check runs only the files whose name contains "check".

local ladle = require "ladle"
local sys = ladle.sys

local cluster <close> = assert(ladle.sandbox.start())
for name, value in pairs(cluster:env()) do sys.setenv(name, value or nil) end

local scratch = assert(sys.mkdtemp("ladle-bench-"))
local bench = {
  cluster = cluster,
  exe = os.getenv("LADLE_EXE") or assert(sys.realpath("build/ladle")),
  dir = scratch,
}

function bench.time(fn, ...)
  local t0 = sys.now()
  local results = table.pack(fn(...))
  return sys.now() - t0, table.unpack(results, 1, results.n)
end

function bench.run(argv, opts)
  opts = opts or {}
  local t0 = sys.now()
  local status, out, err, usage = sys.spawn(argv, {
    stdout = opts.stdout or "capture", stderr = opts.stderr or "capture", env = opts.env,
    cwd = opts.cwd, stdin = opts.stdin,
  })
  local seconds = sys.now() - t0
  if status == nil then error(out, 2) end
  return seconds, status, out, err, usage
end

function bench.best(n, fn)
  local best = math.huge
  for _ = 1, n do best = math.min(best, fn()) end
  return best
end

local files = {}
for _, name in ipairs(assert(sys.listdir("spec/bench"))) do
  local only = os.getenv("LADLE_BENCH")
  if name:match("_bench%.lua$") and (not only or name:find(only, 1, true)) then files[#files + 1] = name end
end

local missed = {}
for _, name in ipairs(files) do
  print("== " .. name)
  local measure = assert(loadfile("spec/bench/" .. name))()
  local ok, err = measure(bench)
  if ok == false then missed[#missed + 1] = name .. ": " .. tostring(err) end
  print()
end
sys.rmtree(scratch)
if #files == 0 then print("no benchmarks yet") end
if #missed > 0 then
  for _, m in ipairs(missed) do print("target missed: " .. m) end
  ladle.fail(1, "%d benchmark target(s) missed", #missed)
end
