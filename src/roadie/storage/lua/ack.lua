-- Remove finished jobs from in-progress lists, a whole batch in one call.
--
-- One script call replaces one LREM per job, which under load is most of
-- the client's work per job.
--
-- KEYS[1..L]   in-progress lists
-- ARGV         pairs: the index (1-based) into KEYS of a job's list, then the
--              job payload exactly as fetched
--
-- Returns the number of jobs removed.
local removed = 0
for a = 1, #ARGV, 2 do
  removed = removed + redis.call('LREM', KEYS[tonumber(ARGV[a])], -1, ARGV[a + 1])
end
return removed
