-- Every ```lua block in doc/*.md runs as it is, with the ladle executable,
-- against a fresh database: the manual cannot drift from the code.

local env = require "support.env"
local sys = require "ladle.sys"

local function lua_blocks(path)
  local text = assert(env.read(path))
  local blocks = {}
  for before, code in text:gmatch("()```lua\n(.-)```") do
    local _, newlines = text:sub(1, before):gsub("\n", "")
    blocks[#blocks + 1] = { code = code, line = newlines + 2 }
  end
  return blocks
end

describe("the examples in doc/", function()
  local dir = env.tmpdir()
  for _, name in ipairs(sys.listdir("doc")) do
    if name:match("%.md$") then
      for _, block in ipairs(lua_blocks("doc/" .. name)) do
        it(string.format("doc/%s:%d runs", name, block.line), function()
          local db = env.new_database("doc")
          local script = env.write(string.format("%s/%s_%d.lua", dir, name, block.line), block.code)
          local status, out, err = env.ladle({ "run", script }, { env = { PGDATABASE = db } })
          assert.equal(0, status, out .. err)
          env.drop_database(db)
        end)
      end
    end
  end
end)
