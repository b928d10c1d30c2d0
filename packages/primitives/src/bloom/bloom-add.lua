-- Adds items to a (possibly sharded) Redis Bloom filter in one atomic call.
-- KEYS[1]      = meta key holding "m:k", so filters of different sizes never share bits
-- KEYS[2..]    = bitmap shard keys (shard i is KEYS[i + 2])
-- ARGV[1]      = "m:k" of the caller
-- ARGV[2]      = k (positions per item)
-- ARGV[3..]    = per item, k pairs of (shard index, bit offset in that shard), computed by the client
-- Returns how many items had at least one bit still 0 (certainly new).
local params = redis.call('GET', KEYS[1])
if not params then
  redis.call('SET', KEYS[1], ARGV[1])
elseif params ~= ARGV[1] then
  return redis.error_reply('BLOOMPARAMS filter exists with m:k=' .. params .. ', caller has ' .. ARGV[1])
end
local k = tonumber(ARGV[2])
local added = 0
local i = 3
while i <= #ARGV do
  local fresh = 0
  for _ = 1, k do
    if redis.call('SETBIT', KEYS[tonumber(ARGV[i]) + 2], ARGV[i + 1], 1) == 0 then fresh = 1 end
    i = i + 2
  end
  added = added + fresh
end
return added
