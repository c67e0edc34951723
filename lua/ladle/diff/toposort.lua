-- ladle.diff.toposort: a topological sort that takes, among the nodes free
-- to go, the smallest first (Kahn's algorithm with a min-heap), so that
-- the order is stable and readable.
--
--   local order, loops = toposort.sort(nodes, after, less)
--
-- nodes: a list; after[node]: the set of nodes that must come after it;
-- less(x, y): the order among free nodes. A dependency loop is broken at
-- its smallest node; loops counts how often that happened.

local toposort = {}

local function push(heap, v, less)
  heap[#heap + 1] = v
  local i = #heap
  while i > 1 do
    local p = i // 2
    if less(heap[i], heap[p]) then heap[i], heap[p] = heap[p], heap[i]; i = p else break end
  end
end

local function pop(heap, less)
  local top = heap[1]
  local last = table.remove(heap)
  if #heap > 0 then
    heap[1] = last
    local i, n = 1, #heap
    while true do
      local l, r, m = 2 * i, 2 * i + 1, i
      if l <= n and less(heap[l], heap[m]) then m = l end
      if r <= n and less(heap[r], heap[m]) then m = r end
      if m == i then break end
      heap[i], heap[m] = heap[m], heap[i]
      i = m
    end
  end
  return top
end

function toposort.sort(nodes, after, less)
  local indegree, pending = {}, {}
  for _, node in ipairs(nodes) do pending[node] = true end
  for _, node in ipairs(nodes) do
    for t in pairs(after[node] or {}) do
      if pending[t] then indegree[t] = (indegree[t] or 0) + 1 end
    end
  end
  local heap = {}
  for _, node in ipairs(nodes) do
    if (indegree[node] or 0) == 0 then push(heap, node, less) end
  end
  local ordered, loops = {}, 0
  while next(pending) do
    local s
    if #heap > 0 then
      s = pop(heap, less)
    else
      loops = loops + 1
      for candidate in pairs(pending) do
        if not s or less(candidate, s) then s = candidate end
      end
    end
    if pending[s] then
      pending[s] = nil
      ordered[#ordered + 1] = s
      for t in pairs(after[s] or {}) do
        if pending[t] then
          indegree[t] = indegree[t] - 1
          if indegree[t] == 0 then push(heap, t, less) end
        end
      end
    end
  end
  return ordered, loops
end

return toposort
