-- Casts that users create (CREATE CAST), and, for a diff, every cast the
-- server knows: a column whose type changes is converted by an assignment
-- cast when there is one, else ladle writes USING (kind.conversion).

local catalog = require "ladle.catalog"
local sql = require "ladle.schema.sql"

local kind = {
  name = "casts", singular = "cast", comment = "CAST",
  fields = { "method", "context" },
}

local contexts = { e = "explicit", a = "assignment", i = "implicit" }

-- user casts whose types or function live in the schemas read (not those
-- a range type makes for its multirange)
function kind.query(q)
  local user = ([[
SELECT c.oid, '(' || pg_catalog.format_type(c.castsource, NULL) || ' AS '
              || pg_catalog.format_type(c.casttarget, NULL) || ')' AS name,
       c.castcontext, c.castmethod, CASE WHEN c.castfunc <> 0
         THEN c.castfunc::pg_catalog.regprocedure::pg_catalog.text END AS func
  FROM pg_catalog.pg_cast c
  JOIN pg_catalog.pg_type st ON st.oid = c.castsource
  JOIN pg_catalog.pg_type tt ON tt.oid = c.casttarget
  LEFT JOIN pg_catalog.pg_proc p ON p.oid = c.castfunc
 WHERE c.oid >= %d
   AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_cast'::pg_catalog.regclass AND d.objid = c.oid
                      AND d.deptype = 'i')
   AND (st.typnamespace = ANY ($1::pg_catalog.oid[]) OR tt.typnamespace = ANY ($1::pg_catalog.oid[])
        OR p.pronamespace = ANY ($1::pg_catalog.oid[]))]]):format(catalog.FIRST_NORMAL_OID)
  if not q.deps then return user end
  return user, [[
SELECT pg_catalog.format_type(c.castsource, NULL) || '>' || pg_catalog.format_type(c.casttarget, NULL) AS path,
       c.castcontext
  FROM pg_catalog.pg_cast c]], [[
SELECT pg_catalog.format_type(t.oid, NULL) AS name, t.typcategory
  FROM pg_catalog.pg_type t
 WHERE t.typtype <> 'p']]
end

function kind.read(r, rows, paths, types)
  for _, row in ipairs(rows) do
    r.add("pg_cast", row.oid, {
      kind = "casts", name = row.name, context = contexts[row.castcontext],
      method = row.castmethod == "f" and ("function " .. row.func)
        or row.castmethod == "i" and "inout" or "binary",
    })
  end
  if paths then
    local known = {}
    for _, row in ipairs(paths) do known[row.path] = row.castcontext end
    local categories = {}
    for _, row in ipairs(types) do categories[row.name] = row.typcategory end
    r.snap.conversions = { casts = known, categories = categories }
  end
end

function kind.summary(obj) return obj.context .. " " .. obj.method end

function kind.create(item)
  local o = item.obj
  local how = o.method == "inout" and "WITH INOUT" or o.method == "binary" and "WITHOUT FUNCTION"
    or ("WITH FUNCTION " .. o.method:match("^function (.*)$"))
  local as = o.context == "assignment" and " AS ASSIGNMENT" or o.context == "implicit" and " AS IMPLICIT" or ""
  return { sql.stmt(string.format("CREATE CAST %s %s%s;", o.name, how, as)) }
end

function kind.drop(item) return { sql.stmt("DROP CAST " .. item.name .. ";") } end

function kind.alter(a, b)
  if a.obj.method == b.obj.method and a.obj.context == b.obj.context then return nil end
  return "rebuild"
end

-- Converting a value ------------------------------------------------------

-- How a value of type `from` becomes one of type `to` (names as
-- format_type prints them, without a type modifier) on the servers of
-- snapshots a and b: "a" (an assignment or implicit cast: ALTER COLUMN
-- ... TYPE needs no USING), "e" (only an explicit cast), or nil (none).
local function context(from, to, snaps, depth)
  if from == to then return "a" end
  if depth > 4 then return nil end
  for _, snap in ipairs(snaps) do
    local c = snap.conversions and snap.conversions.casts[from .. ">" .. to]
    if c then return c == "e" and "e" or "a" end
  end
  -- a value converts to a domain as to its base type, and a domain's
  -- value is one of its base type
  for _, snap in ipairs(snaps) do
    local d = snap.domains and snap.domains[to]
    if d and d.base_type then return context(from, d.base_type, snaps, depth + 1) end
    d = snap.domains and snap.domains[from]
    if d and d.base_type then return context(d.base_type, to, snaps, depth + 1) end
  end
  local function category(t)
    for _, snap in ipairs(snaps) do
      local c = snap.conversions and snap.conversions.categories[t]
      if c then return c end
    end
  end
  -- through text input and output: to a string type by assignment, from
  -- one explicitly
  if category(to) == "S" then return "a" end
  if category(from) == "S" then return "e" end
  if from:sub(-2) == "[]" and to:sub(-2) == "[]" then
    return context(from:sub(1, -3), to:sub(1, -3), snaps, depth + 1)
  end
  return nil
end

-- kind.conversion(from, to, a, b) -> how ALTER COLUMN ... TYPE converts:
-- "assign" (no USING), "cast" (USING c::type), "text" (USING
-- c::text::type: every type has text output and input), or "unknown"
-- (a type ladle does not know: the script says what to write).
function kind.conversion(from, to, a, b)
  local snaps = { b, a }
  local c = context(from, to, snaps, 0)
  if c == "a" then return "assign" end
  if c == "e" then return "cast" end
  local known_from, known_to = false, false
  for _, snap in ipairs(snaps) do
    local categories = snap.conversions and snap.conversions.categories or {}
    known_from = known_from or categories[from] ~= nil
    known_to = known_to or categories[to] ~= nil
  end
  if known_from and known_to then return "text" end
  return "unknown"
end

return kind
