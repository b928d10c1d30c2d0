-- Deletes a cache entry from the write path by replacing it with a tombstone that carries a
-- bumped version: readers see a miss, and a fill that started before this delete is refused by
-- fill.lua. The tombstone lives ARGV[1] ms, longer than any loader may run.
-- KEYS[1] cache key. Returns the new version.
local cur = redis.call('GET', KEYS[1])
local ver = 0
if cur then
  local stop = string.find(cur, ':', 2, true)
  ver = tonumber(string.sub(cur, 2, stop and (stop - 1) or -1)) or 0
end
ver = ver + 1
redis.call('SET', KEYS[1], '~' .. string.format('%d', ver), 'PX', ARGV[1])
return ver
