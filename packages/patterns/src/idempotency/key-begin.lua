-- Idempotency-Key begin. KEYS[1] record hash.
-- ARGV[1] request fingerprint; ARGV[2] attempt id; ARGV[3] pending lock ms (a crashed request frees the key after it)
-- Returns {'STARTED'} | {'MISMATCH'} | {'PENDING'} | {'DONE', encoded response}
local fp = redis.call('HGET', KEYS[1], 'f')
if not fp then
  redis.call('HSET', KEYS[1], 'f', ARGV[1], 's', 'PENDING', 'a', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
  return {'STARTED'}
end
if fp ~= ARGV[1] then return {'MISMATCH'} end
if redis.call('HGET', KEYS[1], 's') == 'DONE' then return {'DONE', redis.call('HGET', KEYS[1], 'r')} end
return {'PENDING'}
