-- Fills a cache entry after a miss, unless the key was written or invalidated since the caller
-- read it (the go-zero#3000 race: a slow loader must not overwrite a newer value).
-- KEYS[1] cache key.
-- ARGV[1] version the caller saw (0 = key absent), ARGV[2] encoded entry, ARGV[3] ttl ms,
-- ARGV[4] '1' when the entry is the negative sentinel (never overwrites a real value).
-- Entries: '=<ver>:<softExpiry>:<payload>' value, '!<ver>' negative, '~<ver>' tombstone.
-- Returns 1 written, 0 refused (a real value is there and this is a negative entry), -1 stale version.
local cur = redis.call('GET', KEYS[1])
local ver = 0
if cur then
  if ARGV[4] == '1' and string.sub(cur, 1, 1) == '=' then return 0 end
  local stop = string.find(cur, ':', 2, true)
  ver = tonumber(string.sub(cur, 2, stop and (stop - 1) or -1)) or 0
end
if ver ~= tonumber(ARGV[1]) then return -1 end
if ARGV[4] == '1' and not cur then
  -- nothing is there: SET NX, so even a writer racing outside this script keeps its value
  if redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3], 'NX') then return 1 end
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
