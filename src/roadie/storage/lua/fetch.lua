-- Move up to N jobs from queues into this process's in-progress lists (reliable fetch).
--
-- A job leaves its queue and enters the in-progress list in one step, so a
-- crash at any moment leaves it in exactly one of the two.
--
-- KEYS[1]       paused-queues set (Sidekiq Pro's `paused`; paused queues are skipped)
-- KEYS[2i]      queue list of queue i (i = 1..Q)
-- KEYS[2i+1]    in-progress list of queue i
-- ARGV[1]       N, the number of free slots
-- ARGV[2..Q+1]  queue names, in KEYS order
-- ARGV[Q+2..]   one or more fetch orders, each a space-separated list of queue
--               indexes (1-based). Slot s tries queues in order min(s, last);
--               a strict worker passes one order, a weighted one passes one
--               weighted shuffle per slot.
--
-- Returns a flat array: queue index, job payload, queue index, job payload, ...
local slots = tonumber(ARGV[1])
local queue_count = (#KEYS - 1) / 2
local orders = {}
for a = queue_count + 2, #ARGV do
  local order = {}
  for index in string.gmatch(ARGV[a], '%d+') do
    order[#order + 1] = tonumber(index)
  end
  orders[#orders + 1] = order
end

local paused = {}
local empty = {}
for i = 1, queue_count do
  paused[i] = redis.call('SISMEMBER', KEYS[1], ARGV[1 + i]) == 1
end

local result = {}
for slot = 1, slots do
  local order = orders[math.min(slot, #orders)]
  local found = false
  for _, i in ipairs(order) do
    if not paused[i] and not empty[i] then
      local job = redis.call('LMOVE', KEYS[2 * i], KEYS[2 * i + 1], 'RIGHT', 'LEFT')
      if job then
        result[#result + 1] = i
        result[#result + 1] = job
        found = true
        break
      end
      empty[i] = true
    end
  end
  if not found then
    break
  end
end

return result
