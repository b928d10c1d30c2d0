-- Compare-and-pexpire: renews the lock only while it still carries our token.
-- KEYS[1] lock key; ARGV[1] owner token, ARGV[2] new ttl ms.
-- Returns 1 renewed, 0 key missing (expired), -1 held by another owner (left untouched).
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if v == false then return 0 end
return -1
