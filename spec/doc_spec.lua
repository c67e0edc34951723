-- The examples of the manual run as they are, so that they cannot drift
-- from the code:
--   - every ```lua block in doc/*.md runs with the ladle executable
--     (`ladle run FILE`) against a fresh database;
--   - every block marked ```sh runnable in README.md and doc/*.md runs with
--     `sh -e` from the top of the source tree, with the ladle executable
--     first on PATH and the PG* variables of the test cluster (a fresh
--     database as PGDATABASE). Such a block uses only what it sets up
--     (`ladle sandbox -- ...` for a database of its own, files in /tmp).

local env = require "support.env"
local sys = require "ladle.sys"

local function blocks(path, opening)
  local text = assert(env.read(path))
  local found = {}
  for before, code in text:gmatch("()" .. opening:gsub("%p", "%%%0") .. "\n(.-)```") do
    local _, newlines = text:sub(1, before):gsub("\n", "")
    found[#found + 1] = { code = code, line = newlines + 2 }
  end
  return found
end

local function manual()
  local files = { "README.md" }
  for _, name in ipairs(sys.listdir("doc")) do
    if name:match("%.md$") then files[#files + 1] = "doc/" .. name end
  end
  return files
end

local bindir = env.exe:match("^(.*)/[^/]+$")

describe("the examples of the manual", function()
  local dir = env.tmpdir()
  for _, path in ipairs(manual()) do
    for _, block in ipairs(blocks(path, "```lua")) do
      it(string.format("%s:%d runs", path, block.line), function()
        local db = env.new_database("doc")
        local script = env.write(string.format("%s/%s_%d.lua", dir, (path:gsub("/", "_")), block.line), block.code)
        local status, out, err = env.ladle({ "run", script }, { env = { PGDATABASE = db } })
        assert.equal(0, status, out .. err)
        env.drop_database(db)
      end)
    end
    for _, block in ipairs(blocks(path, "```sh runnable")) do
      it(string.format("%s:%d runs in sh", path, block.line), function()
        local db = env.new_database("doc")
        local status, out, err = sys.spawn({ "sh", "-ec", block.code }, {
          env = { PATH = bindir .. ":" .. os.getenv("PATH"), PGDATABASE = db },
          stdout = "capture", stderr = "capture", stdin = "null",
        })
        env.drop_database(db)
        assert.equal(0, status, block.code .. "\n--- output:\n" .. tostring(out) .. tostring(err))
      end)
    end
  end
end)
