-- Finishes a claimed item, only if the caller still holds its lease (a worker whose lease expired
-- and whose item was claimed again must not remove the new holder's claim).
-- KEYS[1] ready zset, KEYS[2] processing zset, KEYS[3] meta hash
-- ARGV[1] id, ARGV[2] lease, ARGV[3] 'ack' | 'retry', ARGV[4] new due time (retry)
-- returns 1 done, 0 lease lost
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not score or tonumber(score) ~= tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[3] == 'retry' then
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
else
  redis.call('HDEL', KEYS[3], 'a:' .. ARGV[1], 'd:' .. ARGV[1])
end
return 1
