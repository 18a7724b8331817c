-- Return every in-progress job of a process that is gone to its queue.
--
-- The liveness check runs inside the script, so a process whose heartbeat
-- arrives while another process recovers it keeps its jobs.
--
-- KEYS[1]        `roadie:fetchers` set of identities that may hold jobs
-- KEYS[2]        the process's record hash (`<identity>`)
-- KEYS[3]        the process's set of queue names with an in-progress list
-- KEYS[4]        `queues` set
-- KEYS[3+2i]     in-progress list of queue i (i = 1..Q)
-- KEYS[4+2i]     queue list of queue i
-- ARGV[1]        identity
-- ARGV[2]        current time, epoch seconds
-- ARGV[3]        seconds without a heartbeat after which the process counts as gone
-- ARGV[4]        "1" to skip the heartbeat check (the caller saw the PID is not running)
-- ARGV[5..Q+4]   queue names, in KEYS order
--
-- Returns the number of jobs moved, or -1 when the process is still alive.
if ARGV[4] ~= '1' then
  local beat = tonumber(redis.call('HGET', KEYS[2], 'beat'))
  if beat and tonumber(ARGV[2]) - beat < tonumber(ARGV[3]) then
    return -1
  end
end

local moved = 0
local queue_count = (#KEYS - 4) / 2
for i = 1, queue_count do
  local source = KEYS[3 + 2 * i]
  local target = KEYS[4 + 2 * i]
  local count = 0
  -- Newest first onto the consuming end, so the oldest job runs first again.
  while redis.call('LMOVE', source, target, 'LEFT', 'RIGHT') do
    count = count + 1
  end
  if count > 0 then
    redis.call('SADD', KEYS[4], ARGV[4 + i])
  end
  moved = moved + count
end
redis.call('DEL', KEYS[3])
redis.call('SREM', KEYS[1], ARGV[1])
return moved
