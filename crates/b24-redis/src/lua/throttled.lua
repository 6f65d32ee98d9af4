-- The portal refused a request for the rate limit: mark a host's bucket full from
-- Redis's now.
--
-- KEYS[1]  the bucket: when it would be empty, in microseconds of Redis time
-- ARGV[1]  the time a full bucket takes to drain (interval times burst), in microseconds
-- ARGV[2]  how long an empty bucket's key outlives its empty time, in milliseconds
-- ARGV[3]  the latest empty time this caller has seen (0 if none), as in reserve.lua
--
-- Returns the new empty time.
if redis.replicate_commands then pcall(redis.replicate_commands) end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local empty_at = 0
local stored = redis.call('GET', KEYS[1])
if stored then
  empty_at = tonumber(stored)
  if not empty_at then
    return redis.error_reply('B24CORRUPT the bucket holds no number')
  end
end

empty_at = math.max(empty_at, tonumber(ARGV[3]) or 0, now + tonumber(ARGV[1]))
local ttl = math.ceil((empty_at - now) / 1000) + tonumber(ARGV[2])
redis.call('SET', KEYS[1], string.format('%.0f', empty_at), 'PX', string.format('%.0f', ttl))
return string.format('%.0f', empty_at)
