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
-- The catalog is read with one query per object kind (never one per
-- table), pg_catalog-qualified, with version-gated columns in the SQL (as
-- pg_dump does) so that the reading code never branches on versions; the
-- session runs with jit off and an empty search_path, so every name the
-- server prints comes back schema-qualified.

local queries = require "ladle.schema.queries"
local pg = require "ladle.pg"

local schema = {}

-- The object kinds of a snapshot, in the order check reports them. pum's
-- categories (tables columns constraints views sequences indexes triggers
-- functions rules) are among them.
schema.kinds = {
  "schemas", "extensions", "types", "domains", "sequences", "tables", "columns",
  "constraints", "indexes", "views", "materialized_views", "functions", "triggers",
  "rules", "policies", "privileges", "comments",
}

local kind_rank = {}
for i, k in ipairs(schema.kinds) do kind_rank[k] = i end
schema.kind_rank = kind_rank

-- For command-line flags: true, or false and the known kinds.
function schema.known_kind(value)
  if kind_rank[value] then return true end
  return false, "known kinds: " .. table.concat(schema.kinds, " ")
end

-- Differences in privileges and comments are reported in these two
-- categories; the objects themselves carry `acl` and `comment`.
local attribute_kinds = { privileges = "acl", comments = "comment" }

-- "tables" -> "table", for lines such as "~ comments column public.t.c".
schema.singular = {
  schemas = "schema", extensions = "extension", types = "type", domains = "domain",
  sequences = "sequence", tables = "table", columns = "column", constraints = "constraint",
  indexes = "index", views = "view", materialized_views = "materialized view",
  functions = "function", triggers = "trigger", rules = "rule", policies = "policy",
}

local function list_to_set(list)
  local set = {}
  for _, v in ipairs(list or {}) do set[v] = true end
  return set
end

-- Unquoted names as a user types them ("Audit" stays as typed, public
-- matches public): quote the way the server does, for the cases we need
-- (a lowercase word needs no quotes).
local function quote_name(name)
  if name:match("^[a-z_][a-z0-9_$]*$") then return name end
  return '"' .. name:gsub('"', '""') .. '"'
end
schema.quote_name = quote_name

-- "public.t", "t", '"My Schema".t' -> a matcher of qualified table names.
local function table_matcher(names)
  if not names or #names == 0 then return function() return false end end
  local exact, bare = {}, {}
  for _, n in ipairs(names or {}) do
    if n:find(".", 1, true) then
      exact[n] = true
      local s, t = n:match("^([^.\"]+)%.([^.\"]+)$")
      if s then exact[quote_name(s) .. "." .. quote_name(t)] = true end
    else
      bare[quote_name(n)] = true
      bare[n] = true
    end
  end
  return function(qualified)
    if exact[qualified] then return true end
    local last = qualified:match("%.([^.]+)$") or qualified
    return bare[last] == true
  end
end

-- Session settings --------------------------------------------------------

-- The catalog is read with jit off and an empty search_path, in a
-- read-only repeatable-read transaction when the connection is idle (a
-- consistent view of the catalog), or inside the caller's transaction with
-- the settings put back afterwards. Returns a session or nil, message.
local function begin_session(conn)
  local status = conn:transaction_status()
  if status == "idle" then
    local ok, message = conn:exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
      .. "SET LOCAL jit = off; SET LOCAL search_path = ''")
    if not ok then return nil, message end
    return { began = true }
  elseif status == "intrans" then
    local saved, message = conn:query("SELECT pg_catalog.current_setting('search_path') AS path, "
      .. "pg_catalog.current_setting('jit', true) AS jit")
    if not saved then return nil, message end
    local ok
    ok, message = conn:exec("SET LOCAL jit = off; SET LOCAL search_path = ''")
    if not ok then return nil, message end
    return { saved = saved[1] }
  end
  return nil, "cannot read the catalog: the connection is " .. tostring(status)
end

local function end_session(conn, session, ok)
  if conn:is_closed() then return end
  if session.began then
    conn:exec(ok and "COMMIT" or "ROLLBACK")
  elseif conn:transaction_status() == "intrans" then
    conn:query("SELECT pg_catalog.set_config('search_path', $1, true)", session.saved.path)
    if session.saved.jit then conn:query("SELECT pg_catalog.set_config('jit', $1, true)", session.saved.jit) end
  end
end

-- Reading -----------------------------------------------------------------

-- The catalog queries go out in batches (libpq's pipeline mode): the
-- server works through a batch while ladle reads the answers. An io
-- object sends and receives on one connection; receive() raises
-- { catalog_error = message } when a query failed. wait(), when given, is
-- called before each receive (the parallel reader yields there).
local function catalog_io(conn, wait)
  local io = { outstanding = 0 }
  function io.send(sql, ...)
    local ok, message = conn:send(sql, ...)
    if not ok then error({ catalog_error = message }, 0) end
    io.outstanding = io.outstanding + 1
  end
  function io.receive()
    if wait then wait() end
    io.outstanding = io.outstanding - 1
    local rows, message = conn:receive()
    if not rows then error({ catalog_error = message }, 0) end
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

local function new_snapshot(version)
  local snap = { server_version = version }
  for _, kind in ipairs(schema.kinds) do
    if not attribute_kinds[kind] then snap[kind] = {} end
  end
  return snap
end

local proc_kinds = { f = "function", p = "procedure", w = "window function" }

-- Stands for a pg_depend entry that is no snapshot object of its own: a
-- column's default, the column or table an inherited part belongs to.
local function pseudo(kind, name) return { kind = kind, name = name } end

-- Reads everything from a server of version v through io (catalog_io);
-- returns the snapshot. Raises { catalog_error = message }.
--
-- The OID maps hold objects, not "kind name" strings: the strings are
-- made only for what pg_depend and pg_description name (a check of a
-- large database reads tens of thousands of rows and the time goes into
-- every little thing done per row).
local function read_catalog(v, io, opts)
  local deps_wanted = opts.dependencies ~= false
  local q = queries.for_version(v, deps_wanted)
  local snap = new_snapshot(v)
  local queued = {}
  local function send(names, ...)
    for _, name in ipairs(names) do
      io.send(q[name], ...)
      queued[#queued + 1] = name
    end
  end
  local function fetch(name)
    assert(table.remove(queued, 1) == name, "catalog queries read out of order")
    return io.receive()
  end
  send({ "meta", "acl_defaults", "extension_members", "namespaces", "extensions" })

  local class = fetch("meta")[1]
  snap.acl_defaults = {}
  for _, row in ipairs(fetch("acl_defaults")) do
    local acl = row.acl or {}
    table.sort(acl)
    snap.acl_defaults[row.objkind] = acl
  end

  -- (class oid, object oid) -> object, for comments and pg_depend
  local refs = {}
  for _, oid in pairs(class) do refs[oid] = {} end
  local by_class = refs[class.pg_class]
  local columns_of = {}   -- rel oid -> attnum -> column (or its table)

  -- extension members are left out, and stand for their extension
  local members = {}
  for _, row in ipairs(fetch("extension_members")) do
    members[row.classid] = members[row.classid] or {}
    members[row.classid][row.objid] = row.extension
  end
  local function member(classid, oid)
    local m = members[classid]
    return m and m[oid]
  end

  -- schemas
  local wanted_schemas = opts.schemas and list_to_set(opts.schemas)
  local excluded_schemas = list_to_set(opts.exclude_schemas)
  local nsp_name, nsp_oids = {}, {}
  for _, row in ipairs(fetch("namespaces")) do
    local keep = not excluded_schemas[row.raw] and not excluded_schemas[row.name]
      and (not wanted_schemas or wanted_schemas[row.raw] or wanted_schemas[row.name])
      and not member(class.pg_namespace, row.oid)
    if keep then
      nsp_name[row.oid] = row.name
      nsp_oids[#nsp_oids + 1] = row.oid
      local obj = { kind = "schemas", name = row.name, owner = row.owner, acl = row.acl }
      snap.schemas[row.name] = obj
      refs[class.pg_namespace][row.oid] = obj
    end
  end

  -- everything else, in the order it is read below
  send({ "types", "relations", "inherits", "sequences", "columns", "constraints", "indexes",
         "functions", "triggers", "rules", "policies" }, nsp_oids)
  send({ "comments" })
  if deps_wanted then send({ "depend" }) end

  -- extensions (in kept schemas, and those in pg_catalog such as plpgsql)
  local extension_obj = {}
  for _, row in ipairs(fetch("extensions")) do
    local obj = { kind = "extensions", name = row.name, version = row.version, schema = row.schema,
                  relocatable = row.extrelocatable }
    extension_obj[row.oid] = obj
    if nsp_name[row.nsp] or row.schema == "pg_catalog" then
      snap.extensions[row.name] = obj
      refs[class.pg_extension][row.oid] = obj
    end
  end
  for _, m in pairs(members) do
    for oid, ext in pairs(m) do m[oid] = extension_obj[ext] or false end
  end

  local excluded_table = table_matcher(opts.exclude_tables)

  -- types: enums, composites, ranges and domains
  local type_obj = {}     -- type oid (and its array's) -> type, domain or relation
  local composite_rel = {}
  for _, row in ipairs(fetch("types")) do
    if not member(class.pg_type, row.oid) then
      local obj
      if row.typtype == "d" then
        obj = {
          kind = "domains", name = row.name, schema = nsp_name[row.nsp], base = row.base,
          notnull = row.typnotnull, default = row.default, collation = row.collation,
          owner = row.owner, acl = row.acl,
        }
        snap.domains[row.name] = obj
      else
        obj = { kind = "types", name = row.name, schema = nsp_name[row.nsp], owner = row.owner, acl = row.acl }
        if row.typtype == "e" then
          obj.type = "enum"
          obj.labels = row.labels or {}
        elseif row.typtype == "c" then
          obj.type = "composite"
          obj.attributes = {}
          composite_rel[row.typrelid] = obj
          by_class[row.typrelid] = obj
        else
          obj.type = "range"
          obj.subtype = row.subtype
          obj.subtype_opclass = row.subtype_opclass
          obj.collation = row.collation
          obj.canonical = row.canonical
          obj.subtype_diff = row.subtype_diff
          obj.multirange = row.multirange
        end
        snap.types[row.name] = obj
      end
      type_obj[row.oid] = obj
      if row.typarray then type_obj[row.typarray] = obj end
      if row.multirange_oid then type_obj[row.multirange_oid] = obj end
    end
  end

  -- relations: tables, views, materialized views, sequences
  local partition_children = {}
  for _, row in ipairs(fetch("relations")) do
    local relkind = row.relkind
    local kind = (relkind == "r" or relkind == "p") and "tables"
      or relkind == "v" and "views" or relkind == "m" and "materialized_views"
      or relkind == "S" and "sequences" or nil
    local name = nsp_name[row.nsp] .. "." .. row.relname
    if kind and not (kind == "tables" and excluded_table(name)) and not member(class.pg_class, row.oid) then
      local obj = { kind = kind, name = name, schema = nsp_name[row.nsp], owner = row.owner, acl = row.acl }
      if kind == "tables" then
        obj.partitioned = relkind == "p" or nil
        obj.unlogged = row.unlogged
        obj.partition_key = row.partkey
        obj.options = row.reloptions
        obj.row_security = row.relrowsecurity
        obj.force_row_security = row.relforcerowsecurity
        if row.relispartition then
          obj.partition_bound = row.bound
          partition_children[row.oid] = true
        end
        snap.tables[name] = obj
      elseif kind ~= "sequences" then
        obj.definition = (row.viewdef or ""):gsub("^%s+", ""):gsub(";%s*$", "")
        obj.options = row.reloptions
        obj.columns = {}
        snap[kind][name] = obj
        if row.rule then refs[class.pg_rewrite][row.rule] = obj end
      end
      by_class[row.oid] = obj
      if row.reltype then type_obj[row.reltype] = obj end
      if row.rowtype_array then type_obj[row.rowtype_array] = obj end
    end
  end

  -- partitions and inheritance
  for _, row in ipairs(fetch("inherits")) do
    local obj = by_class[row.rel]
    if obj and obj.kind == "tables" then
      if partition_children[row.rel] then
        obj.partition_of = row.parent
      else
        obj.inherits = obj.inherits or {}
        obj.inherits[#obj.inherits + 1] = row.parent
      end
    end
  end

  -- sequences (identity sequences belong to their column)
  local identity_sequence = {}
  for _, row in ipairs(fetch("sequences")) do
    local obj = by_class[row.oid]
    if obj and obj.kind == "sequences" then
      if row.owner_type == "i" then
        identity_sequence[row.oid] = row
      else
        obj.data_type = row.data_type
        obj.start = row.seqstart
        obj.increment = row.seqincrement
        obj.min = row.seqmin
        obj.max = row.seqmax
        obj.cache = row.seqcache
        obj.cycle = row.seqcycle or nil
        obj.owner_rel, obj.owner_col = row.owner_rel, row.owner_col
        snap.sequences[obj.name] = obj
      end
    end
  end

  -- columns (tables, composite types; views' too when reading for a diff).
  -- Columns a table inherits from a parent, and all columns of partitions,
  -- are compared on the parent.
  local columns = snap.columns
  local attrdef = refs[class.pg_attrdef]
  local last_rel, owner, cols, composite
  for _, row in ipairs(fetch("columns")) do
    local rel = row.rel
    if rel ~= last_rel then
      last_rel, owner, composite = rel, by_class[rel], composite_rel[rel]
      cols = {}
      columns_of[rel] = cols
    end
    if owner == nil then
      -- a relation left out
    elseif composite then
      composite.attributes[#composite.attributes + 1] = row.collation
        and (row.name .. " " .. row.type .. " COLLATE " .. row.collation) or (row.name .. " " .. row.type)
    elseif owner.kind ~= "tables" then
      owner.columns[#owner.columns + 1] = row.name .. " " .. row.type
      cols[row.attnum] = owner
    elseif row.attinhcount or partition_children[rel] then
      -- what depends on it depends on the parent's column (see object_of)
      cols[row.attnum] = { inherited = true, table = owner, column = row.name }
    else
      local name = owner.name .. "." .. row.name
      local col = {
        kind = "columns", name = name, table = owner.name, column = row.name, schema = owner.schema,
        position = row.attnum, type = row.type, collation = row.collation, notnull = row.attnotnull,
      }
      if row.attidentity then col.identity = row.attidentity == "a" and "always" or "by default" end
      if row.attgenerated then
        col.generated = row.default
        if row.defoid then attrdef[row.defoid] = col end
      else
        col.default = row.default
        if row.defoid then attrdef[row.defoid] = pseudo("defaults", name) end
      end
      columns[name] = col
      cols[row.attnum] = col
    end
  end
  for oid, row in pairs(identity_sequence) do
    local col = columns_of[row.owner_rel] and columns_of[row.owner_rel][row.owner_col]
    if col then by_class[oid] = col.inherited and col.table or col end
  end
  for _, obj in pairs(snap.sequences) do
    if obj.owner_rel then
      local col = columns_of[obj.owner_rel] and columns_of[obj.owner_rel][obj.owner_col]
      if col and col.kind == "columns" then
        obj.owned_by = col.name
      elseif not by_class[obj.owner_rel] then
        -- owned by a column of a table left out: left out with it
        snap.sequences[obj.name] = nil
      end
    end
    obj.owner_rel, obj.owner_col = nil, nil
  end

  -- constraints of tables and domains
  local constraint_index = {}
  local constraints = snap.constraints
  for _, row in ipairs(fetch("constraints")) do
    local parent = row.rel and by_class[row.rel]
    if parent then
      local inherited = row.conparentid or (row.coninhcount and row.conislocal == false)
        or (row.coninhcount and partition_children[row.rel])
      if inherited then
        refs[class.pg_constraint][row.oid] = parent
      elseif parent.kind == "tables" then
        local name = parent.name .. "." .. row.name
        local obj = {
          kind = "constraints", name = name, table = parent.name, constraint = row.name,
          schema = parent.schema, type = row.contype, definition = row.def,
        }
        constraints[name] = obj
        refs[class.pg_constraint][row.oid] = obj
        if row.conindid then constraint_index[row.conindid] = obj end
      end
    elseif row.typ then
      local domain = type_obj[row.typ]
      if domain and domain.kind == "domains" then
        local name = domain.name .. "." .. row.name
        local obj = {
          kind = "constraints", name = name, domain = domain.name, constraint = row.name,
          schema = domain.schema, type = row.contype, definition = row.def,
        }
        constraints[name] = obj
        refs[class.pg_constraint][row.oid] = obj
      end
    end
  end
  for oid, obj in pairs(constraint_index) do by_class[oid] = obj end

  -- indexes that back no constraint
  for _, row in ipairs(fetch("indexes")) do
    local parent = by_class[row.rel]
    if parent and not member(class.pg_class, row.oid) and not constraint_index[row.oid] then
      if row.relispartition then
        by_class[row.oid] = parent
      else
        local name = parent.schema .. "." .. row.relname
        local obj = {
          kind = "indexes", name = name, table = parent.name, schema = parent.schema, definition = row.def,
          table_kind = parent.kind ~= "tables" and parent.kind or nil, on_partitioned = parent.partitioned,
        }
        snap.indexes[name] = obj
        by_class[row.oid] = obj
      end
    end
  end

  -- functions and procedures
  for _, row in ipairs(fetch("functions")) do
    if not member(class.pg_proc, row.oid) then
      local obj = {
        kind = "functions", name = row.name, schema = nsp_name[row.nsp],
        type = proc_kinds[row.prokind] or "function", definition = row.def,
        result = row.result, arguments = row.arguments, owner = row.owner, acl = row.acl,
      }
      snap.functions[row.name] = obj
      refs[class.pg_proc][row.oid] = obj
    end
  end

  -- triggers, rules, policies: objects of a relation, named "schema.table.name"
  local function relation_child(kind, parent, own_name, obj)
    obj.kind, obj.name, obj.table, obj.schema = kind, parent.name .. "." .. own_name, parent.name, parent.schema
    obj.table_kind = parent.kind ~= "tables" and parent.kind or nil
    snap[kind][obj.name] = obj
    return obj
  end
  for _, row in ipairs(fetch("triggers")) do
    local parent = by_class[row.rel]
    if parent and not member(class.pg_trigger, row.oid) then
      if row.tgparentid then
        refs[class.pg_trigger][row.oid] = parent
      else
        refs[class.pg_trigger][row.oid] = relation_child("triggers", parent, row.name,
          { trigger = row.name, definition = row.def, enabled = row.tgenabled })
      end
    end
  end
  for _, row in ipairs(fetch("rules")) do
    local parent = by_class[row.rel]
    if parent then
      refs[class.pg_rewrite][row.oid] = relation_child("rules", parent, row.name,
        { rule = row.name, definition = row.def, enabled = row.ev_enabled })
    end
  end
  for _, row in ipairs(fetch("policies")) do
    local parent = by_class[row.rel]
    if parent then
      refs[class.pg_policy][row.oid] = relation_child("policies", parent, row.name, {
        policy = row.name, permissive = row.polpermissive, command = row.command, roles = row.roles or {},
        using = row.qual, with_check = row.with_check,
      })
    end
  end

  for classid, m in pairs(members) do
    local r = refs[classid]
    if r then
      for oid, ext in pairs(m) do r[oid] = ext or nil end
    end
  end
  local types = refs[class.pg_type]
  for oid, obj in pairs(type_obj) do
    if types[oid] == nil then types[oid] = obj end
  end

  -- comments (an extension member's comment is not its extension's)
  for _, row in ipairs(fetch("comments")) do
    local obj
    if row.objsubid > 0 then
      if row.classoid == class.pg_class then
        obj = columns_of[row.objoid] and columns_of[row.objoid][row.objsubid]
        if obj and (obj.inherited or obj.kind ~= "columns") then obj = nil end
      end
    else
      obj = refs[row.classoid] and refs[row.classoid][row.objoid]
    end
    if obj and snap[obj.kind] and snap[obj.kind][obj.name] == obj
        and (obj.kind ~= "extensions" or row.classoid == class.pg_extension) then
      obj.comment = row.description
    end
  end

  -- dependencies, translated to "kind name" keys
  if deps_wanted then
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
          for _, parent in ipairs(t.partition_of and { t.partition_of } or t.inherits or {}) do
            local col = columns[parent .. "." .. entry.column]
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
      local m = refs[classid]
      return m and m[oid]
    end
    for _, row in ipairs(fetch("depend")) do
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
  return snap
end

local function check_version(conn)
  local v = conn:server_version()
  if v < queries.minimum_version then
    return nil, string.format("PostgreSQL %d.%d is not supported (10 or newer is needed)", v // 10000, v % 10000 // 100)
  end
  return v
end

-- schema.snapshots(conns, opts) -> { snapshot, ... } | nil, message, index
-- Snapshots of several databases read at the same time: every server gets
-- its queries at once and works through them while ladle reads the
-- answers, one at a time from each. Same options as snapshot().
function schema.snapshots(conns, opts)
  opts = opts or {}
  local n = #conns
  local threads, ios, sessions, results = {}, {}, {}, {}
  local failure, failed_at, raised
  for i, conn in ipairs(conns) do
    local v, message = check_version(conn)
    local session
    if v then session, message = begin_session(conn) end
    if not session then failure, failed_at = message, i break end
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
        failure, failed_at = result.catalog_error, i
      else
        failure, failed_at, raised = tostring(result), i, result
      end
    elseif coroutine.status(threads[i]) == "dead" then
      threads[i] = false
      result.options = { schemas = opts.schemas, exclude_schemas = opts.exclude_schemas,
                         exclude_tables = opts.exclude_tables }
      results[i] = setmetatable(result, schema.Snapshot)
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
    if sessions[i] then end_session(conn, sessions[i], not failure) end
  end
  if raised ~= nil then error(raised, 0) end
  if failure then return nil, failure, failed_at end
  return results
end

-- schema.snapshot(conn, opts) -> snapshot | nil, message
--   opts.schemas          only these schemas
--   opts.exclude_schemas  leave these schemas out
--   opts.exclude_tables   leave these tables out ("public.ladle_upgrades"),
--                         with everything that belongs to them
--   opts.dependencies     read pg_depend (default true; check does not need it)
function schema.snapshot(conn, opts)
  if type(conn) ~= "userdata" and type(conn) ~= "table" then
    error("bad argument #1 to 'snapshot' (connection expected, got " .. type(conn) .. ")", 2)
  end
  local snaps, message = schema.snapshots({ conn }, opts)
  if not snaps then return nil, message end
  return snaps[1]
end

schema.Snapshot = { __name = "ladle.schema.snapshot" }
schema.Snapshot.__index = schema.Snapshot

-- Number of objects of each kind, for a quick look in the REPL.
function schema.Snapshot:counts()
  local counts = {}
  for _, kind in ipairs(schema.kinds) do
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

-- Two sides of a comparison -> two snapshots (read at the same time when
-- both are databases), or nil, message.
function schema.resolve_pair(a, b, opts)
  local sides, conns, opened = { a, b }, {}, {}
  for i, side in ipairs(sides) do
    if not schema.is_snapshot(side) then
      if type(side) == "string" or (type(side) == "table" and getmetatable(side) == nil) then
        local conn, message = pg.connect(side)
        if not conn then
          for _, c in ipairs(opened) do c:close() end
          return nil, message
        end
        opened[#opened + 1] = conn
        sides[i] = conn
      end
      conns[#conns + 1] = i
    end
  end
  if #conns == 2 and sides[1] == sides[2] then
    -- one database compared with itself: read it once
    table.remove(conns)
    local snaps, message = schema.snapshots({ sides[1] }, opts)
    for _, c in ipairs(opened) do c:close() end
    if not snaps then return nil, message end
    return snaps[1], snaps[1]
  end
  if #conns > 0 then
    local list = {}
    for j, i in ipairs(conns) do list[j] = sides[i] end
    local snaps, message = schema.snapshots(list, opts)
    for _, c in ipairs(opened) do c:close() end
    if not snaps then return nil, message end
    for j, i in ipairs(conns) do sides[i] = snaps[j] end
  end
  for i = 1, 2 do
    if conns[1] ~= i and conns[2] ~= i then sides[i] = schema.filter(sides[i], opts) end
  end
  return sides[1], sides[2]
end

-- Filtering a snapshot taken elsewhere ------------------------------------

-- A copy of snap without the schemas, tables and kinds opts leaves out
-- (objects are shared, not copied). Same options as snapshot().
function schema.filter(snap, opts)
  opts = opts or {}
  if not (opts.schemas or opts.exclude_schemas or opts.exclude_tables) then return snap end
  local wanted = opts.schemas and list_to_set(opts.schemas)
  local excluded = list_to_set(opts.exclude_schemas)
  for _, s in ipairs(opts.exclude_schemas or {}) do excluded[quote_name(s)] = true end
  if wanted then for _, s in ipairs(opts.schemas) do wanted[quote_name(s)] = true end end
  local excluded_table = table_matcher(opts.exclude_tables)
  local function keep(obj)
    local s = obj.schema
    if obj.kind == "schemas" then s = obj.name end
    if s and (excluded[s] or (wanted and not wanted[s])) then return false end
    if obj.kind == "tables" and excluded_table(obj.name) then return false end
    if obj.table and excluded_table(obj.table) then return false end
    if obj.kind == "sequences" and obj.owned_by then
      local t = obj.owned_by:match("^(.*)%.[^.]+$")
      if t and excluded_table(t) then return false end
    end
    return true
  end
  local out = setmetatable({}, schema.Snapshot)
  for k, v in pairs(snap) do out[k] = v end
  for _, kind in ipairs(schema.kinds) do
    if snap[kind] then
      local t = {}
      for name, obj in pairs(snap[kind]) do
        if keep(obj) then t[name] = obj end
      end
      out[kind] = t
    end
  end
  return out
end

-- Comparing ------------------------------------------------------------------

local function show(value)
  if value == nil then return "none" end
  if type(value) == "table" then return "(" .. table.concat(value, ", ") .. ")" end
  if value == true then return "yes" end
  if value == false then return "no" end
  return tostring(value)
end
schema.show = show

local function same(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" or #a ~= #b then return false end
  for i = 1, #a do
    if not same(a[i], b[i]) then return false end
  end
  return true
end
schema.same = same

local function sorted(list)
  if list == nil then return nil end
  local copy = table.move(list, 1, #list, 1, {})
  table.sort(copy)
  return copy
end
schema.sorted_list = sorted

-- The fields compared for each kind, in the order they are described.
-- Long texts say "definition differs" rather than printing both sides.
schema.fields = {
  schemas = {},
  extensions = { "version", "schema" },
  types = { "type", "labels", "attributes", "subtype", "subtype_opclass", "collation", "canonical", "subtype_diff" },
  domains = { "base", "collation", "notnull", "default" },
  sequences = { "data_type", "start", "increment", "min", "max", "cache", "cycle", "owned_by" },
  tables = { "partitioned", "partition_key", "unlogged", "partition_of", "partition_bound", "inherits",
             "options", "row_security", "force_row_security" },
  columns = { "type", "collation", "notnull", "default", "identity", "generated" },
  constraints = { "definition" },
  indexes = { "definition" },
  views = { "definition", "options" },
  materialized_views = { "definition", "options" },
  functions = { "definition" },
  triggers = { "definition", "enabled" },
  rules = { "definition", "enabled" },
  policies = { "permissive", "command", "roles", "using", "with_check" },
}

local long_fields = { definition = true }

-- 'text', shortened to about n characters
local function quote_text(text, n)
  n = n or 60
  text = text:gsub("%s+", " ")
  if #text > n then text = text:sub(1, n - 3) .. "..." end
  return "'" .. text .. "'"
end

-- What differs between two definitions: both when they are short, else
-- the first line that differs.
local function describe_definition(a, b)
  if a and b and not a:find("\n") and not b:find("\n") and #a + #b <= 160 then
    return string.format("%s -> %s", a, b)
  end
  if not a or not b then return string.format("%s -> %s", a or "none", b or "none") end
  local la, lb = {}, {}
  for line in (a .. "\n"):gmatch("(.-)\n") do la[#la + 1] = line end
  for line in (b .. "\n"):gmatch("(.-)\n") do lb[#lb + 1] = line end
  for i = 1, math.max(#la, #lb) do
    if la[i] ~= lb[i] then
      return string.format("differs at line %d: %s -> %s", i,
        la[i] and quote_text(la[i]) or "(end)", lb[i] and quote_text(lb[i]) or "(end)")
    end
  end
  return "differs"
end
local unordered_fields = { options = true, roles = true }
-- yes/no fields, absent when no
local flag_fields = { notnull = true, unlogged = true, partitioned = true, row_security = true,
                      force_row_security = true, cycle = true }

local function field_value(obj, field)
  local value = obj[field]
  if unordered_fields[field] then return sorted(value) end
  return value
end

-- The privileges of an object as a sorted list; NULL in the catalog means
-- the built-in default for its kind.
local acl_kind = { tables = "r", views = "r", materialized_views = "r", sequences = "s", functions = "f", schemas = "n" }
schema.acl_kind = acl_kind

function schema.privileges(snap, obj)
  local k = acl_kind[obj.kind]
  if not k then return nil end
  if obj.acl then return sorted(obj.acl) end
  return snap.acl_defaults and snap.acl_defaults[k] or {}
end

-- What differs between two versions of one object: a list of short
-- descriptions, empty when they are the same. opts.column_order compares
-- column positions too.
function schema.describe(kind, a, b, opts)
  local out = {}
  for _, field in ipairs(schema.fields[kind] or {}) do
    local va, vb = field_value(a, field), field_value(b, field)
    if not same(va, vb) then
      if long_fields[field] then
        local d = describe_definition(va, vb)
        out[#out + 1] = field .. (d:match("^differs") and " " or ": ") .. d
      elseif flag_fields[field] then
        out[#out + 1] = string.format("%s: %s -> %s", field == "notnull" and "not null" or field:gsub("_", " "),
          va and "yes" or "no", vb and "yes" or "no")
      else
        out[#out + 1] = string.format("%s: %s -> %s", field:gsub("_", " "), show(va), show(vb))
      end
    end
  end
  if kind == "columns" and opts and opts.column_order and a.position ~= b.position then
    out[#out + 1] = string.format("position: %d -> %d", a.position, b.position)
  end
  return out
end

-- A one-line summary of an object that exists on one side only.
function schema.summary(obj)
  local k = obj.kind
  if k == "tables" then
    if obj.partition_of then return "partition of " .. obj.partition_of .. " " .. (obj.partition_bound or "") end
    return (obj.unlogged and "unlogged " or "") .. (obj.partitioned and "partitioned table" or "table")
  elseif k == "columns" then
    local s = obj.type
    if obj.collation then s = s .. " COLLATE " .. obj.collation end
    if obj.notnull then s = s .. " NOT NULL" end
    if obj.default then s = s .. " DEFAULT " .. obj.default end
    if obj.generated then s = s .. " GENERATED ALWAYS AS (" .. obj.generated .. ")" end
    if obj.identity then s = s .. " identity" end
    return s
  elseif k == "constraints" or k == "indexes" then
    return obj.definition
  elseif k == "functions" then
    return obj.type == "procedure" and "procedure" or ("returns " .. (obj.result or "?"))
  elseif k == "types" then
    if obj.type == "enum" then return "enum " .. show(obj.labels) end
    if obj.type == "composite" then return "composite " .. show(obj.attributes) end
    return "range of " .. tostring(obj.subtype)
  elseif k == "domains" then
    return "domain over " .. obj.base
  elseif k == "extensions" then
    return "version " .. obj.version
  elseif k == "sequences" then
    return obj.owned_by and ("owned by " .. obj.owned_by) or obj.data_type
  elseif k == "views" then
    return "view"
  elseif k == "materialized_views" then
    return "materialized view"
  elseif k == "policies" then
    return (obj.permissive and "permissive" or "restrictive") .. " for " .. obj.command
  end
  return ""
end

-- The object a sub-object belongs to, as "kind name" (nil for top level).
local function parent_key(obj)
  if obj.table then
    return (obj.table_kind or "tables") .. " " .. obj.table
  elseif obj.domain then
    return "domains " .. obj.domain
  elseif obj.kind == "sequences" and obj.owned_by then
    return "columns " .. obj.owned_by
  end
  return nil
end
schema.parent_key = parent_key

local function set_diff(a, b)
  local in_a, in_b = list_to_set(a), list_to_set(b)
  local added, removed = {}, {}
  for _, v in ipairs(b or {}) do if not in_a[v] then added[#added + 1] = v end end
  for _, v in ipairs(a or {}) do if not in_b[v] then removed[#removed + 1] = v end end
  return added, removed
end
schema.set_diff = set_diff

-- schema.compare(a, b, opts) -> list of differences between two snapshots:
--   { sign = "+"|"-"|"~", category = kind, name = identity, what = text,
--     before = object in a, after = object in b }
-- "+" exists only in b, "-" only in a, "~" in both but different. An
-- object that exists on one side only stands for what belongs to it
-- (columns of a missing table are not listed again) unless its own
-- category is ignored. opts.ignore: categories to leave out;
-- opts.column_order: compare column positions too.
function schema.compare(a, b, opts)
  opts = opts or {}
  local ignored = list_to_set(opts.ignore)
  local out = {}
  local function emit(sign, category, name, what, before, after)
    if not ignored[category] then
      out[#out + 1] = { sign = sign, category = category, name = name, what = what, before = before, after = after }
    end
  end
  -- an object on one side only folds its sub-objects into its own line
  local function folded(snap, other, obj)
    local pk = parent_key(obj)
    while pk do
      local kind, name = pk:match("^(%S+) (.*)$")
      if ignored[kind] then return false end
      local parent = snap[kind] and snap[kind][name]
      if not parent then return false end
      if not (other[kind] and other[kind][name]) then return true end
      pk = parent_key(parent)
    end
    return false
  end
  for _, kind in ipairs(schema.kinds) do
    if not attribute_kinds[kind] then
      local ta, tb = a[kind] or {}, b[kind] or {}
      local fields = schema.fields[kind]
      local has_acl = acl_kind[kind]
      for name, oa in pairs(ta) do
        local ob = tb[name]
        if not ob then
          if not folded(a, b, oa) then emit("-", kind, name, schema.summary(oa), oa, nil) end
        else
          -- most objects are equal: look for a difference before describing it
          local differs = opts.column_order and kind == "columns" and oa.position ~= ob.position
          for i = 1, #fields do
            if differs then break end
            local va, vb = oa[fields[i]], ob[fields[i]]
            if va ~= vb and (type(va) ~= "table" or type(vb) ~= "table" or not same(va, vb)
                or unordered_fields[fields[i]]) then
              differs = true
            end
          end
          if differs then
            local what = schema.describe(kind, oa, ob, opts)
            if #what > 0 then emit("~", kind, name, table.concat(what, "; "), oa, ob) end
          end
          if has_acl and (oa.acl or ob.acl) then
            local added, removed = set_diff(schema.privileges(a, oa), schema.privileges(b, ob))
            if #added + #removed > 0 then
              local parts = {}
              for _, p in ipairs(removed) do parts[#parts + 1] = "-" .. p end
              for _, p in ipairs(added) do parts[#parts + 1] = "+" .. p end
              emit("~", "privileges", schema.singular[kind] .. " " .. name, table.concat(parts, " "), oa, ob)
            end
          end
          if oa.comment ~= ob.comment then
            local sign = oa.comment == nil and "+" or ob.comment == nil and "-" or "~"
            emit(sign, "comments", schema.singular[kind] .. " " .. name, string.format("%s -> %s",
              oa.comment and quote_text(oa.comment) or "none", ob.comment and quote_text(ob.comment) or "none"), oa, ob)
          end
        end
      end
      for name, ob in pairs(tb) do
        if not ta[name] and not folded(b, a, ob) then emit("+", kind, name, schema.summary(ob), nil, ob) end
      end
    end
  end
  table.sort(out, function(x, y)
    if x.category ~= y.category then return kind_rank[x.category] < kind_rank[y.category] end
    if x.name ~= y.name then return x.name < y.name end
    return x.sign < y.sign
  end)
  for _, d in ipairs(out) do
    d.line = string.format("%s %s %s%s", d.sign, d.category, d.name, d.what ~= "" and (": " .. d.what) or "")
  end
  return out
end

-- schema.check(a, b, opts) -> differences | nil, message
-- a and b are connections, snapshots, or what ladle.connect takes.
-- opts: ignore, schemas, exclude_schemas, exclude_tables, column_order.
-- An unknown category in opts.ignore raises.
function schema.check(a, b, opts)
  opts = opts or {}
  for _, k in ipairs(opts.ignore or {}) do
    if not kind_rank[k] then
      error(string.format("bad argument #3 to 'check' (unknown category '%s'; known: %s)",
        tostring(k), table.concat(schema.kinds, ", ")), 2)
    end
  end
  local snap_opts = {
    schemas = opts.schemas, exclude_schemas = opts.exclude_schemas,
    exclude_tables = opts.exclude_tables, dependencies = false,
  }
  local sa, sb, message = schema.resolve_pair(a, b, snap_opts)
  if not sa then return nil, sb end
  return schema.compare(sa, sb, opts)
end

return schema
