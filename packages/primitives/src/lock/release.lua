-- Compare-and-delete: deletes the lock only while it still carries our token.
-- KEYS[1] lock key; ARGV[1] owner token.
-- Returns 1 deleted, 0 key missing (expired), -1 held by another owner (left untouched).
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
if v == false then return 0 end
return -1
