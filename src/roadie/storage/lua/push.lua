-- Push one job now: record its queue's name, then push the payload.
--
-- The same two writes Sidekiq pipelines for a push, in one command, so a
-- single enqueue costs one round trip and no pipeline in the client.
--
-- KEYS[1]  `queues` set
-- KEYS[2]  queue list
-- ARGV[1]  queue name
-- ARGV[2]  job payload
--
-- Returns the queue's length after the push.
redis.call('SADD', KEYS[1], ARGV[1])
return redis.call('LPUSH', KEYS[2], ARGV[2])
