-- Ends a refresh turn without a replacement: deletes the lease only if it is still
-- the caller's.
--
-- KEYS[1]  the refresh lease
-- ARGV[1]  the lease's value (holder id and generation)
--
-- Returns 1 if the lease was ended, 0 if it had expired or passed to another holder.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
