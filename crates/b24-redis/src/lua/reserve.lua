-- Reserves the next send slot of a portal host's request bucket (GCRA) on Redis's
-- own clock, and reads what the host's answers showed about Idempotency-Key.
--
-- KEYS[1]  the bucket: when it would be empty, in microseconds of Redis time
-- KEYS[2]  the key support: 1 supported, 2 unsupported (absent: unknown)
-- ARGV[1]  the drain interval in microseconds
-- ARGV[2]  the usable burst (the burst less the safety margin, at least 1)
-- ARGV[3]  how long an empty bucket's key outlives its empty time, in milliseconds
-- ARGV[4]  the key support's time to live, in milliseconds (refreshed on use)
-- ARGV[5]  the latest empty time this caller has seen (0 if none): a floor, so that a
--          Redis that lost its data (a restart without persistence) learns the bucket
--          back from its callers instead of starting empty while the portal's is full
--
-- Returns {delay, key support, empty time}: the microseconds from Redis's now to the
-- slot, 0, 1 or 2 (-1 for an unreadable stored value), and the new empty time.
if redis.replicate_commands then pcall(redis.replicate_commands) end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local usable = tonumber(ARGV[2])

local empty_at = 0
local stored = redis.call('GET', KEYS[1])
if stored then
  empty_at = tonumber(stored)
  if not empty_at then
    return redis.error_reply('B24CORRUPT the bucket holds no number')
  end
end

empty_at = math.max(empty_at, tonumber(ARGV[5]) or 0)

local headroom = interval * (usable - 1)
local slot = math.max(now, empty_at - headroom)
empty_at = math.max(empty_at, slot) + interval
local ttl = math.ceil((empty_at - now) / 1000) + tonumber(ARGV[3])
redis.call('SET', KEYS[1], string.format('%.0f', empty_at), 'PX', string.format('%.0f', ttl))

local support = 0
local seen = redis.call('GET', KEYS[2])
if seen then
  support = tonumber(seen)
  if support ~= 1 and support ~= 2 then
    support = -1
  else
    redis.call('PEXPIRE', KEYS[2], ARGV[4])
  end
end
return {slot - now, support, string.format('%.0f', empty_at)}
