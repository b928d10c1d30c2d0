-- Extends a claimed item's lease, only if the caller still holds it.
-- KEYS[1] processing zset   ARGV[1] id, ARGV[2] current lease, ARGV[3] new lease
-- returns 1 extended, 0 lease lost
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) ~= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
