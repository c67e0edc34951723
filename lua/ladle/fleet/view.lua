-- ladle.fleet.view: what a fleet run shows while it works and at the end.
--
--   local v = view.new { out = io.stdout, live = true, color = true, width = 100 }
--   local run = fleet.run { targets = ..., view = v }
--   view.table(run, { out = io.stdout, color = true })   -- or view.json(run, out)
--
-- live: a block of one line per running target, under a line of counts,
-- redrawn in place (a terminal); finished targets scroll above it. Without
-- live: plain lines, one when a target starts and one when it ends (a
-- pipe, a log). Colour only when asked (the caller checks the terminal and
-- NO_COLOR).

local json = require "ladle.json"
local sys = require "ladle.sys"

local view = {}

local COLORS = { green = "32", red = "31", yellow = "33", dim = "2" }
local STATUS_COLOR = { upgraded = "green", ["up to date"] = "green", ["would apply"] = "green", failed = "red",
  interrupted = "yellow", ["not started"] = "yellow" }

local function paint(text, color, enabled)
  if not enabled or not color then return text end
  return "\27[" .. COLORS[color] .. "m" .. text .. "\27[0m"
end

local function width_of(text)
  return utf8.len(text) or #text
end

-- Cuts a line to n characters, so that a terminal never wraps it.
local function cut(text, n)
  if width_of(text) <= n then return text end
  local stop = utf8.offset(text, n) or (n + 1)
  return text:sub(1, stop - 1)
end

-- "0.2.0 → 0.3.0", "0.3.0", or "" before a target said where it is.
function view.versions(t)
  if not t.from then return "" end
  if t.to and t.to ~= t.from then return t.from .. " → " .. t.to end
  return t.from
end

-- What became of a target: "upgraded (3 deltas)", "failed: why"; the
-- count left out where a column shows it.
function view.outcome(t, without_count)
  local status = t.status
  if not without_count and (status == "upgraded" or status == "would apply") then
    status = string.format("%s (%d delta%s)", status, t.applied or 0, t.applied == 1 and "" or "s")
  end
  if t.message and (t.status == "failed" or t.status == "interrupted") then status = status .. ": " .. t.message end
  return status
end

local Live = {}
Live.__index = Live

function view.new(opts)
  opts = opts or {}
  return setmetatable({
    out = opts.out or io.stdout, live = opts.live == true, color = opts.color == true,
    width = opts.width or 80, drawn = 0, last_draw = 0,
  }, Live)
end

function Live:_erase()
  if self.drawn > 0 then
    self.out:write("\r\27[", self.drawn, "A\27[J")
    self.drawn = 0
  end
end

function Live:_line(text)
  self.out:write(text, "\n")
end

function Live:started(t)
  if not self.live then
    self:_line(string.format("started   %s", t.name))
    self.out:flush()
  end
end

function Live:finished(t)
  self:_erase()
  local line = string.format("%s  %s  %s", t.name, view.versions(t), view.outcome(t)):gsub("  +", "  ")
  if t.ms then line = line .. string.format("  %d ms", t.ms) end
  local word = t.status == "failed" and "FAILED    " or "finished  "
  if self.live then line = cut(line, self.width - #word - 1) end
  self:_line(paint(word, STATUS_COLOR[t.status], self.color) .. line)
  self.out:flush()
  self.last_draw = 0
end

-- "4 running, 10 done, 1 failed, 15 waiting"
function view.counts(run)
  local running, done, failed, waiting = 0, 0, 0, 0
  for _, t in ipairs(run.targets) do
    if t.status == "running" then running = running + 1
    elseif t.status == "waiting" then waiting = waiting + 1
    elseif t.failed then failed = failed + 1
    else done = done + 1 end
  end
  local text = string.format("%d running, %d done, %d failed, %d waiting", running, done, failed, waiting)
  if run.stopped == "canary" then text = text .. " (a canary failed: no new starts)"
  elseif run.stopped == "failures" then text = text .. " (failure threshold reached: no new starts)" end
  return text
end

-- Redraws the block of running targets, at most a few times a second.
function Live:refresh(run)
  if not self.live then return end
  local now = sys.now()
  if now - self.last_draw < 0.2 then return end
  self.last_draw = now
  local lines = { cut(view.counts(run), self.width - 1) }
  for _, t in ipairs(run.targets) do
    if t.status == "running" then
      local doing = t.lock_holder and ("waiting for the lock, held by " .. t.lock_holder)
        or (t.current and string.format("%s (%d/%d)", t.current, t.step or 0, t.steps or 0)) or "connecting"
      local line = string.format("  %s  %s  %s", t.name, view.versions(t), doing):gsub("  +", "  ")
      lines[#lines + 1] = paint(cut(line, self.width - 1), "dim", self.color)
    end
  end
  -- one write: a Ctrl-C between two lines would leave half a block
  local erase = self.drawn > 0 and string.format("\r\27[%dA\27[J", self.drawn) or ""
  self.out:write(erase, table.concat(lines, "\n"), "\n")
  self.drawn = #lines
  self.out:flush()
end

function Live:close()
  self:_erase()
  self.out:flush()
end

-- The end ---------------------------------------------------------------------

-- view.table(run, {out, color}): target (passwords masked), from → to,
-- deltas, ms, status; in a dry run, then, what each target would apply.
function view.table(run, opts)
  opts = opts or {}
  local out = opts.out or io.stdout
  local rows = { { "TARGET", "FROM → TO", "DELTAS", "MS", "STATUS" } }
  for _, t in ipairs(run.targets) do
    rows[#rows + 1] = { t.name, view.versions(t), t.applied and tostring(t.applied) or "",
      t.ms and tostring(t.ms) or "", view.outcome(t, true), color = STATUS_COLOR[t.status] }
  end
  local widths = {}
  for _, row in ipairs(rows) do
    for i = 1, 4 do widths[i] = math.max(widths[i] or 0, width_of(row[i])) end
  end
  for r, row in ipairs(rows) do
    local cells = {}
    for i = 1, 4 do
      local pad = string.rep(" ", widths[i] - width_of(row[i]))
      cells[i] = (i == 3 or i == 4) and (pad .. row[i]) or (row[i] .. pad)
    end
    cells[5] = r == 1 and row[5] or paint(row[5], row.color, opts.color)
    out:write(table.concat(cells, "  "), "\n")
  end
  if run.dry_run then
    for _, t in ipairs(run.targets) do
      if t.would and #t.would > 0 then
        out:write("\n", t.name, ":\n")
        for _, label in ipairs(t.would) do out:write("  Would apply ", label, "\n") end
      end
    end
  end
  out:flush()
end

-- view.json(run, out): one JSON object per target, in target order.
function view.json(run, out)
  out = out or io.stdout
  for _, t in ipairs(run.targets) do
    out:write(json.encode {
      target = t.name, host = t.host, status = t.status, from = t.from, to = t.to, deltas = t.applied,
      ms = t.ms, exit = t.exit, message = t.message, would_apply = t.would and json.array(t.would) or nil,
    }, "\n")
  end
  out:flush()
end

return view
