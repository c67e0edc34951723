-- A person at a terminal, for the REPL specs: runs ladle on a
-- pseudo-terminal (support.pty, built by make test), types at it and waits
-- for what it prints, expect-style. Terminal escapes (colours, cursor moves,
-- bracketed-paste switches) and carriage returns are removed from what is
-- matched; `raw` keeps everything.

local pty = require "support.pty"
local sys = require "ladle.sys"
local env = require "support.env"

local terminal = {}

local Terminal = {}
Terminal.__index = Terminal

-- The keys a spec presses.
terminal.keys = { ctrl_c = "\3", ctrl_d = "\4", tab = "\t", enter = "\r", up = "\27[A" }

local function clean(s)
  s = s:gsub("\27%[[%d;?]*[%a@`]", "")   -- CSI: colours, cursor, modes
       :gsub("\27%][^\7]*\7", "")         -- OSC
       :gsub("\27[%(%)][%w]", "")
       :gsub("\27[=>]", "")
       :gsub("[\r\7\8]", "")
  return s
end
terminal.clean = clean

-- screen(raw) -> the lines a terminal shows for this output: printable
-- characters overwrite what is under the cursor, \r goes back to the start
-- of the line, \b one column left, ESC [ K erases to the end of the line;
-- other escapes are left out. (Enough to see where ^C lands after Ctrl-C.)
function terminal.screen(raw)
  local lines, row, col = { "" }, 1, 0
  local i, n = 1, #raw
  while i <= n do
    local c = raw:sub(i, i)
    local csi = raw:match("^\27%[[%d;?]*[%a@`]", i)
    if csi then
      if csi:sub(-1) == "K" then lines[row] = lines[row]:sub(1, col) end
      i = i + #csi
    elseif c == "\27" then
      local other = raw:match("^\27%][^\7]*\7", i) or raw:match("^\27[%(%)][%w]", i) or raw:sub(i, i + 1)
      i = i + #other
    else
      if c == "\r" then
        col = 0
      elseif c == "\n" then
        row = row + 1
        lines[row] = lines[row] or ""
      elseif c == "\8" then
        col = math.max(0, col - 1)
      elseif c ~= "\7" then
        local line = lines[row]
        if #line < col then line = line .. string.rep(" ", col - #line) end
        lines[row] = line:sub(1, col) .. c .. line:sub(col + 2)
        col = col + 1
      end
      i = i + 1
    end
  end
  return lines
end

-- open(args, opts) runs `ladle ARGS...`; opts.env adds to the environment
-- (the terminal is an xterm of 24 x 80, NO_COLOR set unless opts.colour,
-- PAGER empty: long output is cut, not paged).
function terminal.open(args, opts)
  opts = opts or {}
  local vars = { TERM = "xterm", NO_COLOR = "1", INPUTRC = "/dev/null",
    PAGER = "", LESS = false, LADLE_HISTORY = false }
  if opts.colour then vars.NO_COLOR = false end
  for k, v in pairs(opts.env or {}) do vars[k] = v end
  local argv = { env.exe }
  for _, a in ipairs(args or {}) do argv[#argv + 1] = a end
  local t = setmetatable({ raw = "", text = "", at = 0 }, Terminal)
  t.pty = assert(pty.spawn(argv, { env = vars, rows = opts.rows or 24, cols = opts.cols or 80 }))
  return t
end

-- Reads what is there (waiting up to timeout); false once the program has
-- closed the terminal.
function Terminal:pump(timeout)
  local chunk = self.pty:read(timeout or 0.05)
  if chunk == nil then
    self.closed = true
    return false
  end
  if chunk ~= "" then
    self.raw = self.raw .. chunk
    self.text = clean(self.raw)
  end
  return true
end

-- expect(text, timeout) waits until `text` (plain) shows up after what was
-- matched before, and returns everything up to and including it. Fails with
-- what the terminal showed when it does not come in time.
function Terminal:expect(text, timeout)
  local deadline = sys.now() + (timeout or 10)
  while true do
    local s, e = self.text:find(text, self.at + 1, true)
    if s then
      local seen = self.text:sub(self.at + 1, e)
      self.at = e
      return seen
    end
    if sys.now() > deadline or (self.closed and not self:pump(0)) then
      error(string.format("expected %q on the terminal; it showed:\n%s", text,
        self.text:sub(self.at + 1)), 2)
    end
    self:pump(0.05)
  end
end

-- Everything shown since the last match, after waiting `quiet` seconds.
function Terminal:rest(quiet)
  local deadline = sys.now() + (quiet or 0.3)
  while sys.now() < deadline and self:pump(0.05) do end
  return self.text:sub(self.at + 1)
end

function Terminal:send(keys)
  assert(self.pty:write(keys))
end

-- Types a line and presses Enter.
function Terminal:line(text)
  self:send(text .. "\r")
end

function Terminal:wait(timeout)
  local deadline = sys.now() + (timeout or 10)
  repeat
    self:pump(0.05)
    local status = self.pty:wait(0)
    if status then return status end
  until sys.now() > deadline
  return nil
end

function Terminal:close()
  self.pty:close()
end
Terminal.__close = Terminal.close

return terminal
