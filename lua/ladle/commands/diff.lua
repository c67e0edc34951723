-- ladle diff FROM TO: the SQL that turns FROM's schema into TO's.

local errors = require "ladle.errors"
local schema = require "ladle.schema"
local source = require "ladle.source"
local diff = require "ladle.diff"
local json = require "ladle.json"

local command = {
  summary = "print the SQL that turns one schema into another",
  usage = "ladle diff FROM TO [--unsafe] [--renames] [--schema S] [--exclude-schema S] [--json] [--scratch SERVICE]",
  description = [[
Prints the SQL that turns FROM's schema into TO's, in dependency order
(what is needed is created first, what depends is dropped first; views
over a column whose type changes are dropped and created around it).
FROM and TO are each a service name, a conninfo or URI, or a .sql file
(for instance a pg_dump --schema-only dump), which is loaded with psql into
a temporary database: on the server given with --scratch, or else on a
throwaway cluster.

Each change is preceded by a comment naming it and its hazards:
deletes_data, table_rewrite, access_exclusive_lock, index_build,
validation_scan, manual_step (a statement to check by hand, with a
comment saying what). A column type change gets USING when no assignment
cast converts the values. With --renames, a dropped and an added table (or
column) with the same definition become a rename, with a comment saying it
was inferred. Owners and sequences' values are left alone unless --owners
and --sequence-values ask for them.

Without --unsafe, changes that would delete data are not printed: the
command lists them on stderr and exits 2 (the command line has to ask for
them with --unsafe).

Exit codes: 0 nothing to do, 1 changes printed (differences found, as for
check), 2 bad usage, a .sql file that does not load (the message names the
file and line), or output refused without --unsafe, 3 a database could not
be reached or read. (Earlier builds exited 2 for "changes printed" and 3
for "refused", codes that also meant bad usage and a database failure.)]],
  examples = [[
  ladle diff prod schema.sql
  ladle diff old.sql new.sql --scratch dev > migration.sql
  ladle diff 'dbname=app' 'dbname=app_next' --exclude-schema audit --unsafe
  ladle diff prod schema.sql --renames --owners]],
  positional = 2,
  flags = {
    { "--unsafe", key = "unsafe", help = "print changes that delete data too" },
    { "--schema", key = "schema", arg = "SCHEMA", many = true, help = "only these schemas" },
    { "-N", "--exclude-schema", key = "exclude_schema", arg = "SCHEMA", many = true, help = "leave these schemas out" },
    { "-T", "--exclude-table", key = "exclude_table", arg = "TABLE", many = true, help = "leave these tables out" },
    { "-i", "--ignore", key = "ignore", arg = "KIND", many = true, check = schema.known_kind,
      help = "kinds of differences to leave out" },
    { "--renames", key = "renames", help = "take a dropped and an added table or column alike for a rename" },
    { "--owners", key = "owners", help = "compare owners too, and write ALTER ... OWNER TO" },
    { "--sequence-values", key = "sequence_values", help = "set sequences to the target's current values (setval)" },
    { "--scratch", key = "scratch", arg = "SERVICE", help = "load .sql sides into temporary databases on this server" },
    { "--no-comments", key = "no_comments", help = "no comment line before each change" },
    { "--json", key = "json", help = "print {changes, refused, sql} as JSON" },
  },
}

function command.run(opts, positional)
  if #positional ~= 2 then
    errors.fail(2, "diff: expected FROM and TO, got %d argument%s (usage: %s)", #positional,
      #positional == 1 and "" or "s", command.usage)
  end
  local snap_opts = { schemas = opts.schema, exclude_schemas = opts.exclude_schema,
                      exclude_tables = opts.exclude_table, sequence_values = opts.sequence_values }
  local ws <close> = source.workspace({ scratch = opts.scratch })
  local snaps, message, details = ws:snapshots(positional, snap_opts)
  ws:close()
  if not snaps then errors.fail(details and details.kind or "database", "diff: %s", message) end
  local changes = diff.plan(snaps[1], snaps[2], { ignore = opts.ignore, owners = opts.owners, renames = opts.renames })
  local destructive = changes:hazards("deletes_data")
  local refused = #destructive > 0 and not opts.unsafe
  if opts.json then
    local list = {}
    for i, c in ipairs(changes) do
      list[i] = { sign = c.sign, kind = c.kind, name = c.name, what = c.what, sql = c.sql, hazards = c.hazards }
    end
    local out = { changes = list, refused = refused }
    if not refused then out.sql = changes:sql({ comments = not opts.no_comments }) end
    io.write(json.encode(out), "\n")
  elseif not refused and #changes > 0 then
    io.write(changes:sql({ comments = not opts.no_comments }))
  end
  if refused then
    if not opts.json then
      for _, h in ipairs(destructive) do
        io.stderr:write(string.format("  %s %s %s: %s\n", h.change.sign, h.change.kind, h.change.name, h.sql))
      end
    end
    errors.fail("usage", "diff: refusing to print changes that delete data (%d statement%s above); "
      .. "run again with --unsafe to print them", #destructive, #destructive == 1 and "" or "s")
  end
  return #changes == 0 and 0 or 1
end

return command
