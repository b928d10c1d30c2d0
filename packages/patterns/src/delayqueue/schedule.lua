-- Schedules (or reschedules) an item: ready zset scored by due time, due time kept for lateness.
-- KEYS[1] ready zset, KEYS[2] meta hash   ARGV[1] id, ARGV[2] due (ms)
-- returns 1 new, 0 rescheduled
local added = redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], 'd:' .. ARGV[1], ARGV[2])
return added
