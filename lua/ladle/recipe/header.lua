-- ladle.recipe.header: the comment at the top of a recipe file, in which
-- it declares its summary, its flags and its examples:
--
--   -- Canary: pre deltas, deploy to one host, smoke test, everywhere, post.
--   -- @flag --canary=CMD (required) deploy {version} to the canary host
--   -- @example ladle run canary.lua -p prod -d migrations --canary './canary.sh {version}'

local headers = {}

-- Parses one "@flag" line: "-s, --stop=CMD (required) (many) help text".
local function parse_flag(spec, where)
  local flag = {}
  local rest = spec
  while true do
    local name, tail = rest:match("^%s*(%-%-?[%w][%w_-]*[=%w_]*),?(.*)$")
    if not name then break end
    local bare, arg = name:match("^([^=]+)=(.+)$")
    flag[#flag + 1] = bare or name
    if arg then flag.arg = arg end
    rest = tail
  end
  if #flag == 0 then return nil, string.format("%s: @flag without a flag name", where) end
  while true do
    local word, tail = rest:match("^%s*%((%a+)%)(.*)$")
    if not word then break end
    if word == "required" then flag.required = true
    elseif word == "many" then flag.many = true
    else return nil, string.format("%s: unknown flag property (%s)", where, word) end
    rest = tail
  end
  flag.help = rest:match("^%s*(.-)%s*$")
  return flag
end

-- headers.read(path) -> {summary, description, flags, examples} or
-- nil, message. The header is the comment block at the top of the file:
-- its first paragraph is the summary; "@flag" lines declare flags,
-- "@example" lines give command lines for its help.
function headers.read(path)
  local f, err = io.open(path)
  if not f then return nil, err end
  local header = { flags = {}, lines = {}, examples = {} }
  local n = 0
  for line in f:lines() do
    n = n + 1
    if not (n == 1 and line:match("^#!")) then
      local text = line:match("^%s*%-%-(.*)$")
      if not text or line:match("^%s*%-%-%[") then break end
      local spec = text:match("^%s*@flag%s+(.*)$")
      local example = text:match("^%s*@example%s+(.-)%s*$")
      if example then
        header.examples[#header.examples + 1] = example
      elseif spec then
        local flag, why = parse_flag(spec, string.format("%s:%d", path, n))
        if not flag then f:close() return nil, why end
        header.flags[#header.flags + 1] = flag
      else
        header.lines[#header.lines + 1] = (text:gsub("^ ", ""))
      end
    end
  end
  f:close()
  local summary = {}
  for _, line in ipairs(header.lines) do
    if line:match("^%s*$") then break end
    summary[#summary + 1] = line
  end
  header.summary = table.concat(summary, " ")
  header.description = table.concat(header.lines, "\n")
  header.lines = nil
  return header
end

return headers
