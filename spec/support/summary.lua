-- A busted output handler for logs: a line of dots per spec file, every
-- failure with its message and traceback, then the summary line
--   busted: N passed, N failed, N skipped
-- Errors (a broken spec file, a failing setup) count as failures.

return function(options)
  local busted = require "busted"
  local handler = require("busted.outputHandlers.base")()
  local pretty = require "pl.pretty"

  local current_file
  local marks = { success = ".", failure = "F", error = "E", pending = "s" }

  local function describe(element)
    local t = element.trace or (element.element and element.element.trace)
    if t and t.short_src then return string.format("%s:%s", t.short_src, t.currentline) end
    return "?"
  end

  local function message_of(item)
    if type(item.message) == "string" then return item.message end
    if item.message == nil then return "(no message)" end
    return pretty.write(item.message)
  end

  handler.fileStart = function(file)
    current_file = file.name
    io.write(file.name, " ")
    io.flush()
    return nil, true
  end

  handler.fileEnd = function()
    io.write("\n")
    io.flush()
    return nil, true
  end

  handler.testEnd = function(element, parent, status)
    io.write(marks[status] or "?")
    io.flush()
    return nil, true
  end

  handler.suiteEnd = function()
    local failed = handler.failuresCount + handler.errorsCount
    local function report(list, label)
      for _, item in ipairs(list) do
        io.write(string.format("\n%s: %s\n  at %s\n  %s\n", label, item.name, describe(item),
          (message_of(item):gsub("\n", "\n  "))))
        if item.trace and item.trace.traceback then
          io.write("  ", (item.trace.traceback:gsub("\n", "\n  ")), "\n")
        end
      end
    end
    report(handler.failures, "FAILED")
    report(handler.errors, "ERROR")
    io.write(string.format("\nbusted: %d passed, %d failed, %d skipped\n",
      handler.successesCount, failed, handler.pendingsCount))
    io.flush()
    return nil, true
  end

  busted.subscribe({ "file", "start" }, handler.fileStart)
  busted.subscribe({ "file", "end" }, handler.fileEnd)
  busted.subscribe({ "test", "end" }, handler.testEnd, { predicate = handler.cancelOnPending })
  busted.subscribe({ "suite", "end" }, handler.suiteEnd)
  return handler
end
