-- ladle.sandbox.template: a cached initdb, so that a throwaway cluster
-- starts by copying a data directory instead of running initdb.
--
-- initdb is most of a sandbox's start (about 0.45 s of 0.75 s on an idle
-- machine); copying its output takes a fraction of that. The first start
-- runs initdb as before and then keeps a copy of the fresh data directory
-- in the cache; later starts copy it back.
--
-- One entry per server installation and user, in
-- $XDG_CACHE_HOME/ladle (default ~/.cache/ladle):
--   initdb-15-root-as-postgres-1a2b3c4d/
--     data/   the data directory as initdb left it
--     stamp   what it was made from: initdb's arguments, the binaries'
--             size and time; an entry whose stamp differs is stale and
--             is rebuilt
-- An entry is built in a temporary directory next to it and renamed into
-- place, so two processes building at once never see half of one: the
-- first rename wins, the other process throws its copy away.
--
-- The cache holds server configuration that a server will run with, so it
-- is used only when it is private: the ladle directory is owned by the
-- user, mode 0700, and every entry is owned by the user with its data
-- directory owned by the server's user (postgres when ladle runs as root:
-- `cp -a` as root keeps that owner, so the copy is the server's).
-- Anything else and the cache is left alone: initdb runs as without it.

local sys = require "ladle.sys"

local template = {}

-- Bumped when what an entry holds changes meaning.
template.FORMAT = 1

-- 32-bit FNV-1a, as hex: a short name for a long key.
local function fnv(text)
  local h = 0x811c9dc5
  for i = 1, #text do
    h = ((h ~ text:byte(i)) * 0x01000193) & 0xffffffff
  end
  return string.format("%08x", h)
end

-- template.cache_dir([base]) -> $XDG_CACHE_HOME/ladle (or ~/.cache/ladle)
-- | nil, why. base: the cache root to use instead.
function template.cache_dir(base)
  base = base or os.getenv("XDG_CACHE_HOME")
  if not base or base == "" or base:sub(1, 1) ~= "/" then
    local home = os.getenv("HOME")
    if not home or home == "" then return nil, "no cache directory: neither XDG_CACHE_HOME nor HOME is set" end
    base = home .. "/.cache"
  end
  return base .. "/ladle"
end

-- Owner uid and mode of each path, read with stat(1) in one run (ladle.sys
-- reports modes but not owners). nil for a path that does not exist.
local function owners(paths)
  local argv = { "stat", "-c", "%u %a %n" }
  for _, p in ipairs(paths) do argv[#argv + 1] = p end
  local _, out = sys.spawn(argv, { stdout = "capture", stderr = "null" })
  local found = {}
  for uid, mode, name in (out or ""):gmatch("(%d+) (%d+) ([^\n]+)") do
    found[name] = { uid = tonumber(uid), mode = tonumber(mode, 8) }
  end
  local list = {}
  for i, p in ipairs(paths) do list[i] = found[p] or false end
  return list
end

local function mkdir_private(path)
  local status = sys.spawn({ "mkdir", "-p", "-m", "700", path }, { stdout = "null", stderr = "null" })
  return status == 0
end

-- The stamp: what an entry was made from, one "key=value" line each.
local function stamp_of(bindir, args)
  local lines = { "format=" .. template.FORMAT, "bindir=" .. bindir, "initdb=" .. table.concat(args, " ") }
  for _, tool in ipairs({ "initdb", "postgres" }) do
    local st = sys.stat(bindir .. "/" .. tool)
    if not st then return nil end
    lines[#lines + 1] = string.format("%s.binary=%d:%d", tool, st.size, st.mtime)
  end
  return table.concat(lines, "\n") .. "\n"
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

-- template.entry{bindir =, args =, run_as =, cache =} -> entry | nil, why
-- The cache entry for this installation, user and initdb arguments:
-- {root, path, data, stamp, server_uid}. `cache` overrides the directory
-- (template.cache_dir()). Creates the ladle cache directory when missing;
-- refuses one that is not private.
function template.entry(opts)
  local root, why = opts.cache or template.cache_dir()
  if not root then return nil, why end
  local stamp = stamp_of(opts.bindir, opts.args)
  if not stamp then return nil, "cannot read the server binaries in " .. opts.bindir end
  local user = sys.user() .. (opts.run_as and ("-as-" .. opts.run_as) or "")
  local major = opts.bindir:match("/(%d+)/bin/?$") or "pg"
  -- named by installation and arguments; the stamp inside says whether
  -- the binaries changed since (a minor upgrade): then it is rebuilt
  local path = string.format("%s/initdb-%s-%s-%s", root, major, (user:gsub("[^%w_.-]", "_")),
    fnv(opts.bindir .. "\0" .. table.concat(opts.args, "\0")))
  if not sys.stat(root) and not mkdir_private(root) then return nil, "cannot create " .. root end
  local server_uid = opts.run_as and sys.user_exists(opts.run_as) or sys.geteuid()
  return { root = root, path = path, data = path .. "/data", stamp = stamp, server_uid = server_uid }
end

-- Whether the entry can be trusted and is fresh: the ladle directory ours
-- and private, the entry ours, its data the server user's, its stamp the
-- one we would write.
local function usable(entry)
  local me = sys.geteuid()
  local st = owners({ entry.root, entry.path, entry.data })
  local root, dir, data = st[1], st[2], st[3]
  if not root or root.uid ~= me or root.mode & tonumber("077", 8) ~= 0 then
    return false, entry.root .. " is not a private directory of this user"
  end
  if not dir then return false, "no cached initdb yet" end
  if dir.uid ~= me or not data or data.uid ~= entry.server_uid or data.mode & tonumber("027", 8) ~= 0 then
    return false, entry.path .. " has the wrong owner or mode"
  end
  if read_file(entry.path .. "/stamp") ~= entry.stamp or not sys.stat(entry.data .. "/PG_VERSION") then
    return false, "stale"
  end
  return true
end

local function copy_tree(from, to)
  local status, _, err = sys.spawn({ "cp", "-a", "--", from, to }, { stdout = "null", stderr = "capture" })
  if status == 0 then return true end
  return nil, string.format("cp -a %s %s failed: %s", from, to, (err or ""):gsub("%s+$", ""))
end

-- template.restore(entry, datadir) -> true | nil, why
-- Copies the cached data directory to datadir (which must not exist).
function template.restore(entry, datadir)
  local ok, why = usable(entry)
  if not ok then return nil, why end
  ok, why = copy_tree(entry.data, datadir)
  if ok and not sys.stat(datadir .. "/PG_VERSION") then ok, why = nil, "the copy is incomplete" end
  if not ok then sys.rmtree(datadir) end
  return ok, why
end

-- template.save(entry, datadir) -> true | nil, why
-- Keeps a copy of datadir, fresh from initdb, as the entry: built beside
-- it and renamed into place. A stale or untrusted entry is moved aside and
-- removed; a good entry another process put there first wins.
function template.save(entry, datadir)
  local fresh, why = usable(entry)
  if fresh then return true end  -- another process saved it meanwhile
  if why:find("private", 1, true) then return nil, why end
  local suffix = string.format(".%d-%s", sys.getpid(), fnv(tostring(sys.now()) .. tostring({})))
  local building = entry.path .. ".tmp" .. suffix
  if not mkdir_private(building) then return nil, "cannot create " .. building end
  local ok
  ok, why = copy_tree(datadir, building .. "/data")
  if ok then
    local f = io.open(building .. "/stamp", "wb")
    ok = f and f:write(entry.stamp) and f:close()
    if not ok then why = "cannot write " .. building .. "/stamp" end
  end
  if ok and sys.stat(entry.path) then
    -- stale, or untrusted: out of the way first (another process may be
    -- doing the same; whoever renames second finds it gone)
    local aside = entry.path .. ".old" .. suffix
    if os.rename(entry.path, aside) then sys.rmtree(aside) end
  end
  if ok and not os.rename(building, entry.path) then
    why = "another process saved it first"
    ok = nil
  end
  if not ok then sys.rmtree(building) end
  return ok, why
end

return template
