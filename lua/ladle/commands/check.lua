-- ladle check -p1 SERVICE1 -p2 SERVICE2: pum's check. Compares the schemas
-- of two databases and prints one line per difference.

local errors = require "ladle.errors"
local schema = require "ladle.schema"
local source = require "ladle.source"
local json = require "ladle.json"
local pg = require "ladle.pg"

-- words -> lines of at most 72 characters
local function wrap(text)
  local lines, line = {}, ""
  for word in text:gmatch("%S+") do
    if #line + #word + 1 > 72 and line ~= "" then lines[#lines + 1] = line; line = word
    else line = line == "" and word or (line .. " " .. word) end
  end
  lines[#lines + 1] = line
  return table.concat(lines, "\n")
end

local command = {
  summary = "compare the schemas of two databases (exit 1 when they differ)",
  usage = "ladle check -p1 SERVICE1 -p2 SERVICE2 [-i KIND...] [-N SCHEMA...] [-T TABLE...] [-P PATTERN...] [--json]",
  description = [[
Compares two databases' schemas, read from pg_catalog, and prints one line
per difference: '-' only in the first database, '+' only in the second, '~'
in both but different, then the kind, the qualified name and what differs.
An object missing on one side stands for what belongs to it (a missing
table's columns are not listed again). Exits 0 when the schemas are equal,
1 when they differ, 2 on bad usage, 3 when a database cannot be read.

]] .. wrap("Kinds (for -i): " .. table.concat(schema.kinds, " ") .. ". pum's categories are among them.")
  .. "\n\n" .. [[
-N, -T and -P leave schemas, tables and columns out (-P takes SQL LIKE
patterns: % any characters, _ one, \ quotes the next).
SERVICE may also be a conninfo string, a postgresql:// URI, or a .sql file
(loaded into a temporary database on a throwaway cluster).]],
  examples = [[
  ladle check -p1 prod -p2 reference
  ladle check -p1 prod -p2 reference -i views triggers -N audit
  ladle check -p1 prod -p2 reference -N audit staging -P 'tmp\_%' '%_cache'
  ladle check -p1 'dbname=a' -p2 'dbname=b' --json]],
  flags = {
    { "-p1", "--pg_service1", key = "pg_service1", arg = "SERVICE", required = true,
      help = "the first database (a service name, conninfo or URI)" },
    { "-p2", "--pg_service2", key = "pg_service2", arg = "SERVICE", required = true,
      help = "the second database" },
    { "-i", "--ignore", key = "ignore", arg = "KIND", many = true, check = schema.known_kind,
      help = "kinds of differences to leave out" },
    { "-N", "--exclude-schema", key = "exclude_schema", arg = "SCHEMA", many = true,
      help = "schemas to leave out" },
    { "--schema", key = "schema", arg = "SCHEMA", many = true, help = "compare only these schemas" },
    { "-T", "--exclude-table", key = "exclude_table", arg = "TABLE", many = true,
      help = "tables to leave out (schema.table), with their columns, indexes, ..." },
    { "-P", "--exclude-field-pattern", key = "exclude_field_pattern", arg = "PATTERN", many = true,
      help = "leave out columns whose name matches this SQL LIKE pattern (pum's -P)" },
    { "--column-order", key = "column_order", help = "report columns whose position differs" },
    { "--owners", key = "owners", help = "compare owners too" },
    { "--sequence-values", key = "sequence_values", help = "compare sequences' current values too" },
    { "-s", "--silent", key = "silent", help = "print nothing; the exit code tells" },
    { "--json", key = "json", help = "print {equal, differences} as JSON" },
  },
}

function command.run(opts)
  local snap_opts = {
    schemas = opts.schema, exclude_schemas = opts.exclude_schema, exclude_tables = opts.exclude_table,
    exclude_field_patterns = opts.exclude_field_pattern, dependencies = false,
    owners = opts.owners, sequence_values = opts.sequence_values,
  }
  -- Two large catalogs make tens of thousands of short-lived rows: the
  -- collector starts a cycle when the heap has grown by half (not doubled),
  -- which keeps the peak near what the snapshots hold.
  collectgarbage("collect")
  collectgarbage("incremental", 150)
  local sides = { opts.pg_service1, opts.pg_service2 }
  local labels = { "-p1 (" .. pg.target_name(sides[1]) .. ")", "-p2 (" .. pg.target_name(sides[2]) .. ")" }
  -- both databases are read at the same time
  local ws <close> = source.workspace()
  local snaps, message, details = ws:snapshots(sides, snap_opts, labels)
  ws:close()
  if not snaps then errors.fail(details and details.kind or "database", "check: %s", message) end
  local differences = schema.compare(snaps[1], snaps[2], { ignore = opts.ignore, column_order = opts.column_order,
    owners = opts.owners })
  if opts.json then
    local list = {}
    for i, d in ipairs(differences) do
      list[i] = { sign = d.sign, category = d.category, name = d.name, what = d.what }
    end
    io.write(json.encode({ equal = #differences == 0, differences = list }), "\n")
  elseif not opts.silent then
    local out = {}
    for i, d in ipairs(differences) do out[i] = d.line end
    if #out > 0 then io.write(table.concat(out, "\n"), "\n") end
  end
  return #differences == 0 and 0 or 1
end

return command
