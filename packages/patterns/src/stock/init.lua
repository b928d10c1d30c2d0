-- Creates a SKU's counters if absent; never overwrites live counters (a cache warm-up that runs
-- during a sale must not reset what has been sold).
-- KEYS[1] sku hash   ARGV[1] total (integer >= 0)
-- returns 1 created, 0 already present
local total = tonumber(ARGV[1])
if not total or total < 0 or total % 1 ~= 0 then
  return redis.error_reply('ERR total must be an integer >= 0, got ' .. tostring(ARGV[1]))
end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'available', total, 'locked', 0, 'sold', 0, 'total', total, 'ops', 0)
return 1
