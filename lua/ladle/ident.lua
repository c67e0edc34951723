-- ladle.ident: SQL identifiers, quoted and read the way the server does.
--
--   ident.quote("orders")          --> orders
--   ident.quote("Order Lines")     --> "Order Lines"
--   ident.quote("user")            --> "user"      (a keyword)
--   ident.qualify("app", "T")      --> app."T"
--   ident.parse('app."T"')         --> {"app", "T"}   (as typed: unquoted parts fold to lower case)
--   ident.split('app."a.b"')       --> {"app", "a.b"} (as printed by the server: no folding)
--
-- quote() gives what the server's quote_ident() gives, so names built here
-- and names read from the catalog with quote_ident() compare equal.

local ident = {}

-- The keywords quote_ident() quotes: every keyword that is not unreserved
-- (pg_get_keywords() catcode R, C or T; spec/ident_spec.lua checks the
-- list against the server).
local quoted_keywords = {}
for word in ([[
  all analyse analyze and any array as asc asymmetric both case cast check collate column constraint
  create current_catalog current_date current_role current_time current_timestamp current_user default
  deferrable desc distinct do else end except false fetch for foreign from grant group having in
  initially intersect into lateral leading limit localtime localtimestamp not null offset on only or
  order placing primary references returning select session_user some symmetric table then to
  trailing true union unique user using variadic when where window with
  between bigint bit boolean char character coalesce dec decimal exists extract float greatest
  grouping inout int integer interval least
  national nchar none normalize nullif numeric out overlay position precision real row setof smallint
  substring time timestamp treat trim values varchar xmlattributes xmlconcat xmlelement xmlexists
  xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable
  authorization binary collation concurrently cross current_schema freeze full ilike inner is isnull
  join left like natural notnull outer overlaps right similar tablesample verbose
]]):gmatch("[%w_]+") do
  quoted_keywords[word] = true
end
ident.quoted_keywords = quoted_keywords

-- ident.quote(name) -> name as an SQL identifier: bare when the server
-- would read it back unchanged, else in double quotes.
function ident.quote(name)
  assert(type(name) == "string", "ident.quote: name must be a string")
  if name:match("^[a-z_][a-z0-9_]*$") and not quoted_keywords[name] then return name end
  return '"' .. name:gsub('"', '""') .. '"'
end

-- ident.qualify(schema, name) -> schema.name, each part quoted; a nil
-- schema gives the bare name.
function ident.qualify(schema, name)
  if schema == nil then return ident.quote(name) end
  return ident.quote(schema) .. "." .. ident.quote(name)
end

-- Reads a dotted name into its parts. fold: fold unquoted parts to lower
-- case (a name as typed) or keep them (a name as the server prints it).
local function read_parts(text, fold)
  if type(text) ~= "string" or text == "" then return nil, "empty name" end
  local parts, i, n = {}, 1, #text
  while true do
    local part
    if text:sub(i, i) == '"' then
      local buf, j = {}, i + 1
      while true do
        local q = text:find('"', j, true)
        if not q then return nil, string.format("bad name '%s': unclosed quote", text) end
        buf[#buf + 1] = text:sub(j, q - 1)
        if text:sub(q + 1, q + 1) == '"' then
          buf[#buf + 1] = '"'
          j = q + 2
        else
          part, i = table.concat(buf), q + 1
          break
        end
      end
      if part == "" then return nil, string.format("bad name '%s': empty quoted name", text) end
    else
      local word = text:match(fold and "^[%a_\128-\255][%w_$\128-\255]*" or "^[^.\"]+", i)
      if not word then return nil, string.format("bad name '%s'", text) end
      part, i = fold and word:lower() or word, i + #word
    end
    parts[#parts + 1] = part
    if i > n then return parts end
    if text:sub(i, i) ~= "." then return nil, string.format("bad name '%s'", text) end
    i = i + 1
    if i > n then return nil, string.format("bad name '%s': ends with a dot", text) end
  end
end

-- ident.parse(text) -> parts | nil, reason. A name as a user types it in
-- SQL: "quoted" parts kept as written, other parts folded to lower case.
function ident.parse(text)
  return read_parts(text, true)
end

-- ident.split(qualified) -> parts. A name as the server prints it
-- (quote_ident, regclass output): quoted parts unquoted, others as they are.
function ident.split(qualified)
  local parts = read_parts(qualified, false)
  return parts or { qualified }
end

-- ident.unquote(part) -> the raw name of one quoted or bare part.
function ident.unquote(part)
  if part:sub(1, 1) == '"' and part:sub(-1) == '"' and #part >= 2 then
    return (part:sub(2, -2):gsub('""', '"'))
  end
  return part
end

-- ident.last(qualified) -> the last part, quoted (what RENAME TO takes).
function ident.last(qualified)
  local parts = ident.split(qualified)
  return ident.quote(parts[#parts])
end

return ident
