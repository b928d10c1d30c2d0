-- Adds qty units to a SKU (available and total) once per operation id, like dtm's barrier:
-- a duplicate delivery of the same restock changes nothing.
-- KEYS[1] sku hash, KEYS[2] operation marker   ARGV[1] qty (integer >= 1), ARGV[2] marker retention ms
-- returns {1, available} applied | {2, available} duplicate | {-1, 0} unknown SKU
local q = tonumber(ARGV[1])
if not q or q < 1 or q % 1 ~= 0 then
  return redis.error_reply('ERR qty must be an integer >= 1, got ' .. tostring(ARGV[1]))
end
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) == false then
  return {2, tonumber(redis.call('HGET', KEYS[1], 'available'))}
end
redis.call('HINCRBY', KEYS[1], 'total', q)
redis.call('HINCRBY', KEYS[1], 'ops', 1)
return {1, redis.call('HINCRBY', KEYS[1], 'available', q)}
