-- ladle.schema.query: the pieces the kinds' catalog queries share.
--
-- Each kind module writes its own query for a server of version v, with
-- the columns that differ between versions chosen in the SQL as pg_dump
-- does, so that the reading code sees the same row shape on every version.
-- A kind's query(q) gets q = query.context(v, opts):
--
--   q.v                  server_version_num
--   q.deps               reading for a diff (dependencies, owners, ...)
--   q.opts               the snapshot options
--   q.since(v, yes, no)  yes on servers from version v on, else no
--   q.owner(column)      the owner's quoted name (NULL when not needed)
--   q.acl(column, owner) privileges as sorted "grantee=PRIVILEGE[*]" text
--   q.collation(c, d)    a qualified collation name, NULL when c = d
--
-- Catalog tables and functions are pg_catalog-qualified; the session runs
-- with an empty search_path (ladle.catalog), so that operators can only
-- resolve in pg_catalog and the server prints user objects' names
-- schema-qualified (regclass, regprocedure, format_type, pg_get_*def).
-- $1, in the queries of kinds that live in schemas, is the array of the
-- OIDs of the schemas read.

local catalog = require "ladle.catalog"

local query = {}

query.minimum_version = 100000

-- The privileges of an object, one "grantee=PRIVILEGE[*]" per entry, with
-- PUBLIC and OWNER standing for the public pseudo-role and the object's
-- owner (so that two databases owned by different roles compare equal).
-- NULL when the catalog holds NULL, which means the built-in default.
function query.acl(column, owner)
  return ([[CASE WHEN %s IS NULL THEN NULL ELSE ARRAY(
    SELECT CASE WHEN x.grantee = 0 THEN 'PUBLIC' WHEN x.grantee = %s THEN 'OWNER'
                ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(x.grantee)) END || '=' || x.privilege_type || CASE WHEN x.is_grantable THEN '*' ELSE '' END
      FROM pg_catalog.aclexplode(%s) x ORDER BY 1) END]]):format(column, owner, column)
end

-- A collation name, qualified, or NULL when it is the type's default.
function query.collation(coll, default)
  return ([[(SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
             FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
            WHERE co.oid = %s AND %s <> %s)]]):format(coll, coll, default)
end

-- OIDs of user objects start here.
query.FIRST_NORMAL_OID = catalog.FIRST_NORMAL_OID

function query.context(v, opts)
  local deps = opts.dependencies ~= false
  local q = { v = v, deps = deps, opts = opts, acl = query.acl, collation = query.collation }
  function q.since(version, yes, no) return v >= version and yes or no end
  -- owners matter to GRANT and REVOKE statements, and when compared
  function q.owner(column)
    if not deps and not opts.owners then return "NULL::pg_catalog.text" end
    return ("pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(%s))"):format(column)
  end
  return q
end

return query
