-- Extends a worker-ID lease only if we still own it.
-- KEYS[1] = lease key, ARGV[1] = owner token, ARGV[2] = TTL in ms
-- Returns 1 when renewed, 0 when the key expired or belongs to someone else.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
