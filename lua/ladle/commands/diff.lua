-- ladle diff FROM TO: the SQL that turns FROM's schema into TO's.

local errors = require "ladle.errors"
local schema = require "ladle.schema"
local source = require "ladle.source"
local diff = require "ladle.diff"
local json = require "ladle.json"
local sql = require "ladle.schema.sql"

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
command lists them on stderr and exits 2, the code of a command line that
lacks what it needs (here --unsafe).

Exit codes: 0 nothing to do, 1 changes printed (differences found, as for
check), 2 bad usage or input: a command line that is wrong or lacks
--unsafe for changes that delete data, or a .sql file that does not load
(the message names the file and line), 3 a database could not be reached
or read.]],
  examples = [[
  ladle diff prod schema.sql
  ladle diff old.sql new.sql --scratch dev > migration.sql
  ladle diff 'dbname=app' 'dbname=app_next' --exclude-schema audit --unsafe
  ladle diff prod schema.sql --renames --owners]],
  positional = 2,
  flags = {
    { "--unsafe", key = "unsafe", help = "print changes that delete data too" },
    { "--schema", key = "schemas", arg = "SCHEMA", many = true, help = "only these schemas" },
    { "-N", "--exclude-schema", key = "exclude_schemas", arg = "SCHEMA", many = true, help = "leave these schemas out" },
    { "-T", "--exclude-table", key = "exclude_tables", arg = "TABLE", many = true, help = "leave these tables out" },
    { "-i", "--ignore", key = "ignore", arg = "KIND", many = true, check = schema.known_kind,
      help = "kinds of differences to leave out" },
    { "--renames", key = "renames", help = "take a dropped and an added table or column alike for a rename" },
    { "--owners", key = "owners", help = "compare owners too, and write ALTER ... OWNER TO" },
    { "--sequence-values", key = "sequence_values", help = "set sequences to the target's current values (setval)" },
    { "--scratch", key = "scratch", arg = "SERVICE", help = "load .sql sides into temporary databases on this server" },
    { "--no-comments", key = "no_comments", help = "no comment line before each change" },
    { "--json", key = "json", help = "print {changes, refused, sql} as JSON (no SQL for what is refused)" },
  },
}

function command.run(opts, positional)
  if #positional ~= 2 then
    errors.fail(2, "diff: expected FROM and TO, got %d argument%s (usage: %s)", #positional,
      #positional == 1 and "" or "s", command.usage)
  end
  -- the flags' keys are ladle.schema.pair's option names
  local sa, sb, details = source.pair(positional[1], positional[2], opts)
  if not sa then errors.fail(details and details.kind or "database", "diff: %s", sb) end
  local changes = diff.plan(sa, sb, opts)
  local destructive = changes:hazards("deletes_data")
  local refused = #destructive > 0 and not opts.unsafe
  if opts.json then
    local list = {}
    -- a refused change's statements are not printed here either
    local refused_change = {}
    if refused then
      for _, h in ipairs(destructive) do refused_change[h.change] = true end
    end
    for i, c in ipairs(changes) do
      list[i] = { sign = c.sign, kind = c.kind, name = c.name, what = c.what, hazards = c.hazards,
                  sql = not refused_change[c] and c.sql or nil, refused = refused_change[c] }
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
        io.stderr:write("  ", sql.printable(string.format("%s %s %s: %s", h.change.sign, h.change.kind, h.change.name,
          h.sql)), "\n")
      end
    end
    -- with --json the document's "refused" already says it; the message
    -- still goes to stderr
    error(errors.failure("usage", string.format("diff: refusing to print changes that delete data (%d statement%s "
      .. "above); run again with --unsafe to print them", #destructive, #destructive == 1 and "" or "s"),
      { json_reported = opts.json or nil }), 0)
  end
  return #changes == 0 and 0 or 1
end

return command
