-- Rehearse first: refuse a release whose pre deltas break the old code, then blue-green.
--
-- Applies the pending deltas to a throwaway copy of the database
-- (ladle.rehearse: its schema and upgrades table, every row with
-- --with-data) and looks at the `observed` event of each delta. A pre delta
-- that breaks the code still running (it drops, renames or retypes
-- something, or makes a column NOT NULL without a default) stops the
-- recipe, exit 1, before production is touched; so do the findings named
-- with --refuse. When the rehearsal is clean and --deploy is given, the
-- real upgrade runs in the blue-green order (per version: pre deltas,
-- deploy, post deltas); without --deploy the recipe stops there. Copy it to
-- decide differently what a release may do.
--
-- @flag --deploy=CMD deploy the code of version {version}; without it only the rehearsal runs
-- @flag --refuse=RULE (many) more findings that stop the release: blocks-reads blocks-writes rewrite not-concurrent
-- @flag --with-data copy every row into the rehearsal, not only the schema
-- @flag --scratch=SERVICE make the copy on this server (default: a throwaway cluster)
-- @flag --svg=FILE write the rehearsal's timeline picture
-- @example ladle run rehearse -p prod -d migrations --deploy './deploy.sh {version}'
-- @example ladle run rehearse -p prod -d migrations --deploy './deploy.sh {version}' --with-data --svg rehearsal.svg

local ladle = require "ladle"
local svg = require "ladle.report.svg"
local opts = ...
local r = ladle.recipe.new(opts)

if not opts.dir and not opts.dirs then
  ladle.fail("usage", "rehearse: -d/--dir is required (or delta_dir in the config file)")
end
local refuse = { ["breaks-old-code"] = true }
for _, rule in ipairs(opts.refuse or {}) do refuse[rule] = true end

-- The console's lines, and a look at each observation as it comes.
local console = ladle.report.console { out = r.out }
local refused = {}
local reporter = setmetatable({
  observed = function(self, d, observation)
    console.observed(self, d, observation)
    for _, f in ipairs(observation.findings) do
      if refuse[f.rule] then refused[#refused + 1] = string.format("%s: %s", f.rule, f.message) end
    end
  end,
}, { __index = console })

r:say("Rehearsing the pending deltas on a copy of %s:", opts.pg_service or "the database")
local result = ladle.rehearse.run {
  source = opts.pg_service, dir = opts.dir, dirs = opts.dirs, table = opts.table, to = opts.to,
  unmarked = opts.unmarked,
  with_data = opts.with_data, scratch = opts.scratch, reporter = reporter, plan = ladle.session.plan_options(opts),
  pg_dump_exe = opts.pg_dump_exe, pg_restore_exe = opts.pg_restore_exe,
}
if opts.svg then assert(svg.write(opts.svg, result)) end
if result.failed then ladle.fail("database", "the rehearsal failed: %s (production is untouched)", result.failed.message) end
if #refused > 0 then
  r:say("The release is refused:")
  for _, line in ipairs(refused) do r:say("  %s", line) end
  ladle.fail("found", "%d finding%s stop the release; production is untouched", #refused, #refused == 1 and "" or "s")
end
r:say("The rehearsal is clean (%d finding%s, none that stops the release).", result.findings,
  result.findings == 1 and "" or "s")
if not opts.deploy then return end

-- The real thing, in the blue-green order (ladle.recipe's r:blue_green).
r:blue_green(r:plan(), opts.deploy)
