-- ladle.repl.describe_text: how a description (ladle.repl.describe) is laid
-- out: psql's \d and \d+ pictures, title, grid and footers in psql's order.

local format = require "ladle.repl.format"

local text = {}

local titles = {
  r = "Table", p = "Partitioned table", v = "View", m = "Materialized view", f = "Foreign table",
  i = "Index", I = "Partitioned index", S = "Sequence", c = "Composite type", t = "TOAST table",
}

-- Kinds psql calls "Unlogged ..." when they are.
local can_be_unlogged = { r = true, p = true, m = true, i = true, I = true, S = true }

local Description = {}
Description.__index = Description
Description.__name = "ladle.repl.description"
text.Description = Description

function Description:title()
  local kind = titles[self.kind] or "Relation"
  if self.persistence == "u" and can_be_unlogged[self.kind] then
    kind = "Unlogged " .. kind:sub(1, 1):lower() .. kind:sub(2)
  end
  return string.format('%s "%s.%s"', kind, self.schema, self.name)
end

local function plain(v) return v == nil and "" or v end

-- The grid under the title: its fields and rows for this kind of relation.
function Description:grid()
  local kind, verbose = self.kind, self.verbose
  if kind == "S" then
    local s = self.sequence or {}
    return { "Type", "Start", "Minimum", "Maximum", "Increment", "Cycles?", "Cache" },
      { { Type = s.type, Start = s.start, Minimum = s.minimum, Maximum = s.maximum, Increment = s.increment,
          ["Cycles?"] = s.cycles and "yes" or "no", Cache = s.cache } }
  end
  local fields
  if kind == "i" or kind == "I" then
    fields = { "Column", "Type", "Key?", "Definition" }
  else
    fields = { "Column", "Type", "Collation", "Nullable", "Default" }
  end
  local storage = verbose
  local compression = verbose and (kind == "r" or kind == "p" or kind == "m")
  local stats = verbose and (kind == "r" or kind == "p" or kind == "m" or kind == "f" or kind == "i" or kind == "I")
  local description = verbose and (kind == "r" or kind == "p" or kind == "m" or kind == "f" or kind == "v"
    or kind == "c")
  if storage then fields[#fields + 1] = "Storage" end
  if compression then fields[#fields + 1] = "Compression" end
  if stats then fields[#fields + 1] = "Stats target" end
  if description then fields[#fields + 1] = "Description" end
  local rows = {}
  for i, c in ipairs(self.columns) do
    rows[i] = { Column = c.name, Type = c.type, Collation = plain(c.collation),
      Nullable = c.not_null and "not null" or "", Default = plain(c.default), ["Key?"] = c.key,
      Definition = c.definition, Storage = c.storage, Compression = c.compression,
      ["Stats target"] = c.stats_target, Description = c.description }
  end
  return fields, rows
end

-- "Inherits: a,\n          b": later items lined up under the first.
local function listed(out, label, items)
  for i, item in ipairs(items) do
    local line = (i == 1 and (label .. ": ") or string.rep(" ", #label + 2)) .. item
    out[#out + 1] = line .. (i < #items and "," or "")
  end
end

local function section(out, title, lines)
  if #lines == 0 then return end
  out[#out + 1] = title .. ":"
  for _, line in ipairs(lines) do out[#out + 1] = "    " .. line end
end

local function index_footer(self, out)
  local ix = self.index
  if not ix then return end
  local line = ix.primary and "primary key, "
    or ix.unique and ("unique" .. (ix.nulls_not_distinct and " nulls not distinct" or "") .. ", ") or ""
  line = line .. string.format('%s, for table "%s.%s"', ix.method, self.schema, ix.table_name)
  if ix.predicate then line = line .. ", predicate (" .. ix.predicate .. ")" end
  if ix.clustered then line = line .. ", clustered" end
  if not ix.valid then line = line .. ", invalid" end
  if ix.deferrable then line = line .. ", deferrable" end
  if ix.deferred then line = line .. ", initially deferred" end
  if ix.replica_identity then line = line .. ", replica identity" end
  out[#out + 1] = line
end

local function table_footers(self, out)
  local lines = {}
  for _, ix in ipairs(self.indexes) do
    local line = '"' .. ix.name .. '"'
    if ix.primary then line = line .. " PRIMARY KEY,"
    elseif ix.unique then line = line .. (ix.constraint and " UNIQUE CONSTRAINT," or " UNIQUE,") end
    line = line .. " " .. (ix.exclusion and ix.constraint_definition or ix.method_and_columns)
    if ix.deferrable then line = line .. " DEFERRABLE" end
    if ix.deferred then line = line .. " INITIALLY DEFERRED" end
    if ix.clustered then line = line .. " CLUSTER" end
    if not ix.valid then line = line .. " INVALID" end
    lines[#lines + 1] = line
  end
  section(out, "Indexes", lines)
  local checks, fkeys = {}, {}
  for _, c in ipairs(self.constraints) do
    if c.type == "c" then
      checks[#checks + 1] = string.format('"%s" %s', c.name, c.definition)
    elseif c.on_table then
      fkeys[#fkeys + 1] = string.format('TABLE "%s" CONSTRAINT "%s" %s', c.on_table, c.name, c.definition)
    else
      fkeys[#fkeys + 1] = string.format('"%s" %s', c.name, c.definition)
    end
  end
  section(out, "Check constraints", checks)
  section(out, "Foreign-key constraints", fkeys)
  lines = {}
  for _, r in ipairs(self.referenced_by) do
    lines[#lines + 1] = string.format('TABLE "%s" CONSTRAINT "%s" %s', r.table, r.name, r.definition)
  end
  section(out, "Referenced by", lines)
end

local trigger_groups = {
  { "O", "Triggers" }, { "D", "Disabled user triggers" }, { "A", "Triggers firing always" },
  { "R", "Triggers firing on replica only" },
}

local function trigger_footers(self, out)
  for _, group in ipairs(trigger_groups) do
    local lines = {}
    for _, t in ipairs(self.triggers) do
      if t.firing == group[1] then
        lines[#lines + 1] = t.definition .. (t.parent and (", ON TABLE " .. t.parent) or "")
      end
    end
    section(out, group[2], lines)
  end
end

local function family_footers(self, out)
  listed(out, "Inherits", self.inherits)
  local children = self.children
  local partitioned = self.kind == "p" or self.kind == "I"
  if partitioned and #children == 0 then
    out[#out + 1] = "Number of partitions: 0"
  elseif not self.verbose then
    if #children > 0 then
      out[#out + 1] = string.format("Number of %s: %d (Use \\d+ to list them.)",
        partitioned and "partitions" or "child tables", #children)
    end
  else
    local items = {}
    for i, c in ipairs(children) do
      items[i] = c.name .. (c.bound and (" " .. c.bound) or "")
        .. ((c.kind == "p" or c.kind == "I") and ", PARTITIONED" or c.kind == "f" and ", FOREIGN" or "")
    end
    listed(out, partitioned and "Partitions" or "Child tables", items)
  end
end

-- render(opts) -> text: opts.colour for a bold title.
function Description:render(opts)
  opts = opts or {}
  local fields, rows = self:grid()
  local grid = format.grid(rows, fields, { colour = opts.colour, footer = false, null = "",
    title = format.colour(opts, "1", self:title()), centre_title = true })
  local out = { (grid:gsub("\n$", "")) }
  local kind = self.kind
  if self.partition_of then
    out[#out + 1] = "Partition of: " .. self.partition_of
    if self.verbose and self.partition_constraint then
      out[#out + 1] = "Partition constraint: " .. self.partition_constraint
    end
  end
  if self.partition_key then out[#out + 1] = "Partition key: " .. self.partition_key end
  if kind == "S" and self.owned_by then
    out[#out + 1] = (self.identity_sequence and "Sequence for identity column: " or "Owned by: ") .. self.owned_by
  end
  if kind == "i" or kind == "I" then
    index_footer(self, out)
  elseif kind == "r" or kind == "p" or kind == "m" or kind == "f" then
    table_footers(self, out)
  end
  if self.view_definition and self.verbose then
    out[#out + 1] = "View definition:"
    out[#out + 1] = self.view_definition
  end
  trigger_footers(self, out)
  if kind == "r" or kind == "p" or kind == "m" or kind == "f" or kind == "I" then
    family_footers(self, out)
    if self.verbose and self.access_method then out[#out + 1] = "Access method: " .. self.access_method end
  end
  if self.verbose and self.options then out[#out + 1] = "Options: " .. self.options end
  return table.concat(out, "\n")
end

Description.__tostring = function(d) return d:render() end
Description.__repl = function(d, opts) return d:render(opts) end

return text
