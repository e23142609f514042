-- cput: put.lua for Redis Cluster (store_cluster.c): the same checks, no
-- change message: nobody keeps a copy.
-- KEYS: p s (one slot: the peer's hash tag).  ARGV: seq home deadline
-- expires name json pxat-p pxat-s force.  Returns 1 stored, 0 a replay,
-- or the old name ("" none) after a 2 when the name changed.
local s = redis.call('GET', KEYS[2])
local q = tonumber(ARGV[1])
if s then
  s = tonumber(s)
  if s > q then return 0 end
  if s == q and ARGV[9] == '0' and
      redis.call('HGET', KEYS[1], 'j') ~= ARGV[6] then return 0 end
end
local old = redis.call('HGET', KEYS[1], 'n')
redis.call('HSET', KEYS[1], 'h', ARGV[2], 'q', ARGV[1], 'x', ARGV[4],
    'd', ARGV[3], 'n', ARGV[5], 'j', ARGV[6])
redis.call('PEXPIREAT', KEYS[1], ARGV[7])
redis.call('SET', KEYS[2], ARGV[1], 'PXAT', ARGV[8])
if old and old ~= ARGV[5] then return {2, old} end
return 1
