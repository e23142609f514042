-- cexpire: expire.lua for Redis Cluster, without the change message.
-- KEYS: p.  ARGV: home deadline pxat.
if redis.call('HGET', KEYS[1], 'h') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'd', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 1
