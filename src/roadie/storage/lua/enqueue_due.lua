-- Move jobs whose time has come from a sorted set (`schedule` or `retry`) to their queues.
--
-- Each job leaves the set and enters its queue in one step, so a crash never
-- loses a job between the two. The payload is kept byte for byte except for
-- a fresh `enqueued_at`. A member that is not a JSON object with a `queue`
-- string goes to the dead set unchanged, where an operator can inspect it.
--
-- NOTE: the queue keys are built here rather than passed in KEYS, because
-- they are only known after reading each job. That makes the script unsafe
-- for Redis Cluster, which Sidekiq does not support either.
--
-- KEYS[1]   the sorted set to drain
-- KEYS[2]   `queues` set
-- KEYS[3]   `dead` sorted set
-- ARGV[1]   current time, epoch seconds
-- ARGV[2]   maximum number of jobs to move
-- ARGV[3]   key prefix ("" or "<namespace>:")
--
-- Returns {jobs moved, score of the next job as a string or false}.
local now = ARGV[1]
local due = redis.call('ZRANGE', KEYS[1], '-inf', now, 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]))
local moved = 0
local stamp = '"enqueued_at":' .. now

for _, job in ipairs(due) do
  redis.call('ZREM', KEYS[1], job)
  local ok, decoded = pcall(cjson.decode, job)
  local queue = ok and type(decoded) == 'table' and decoded['queue']
  if type(queue) == 'string' and queue ~= '' then
    local payload = job
    local _, occurrences = string.gsub(job, '"enqueued_at":', '')
    if decoded['enqueued_at'] ~= nil and occurrences == 1 then
      payload = string.gsub(job, '"enqueued_at":%s*[-0-9.eE+]+', stamp, 1)
    else
      -- The last of two equal keys wins in every JSON reader Sidekiq and
      -- roadie use, so appending is safe when the key is absent or ambiguous.
      payload = string.match(job, '^(.-)}%s*$') .. ',' .. stamp .. '}'
    end
    redis.call('LPUSH', ARGV[3] .. 'queue:' .. queue, payload)
    redis.call('SADD', KEYS[2], queue)
    moved = moved + 1
  else
    redis.call('ZADD', KEYS[3], now, job)
  end
end

local next_job = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {moved, next_job[2] or false}
