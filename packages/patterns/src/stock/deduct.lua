-- Sells qty units of one SKU directly (available -> sold), or nothing.
-- KEYS[1] sku hash   ARGV[1] qty (integer >= 1)
-- returns {1, remaining} | {-1, 0} unknown SKU | {-2, available} insufficient
local q = tonumber(ARGV[1])
if not q or q < 1 or q % 1 ~= 0 then
  return redis.error_reply('ERR qty must be an integer >= 1, got ' .. tostring(ARGV[1]))
end
local a = redis.call('HGET', KEYS[1], 'available')
if not a then return {-1, 0} end
a = tonumber(a)
if a < q then return {-2, a} end
redis.call('HINCRBY', KEYS[1], 'available', -q)
redis.call('HINCRBY', KEYS[1], 'sold', q)
redis.call('HINCRBY', KEYS[1], 'ops', 1)
return {1, a - q}
