-- Returns an order's stock: a reservation (R) goes locked -> available, a direct multi-SKU
-- deduction (D) goes sold -> available (compensation). Terminal marker X: a racing confirm finds X
-- and changes nothing; a second release is a no-op. Releasing an order id never seen writes the
-- X marker (null compensation), so a reserve that arrives late for that id is refused (hanging).
-- KEYS[1] order record hash, KEYS[2] deadline index   ARGV[1] order id, ARGV[2] sku key prefix,
-- ARGV[3] retention ms of the terminal record
-- returns {1, prev} released | {2, 'X'} already released | {0, ''} nothing reserved (marker written)
--       | {-3, 'C'} already confirmed
local rec = KEYS[1]
local state = redis.call('HGET', rec, 'state')
if not state then
  redis.call('HSET', rec, 'state', 'X')
  redis.call('PEXPIRE', rec, ARGV[3])
  return {0, ''}
end
if state == 'X' then return {2, 'X'} end
if state ~= 'R' and state ~= 'D' then return {-3, state} end
local from = 'locked'
if state == 'D' then from = 'sold' end
local f = redis.call('HGETALL', rec)
for i = 1, #f, 2 do
  if string.sub(f[i], 1, 2) == 'q:' then
    local k = ARGV[2] .. string.sub(f[i], 3)
    local q = tonumber(f[i + 1])
    redis.call('HINCRBY', k, from, -q)
    redis.call('HINCRBY', k, 'available', q)
    redis.call('HINCRBY', k, 'ops', 1)
  end
end
redis.call('HSET', rec, 'state', 'X')
redis.call('PEXPIRE', rec, ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[1])
return {1, state}
