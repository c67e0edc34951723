-- Without interruption: per version, pre deltas, deploy, post deltas.
--
-- For each version that has pending deltas, in order: its pre deltas, the
-- deploy hook for that version, then its post deltas. Services keep
-- running: pre deltas only add what the new code needs and the old code
-- tolerates; post deltas remove what only the old code used, once the new
-- code is deployed. Unmarked deltas count as post. A failure stops before
-- that version's post deltas; running the recipe again resumes: applied pre
-- deltas are not rerun, the deploy hook is, then the post deltas. pum's
-- pre-all / post-all hooks run before the first and after the last version
-- (also when nothing is pending), Flyway repeatables after the last one.
--
-- @flag --deploy=CMD (required) deploy the code of version {version} ({service} and {dir} too)
-- @example ladle run blue-green -p prod -d migrations --deploy './deploy.sh {version}'
-- @example ladle run blue-green -c db.yaml --to 2.1.0 --deploy 'sh -c "make deploy VERSION={version}"' --dry-run

local ladle = require "ladle"
local opts = ...
local r = ladle.recipe.new(opts)

-- ladle.recipe's r:blue_green holds the order; copy its loop here to
-- decide differently
r:blue_green(r:plan(), opts.deploy)
