-- Move entries of a sorted set (`schedule` or `retry`) to the dead set, then trim it.
--
-- Entries keep their exact bytes. Either the given members are moved (each
-- only if it is still in the set), or, with a batch size, the entries with
-- the lowest scores up to a bound, as ZPOPMIN would take them. The dead set
-- is trimmed as the worker trims it: entries older than the cutoff go, then
-- the oldest beyond the maximum size.
--
-- KEYS[1]   the sorted set to take entries from
-- KEYS[2]   `dead` sorted set
-- ARGV[1]   time of death, epoch seconds: the score in the dead set
-- ARGV[2]   dead entries scored below this are removed
-- ARGV[3]   the maximum number of dead entries kept
-- ARGV[4]   batch size: take up to this many of the lowest-scored entries
--           ("0" to move the members listed in ARGV[6..] instead)
-- ARGV[5]   with a batch size, take only entries scored at most this
-- ARGV[6..] members to move, exactly as read
--
-- Returns the number of entries moved.
local moved = {}
local batch = tonumber(ARGV[4])
if batch > 0 then
  moved = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[5], 'BYSCORE', 'LIMIT', 0, batch)
  for _, member in ipairs(moved) do
    redis.call('ZREM', KEYS[1], member)
  end
else
  for i = 6, #ARGV do
    if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then
      moved[#moved + 1] = ARGV[i]
    end
  end
end

for _, member in ipairs(moved) do
  redis.call('ZADD', KEYS[2], ARGV[1], member)
end
if #moved > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[2])
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[3]) + 1))
end
return #moved
