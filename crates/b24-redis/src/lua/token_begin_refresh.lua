-- Asks for the turn to refresh the pair of a stale generation.
--
-- KEYS[1]  the pair (see token_replace.lua)
-- KEYS[2]  the refresh lease: the holder's id and generation, expiring on Redis time
-- ARGV[1]  the stale generation
-- ARGV[2]  the lease's value (holder id and generation)
-- ARGV[3]  the lease's length, milliseconds
--
-- Returns {'E'} nothing stored, {'A', generation} already refreshed,
-- {'B', milliseconds left} busy (-1: a lease without expiry), or
-- {'G', generation, sealed pair} granted.
local f = redis.call('HMGET', KEYS[1], 'g', 'v')
if not f[1] then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    return redis.error_reply('B24CORRUPT the token hash has no generation')
  end
  return {'E'}
end
if f[1] ~= ARGV[1] then
  return {'A', f[1]}
end
if not f[2] then
  return redis.error_reply('B24CORRUPT the token hash has no value')
end
local left = redis.call('PTTL', KEYS[2])
if left ~= -2 then
  return {'B', left}
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return {'G', f[1], f[2]}
