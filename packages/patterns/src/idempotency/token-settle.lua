-- complete / fail: only the attempt that holds the PENDING lease may settle the token.
-- KEYS[1] token hash;  ARGV[1] attempt id ('' = whichever attempt holds it);  ARGV[2] 'DONE' | 'NEW';  ARGV[3] result (DONE);  ARGV[4] done ttl ms
-- Returns 1 settled | 0 not pending / other attempt | -1 unknown token
local state = redis.call('HGET', KEYS[1], 's')
if not state then return -1 end
if state ~= 'PENDING' then return 0 end
if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'a') ~= ARGV[1] then return 0 end
if ARGV[2] == 'DONE' then
  redis.call('HSET', KEYS[1], 's', 'DONE', 'r', ARGV[3])
  redis.call('HDEL', KEYS[1], 'a', 'u')
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
else
  redis.call('HSET', KEYS[1], 's', 'NEW')
  redis.call('HDEL', KEYS[1], 'a', 'u')
end
return 1
