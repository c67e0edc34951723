-- ladle.schema.queries: the catalog queries behind ladle.schema.snapshot,
-- one per object kind. Columns that differ between server versions are
-- chosen here, as pg_dump does, so that the reading code sees the same row
-- shape on every version. $1 is always the array of schema OIDs to read.
--
-- Catalog tables and functions are pg_catalog-qualified; the session runs
-- with an empty search_path, so that operators can only resolve in
-- pg_catalog and the server prints user objects' names schema-qualified
-- (regclass, regprocedure, format_type, pg_get_*def).

local queries = {}

queries.minimum_version = 100000

-- The privileges of an object, one "grantee=PRIVILEGE[*]" per entry, with
-- PUBLIC and OWNER standing for the public pseudo-role and the object's
-- owner (so that two databases owned by different roles compare equal).
-- NULL when the catalog holds NULL, which means the built-in default.
local function acl(column, owner)
  return ([[CASE WHEN %s IS NULL THEN NULL ELSE ARRAY(
    SELECT CASE WHEN x.grantee = 0 THEN 'PUBLIC' WHEN x.grantee = %s THEN 'OWNER'
                ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(x.grantee)) END || '=' || x.privilege_type || CASE WHEN x.is_grantable THEN '*' ELSE '' END
      FROM pg_catalog.aclexplode(%s) x ORDER BY 1) END]]):format(column, owner, column)
end

-- A collation name, qualified, or NULL when it is the type's default.
local function collation(coll, default)
  return ([[(SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
             FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
            WHERE co.oid = %s AND %s <> %s)]]):format(coll, coll, default)
end

-- The queries for a server of version v (server_version_num). deps: also
-- what only dependency tracking needs.
function queries.for_version(v, deps)
  local q = {}
  local function since(version, yes, no) return v >= version and yes or no end
  -- owners matter only to GRANT and REVOKE statements
  local function owner(column)
    if not deps then return "NULL::pg_catalog.text" end
    return ("pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(%s))"):format(column)
  end

  q.meta = [[
SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid AS pg_class,
       'pg_catalog.pg_type'::pg_catalog.regclass::pg_catalog.oid AS pg_type,
       'pg_catalog.pg_proc'::pg_catalog.regclass::pg_catalog.oid AS pg_proc,
       'pg_catalog.pg_constraint'::pg_catalog.regclass::pg_catalog.oid AS pg_constraint,
       'pg_catalog.pg_attrdef'::pg_catalog.regclass::pg_catalog.oid AS pg_attrdef,
       'pg_catalog.pg_trigger'::pg_catalog.regclass::pg_catalog.oid AS pg_trigger,
       'pg_catalog.pg_rewrite'::pg_catalog.regclass::pg_catalog.oid AS pg_rewrite,
       'pg_catalog.pg_policy'::pg_catalog.regclass::pg_catalog.oid AS pg_policy,
       'pg_catalog.pg_namespace'::pg_catalog.regclass::pg_catalog.oid AS pg_namespace,
       'pg_catalog.pg_extension'::pg_catalog.regclass::pg_catalog.oid AS pg_extension]]

  -- the built-in privileges of a new table, sequence, function and schema
  q.acl_defaults = [[
SELECT k::pg_catalog.text AS objkind, ARRAY(
         SELECT CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE 'OWNER' END || '=' || x.privilege_type || CASE WHEN x.is_grantable THEN '*' ELSE '' END
           FROM pg_catalog.aclexplode(pg_catalog.acldefault(k, 10::pg_catalog.oid)) x ORDER BY 1) AS acl
  FROM pg_catalog.unnest('{r,s,f,n}'::"char"[]) AS k]]

  q.extension_members = [[
SELECT d.classid, d.objid, d.refobjid AS extension
  FROM pg_catalog.pg_depend d
 WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e']]

  q.namespaces = ([[
SELECT n.oid, pg_catalog.quote_ident(n.nspname) AS name, n.nspname AS raw,
       %s AS owner, %s AS acl
  FROM pg_catalog.pg_namespace n
 WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema']])
    :format(owner("n.nspowner"), acl("n.nspacl", "n.nspowner"))

  q.extensions = [[
SELECT e.oid, pg_catalog.quote_ident(e.extname) AS name, e.extversion AS version,
       e.extnamespace AS nsp, pg_catalog.quote_ident(n.nspname) AS schema, e.extrelocatable
  FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace]]

  q.types = ([[
SELECT t.oid, t.typnamespace AS nsp, pg_catalog.format_type(t.oid, NULL) AS name, t.typtype,
       t.typrelid, NULLIF(t.typarray, 0) AS typarray, NULLIF(t.typnotnull, false) AS typnotnull,
       %s AS owner, %s AS acl,
       CASE WHEN t.typtype = 'e' THEN ARRAY(
         SELECT e.enumlabel FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) END AS labels,
       CASE WHEN t.typtype = 'd' THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) END AS base,
       CASE WHEN t.typtype = 'd' THEN pg_catalog.pg_get_expr(t.typdefaultbin, 0) END AS default,
       CASE WHEN t.typtype = 'd' THEN %s
            WHEN t.typtype = 'r' THEN %s END AS collation,
       pg_catalog.format_type(r.rngsubtype, NULL) AS subtype,
       CASE WHEN r.rngsubopc IS NOT NULL AND NOT oc.opcdefault THEN
         pg_catalog.quote_ident(ocn.nspname) || '.' || pg_catalog.quote_ident(oc.opcname) END AS subtype_opclass,
       CASE WHEN r.rngcanonical <> 0 THEN r.rngcanonical::pg_catalog.regproc::pg_catalog.text END AS canonical,
       CASE WHEN r.rngsubdiff <> 0 THEN r.rngsubdiff::pg_catalog.regproc::pg_catalog.text END AS subtype_diff,
       %s AS multirange_oid, %s AS multirange
  FROM pg_catalog.pg_type t
  LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype
  LEFT JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid
  LEFT JOIN pg_catalog.pg_opclass oc ON oc.oid = r.rngsubopc
  LEFT JOIN pg_catalog.pg_namespace ocn ON ocn.oid = oc.opcnamespace
 WHERE t.typnamespace = ANY ($1::pg_catalog.oid[])
   AND (t.typtype IN ('e', 'd', 'r')
        OR (t.typtype = 'c' AND t.typrelid IN (SELECT c.oid FROM pg_catalog.pg_class c
             WHERE c.relkind = 'c' AND c.relnamespace = ANY ($1::pg_catalog.oid[]))))]])
    :format(owner("t.typowner"), acl("t.typacl", "t.typowner"),
      collation("t.typcollation", "bt.typcollation"),
      collation("r.rngcollation", "(SELECT st.typcollation FROM pg_catalog.pg_type st WHERE st.oid = r.rngsubtype)"),
      since(140000, "NULLIF(r.rngmultitypid, 0)", "NULL::pg_catalog.oid"),
      since(140000, "CASE WHEN r.rngmultitypid IS NOT NULL THEN pg_catalog.format_type(r.rngmultitypid, NULL) END", "NULL::pg_catalog.text"))

  -- names are put together by the reader: schema name (from the
  -- namespaces query) and quote_ident(relname) is what regclass prints
  q.relations = ([[
SELECT c.oid, c.relnamespace AS nsp, pg_catalog.quote_ident(c.relname) AS relname, c.relkind,
       NULLIF(c.relpersistence = 'u', false) AS unlogged, NULLIF(c.relispartition, false) AS relispartition,
       c.reloptions, NULLIF(c.relrowsecurity, false) AS relrowsecurity,
       NULLIF(c.relforcerowsecurity, false) AS relforcerowsecurity, %s AS owner, %s AS acl,
       CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END AS bound,
       CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END AS partkey,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END AS viewdef%s
  FROM pg_catalog.pg_class c
 WHERE c.relnamespace = ANY ($1::pg_catalog.oid[])
   AND c.relkind IN ('r', 'p', 'v', 'm', 'S')]])
    :format(owner("c.relowner"), acl("c.relacl", "c.relowner"), deps and [[,
       CASE WHEN c.relkind IN ('v', 'm') THEN (SELECT w.oid FROM pg_catalog.pg_rewrite w
          WHERE w.ev_class = c.oid AND w.rulename = '_RETURN') END AS rule, c.reltype,
       (SELECT NULLIF(rt.typarray, 0) FROM pg_catalog.pg_type rt WHERE rt.oid = c.reltype) AS rowtype_array]] or "")

  q.inherits = [[
SELECT i.inhrelid AS rel, i.inhparent::pg_catalog.regclass::pg_catalog.text AS parent
  FROM pg_catalog.pg_inherits i
  JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
 WHERE c.relnamespace = ANY ($1::pg_catalog.oid[]) AND c.relkind IN ('r', 'p')
 ORDER BY i.inhrelid, i.inhseqno]]

  -- ownership: 'a' is OWNED BY, 'i' an identity column's own sequence
  q.sequences = [[
SELECT s.seqrelid AS oid, pg_catalog.format_type(s.seqtypid, NULL) AS data_type,
       s.seqstart, s.seqincrement, s.seqmax, s.seqmin, s.seqcache, s.seqcycle,
       d.refobjid AS owner_rel, d.refobjsubid AS owner_col, d.deptype AS owner_type
  FROM pg_catalog.pg_sequence s
  JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
  LEFT JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
       AND d.objid = s.seqrelid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
       AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
 WHERE c.relnamespace = ANY ($1::pg_catalog.oid[])]]

  q.columns = ([[
SELECT a.attrelid AS rel, a.attnum, pg_catalog.quote_ident(a.attname) AS name,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, NULLIF(a.attnotnull, false) AS attnotnull,
       NULLIF(%s, '') AS attidentity, NULLIF(%s, '') AS attgenerated, NULLIF(a.attinhcount, 0) AS attinhcount,
       %s AS collation, %s
       -- a default without column references is printed without opening
       -- its table, which saves building a relcache entry per table
       pg_catalog.pg_get_expr(d.adbin, CASE WHEN d.adbin::pg_catalog.text LIKE '%%{VAR %%'
                                            THEN d.adrelid ELSE 0 END) AS default
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE c.relnamespace = ANY ($1::pg_catalog.oid[])
   AND c.relkind IN (%s)
   AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attrelid, a.attnum]])
    :format("a.attidentity", since(120000, "a.attgenerated", "''::\"char\""),
      collation("a.attcollation", "t.typcollation"), deps and "d.oid AS defoid," or "",
      deps and "'r', 'p', 'v', 'm', 'c'" or "'r', 'p', 'c'")

  -- NOT NULL lives in pg_attribute (and typnotnull); constraint triggers
  -- are read as triggers
  q.constraints = ([[
SELECT k.oid, NULLIF(k.conrelid, 0) AS rel, NULLIF(k.contypid, 0) AS typ,
       pg_catalog.quote_ident(k.conname) AS name, k.contype,
       pg_catalog.pg_get_constraintdef(k.oid) AS def,
       CASE WHEN k.contype IN ('p', 'u', 'x') THEN k.conindid END AS conindid,
       NULLIF(k.conislocal, true) AS conislocal, NULLIF(k.coninhcount, 0) AS coninhcount,
       NULLIF(%s, 0) AS conparentid
  FROM pg_catalog.pg_constraint k
 WHERE k.connamespace = ANY ($1::pg_catalog.oid[])
   AND k.contype NOT IN ('n', 't')]])
    :format(since(110000, "k.conparentid", "0::pg_catalog.oid"))

  -- A plain index (columns only, default operator classes, collations and
  -- order, no INCLUDE, options or predicate) is written out here exactly as
  -- pg_get_indexdef writes it, at a third of the cost on a large catalog;
  -- every other index goes through pg_get_indexdef.
  q.indexes = ([[
SELECT i.indexrelid AS oid, pg_catalog.quote_ident(c.relname) AS relname, i.indrelid AS rel,
       COALESCE(CASE WHEN i.indexprs IS NULL AND i.indpred IS NULL AND i.indnatts = i.indnkeyatts
                          AND c.reloptions IS NULL%s THEN
         (SELECT CASE WHEN pg_catalog.bool_and(oc.opcdefault AND oc.opcintype = a.atttypid
                                               AND k.coll = a.attcollation AND k.opt = 0)
                           AND pg_catalog.count(*) = i.indnatts THEN
                   'CREATE ' || CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END || 'INDEX '
                   || pg_catalog.quote_ident(c.relname) || ' ON ' || CASE WHEN c.relkind = 'I' THEN 'ONLY ' ELSE '' END
                   || pg_catalog.quote_ident(tn.nspname) || '.' || pg_catalog.quote_ident(t.relname)
                   || ' USING ' || pg_catalog.quote_ident(am.amname)
                   || ' (' || pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY k.n) || ')' END
            FROM ROWS FROM (pg_catalog.unnest(i.indkey::pg_catalog.int2[]), pg_catalog.unnest(i.indclass::pg_catalog.oid[]),
                            pg_catalog.unnest(i.indcollation::pg_catalog.oid[]), pg_catalog.unnest(i.indoption::pg_catalog.int2[]))
                 WITH ORDINALITY AS k(attnum, opclass, coll, opt, n)
            JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
            JOIN pg_catalog.pg_opclass oc ON oc.oid = k.opclass) END,
         pg_catalog.pg_get_indexdef(i.indexrelid)) AS def,
       NULLIF(%s, false) AS relispartition
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
  JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
  JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
  JOIN pg_catalog.pg_am am ON am.oid = c.relam
  LEFT JOIN pg_catalog.pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid
       AND k.contype IN ('p', 'u', 'x')
 WHERE c.relnamespace = ANY ($1::pg_catalog.oid[]) AND k.oid IS NULL]])
    :format(since(150000, " AND NOT i.indnullsnotdistinct", ""), since(110000, "c.relispartition", "false"))

  -- aggregates have no pg_get_functiondef and are left out, and so are
  -- the functions a range type makes for itself (its constructors)
  local prokind = since(110000, "p.prokind",
    "CASE WHEN p.proisagg THEN 'a' WHEN p.proiswindow THEN 'w' ELSE 'f' END")
  q.functions = ([[
SELECT p.oid, p.pronamespace AS nsp, p.oid::pg_catalog.regprocedure::pg_catalog.text AS name,
       %s AS prokind, pg_catalog.pg_get_functiondef(p.oid) AS def,
       pg_catalog.pg_get_function_result(p.oid) AS result,
       pg_catalog.pg_get_function_arguments(p.oid) AS arguments,
       %s AS owner, %s AS acl
  FROM pg_catalog.pg_proc p
 WHERE p.pronamespace = ANY ($1::pg_catalog.oid[]) AND %s <> 'a'
   AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid
                      AND d.deptype = 'i')]])
    :format(prokind, owner("p.proowner"), acl("p.proacl", "p.proowner"), prokind)

  -- triggers cloned onto partitions come back with their parent's OID
  q.triggers = ([[
SELECT g.oid, g.tgrelid AS rel, pg_catalog.quote_ident(g.tgname) AS name,
       pg_catalog.pg_get_triggerdef(g.oid) AS def, g.tgenabled, NULLIF(%s, 0) AS tgparentid
  FROM pg_catalog.pg_trigger g
  JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid
 WHERE c.relnamespace = ANY ($1::pg_catalog.oid[]) AND NOT g.tgisinternal]])
    :format(since(130000, "g.tgparentid", "0::pg_catalog.oid"))

  q.rules = [[
SELECT w.oid, w.ev_class AS rel, pg_catalog.quote_ident(w.rulename) AS name,
       pg_catalog.pg_get_ruledef(w.oid) AS def, w.ev_enabled
  FROM pg_catalog.pg_rewrite w
  JOIN pg_catalog.pg_class c ON c.oid = w.ev_class
 WHERE c.relnamespace = ANY ($1::pg_catalog.oid[]) AND w.rulename <> '_RETURN']]

  q.policies = [[
SELECT p.oid, p.polrelid AS rel, pg_catalog.quote_ident(p.polname) AS name, p.polpermissive,
       CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                     WHEN 'd' THEN 'DELETE' ELSE 'ALL' END AS command,
       ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC'
                                    ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r)) END
                          FROM pg_catalog.unnest(p.polroles) r ORDER BY 1) AS roles,
       pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS qual,
       pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS with_check
  FROM pg_catalog.pg_policy p
  JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
 WHERE c.relnamespace = ANY ($1::pg_catalog.oid[])]]

  -- comments and dependencies of user objects (OIDs from 16384 on); the
  -- reading code keeps those whose objects it read
  q.comments = [[
SELECT d.classoid, d.objoid, d.objsubid, d.description
  FROM pg_catalog.pg_description d
 WHERE d.objoid >= 16384]]

  q.depend = [[
SELECT d.classid, d.objid, d.objsubid, d.refclassid, d.refobjid, d.refobjsubid, d.deptype
  FROM pg_catalog.pg_depend d
 WHERE d.deptype IN ('n', 'a', 'i')
   AND d.objid >= 16384 AND d.refobjid >= 16384]]

  return q
end

return queries
