-- Takes in a reply's operating time for one method, as MethodBudget::record does: a
-- reset time earlier than the known one is a late reply and is ignored, unless the
-- known one is implausible (it was clamped, or lies beyond the latest plausible reset).
--
-- KEYS[1]  the method's hash (see budget_check.lua)
-- ARGV[1]  now, unix milliseconds
-- ARGV[2]  the reported reset time, clamped to the latest plausible one, unix ms
-- ARGV[3]  1 if it was clamped, else 0
-- ARGV[4]  the latest plausible reset time (now plus 601 s), unix ms
-- ARGV[5]  the reported operating time, milliseconds
-- ARGV[6]  the reset margin, milliseconds
-- ARGV[7]  how long a key outlives the last time it matters, milliseconds
--
-- Returns 1 when taken in, 0 when ignored as a late reply.
local key = KEYS[1]
local now = tonumber(ARGV[1])
local reset_at = tonumber(ARGV[2])
local latest = tonumber(ARGV[4])

local f = redis.call('HMGET', key, 'r', 'c', 'b', 'n')
local s = {}
local names = {'r', 'c', 'b', 'n'}
for i, name in ipairs(names) do
  if f[i] then
    s[name] = tonumber(f[i])
    if not s[name] then
      return redis.error_reply('B24CORRUPT a budget field holds no number')
    end
  end
end

if s.r then
  local plausible = s.c ~= 1 and s.r <= latest
  if s.r > reset_at and plausible then
    return 0
  end
end

redis.call('HSET', key, 'o', ARGV[5], 'r', ARGV[2], 'c', ARGV[3])
s.r = reset_at
local deadline = math.max(now, s.r + tonumber(ARGV[6]))
if s.b then deadline = math.max(deadline, s.b) end
if s.n then deadline = math.max(deadline, s.n) end
local ttl = deadline - now + tonumber(ARGV[7])
if redis.call('PTTL', key) < ttl then
  redis.call('PEXPIRE', key, string.format('%.0f', ttl))
end
return 1
