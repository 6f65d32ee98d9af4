-- Methods are refused (429) until a time: each method's block ends at the later of
-- the known end and this one.
--
-- KEYS     one hash per method (see budget_check.lua)
-- ARGV[1]  the end of the block, unix milliseconds
-- ARGV[2]  how long the keys must live at least, milliseconds
--
-- Returns 1.
local until_ms = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])

local known = {}
for i, key in ipairs(KEYS) do
  local b = redis.call('HGET', key, 'b')
  if b then
    known[i] = tonumber(b)
    if not known[i] then
      return redis.error_reply('B24CORRUPT a budget field holds no number')
    end
  end
end

for i, key in ipairs(KEYS) do
  local b = until_ms
  if known[i] and known[i] > b then b = known[i] end
  redis.call('HSET', key, 'b', string.format('%.0f', b))
  if redis.call('PTTL', key) < ttl then
    redis.call('PEXPIRE', key, string.format('%.0f', ttl))
  end
end
return 1
