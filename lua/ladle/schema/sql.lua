-- ladle.schema.sql: what the kind modules share to write statements.
--
-- A statement is { sql = "...;", hazards = { "table_rewrite", ... } }. The
-- hazards a statement can carry are listed in sql.hazards, in the order a
-- change lists them.

local ident = require "ladle.ident"

local sql = {}

sql.hazards = {
  "deletes_data",           -- drops a table, a column, a sequence's position, an extension
  "table_rewrite",          -- rewrites or fills a whole table (column type, SET LOGGED, volatile default)
  "access_exclusive_lock",  -- blocks reads and writes of the table while it runs
  "index_build",            -- builds an index (blocks writes; CONCURRENTLY cannot run in a transaction)
  "validation_scan",        -- reads the whole table to check a constraint or NOT NULL
  "manual_step",            -- ladle could not write it for sure: the comment above it says what to check
}

function sql.stmt(text, ...)
  return { sql = text, hazards = { ... } }
end

-- A statement in a list: { stmt(...), ... } from alter(), or nil when the
-- list is empty (nothing to change).
function sql.changes(list, fields)
  if #list == 0 then return nil end
  local out = { statements = list }
  for k, v in pairs(fields or {}) do out[k] = v end
  return out
end

function sql.literal(s)
  return "'" .. tostring(s):gsub("'", "''") .. "'"
end

function sql.strip_semicolon(text)
  return (text:gsub("%s+$", ""):gsub(";$", ""))
end

-- " WITH (a=1, b=2)" for a list of storage options, "" for none.
function sql.with_options(options)
  if not options or #options == 0 then return "" end
  return " WITH (" .. table.concat(options, ", ") .. ")"
end

-- The options to SET and the names to RESET to turn the list `before`
-- ("name=value" strings) into `after`.
function sql.option_changes(before, after)
  local function parse(list)
    local m = {}
    for _, o in ipairs(list or {}) do
      local k, v = o:match("^([^=]+)=(.*)$")
      if k then m[k] = v end
    end
    return m
  end
  local a, b = parse(before), parse(after)
  local set, reset = {}, {}
  for _, o in ipairs(after or {}) do
    local k = o:match("^([^=]+)=")
    if k and a[k] ~= b[k] then set[#set + 1] = o end
  end
  for _, o in ipairs(before or {}) do
    local k = o:match("^([^=]+)=")
    if k and b[k] == nil then reset[#reset + 1] = k end
  end
  return set, reset
end

-- ALTER ... SET (...) / RESET (...) statements for storage options.
function sql.option_statements(prefix, before, after)
  local set, reset = sql.option_changes(before, after)
  local out = {}
  if #reset > 0 then out[#out + 1] = sql.stmt(string.format("%s RESET (%s);", prefix, table.concat(reset, ", "))) end
  if #set > 0 then out[#out + 1] = sql.stmt(string.format("%s SET (%s);", prefix, table.concat(set, ", "))) end
  return out
end

-- Foreign-data options ("name=value" strings, as the catalog keeps them).
local function split_option(o)
  local k, v = o:match("^([^=]+)=(.*)$")
  return k, v
end

-- " OPTIONS (name 'value', ...)" for a list of options, "" for none.
function sql.options_clause(options)
  if not options or #options == 0 then return "" end
  local parts = {}
  for i, o in ipairs(options) do
    local k, v = split_option(o)
    parts[i] = ident.quote(k) .. " " .. sql.literal(v)
  end
  return " OPTIONS (" .. table.concat(parts, ", ") .. ")"
end

-- "OPTIONS (ADD a '1', SET b '2', DROP c)" turning the options `before`
-- into `after`, or nil when they are the same.
function sql.options_change(before, after)
  local a, b = {}, {}
  for _, o in ipairs(before or {}) do local k, v = split_option(o); a[k] = v end
  for _, o in ipairs(after or {}) do local k, v = split_option(o); b[k] = v end
  local parts = {}
  for _, o in ipairs(after or {}) do
    local k, v = split_option(o)
    if a[k] == nil then parts[#parts + 1] = "ADD " .. ident.quote(k) .. " " .. sql.literal(v)
    elseif a[k] ~= v then parts[#parts + 1] = "SET " .. ident.quote(k) .. " " .. sql.literal(v) end
  end
  for _, o in ipairs(before or {}) do
    local k = split_option(o)
    if b[k] == nil then parts[#parts + 1] = "DROP " .. ident.quote(k) end
  end
  if #parts == 0 then return nil end
  return "OPTIONS (" .. table.concat(parts, ", ") .. ")"
end

-- GRANT and REVOKE statements that turn the privileges `from` into `to`
-- (lists of "grantee=PRIVILEGE[*]") on `what` ("TABLE app.t"). owner:
-- who OWNER stands for. column: the column the privileges are on.
function sql.grants(what, from, to, owner, column)
  local function parse(list)
    local m = {}
    for _, e in ipairs(list or {}) do
      local grantee, priv = e:match("^(.-)=([^=]+)$")
      local grantable = priv:sub(-1) == "*"
      if grantable then priv = priv:sub(1, -2) end
      m[grantee] = m[grantee] or {}
      m[grantee][priv] = grantable and "grant" or "plain"
    end
    return m
  end
  local a, b = parse(from), parse(to)
  local grantees, seen = {}, {}
  for g in pairs(a) do if not seen[g] then seen[g] = true; grantees[#grantees + 1] = g end end
  for g in pairs(b) do if not seen[g] then seen[g] = true; grantees[#grantees + 1] = g end end
  table.sort(grantees)
  local suffix = column and (" (" .. column .. ")") or ""
  local function list(privileges)
    local out = {}
    for i, p in ipairs(privileges) do out[i] = p .. suffix end
    return table.concat(out, ", ")
  end
  local out = {}
  for _, g in ipairs(grantees) do
    local role = g == "OWNER" and owner or g
    local pa, pb = a[g] or {}, b[g] or {}
    local revoke, revoke_option, grant, grant_option = {}, {}, {}, {}
    local names, known = {}, {}
    for p in pairs(pa) do if not known[p] then known[p] = true; names[#names + 1] = p end end
    for p in pairs(pb) do if not known[p] then known[p] = true; names[#names + 1] = p end end
    table.sort(names)
    for _, p in ipairs(names) do
      local x, y = pa[p], pb[p]
      if x and not y then revoke[#revoke + 1] = p
      elseif y and not x then
        if y == "grant" then grant_option[#grant_option + 1] = p else grant[#grant + 1] = p end
      elseif x == "grant" and y == "plain" then revoke_option[#revoke_option + 1] = p
      elseif x == "plain" and y == "grant" then grant_option[#grant_option + 1] = p
      end
    end
    if #revoke > 0 then
      out[#out + 1] = sql.stmt(string.format("REVOKE %s ON %s FROM %s;", list(revoke), what, role))
    end
    if #revoke_option > 0 then
      out[#out + 1] = sql.stmt(string.format("REVOKE GRANT OPTION FOR %s ON %s FROM %s;", list(revoke_option), what, role))
    end
    if #grant > 0 then
      out[#out + 1] = sql.stmt(string.format("GRANT %s ON %s TO %s;", list(grant), what, role))
    end
    if #grant_option > 0 then
      out[#out + 1] = sql.stmt(string.format("GRANT %s ON %s TO %s WITH GRANT OPTION;", list(grant_option), what, role))
    end
  end
  return out
end

return sql
