-- Stores a value only if its fencing token is not older than the newest one seen for the key.
-- KEYS[1] hash {value, fence}; ARGV[1] fencing token, ARGV[2] value.
-- Returns 0 when written, otherwise the newer token that made it stale.
local highest = tonumber(redis.call('HGET', KEYS[1], 'fence') or '0')
if tonumber(ARGV[1]) < highest then return highest end
redis.call('HSET', KEYS[1], 'fence', ARGV[1], 'value', ARGV[2])
return 0
