-- ladle.repl.lists: the lists psql's backslash commands print (\dt, \dv,
-- \dm, \di, \ds, \df, \dn, \du, \dx, \l) with psql's columns and titles,
-- and the REPL's own tables(). Each returns records (ladle.repl.query) that
-- print as psql prints the list; a pattern is read as psql reads it.
--
-- Catalog queries as pg_dump writes them: pg_catalog-qualified, one per
-- list, columns gated on the server version; run in a catalog session.

local ident = require "ladle.ident"
local query = require "ladle.repl.query"

local lists = {}

local must, records = query.must, query.records

-- How psql shows its lists: NULL as nothing, the title centred.
local LIST = { null = "", centre_title = true, numbers = false }

local relkind_names = [[
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
    WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table'
    WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END]]

-- The relation kinds each letter of \d[tvmisE] lists.
local letter_kinds = { t = { "r", "p" }, v = { "v" }, m = { "m" }, i = { "i", "I" }, s = { "S" }, E = { "f" } }

local SYSTEM_SCHEMAS = [[
       AND n.nspname <> 'pg_catalog' AND n.nspname !~ '^pg_toast' AND n.nspname <> 'information_schema']]

-- lists.relations(db, letters, pattern, opts) -> the "List of relations"
-- of \dt, \dv, \dm, \di, \ds and \d (letters "tvmsE"); opts.verbose adds
-- persistence, access method, size and description; opts.system (\dtS)
-- lists the system schemas too.
function lists.relations(db, letters, pattern, opts)
  opts = opts or {}
  local kinds = {}
  for letter in letters:gmatch(".") do
    for _, k in ipairs(letter_kinds[letter] or {}) do kinds[#kinds + 1] = k end
  end
  local indexes = letters:find("i", 1, true) ~= nil
  local fields = { "Schema", "Name", "Type", "Owner" }
  local columns = { "n.nspname AS \"Schema\"", "c.relname AS \"Name\"", relkind_names .. " AS \"Type\"",
    "pg_catalog.pg_get_userbyid(c.relowner) AS \"Owner\"" }
  if indexes then
    fields[#fields + 1] = "Table"
    columns[#columns + 1] = "c2.relname AS \"Table\""
  end
  if opts.verbose then
    for _, f in ipairs({ "Persistence", "Access method", "Size", "Description" }) do fields[#fields + 1] = f end
    columns[#columns + 1] = "CASE c.relpersistence WHEN 'p' THEN 'permanent' WHEN 't' THEN 'temporary' "
      .. "WHEN 'u' THEN 'unlogged' END AS \"Persistence\""
    columns[#columns + 1] = (db:server_version() >= 120000 and "am.amname" or "NULL::pg_catalog.name")
      .. " AS \"Access method\""
    columns[#columns + 1] = "pg_catalog.pg_size_pretty(pg_catalog.pg_table_size(c.oid)) AS \"Size\""
    columns[#columns + 1] = "pg_catalog.obj_description(c.oid, 'pg_class') AS \"Description\""
  end
  local s, n = query.pattern(pattern)
  local sql = string.format([[
    SELECT %s
      FROM pg_catalog.pg_class c
      LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      %s
      %s
     WHERE c.relkind OPERATOR(pg_catalog.=) ANY ($3::pg_catalog."char"[])
       %s
       %s
     ORDER BY 1, 2]],
    table.concat(columns, ",\n           "),
    db:server_version() >= 120000 and "LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam" or "",
    indexes and "LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid "
      .. "LEFT JOIN pg_catalog.pg_class c2 ON i.indrelid = c2.oid" or "",
    (pattern or opts.system) and "" or SYSTEM_SCHEMAS,
    query.pattern_filter("n.nspname", "c.relname", "pg_catalog.pg_table_is_visible(c.oid)", "$1", "$2"))
  local rows = query.catalog(db, function(conn) return must(conn, sql, s, n, kinds) end)
  return records(rows, fields, "List of relations", LIST)
end

-- lists.functions(db, pattern, opts) -> \df's "List of functions";
-- opts.verbose adds volatility, parallel safety, owner, security,
-- privileges, language, source and description.
function lists.functions(db, pattern, opts)
  opts = opts or {}
  local version = db:server_version()
  local fields = { "Schema", "Name", "Result data type", "Argument data types", "Type" }
  local kind = version >= 110000
    and "CASE p.prokind WHEN 'a' THEN 'agg' WHEN 'w' THEN 'window' WHEN 'p' THEN 'proc' ELSE 'func' END"
    or "CASE WHEN p.proisagg THEN 'agg' WHEN p.proiswindow THEN 'window' ELSE 'func' END"
  local columns = { "n.nspname AS \"Schema\"", "p.proname AS \"Name\"",
    "pg_catalog.pg_get_function_result(p.oid) AS \"Result data type\"",
    "pg_catalog.pg_get_function_arguments(p.oid) AS \"Argument data types\"", kind .. " AS \"Type\"" }
  if opts.verbose then
    for _, f in ipairs({ "Volatility", "Parallel", "Owner", "Security", "Access privileges", "Language",
      "Source code", "Description" }) do fields[#fields + 1] = f end
    columns[#columns + 1] = "CASE p.provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable' "
      .. "WHEN 'v' THEN 'volatile' END AS \"Volatility\""
    columns[#columns + 1] = (version >= 90600 and "CASE p.proparallel WHEN 'r' THEN 'restricted' "
      .. "WHEN 's' THEN 'safe' WHEN 'u' THEN 'unsafe' END" or "NULL::pg_catalog.text") .. " AS \"Parallel\""
    columns[#columns + 1] = "pg_catalog.pg_get_userbyid(p.proowner) AS \"Owner\""
    columns[#columns + 1] = "CASE WHEN p.prosecdef THEN 'definer' ELSE 'invoker' END AS \"Security\""
    columns[#columns + 1] = "pg_catalog.array_to_string(p.proacl, E'\\n') AS \"Access privileges\""
    columns[#columns + 1] = "l.lanname AS \"Language\""
    columns[#columns + 1] = "p.prosrc AS \"Source code\""
    columns[#columns + 1] = "pg_catalog.obj_description(p.oid, 'pg_proc') AS \"Description\""
  end
  local s, n = query.pattern(pattern)
  local sql = string.format([[
    SELECT %s
      FROM pg_catalog.pg_proc p
      LEFT JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
      LEFT JOIN pg_catalog.pg_language l ON l.oid = p.prolang
     WHERE true
       %s
       %s
     ORDER BY 1, 2, 4]],
    table.concat(columns, ",\n           "),
    (pattern or opts.system) and "" or "AND n.nspname <> 'pg_catalog' AND n.nspname <> 'information_schema'",
    query.pattern_filter("n.nspname", "p.proname", "pg_catalog.pg_function_is_visible(p.oid)", "$1", "$2"))
  local rows = query.catalog(db, function(conn) return must(conn, sql, s, n) end)
  return records(rows, fields, "List of functions", LIST)
end

-- lists.schemas(db, pattern, opts) -> \dn's "List of schemas".
function lists.schemas(db, pattern, opts)
  opts = opts or {}
  local fields = { "Name", "Owner" }
  local extra = ""
  if opts.verbose then
    fields = { "Name", "Owner", "Access privileges", "Description" }
    extra = [[, pg_catalog.array_to_string(n.nspacl, E'\n') AS "Access privileges",
           pg_catalog.obj_description(n.oid, 'pg_namespace') AS "Description"]]
  end
  local _, name = query.pattern(pattern)
  local rows = query.catalog(db, function(conn)
    return must(conn, string.format([[
      SELECT n.nspname AS "Name", pg_catalog.pg_get_userbyid(n.nspowner) AS "Owner"%s
        FROM pg_catalog.pg_namespace n
       WHERE ($1::pg_catalog.text IS NULL OR n.nspname OPERATOR(pg_catalog.~) $1)
         %s
       ORDER BY 1]], extra,
      (pattern or opts.system) and "" or "AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'"), name)
  end)
  return records(rows, fields, "List of schemas", LIST)
end

local function role_attributes(r)
  local attrs = {}
  if r.rolsuper then attrs[#attrs + 1] = "Superuser" end
  if not r.rolinherit then attrs[#attrs + 1] = "No inheritance" end
  if r.rolcreaterole then attrs[#attrs + 1] = "Create role" end
  if r.rolcreatedb then attrs[#attrs + 1] = "Create DB" end
  if not r.rolcanlogin then attrs[#attrs + 1] = "Cannot login" end
  if r.rolreplication then attrs[#attrs + 1] = "Replication" end
  if r.rolbypassrls then attrs[#attrs + 1] = "Bypass RLS" end
  local lines = { table.concat(attrs, ", ") }
  if r.rolconnlimit >= 0 then
    lines[#lines + 1] = r.rolconnlimit == 0 and "No connections"
      or string.format("%d connection%s", r.rolconnlimit, r.rolconnlimit == 1 and "" or "s")
  end
  if r.rolvaliduntil then lines[#lines + 1] = "Password valid until " .. r.rolvaliduntil end
  if lines[1] == "" then table.remove(lines, 1) end
  return table.concat(lines, "\n")
end

-- lists.roles(db, pattern, opts) -> \du's "List of roles" (psql 15's
-- columns: the attributes in words, the roles it is a member of).
function lists.roles(db, pattern, opts)
  opts = opts or {}
  local version = db:server_version()
  local _, name = query.pattern(pattern)
  local rows = query.catalog(db, function(conn)
    return must(conn, string.format([[
      SELECT r.rolname, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,
             r.rolconnlimit, r.rolvaliduntil::pg_catalog.text AS rolvaliduntil,
             ARRAY(SELECT b.rolname FROM pg_catalog.pg_auth_members m
                                JOIN pg_catalog.pg_roles b ON m.roleid = b.oid
                               WHERE m.member = r.oid ORDER BY 1) AS memberof,
             pg_catalog.shobj_description(r.oid, 'pg_authid') AS description,
             %s AS rolreplication, %s AS rolbypassrls
        FROM pg_catalog.pg_roles r
       WHERE ($1::pg_catalog.text IS NULL OR r.rolname OPERATOR(pg_catalog.~) $1)
         %s
       ORDER BY 1]],
      version >= 90100 and "r.rolreplication" or "false", version >= 90500 and "r.rolbypassrls" or "false",
      (pattern or opts.system) and "" or "AND r.rolname !~ '^pg_'"), name)
  end)
  local out = {}
  for i, r in ipairs(rows) do
    out[i] = { ["Role name"] = r.rolname, Attributes = role_attributes(r), ["Member of"] = r.memberof,
      Description = r.description }
  end
  local fields = { "Role name", "Attributes", "Member of" }
  if opts.verbose then fields[#fields + 1] = "Description" end
  return records(out, fields, "List of roles", { null = "", centre_title = true, numbers = false, footer = false })
end

-- lists.extensions(db, pattern) -> \dx's "List of installed extensions".
function lists.extensions(db, pattern)
  local _, name = query.pattern(pattern)
  local rows = query.catalog(db, function(conn)
    return must(conn, [[
      SELECT e.extname AS "Name", e.extversion AS "Version", n.nspname AS "Schema", c.description AS "Description"
        FROM pg_catalog.pg_extension e
        LEFT JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
        LEFT JOIN pg_catalog.pg_description c ON c.objoid = e.oid
             AND c.classoid = 'pg_catalog.pg_extension'::pg_catalog.regclass
       WHERE ($1::pg_catalog.text IS NULL OR e.extname OPERATOR(pg_catalog.~) $1)
       ORDER BY 1]], name)
  end)
  return records(rows, { "Name", "Version", "Schema", "Description" }, "List of installed extensions", LIST)
end

-- lists.databases(db, pattern, opts) -> \l's "List of databases".
function lists.databases(db, pattern, opts)
  opts = opts or {}
  local version = db:server_version()
  local fields = { "Name", "Owner", "Encoding", "Collate", "Ctype" }
  local columns = { [[d.datname AS "Name"]], [[pg_catalog.pg_get_userbyid(d.datdba) AS "Owner"]],
    [[pg_catalog.pg_encoding_to_char(d.encoding) AS "Encoding"]], [[d.datcollate AS "Collate"]],
    [[d.datctype AS "Ctype"]] }
  if version >= 150000 then
    fields[#fields + 1] = "ICU Locale"
    fields[#fields + 1] = "Locale Provider"
    columns[#columns + 1] = [[d.daticulocale AS "ICU Locale"]]
    columns[#columns + 1] = [[CASE d.datlocprovider WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu' END AS "Locale Provider"]]
  end
  fields[#fields + 1] = "Access privileges"
  columns[#columns + 1] = [[pg_catalog.array_to_string(d.datacl, E'\n') AS "Access privileges"]]
  if opts.verbose then
    fields[#fields + 1] = "Size"
    fields[#fields + 1] = "Tablespace"
    fields[#fields + 1] = "Description"
    columns[#columns + 1] = [[CASE WHEN pg_catalog.has_database_privilege(d.datname, 'CONNECT')
      THEN pg_catalog.pg_size_pretty(pg_catalog.pg_database_size(d.datname)) ELSE 'No Access' END AS "Size"]]
    columns[#columns + 1] = [[t.spcname AS "Tablespace"]]
    columns[#columns + 1] = [[pg_catalog.shobj_description(d.oid, 'pg_database') AS "Description"]]
  end
  local _, name = query.pattern(pattern)
  local rows = query.catalog(db, function(conn)
    return must(conn, string.format([[
      SELECT %s
        FROM pg_catalog.pg_database d
        JOIN pg_catalog.pg_tablespace t ON d.dattablespace = t.oid
       WHERE ($1::pg_catalog.text IS NULL OR d.datname OPERATOR(pg_catalog.~) $1)
       ORDER BY 1]], table.concat(columns, ", ")), name)
  end)
  return records(rows, fields, "List of databases", LIST)
end

-- Tables that were never analyzed have no row estimate (reltuples -1);
-- up to this size they are counted instead.
local COUNT_UP_TO_BYTES = 8 * 1024 * 1024

-- lists.tables(db, pattern) -> rows: schema, name, kind, rows, size: the
-- tables, views, materialized views and foreign tables outside the system
-- schemas. rows is the planner's estimate; a table never analyzed has
-- none, so small ones are counted and large ones get the statistics'
-- live-row count.
function lists.tables(db, pattern)
  local s, n = query.pattern(pattern)
  local rows = query.catalog(db, function(conn)
    local found = must(conn, [[
      SELECT n.nspname AS schema, c.relname AS name,
             CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'
                            WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                            WHEN 'f' THEN 'foreign table' END AS kind,
             CASE WHEN c.relkind IN ('r', 'm') AND c.reltuples >= 0 THEN c.reltuples::pg_catalog.int8 END AS rows,
             c.relkind IN ('r', 'm') AND c.reltuples < 0 AS unknown_rows,
             pg_catalog.pg_relation_size(c.oid) AS heap_bytes,
             pg_catalog.pg_stat_get_live_tuples(c.oid) AS live_rows,
             pg_catalog.pg_size_pretty(pg_catalog.pg_total_relation_size(c.oid)) AS size
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
         AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
         AND ($1::pg_catalog.text IS NULL OR n.nspname OPERATOR(pg_catalog.~) $1)
         AND ($2::pg_catalog.text IS NULL OR c.relname OPERATOR(pg_catalog.~) $2)
       ORDER BY 1, 2]], s, n)
    for _, row in ipairs(found) do
      if row.unknown_rows and row.heap_bytes <= COUNT_UP_TO_BYTES then
        row.rows = must(conn, "SELECT pg_catalog.count(*) AS n FROM ONLY "
          .. ident.qualify(row.schema, row.name))[1].n
      elseif row.unknown_rows then
        row.rows = row.live_rows
      end
      row.unknown_rows, row.heap_bytes, row.live_rows = nil, nil, nil
    end
    return found
  end)
  return records(rows, { "schema", "name", "kind", "rows", "size" })
end

return lists
