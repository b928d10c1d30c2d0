-- locked -> sold for every SKU of a reservation, read INSIDE the script. The terminal marker
-- (state C) means a racing release finds C and changes nothing, and a second confirm is a no-op.
-- SKU keys are derived from the record (ARGV[2] .. sku); they share the store's hash tag, so they
-- live in the record's slot on Redis Cluster.
-- KEYS[1] order record hash, KEYS[2] deadline index   ARGV[1] order id, ARGV[2] sku key prefix,
-- ARGV[3] retention ms of the terminal record
-- returns {1, 'C'} confirmed | {2, 'C'} already confirmed | {-1, ''} no reservation | {-3, state}
local rec = KEYS[1]
local state = redis.call('HGET', rec, 'state')
if not state then return {-1, ''} end
if state == 'C' then return {2, 'C'} end
if state ~= 'R' then return {-3, state} end
local f = redis.call('HGETALL', rec)
for i = 1, #f, 2 do
  if string.sub(f[i], 1, 2) == 'q:' then
    local k = ARGV[2] .. string.sub(f[i], 3)
    local q = tonumber(f[i + 1])
    redis.call('HINCRBY', k, 'locked', -q)
    redis.call('HINCRBY', k, 'sold', q)
    redis.call('HINCRBY', k, 'ops', 1)
  end
end
redis.call('HSET', rec, 'state', 'C')
redis.call('PEXPIRE', rec, ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[1])
return {1, 'C'}
