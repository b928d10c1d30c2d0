-- Tests one item against a (possibly sharded) Redis Bloom filter; stops at the first 0 bit.
-- KEYS[1] = meta key ("m:k"), KEYS[2..] = bitmap shard keys
-- ARGV[1] = "m:k" of the caller, ARGV[2..] = k pairs of (shard index, bit offset)
-- Returns 1 if every bit is set (probably present), 0 otherwise (certainly absent).
local params = redis.call('GET', KEYS[1])
if not params then return 0 end
if params ~= ARGV[1] then
  return redis.error_reply('BLOOMPARAMS filter exists with m:k=' .. params .. ', caller has ' .. ARGV[1])
end
for i = 2, #ARGV, 2 do
  if redis.call('GETBIT', KEYS[tonumber(ARGV[i]) + 2], ARGV[i + 1]) == 0 then return 0 end
end
return 1
