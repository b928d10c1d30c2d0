-- Issues one coupon of a template to a user: per-user limit checked BEFORE the decrement, never
-- below zero, and a missing stock key is reported (-1), never treated as "issue anyway".
-- KEYS[1] remaining stock (string), KEYS[2] per-user issued counts (hash)
-- ARGV[1] user id, ARGV[2] per-user limit (integer >= 1)
-- returns {1, remaining, userSeq} issued (userSeq = this user's n-th coupon of the template)
--       | {-1, 0, 0} stock not initialised | {-2, 0, have} sold out | {-3, 0, have} limit reached
local limit = tonumber(ARGV[2])
if not limit or limit < 1 or limit % 1 ~= 0 then
  return redis.error_reply('ERR perUserLimit must be an integer >= 1, got ' .. tostring(ARGV[2]))
end
local s = redis.call('GET', KEYS[1])
if not s then return {-1, 0, 0} end
local have = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if have >= limit then return {-3, 0, have} end
s = tonumber(s)
if s <= 0 then return {-2, 0, have} end
local left = redis.call('DECR', KEYS[1])
local seq = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
return {1, left, seq}
