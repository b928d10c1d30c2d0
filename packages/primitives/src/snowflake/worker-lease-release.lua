-- Deletes a worker-ID lease only if we still own it (never someone else's after our TTL ran out).
-- KEYS[1] = lease key, ARGV[1] = owner token
-- Returns 1 when deleted, 0 otherwise.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
