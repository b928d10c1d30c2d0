-- Acquires a lock and issues its fencing token in one step.
-- KEYS[1] lock key, KEYS[2] fencing counter (same hash slot); ARGV[1] owner token, ARGV[2] ttl ms.
-- Returns the new fencing token (>= 1), or 0 when another owner holds the lock.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0
