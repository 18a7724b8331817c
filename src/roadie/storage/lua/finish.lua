-- Record a failed job's outcome and remove it from the in-progress list, in one step.
--
-- The outcome is written only if the job is still in the in-progress list.
-- When shutdown or crash recovery already pushed it back to its queue, the
-- job is not written a second time, so exactly one copy remains.
--
-- KEYS[1]   in-progress list
-- KEYS[2]   target sorted set (`retry` or `dead`)
-- ARGV[1]   job payload as fetched
-- ARGV[2]   new payload with the error fields
-- ARGV[3]   score: the retry time, or the time of death
-- ARGV[4]   for `dead`: entries scored below this are trimmed ("" to skip trimming)
-- ARGV[5]   for `dead`: the maximum number of entries kept
--
-- Returns 1 when the outcome was written, 0 when the job was no longer in progress.
if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 0 then
  return 0
end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
if ARGV[4] ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[4])
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[5]) + 1))
end
return 1
