-- Sliding-window log: KEYS[1] is a sorted set of the calls admitted in the last windowMs
-- (score = Redis TIME in ms, member = a unique id). ARGV: limit, windowMs, n, id.
-- Returns {allowed 0|1, remaining, retryAfterMs}; retryAfterMs is -1 when n > limit (never).
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local id = ARGV[4]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if n > limit then
  return {0, math.max(0, limit - count), -1}
end
if count + n <= limit then
  for i = 1, n do
    redis.call('ZADD', KEYS[1], now, id .. ':' .. i)
  end
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, limit - count - n, 0}
end
-- the (count + n - limit)-th oldest admitted call has to leave the window first
local k = count + n - limit - 1
local oldest = redis.call('ZRANGE', KEYS[1], k, k, 'WITHSCORES')
return {0, math.max(0, limit - count), math.max(1, tonumber(oldest[2]) + window - now)}
