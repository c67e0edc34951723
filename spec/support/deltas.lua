-- What the migration specs share: folders of delta files and a few
-- questions about the database.

local env = require "support.env"

local deltas = {}

-- Writes {["name"] = content} under dir ("1.2.0/x.sql" makes the folder).
function deltas.write(dir, files)
  for name, content in pairs(files) do
    local sub = name:match("^(.*)/[^/]+$")
    if sub then os.execute("mkdir -p '" .. dir .. "/" .. sub .. "'") end
    env.write(dir .. "/" .. name, content)
  end
  return dir
end

-- A new temporary folder holding files.
function deltas.folder(files)
  return deltas.write(env.tmpdir(), files)
end

-- The `script` of each delta of a list, in order.
function deltas.scripts(list)
  local out = {}
  for _, d in ipairs(list) do out[#out + 1] = d.script end
  return out
end

function deltas.exists(db, relation)
  return db:query("SELECT pg_catalog.to_regclass($1) IS NOT NULL AS yes", relation)[1].yes
end

-- The scripts recorded in an upgrades table, oldest first.
function deltas.recorded(db, tbl)
  local rows = assert(db:query("SELECT script FROM " .. (tbl or "public.ladle_upgrades") .. " ORDER BY id"))
  local out = {}
  for _, r in ipairs(rows) do out[#out + 1] = r.script end
  return out
end

return deltas
