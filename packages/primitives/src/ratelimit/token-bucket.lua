-- Token bucket shared by every process that uses KEYS[1] (a hash: tokens, ts).
-- ARGV: ratePerSec, burst, n, maxWaitMs (0 = take now or refuse; larger = reserve ahead).
-- Time comes from Redis TIME, never from a client, so clients with skewed clocks agree.
-- Returns {allowed 0|1, remaining (whole tokens left), waitMs}: for an admitted call the delay
-- before acting (0 unless reserving ahead); for a refused one when n tokens will be there;
-- -1 when n > burst (never).
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local maxWait = tonumber(ARGV[4])
local t = redis.call('TIME')
-- whole milliseconds: a 13-digit number survives Redis' 14-significant-digit number formatting
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local last = tonumber(state[2])
if tokens == nil or last == nil then
  tokens = burst
  last = now
elseif now > last then
  -- the refill time only moves forward: a Redis clock that stepped back refills nothing
  tokens = math.min(burst, tokens + (now - last) * rate / 1000)
  last = now
end
if n > burst then
  return {0, math.max(0, math.floor(tokens)), -1}
end
local after = tokens - n
local wait = 0
if after < 0 then
  wait = math.ceil(-after * 1000 / rate)
end
if wait > maxWait then
  return {0, math.max(0, math.floor(tokens)), wait}
end
redis.call('HSET', KEYS[1], 'tokens', after, 'ts', last)
-- once the bucket would be full again the key carries no information: let it expire then
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - after) * 1000 / rate) + 1)
return {1, math.max(0, math.floor(after)), wait}
