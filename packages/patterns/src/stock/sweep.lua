-- Releases reservations whose deadline has passed and that were neither confirmed nor released:
-- the backstop that makes leaked locked stock impossible even if every timeout handler is lost.
-- KEYS[1] deadline index   ARGV[1] now (ms), ARGV[2] limit, ARGV[3] sku key prefix,
-- ARGV[4] order record key prefix, ARGV[5] retention ms of the terminal record
-- returns the order ids released by this call
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local released = {}
for _, id in ipairs(due) do
  local rec = ARGV[4] .. id
  if redis.call('HGET', rec, 'state') == 'R' then
    local f = redis.call('HGETALL', rec)
    for i = 1, #f, 2 do
      if string.sub(f[i], 1, 2) == 'q:' then
        local k = ARGV[3] .. string.sub(f[i], 3)
        local q = tonumber(f[i + 1])
        redis.call('HINCRBY', k, 'locked', -q)
        redis.call('HINCRBY', k, 'available', q)
        redis.call('HINCRBY', k, 'ops', 1)
      end
    end
    redis.call('HSET', rec, 'state', 'X')
    redis.call('PEXPIRE', rec, ARGV[5])
    released[#released + 1] = id
  end
  redis.call('ZREM', KEYS[1], id)
end
return released
