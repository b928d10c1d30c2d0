-- Token bucket shared by every process that uses KEYS[1], kept as ONE number: the bucket's
-- "theoretical arrival time" (GCRA). A bucket of `burst` tokens refilled continuously at `rate`
-- holds, at time `now`, burst - (tat - now) / interval tokens (interval = ms per token), capped at
-- burst once tat <= now. Taking n tokens moves tat forward by n * interval. The decisions are
-- exactly those of the (tokens, last refill) bucket, but one GET and one SET replace a hash read,
-- a hash write and a PEXPIRE, which is most of the script's cost on the server.
--
-- Time is Redis TIME (never a client's clock, so clients with skewed clocks agree), in
-- milliseconds with microsecond fractions, counted from 2023-11-14 (Unix 1700000000) so a double
-- still resolves ~15 ns. tat only moves forward: if Redis' clock steps back, the bucket holds
-- fewer tokens until the clock catches up, never more.
--
-- ARGV: intervalMs (1000 / ratePerSec), burst, n (absent = 1), maxWaitMs (absent = 0: take now
-- or refuse; larger = reserve ahead, as wait() does). allow() sends only the first two: every
-- argument is parsed on both sides, and this script runs once per rate-limited request.
-- Returns, for the hot path (admitted now), the whole tokens left as a bare integer; otherwise
-- {allowed 0|1, whole tokens left, waitMs}: for an admitted reservation the delay before acting;
-- for a refused call when n tokens will be there; -1 when n > burst (never).
--
-- Expiry: the key must live until the bucket is full again (tat), and should not live much
-- longer (an idle bucket costs no memory). Refreshing the TTL on every call is a measurable
-- part of this script's cost, so the expiry is a function of tat's slot on a grid of
-- full = burst * intervalMs (the time an empty bucket takes to fill): PXAT (slot + 2) * full,
-- i.e. between full and 2 * full after tat. While a write keeps tat in the same slot the expiry
-- is already right (SET ... KEEPTTL); it is set again only when tat enters the next slot. Every
-- process must use the same rate and burst for a key (they must anyway, to agree on the limit).
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3]) or 1
local t = redis.call('TIME')
local now = (t[1] - 1700000000) * 1000 + t[2] / 1000
local stored = tonumber(redis.call('GET', KEYS[1]))
local tat = stored or now
if tat < now then
  tat = now
end
local tokens = burst - (tat - now) / interval
local after = tokens - n
local wait = 0
-- tokens <= burst, so n > burst always lands here
if after < 0 then
  if n > burst then
    return {0, math.max(0, math.floor(tokens)), -1}
  end
  wait = math.ceil(-after * interval)
  if wait > (tonumber(ARGV[4]) or 0) then
    return {0, math.max(0, math.floor(tokens)), wait}
  end
end
local newTat = tat + n * interval
local full = burst * interval
local slot = math.floor(newTat / full)
if stored and math.floor(stored / full) == slot then
  redis.call('SET', KEYS[1], newTat, 'KEEPTTL')
else
  redis.call('SET', KEYS[1], newTat, 'PXAT', math.ceil((slot + 2) * full) + 1700000000000)
end
if wait == 0 then
  return after - after % 1
end
return {1, 0, wait}
