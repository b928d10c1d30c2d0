-- Sells several SKUs for one order, all or nothing, once per order id.
-- KEYS[1] order record hash, KEYS[2..n+1] sku hashes
-- ARGV[1] record retention ms, ARGV[2..n+1] sku ids, ARGV[n+2..2n+1] quantities
-- returns {1, rem_1..rem_n} applied | {2, rem_1..rem_n} duplicate (first result, nothing changed)
--       | {-1, i} SKU i unknown | {-2, i, available} SKU i insufficient | {-3, state} order id used
local n = #KEYS - 1
local rec = KEYS[1]
local state = redis.call('HGET', rec, 'state')
if state then
  if state ~= 'D' then return {-3, state} end
  local out = {2}
  for i = 1, n do out[i + 1] = tonumber(redis.call('HGET', rec, 'r:' .. ARGV[i + 1]) or -1) end
  return out
end
local qs = {}
for i = 1, n do
  local q = tonumber(ARGV[n + 1 + i])
  if not q or q < 1 or q % 1 ~= 0 then
    return redis.error_reply('ERR qty must be an integer >= 1, got ' .. tostring(ARGV[n + 1 + i]))
  end
  local a = redis.call('HGET', KEYS[i + 1], 'available')
  if not a then return {-1, i} end
  if tonumber(a) < q then return {-2, i, tonumber(a)} end
  qs[i] = q
end
local out = {1}
for i = 1, n do
  local k = KEYS[i + 1]
  out[i + 1] = redis.call('HINCRBY', k, 'available', -qs[i])
  redis.call('HINCRBY', k, 'sold', qs[i])
  redis.call('HINCRBY', k, 'ops', 1)
  redis.call('HSET', rec, 'q:' .. ARGV[i + 1], qs[i], 'r:' .. ARGV[i + 1], out[i + 1])
end
redis.call('HSET', rec, 'state', 'D')
redis.call('PEXPIRE', rec, ARGV[1])
return out
