-- Idempotency-Key complete / abort, by the attempt that began only.
-- KEYS[1] record hash; ARGV[1] attempt id; ARGV[2] 'DONE' | 'ABORT'; ARGV[3] encoded response; ARGV[4] retention ms
-- Returns 1 | 0 (not this attempt's, or not pending)
if redis.call('HGET', KEYS[1], 's') ~= 'PENDING' or redis.call('HGET', KEYS[1], 'a') ~= ARGV[1] then return 0 end
if ARGV[2] == 'ABORT' then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 's', 'DONE', 'r', ARGV[3])
  redis.call('HDEL', KEYS[1], 'a')
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
end
return 1
