-- put: a peer record, unless it is a replay (store_redis.c).
-- KEYS: p s.  ARGV: seq home deadline expires name json pxat-p pxat-s
-- force channel message.  A seq below the one remembered is a replay;
-- an equal one is the same record again (another instance of the same
-- peer, or a resync with force) or a replay.
local s = redis.call('GET', KEYS[2])
local q = tonumber(ARGV[1])
if s then
  s = tonumber(s)
  if s > q then return 0 end
  if s == q and ARGV[9] == '0' and
      redis.call('HGET', KEYS[1], 'j') ~= ARGV[6] then return 0 end
end
redis.call('HSET', KEYS[1], 'h', ARGV[2], 'q', ARGV[1], 'x', ARGV[4],
    'd', ARGV[3], 'n', ARGV[5], 'j', ARGV[6])
redis.call('PEXPIREAT', KEYS[1], ARGV[7])
redis.call('SET', KEYS[2], ARGV[1], 'PXAT', ARGV[8])
redis.call('PUBLISH', ARGV[10], ARGV[11])
return 1
