-- The embedded default: a throwaway PostgreSQL cluster, a table, a query.
--   ladle run examples/demo.lua
local ladle = require "ladle"

local cluster <close> = assert(ladle.sandbox.start())
print("started a throwaway cluster in " .. cluster.dir)

local db <close> = assert(ladle.connect(cluster:conninfo()))
assert(db:exec [[
  CREATE TABLE fruit (id int PRIMARY KEY, name text NOT NULL, price numeric(6,2));
  INSERT INTO fruit VALUES (1, 'apple', 0.50), (2, 'pear', 0.75), (3, 'quince', NULL);
]])

local rows = assert(db:query("SELECT id, name, price FROM fruit WHERE id <= $1 ORDER BY id", 3))
for _, row in ipairs(rows) do
  print(string.format("%d  %-7s %s", row.id, row.name, row.price or "(null)"))
end
print(string.format("(%d rows)", #rows))
print("server version: " .. db:query("SHOW server_version")[1].server_version
  .. " (" .. db:server_version() .. ")")
