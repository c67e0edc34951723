-- ladle.report.svg: a rehearsal (ladle.rehearse) as a timeline picture.
--
--   local text = svg.render(result)       -- result of ladle.rehearse.run
--   assert(svg.write("rehearsal.svg", result))
--
-- One row per delta, in the order they ran: its name, a bar as long as its
-- time (on one scale for all rows), coloured by the strongest lock it held
-- on a table that existed before it, and after the bar the same in words:
-- the time, the lock and the table, REWRITE and BREAKS OLD CODE when they
-- apply. So a row reads without the legend, which is there too. A delta
-- that failed gets a last row saying so. Each row is a <g class="delta">
-- with a <title> that holds the findings (a tooltip in browsers).

local errors = require "ladle.errors"
local locks = require "ladle.plan.locks"

local svg = {}

-- Colours by the strongest mode, as what it stops.
local COLOURS = {
  { test = function(m) return m and m.rank == 8 end, fill = "#d32f2f",
    says = "ACCESS EXCLUSIVE: blocks reads and writes" },
  { test = function(m) return m and m.rank >= 5 end, fill = "#f57c00", says = "SHARE-level: blocks writes" },
  { test = function(m) return m and m.rank == 4 end, fill = "#1976d2",
    says = "SHARE UPDATE EXCLUSIVE: blocks other DDL" },
  { test = function(m) return m ~= nil end, fill = "#388e3c", says = "weaker: blocks only ACCESS EXCLUSIVE DDL" },
  { test = function() return true end, fill = "#9e9e9e", says = "no lock on an existing table" },
}
local UNOBSERVED = { fill = "url(#unobserved)", says = "outside a transaction: locks not observed" }

local function escape(text)
  text = tostring(text)
  -- a file name need not be UTF-8; the document must be
  if not utf8.len(text) then text = errors.printable(text) end
  return (text:gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;",
    ["'"] = "&apos;" }))
end

local function colour(o)
  if not o.transaction then return UNOBSERVED end
  local strongest = o.locks[1] and locks.mode(o.locks[1].mode)
  for _, c in ipairs(COLOURS) do
    if c.test(strongest) then return c end
  end
end

local function has(o, rule)
  for _, f in ipairs(o.findings) do
    if f.rule == rule then return true end
  end
  return false
end

local LABEL_W, BAR_W, ROW_H, TOP = 330, 380, 30, 56
local WIDTH = LABEL_W + BAR_W + 420

-- svg.render(result) -> the SVG document as a string.
function svg.render(result)
  local rows, out = result.deltas, {}
  local function add(fmt, ...) out[#out + 1] = select("#", ...) > 0 and string.format(fmt, ...) or fmt end
  local longest, total, findings = 1, 0, 0
  for _, o in ipairs(rows) do
    longest, total, findings = math.max(longest, o.ms), total + o.ms, findings + #o.findings
  end
  local count = #rows + (result.failed and 1 or 0)
  local height = TOP + count * ROW_H + 40 + (#COLOURS + 1) * 18
  add('<?xml version="1.0" encoding="UTF-8"?>')
  add('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
    .. 'font-family="sans-serif" font-size="13">', WIDTH, height, WIDTH, height)
  add('<defs><pattern id="unobserved" width="6" height="6" patternUnits="userSpaceOnUse" '
    .. 'patternTransform="rotate(45)"><rect width="6" height="6" fill="#e0e0e0"/>'
    .. '<line x1="0" y1="0" x2="0" y2="6" stroke="#757575" stroke-width="3"/></pattern></defs>')
  add('<rect width="100%" height="100%" fill="#ffffff"/>')
  add('<text x="12" y="24" font-size="16" font-weight="bold">Rehearsal: %d delta%s, %d ms, %d finding%s%s</text>',
    #rows, #rows == 1 and "" or "s", total, findings, findings == 1 and "" or "s",
    escape(result.failed and " — a delta failed" or ""))
  add('<text x="%d" y="46" fill="#555">bar: time on one scale (longest %d ms); colour: the strongest lock on a table '
    .. 'that existed before the delta</text>', LABEL_W, longest)
  for i, o in ipairs(rows) do
    local y = TOP + (i - 1) * ROW_H
    local c = colour(o)
    local width = math.max(2, math.floor(o.ms / longest * BAR_W + 0.5))
    local words = { string.format("%d ms", o.ms) }
    local lock = o.locks[1]
    if lock then
      local more = #o.locks - 1
      words[#words + 1] = lock.mode .. " on " .. lock.relation
        .. (more > 0 and string.format(" (and %d more)", more) or "")
    elseif not o.transaction then
      words[#words + 1] = "locks not observed (no transaction)"
    end
    local tips = { o.file .. ": " .. o.ms .. " ms" }
    for _, f in ipairs(o.findings) do tips[#tips + 1] = f.rule .. ": " .. f.message end
    add('<g class="delta" data-file="%s" data-ms="%d">', escape(o.file), o.ms)
    add('<title>%s</title>', escape(table.concat(tips, "\n")))
    local name = o.description or (o.script or o.file or ""):gsub("^.*/", "")
    local label = string.format("%s %s %s", o.version or "", o.phase or "", name)
    -- cut on a character, never inside one
    if (utf8.len(label) or #label) > 44 then label = label:sub(1, (utf8.offset(label, 43) or 43) - 1) .. "…" end
    add('<text x="12" y="%d">%s</text>', y + 15, escape(label))
    add('<rect x="%d" y="%d" width="%d" height="18" rx="2" fill="%s" stroke="#424242" stroke-width="0.5"/>',
      LABEL_W, y + 2, width, c.fill)
    local x = LABEL_W + width + 8
    add('<text x="%d" y="%d">%s', x, y + 15, escape(table.concat(words, " · ")))
    if #o.rewrites > 0 then add(' · <tspan font-weight="bold" fill="#6a1b9a">REWRITE</tspan>') end
    if has(o, "breaks-old-code") then add(' · <tspan font-weight="bold" fill="#b71c1c">BREAKS OLD CODE</tspan>') end
    if has(o, "not-concurrent") then add(' · <tspan fill="#e65100">index not CONCURRENTLY</tspan>') end
    add('</text></g>')
  end
  if result.failed then
    local y = TOP + #rows * ROW_H
    add('<g class="failed"><text x="12" y="%d" font-weight="bold" fill="#b71c1c">FAILED %s: %s</text></g>', y + 15,
      escape(result.failed.file or "?"), escape(result.failed.message or ""))
  end
  local ly = TOP + count * ROW_H + 24
  for i, c in ipairs({ COLOURS[1], COLOURS[2], COLOURS[3], COLOURS[4], COLOURS[5], UNOBSERVED }) do
    local y = ly + (i - 1) * 18
    add('<rect x="12" y="%d" width="14" height="12" fill="%s" stroke="#424242" stroke-width="0.5"/>', y - 10, c.fill)
    add('<text x="32" y="%d" font-size="12">%s</text>', y, escape(c.says))
  end
  add('</svg>')
  return table.concat(out, "\n") .. "\n"
end

-- svg.write(path, result) -> true | nil, message
function svg.write(path, result)
  local f, err = io.open(path, "w")
  if not f then return nil, err end
  f:write(svg.render(result))
  local ok
  ok, err = f:close()
  if not ok then return nil, err end
  return true
end

return svg
