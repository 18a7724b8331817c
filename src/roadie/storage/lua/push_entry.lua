-- Move one entry of a sorted set (`schedule`, `retry` or `dead`) to its queue.
--
-- The entry is pushed only if this call removed it, so when two operators
-- retry the same job at once, or the poller moves it first, exactly one copy
-- reaches the queue. Redis runs the script atomically, so no crash can
-- leave the job removed but not pushed.
--
-- KEYS[1]   the sorted set holding the entry
-- KEYS[2]   `queues` set
-- KEYS[3]   the queue list to push to
-- ARGV[1]   the entry exactly as read from the sorted set
-- ARGV[2]   the payload to push (with a fresh `enqueued_at`)
-- ARGV[3]   the queue name, added to `queues`
--
-- Returns 1 when the entry was moved, 0 when it was no longer in the set.
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('LPUSH', KEYS[3], ARGV[2])
return 1
