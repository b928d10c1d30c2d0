-- Claims up to ARGV[3] items in one step, so two workers never take the same item: first items
-- whose lease expired in the processing set (their worker crashed or stalled), then due items
-- from the ready set. Each claimed item moves to the processing set scored by its lease deadline.
-- KEYS[1] ready zset, KEYS[2] processing zset, KEYS[3] meta hash
-- ARGV[1] now (ms), ARGV[2] visibility timeout (ms), ARGV[3] limit
-- returns {lease, id1, due1, attempt1, id2, ...}
local now = tonumber(ARGV[1])
local lease = now + tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local out = {lease}
local function take(id)
  redis.call('ZADD', KEYS[2], lease, id)
  local attempt = redis.call('HINCRBY', KEYS[3], 'a:' .. id, 1)
  local due = redis.call('HGET', KEYS[3], 'd:' .. id) or now
  out[#out + 1] = id
  out[#out + 1] = due
  out[#out + 1] = attempt
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)
for _, id in ipairs(expired) do take(id) end
local left = limit - #expired
if left > 0 then
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, left)
  for _, id in ipairs(due) do
    redis.call('ZREM', KEYS[1], id)
    take(id)
  end
end
return out
