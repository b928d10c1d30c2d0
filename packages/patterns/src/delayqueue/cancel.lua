-- Removes a scheduled item that no worker has claimed yet.
-- KEYS[1] ready zset, KEYS[2] meta hash   ARGV[1] id
-- returns 1 removed, 0 not waiting (unknown, or already claimed)
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[2], 'a:' .. ARGV[1], 'd:' .. ARGV[1])
return 1
