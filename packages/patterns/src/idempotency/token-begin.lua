-- begin: NEW -> PENDING, atomically. A PENDING whose lease ran out (the process died mid-request)
-- may be taken over, so a crash never strands the user's token.
-- KEYS[1] token hash;  ARGV[1] attempt id;  ARGV[2] pending lease ms
-- Returns {'INVALID'} | {'DONE', result} | {'PENDING', ms_left} | {'STARTED'}
local state = redis.call('HGET', KEYS[1], 's')
if not state then return {'INVALID'} end
if state == 'DONE' then return {'DONE', redis.call('HGET', KEYS[1], 'r')} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if state == 'PENDING' then
  local until_ms = tonumber(redis.call('HGET', KEYS[1], 'u'))
  if until_ms and until_ms > now then return {'PENDING', tostring(until_ms - now)} end
end
local lease = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 's', 'PENDING', 'a', ARGV[1], 'u', now + lease)
-- the token must outlive the attempt that uses it
if redis.call('PTTL', KEYS[1]) < lease then redis.call('PEXPIRE', KEYS[1], lease) end
return {'STARTED'}
