-- Moves available -> locked for every SKU of an order, all or nothing, once per order id.
-- The record keeps one field per SKU (q:<sku>), so multi-SKU orders never overwrite themselves,
-- and it has NO expiry while reserved: locked stock is returned by confirm, release or the sweeper
-- (through the deadline index), never lost to a TTL.
-- KEYS[1] order record hash, KEYS[2] deadline index (zset), KEYS[3..n+2] sku hashes
-- ARGV[1] order id, ARGV[2] deadline (ms), ARGV[3..n+2] sku ids, ARGV[n+3..2n+2] quantities
-- returns {1} reserved | {2, state} duplicate (R or C: nothing changed) | {-1, i} SKU i unknown
--       | {-2, i, available} SKU i insufficient | {-3, state} order released or used otherwise
local n = #KEYS - 2
local rec = KEYS[1]
local state = redis.call('HGET', rec, 'state')
if state then
  if state == 'R' or state == 'C' then return {2, state} end
  return {-3, state}
end
local qs = {}
for i = 1, n do
  local q = tonumber(ARGV[n + 2 + i])
  if not q or q < 1 or q % 1 ~= 0 then
    return redis.error_reply('ERR qty must be an integer >= 1, got ' .. tostring(ARGV[n + 2 + i]))
  end
  local a = redis.call('HGET', KEYS[i + 2], 'available')
  if not a then return {-1, i} end
  if tonumber(a) < q then return {-2, i, tonumber(a)} end
  qs[i] = q
end
for i = 1, n do
  local k = KEYS[i + 2]
  redis.call('HINCRBY', k, 'available', -qs[i])
  redis.call('HINCRBY', k, 'locked', qs[i])
  redis.call('HINCRBY', k, 'ops', 1)
  redis.call('HSET', rec, 'q:' .. ARGV[i + 2], qs[i])
end
redis.call('HSET', rec, 'state', 'R', 'deadline', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return {1}
