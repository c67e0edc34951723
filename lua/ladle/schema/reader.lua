-- ladle.schema.reader: reads snapshots, several databases at a time.
--
-- Every kind (ladle.schema.kinds) sends its catalog queries, and the
-- reader hands each kind its rows in kinds.read_order. The queries go out
-- in batches (libpq's pipeline mode): the server works through a batch
-- while ladle reads the answers, and with several databases the one whose
-- server answered first goes on (one coroutine per database).
--
-- A kind's read(r, rows, ...) gets the read state r:
--   r.snap             the snapshot being built (r.snap[kind][name] = obj)
--   r.v, r.opts, r.deps   server version, options, reading for a diff
--   r.class            catalog OIDs by name: r.class.pg_class, ...
--   r.refs[classoid][oid]  the object of a catalog row (comments, pg_depend)
--   r.by_class         r.refs[pg_class]: relations (and their rowtypes, ...)
--   r.member(classid, oid) the extension an object belongs to (left out)
--   r.nsp_name[oid], r.nsp_oids   the schemas read
--   r.type_obj[oid]    the type, domain or relation of a type OID (arrays too)
--   r.composite_rel[relid], r.partition_children[oid], r.columns_of[rel][attnum]
--   r.excluded_table(name)   the exclude_tables option
--   r.pseudo(kind, name)     stands for a part of an object in pg_depend
--   r.child(kind, parent, own_name, obj)   adds an object of a relation
--   r.add(catalog, oid, obj)  adds obj unless an extension owns it
--
-- The OID maps hold objects, not "kind name" strings: the strings are made
-- only for what pg_depend names (a check of a large database reads tens of
-- thousands of rows and the time goes into every little thing per row).

local catalog = require "ladle.catalog"
local pg = require "ladle.pg"
local kinds = require "ladle.schema.kinds"
local query = require "ladle.schema.query"
local filter = require "ladle.schema.filter"
local inheritance = require "ladle.schema.inheritance"

local reader = {}

-- the OIDs of the catalogs, by name: r.class.pg_class, ...
local META = [[
SELECT c.relname, c.oid FROM pg_catalog.pg_class c
 WHERE c.relnamespace = 'pg_catalog'::pg_catalog.regnamespace AND c.relkind = 'r']]

local EXTENSION_MEMBERS = [[
SELECT d.classid, d.objid, d.refobjid AS extension
  FROM pg_catalog.pg_depend d
 WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e']]

-- dependencies between user objects; the reader keeps those whose objects
-- it read
local DEPEND = ([[
SELECT d.classid, d.objid, d.objsubid, d.refclassid, d.refobjid, d.refobjsubid, d.deptype
  FROM pg_catalog.pg_depend d
 WHERE d.deptype IN ('n', 'a', 'i')
   AND d.objid >= %d AND d.refobjid >= %d]]):format(catalog.FIRST_NORMAL_OID, catalog.FIRST_NORMAL_OID)

-- Sends and receives on one connection; receive() raises
-- { catalog_error = message, details = details } when a query failed.
-- wait(), when given, is called before each receive (the coroutine yields
-- there).
local function catalog_io(conn, wait)
  local io = { outstanding = 0 }
  function io.send(sql, ...)
    local ok, message, details = conn:send(sql, ...)
    if not ok then error({ catalog_error = message, details = details }, 0) end
    io.outstanding = io.outstanding + 1
  end
  function io.receive()
    if wait then wait() end
    io.outstanding = io.outstanding - 1
    local rows, message, details = conn:receive()
    if not rows then error({ catalog_error = message, details = details }, 0) end
    return rows
  end
  -- reads what is still to come, after a failure
  function io.drain()
    while io.outstanding > 0 and not conn:is_closed() do
      io.outstanding = io.outstanding - 1
      conn:receive()
    end
  end
  return io
end

local function new_state(v, opts)
  local snap = { server_version = v }
  for _, name in ipairs(kinds.object_kinds) do snap[name] = {} end
  local r = {
    snap = snap, v = v, opts = opts, deps = opts.dependencies ~= false,
    nsp_name = {}, nsp_oids = {}, type_obj = {}, composite_rel = {}, partition_children = {},
    columns_of = {}, members = {},
  }
  function r.member(classid, oid)
    local m = r.members[classid]
    return m and m[oid]
  end
  function r.pseudo(kind, name) return { kind = kind, name = name } end
  -- obj (with kind and name) is the object of row oid of a catalog, unless
  -- an extension owns it (then it is left out): obj or nil
  function r.add(catalog, oid, obj)
    local class = r.class[catalog]
    if r.member(class, oid) then return nil end
    snap[obj.kind][obj.name] = obj
    r.refs[class][oid] = obj
    return obj
  end
  function r.child(kind, parent, own_name, obj)
    obj.kind, obj.name, obj.table = kind, parent.name .. "." .. own_name, parent.name
    if parent.kind ~= "tables" then obj.table_kind = parent.kind end
    snap[kind][obj.name] = obj
    return obj
  end
  r.excluded_table = filter.table_matcher(opts.exclude_tables)
  return r
end

-- "kind name" keys for pg_depend rows, from the OID maps.
local function read_depend(r, rows)
  local snap, class, columns_of = r.snap, r.class, r.columns_of
  local depends, keys = {}, setmetatable({}, { __mode = "k" })
  local function key(obj)
    local k = keys[obj]
    if not k then k = obj.kind .. " " .. obj.name; keys[obj] = k end
    return k
  end
  -- the column of the nearest parent that has it, else the table
  local function inherited_column(entry)
    local pending, seen = { entry.table }, {}
    while #pending > 0 do
      local t = table.remove(pending, 1)
      if not seen[t] then
        seen[t] = true
        for _, parent in ipairs(inheritance.parents(t)) do
          local col = snap.columns[parent .. "." .. entry.column]
          if col then return col end
          local p = snap.tables[parent]
          if p then pending[#pending + 1] = p end
        end
      end
    end
    return entry.table
  end
  local function object_of(classid, oid, subid)
    if subid > 0 and classid == class.pg_class then
      local cols = columns_of[oid]
      local obj = cols and cols[subid]
      if obj and obj.inherited then return inherited_column(obj) end
      if obj then return obj end
    end
    local m = r.refs[classid]
    return m and m[oid]
  end
  for _, row in ipairs(rows) do
    local from = object_of(row.classid, row.objid, row.objsubid)
    -- a column a table inherits depends on its type through the parent's
    if from and row.objsubid > 0 and row.classid == class.pg_class then
      local entry = columns_of[row.objid] and columns_of[row.objid][row.objsubid]
      if entry and entry.inherited then from = nil end
    end
    if from then
      local to = object_of(row.refclassid, row.refobjid, row.refobjsubid)
      if to and to ~= from then
        local fk, tk = key(from), key(to)
        if fk ~= tk then
          local d = depends[fk]
          if not d then d = {}; depends[fk] = d end
          if d[tk] ~= "n" then d[tk] = row.deptype end
        end
      end
    end
  end
  snap.depends = depends
end

-- Reads everything from a server of version v through io (catalog_io);
-- returns the snapshot. Raises { catalog_error = message }.
local function read_catalog(v, io, opts)
  local q = query.context(v, opts)
  local r = new_state(v, opts)
  local counts = {}   -- kind -> number of queries it sent
  local function send_kind(k, params)
    local list = k.query and { k.query(q) } or {}
    counts[k.name] = #list
    -- the schemas' OIDs go to the queries that take them
    for _, sql in ipairs(list) do
      if sql:find("$1", 1, true) then io.send(sql, params) else io.send(sql) end
    end
  end
  local function read_kind(k)
    local results = {}
    for i = 1, counts[k.name] do results[i] = io.receive() end
    if k.read then k.read(r, table.unpack(results, 1, counts[k.name])) end
  end

  io.send(META)
  io.send(EXTENSION_MEMBERS)
  for _, name in ipairs(kinds.read_order) do
    local k = kinds.by_name[name]
    if k.first then send_kind(k) end
  end

  r.class = {}
  for _, row in ipairs(io.receive()) do r.class[row.relname] = row.oid end
  r.refs = {}
  for _, oid in pairs(r.class) do r.refs[oid] = {} end
  r.by_class = r.refs[r.class.pg_class]
  -- extension members are left out, and stand for their extension
  for _, row in ipairs(io.receive()) do
    r.members[row.classid] = r.members[row.classid] or {}
    r.members[row.classid][row.objid] = row.extension
  end

  -- the kinds sent first read the schemas; then the rest goes out
  local sent_rest = false
  for _, name in ipairs(kinds.read_order) do
    local k = kinds.by_name[name]
    if not k.first and not sent_rest then
      for _, later in ipairs(kinds.read_order) do
        local lk = kinds.by_name[later]
        if not lk.first then send_kind(lk, r.nsp_oids) end
      end
      if r.deps then io.send(DEPEND) end
      sent_rest = true
    end
    read_kind(k)
  end

  for _, name in ipairs(kinds.read_order) do
    local k = kinds.by_name[name]
    if k.finish then k.finish(r) end
  end
  if r.deps then read_depend(r, io.receive()) end
  return r.snap
end

local function check_version(conn)
  local v = conn:server_version()
  if v < query.minimum_version then
    return nil, string.format("PostgreSQL %d.%d is not supported (10 or newer is needed)", v // 10000, v % 10000 // 100),
      { kind = "database", server_version = v }
  end
  return v
end

-- reader.read(conns, opts) -> { snapshot, ... } | nil, message, details
-- details.index: which connection failed. The snapshots have no metatable.
function reader.read(conns, opts)
  local n = #conns
  local threads, ios, sessions, results = {}, {}, {}, {}
  local failure, failed_at, failed_details, raised
  for i, conn in ipairs(conns) do
    local v, message, details = check_version(conn)
    local session
    if v then session, message, details = catalog.begin(conn) end
    if not session then failure, failed_at, failed_details = message, i, details break end
    sessions[i] = session
    ios[i] = catalog_io(conn, coroutine.yield)
    threads[i] = coroutine.create(function() return read_catalog(v, ios[i], opts) end)
  end
  -- Each thread runs until it needs its next answer; then the thread whose
  -- server answered first goes on.
  local function step(i)
    local ok, result = coroutine.resume(threads[i])
    if not ok then
      threads[i] = false
      if type(result) == "table" and result.catalog_error then
        failure, failed_at, failed_details = result.catalog_error, i, result.details
      else
        failure, failed_at, raised = tostring(result), i, result
      end
    elseif coroutine.status(threads[i]) == "dead" then
      threads[i] = false
      results[i] = result
    end
  end
  if not failure then
    for i = 1, n do
      step(i)
      if failure then break end
    end
  end
  while not failure do
    local waiting, index = {}, {}
    for i = 1, n do
      if threads[i] then
        waiting[#waiting + 1] = conns[i]
        index[#index + 1] = i
      end
    end
    if #waiting == 0 then break end
    step(index[pg.wait(waiting)])
  end
  for i, conn in ipairs(conns) do
    if ios[i] then ios[i].drain() end
    if sessions[i] then catalog.finish(conn, sessions[i], not failure) end
  end
  if raised ~= nil then error(raised, 0) end
  if failure then
    local details = {}
    for k, v in pairs(failed_details or {}) do details[k] = v end
    details.kind = details.kind or "database"
    details.index = failed_at
    return nil, failure, details
  end
  return results
end

return reader
