-- Stores a token pair if the store still holds the generation the caller saw
-- (compare-and-swap), and ends any refresh lease.
--
-- KEYS[1]  the pair: a hash of g (generation, decimal) and v (the sealed pair)
-- KEYS[2]  the refresh lease
-- ARGV[1]  the generation seen (0: nothing stored)
-- ARGV[2]  the generation to store (the next one)
-- ARGV[3]  the sealed pair
-- ARGV[4]  the pair's time to live, milliseconds
--
-- Returns {1, stored generation} or {0, current generation}.
local current = redis.call('HGET', KEYS[1], 'g')
if not current then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    return redis.error_reply('B24CORRUPT the token hash has no generation')
  end
  current = '0'
end
if current ~= ARGV[1] then
  return {0, current}
end
redis.call('HSET', KEYS[1], 'g', ARGV[2], 'v', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('DEL', KEYS[2])
return {1, ARGV[2]}
