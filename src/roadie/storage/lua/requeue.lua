-- Push unfinished jobs back from an in-progress list to the consuming end of their queue.
--
-- A job is pushed back only if it is still in the in-progress list, so a job
-- that finished (and was removed) while this ran is never duplicated.
--
-- KEYS[1]   in-progress list
-- KEYS[2]   queue list
-- KEYS[3]   `queues` set
-- ARGV[1]   queue name
-- ARGV[2..] job payloads, exactly as fetched
--
-- Returns the number of jobs pushed back.
local moved = 0
for a = 2, #ARGV do
  if redis.call('LREM', KEYS[1], -1, ARGV[a]) == 1 then
    redis.call('RPUSH', KEYS[2], ARGV[a])
    moved = moved + 1
  end
end
if moved > 0 then
  redis.call('SADD', KEYS[3], ARGV[1])
end
return moved
