-- Writes a value from the write path (Cache.set) and bumps the entry's version, so a fill that
-- started before this write is refused by fill.lua.
-- KEYS[1] cache key. ARGV[1] soft-expiry ms (0 = none), ARGV[2] payload, ARGV[3] ttl ms.
-- Returns the new version.
local cur = redis.call('GET', KEYS[1])
local ver = 0
if cur then
  local stop = string.find(cur, ':', 2, true)
  ver = tonumber(string.sub(cur, 2, stop and (stop - 1) or -1)) or 0
end
ver = ver + 1
redis.call('SET', KEYS[1], '=' .. string.format('%d', ver) .. ':' .. ARGV[1] .. ':' .. ARGV[2], 'PX', ARGV[3])
return ver
