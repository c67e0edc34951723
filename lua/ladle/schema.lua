-- ladle.schema: a snapshot of a database's schema read from pg_catalog,
-- and pum-style checking of two snapshots.
--
--   local snap = assert(ladle.schema.snapshot(conn, { exclude_schemas = { "audit" } }))
--   for _, d in ipairs(assert(ladle.schema.check(conn_a, conn_b))) do print(d.line) end
--
-- A snapshot is plain Lua tables keyed by object kind, then by identity
-- (the qualified, quoted name a user would write): snap.tables["public.t"],
-- snap.columns["public.t.c"], snap.functions["public.f(integer)"]. Every
-- object carries `kind` and `name`. With `dependencies` (the default),
-- snap.depends["views public.v"] = { ["columns public.t.c"] = "n", ... } is
-- pg_depend translated to the same "kind name" keys; ladle.diff orders its
-- statements with it.
--
-- The kinds are modules of their own (ladle.schema.kinds); reading is
-- ladle.schema.reader, comparing ladle.schema.compare, leaving things out
-- ladle.schema.filter.

local pg = require "ladle.pg"
local kinds = require "ladle.schema.kinds"
local reader = require "ladle.schema.reader"
local compare = require "ladle.schema.compare"
local filter = require "ladle.schema.filter"

local schema = {}

-- The categories of differences, in the order check reports them.
schema.kinds = kinds.order
schema.kind_rank = kinds.rank

-- For command-line flags: true, or false and the known kinds.
schema.known_kind = kinds.known

schema.Snapshot = { __name = "ladle.schema.snapshot" }
schema.Snapshot.__index = schema.Snapshot

-- Number of objects of each kind, for a quick look in the REPL.
function schema.Snapshot:counts()
  local counts = {}
  for _, kind in ipairs(kinds.object_kinds) do
    if self[kind] then
      local n = 0
      for _ in pairs(self[kind]) do n = n + 1 end
      counts[kind] = n
    end
  end
  return counts
end

function schema.is_snapshot(value)
  return type(value) == "table" and getmetatable(value) == schema.Snapshot
end

-- schema.snapshots(conns, opts) -> { snapshot, ... } | nil, message, details
-- Snapshots of several databases read at the same time: every server gets
-- its queries at once and works through them while ladle reads the
-- answers, one at a time from each. Same options as snapshot();
-- details.index says which connection failed.
function schema.snapshots(conns, opts)
  opts = opts or {}
  local snaps, message, details = reader.read(conns, opts)
  if not snaps then return nil, message, details end
  for _, snap in ipairs(snaps) do
    snap.options = { schemas = opts.schemas, exclude_schemas = opts.exclude_schemas,
                     exclude_tables = opts.exclude_tables, exclude_field_patterns = opts.exclude_field_patterns }
    setmetatable(snap, schema.Snapshot)
  end
  return snaps
end

-- schema.snapshot(conn, opts) -> snapshot | nil, message, details
--   opts.schemas          only these schemas
--   opts.exclude_schemas  leave these schemas out
--   opts.exclude_tables   leave these tables out ("public.ladle_upgrades"),
--                         with everything that belongs to them
--   opts.exclude_field_patterns  leave out the columns of tables whose
--                         names match one of these SQL LIKE patterns
--   opts.dependencies     read pg_depend (default true; check does not need it)
--   opts.owners           read owners (a diff always does)
--   opts.sequence_values  read sequences' current values
function schema.snapshot(conn, opts)
  if type(conn) ~= "userdata" and type(conn) ~= "table" then
    error("bad argument #1 to 'snapshot' (connection expected, got " .. type(conn) .. ")", 2)
  end
  local snaps, message, details = schema.snapshots({ conn }, opts)
  if not snaps then return nil, message, details end
  return snaps[1]
end

-- A copy of snap without the schemas, tables and kinds opts leaves out
-- (objects are shared, not copied). Same options as snapshot().
function schema.filter(snap, opts)
  return filter.apply(snap, opts, schema.Snapshot, kinds.object_kinds)
end

schema.compare = compare.compare
schema.describe = compare.describe
schema.summary = compare.summary
schema.privileges = compare.privileges

-- The options check and diff share, checked: misuse raises, naming the
-- function (`fname`) the caller called.
local function check_options(opts, fname)
  for _, k in ipairs(opts.ignore or {}) do
    if not kinds.rank[k] then
      error(string.format("bad argument #3 to '%s' (unknown category '%s'; known: %s)",
        fname, tostring(k), table.concat(kinds.order, ", ")), 3)
    end
  end
end

-- schema.pair(a, b, opts, fname) -> snapshot_a, snapshot_b | nil, message, details
-- The one entry point behind check and diff: a and b are connections,
-- snapshots, or what ladle.connect takes; two databases are read at the
-- same time, one compared with itself once. opts as check's; a snapshot
-- taken before is filtered with them.
function schema.pair(a, b, opts, fname)
  opts = opts or {}
  check_options(opts, fname or "pair")
  local snap_opts = {
    schemas = opts.schemas, exclude_schemas = opts.exclude_schemas, exclude_tables = opts.exclude_tables,
    exclude_field_patterns = opts.exclude_field_patterns, dependencies = opts.dependencies,
    owners = opts.owners, sequence_values = opts.sequence_values,
  }
  local sides, conns, opened = { a, b }, {}, {}
  local function close_opened()
    for _, c in ipairs(opened) do c:close() end
  end
  for i, side in ipairs(sides) do
    if not schema.is_snapshot(side) then
      if type(side) == "string" or (type(side) == "table" and getmetatable(side) == nil) then
        local conn, message, details = pg.connect(side)
        if not conn then
          close_opened()
          return nil, message, details
        end
        opened[#opened + 1] = conn
        sides[i] = conn
      end
      conns[#conns + 1] = i
    end
  end
  if #conns == 2 and sides[1] == sides[2] then
    -- one database compared with itself: read it once
    local snaps, message, details = schema.snapshots({ sides[1] }, snap_opts)
    close_opened()
    if not snaps then return nil, message, details end
    return snaps[1], snaps[1]
  end
  if #conns > 0 then
    local list = {}
    for j, i in ipairs(conns) do list[j] = sides[i] end
    local snaps, message, details = schema.snapshots(list, snap_opts)
    close_opened()
    if not snaps then return nil, message, details end
    for j, i in ipairs(conns) do sides[i] = snaps[j] end
  end
  for i = 1, 2 do
    if conns[1] ~= i and conns[2] ~= i then sides[i] = schema.filter(sides[i], snap_opts) end
  end
  return sides[1], sides[2]
end

-- schema.check(a, b, opts) -> differences | nil, message, details
-- a and b are connections, snapshots, or what ladle.connect takes.
-- opts: ignore, schemas, exclude_schemas, exclude_tables,
-- exclude_field_patterns, column_order, owners (compare owners),
-- sequence_values (compare sequences' current values). An unknown category
-- in opts.ignore raises.
function schema.check(a, b, opts)
  opts = opts or {}
  local pair_opts = setmetatable({ dependencies = false }, { __index = opts })
  local sa, sb, details = schema.pair(a, b, pair_opts, "check")
  if not sa then return nil, sb, details end
  return compare.compare(sa, sb, opts)
end

return schema
