-- cdel: del.lua for Redis Cluster, without the change message.
-- KEYS: p s.  ARGV: seq (-1: none).  Returns the name the record had
-- ("-" none) when it went, 0 for a replay, nil when there was none.
if tonumber(ARGV[1]) >= 0 then
  local s = redis.call('GET', KEYS[2])
  if s and tonumber(s) >= tonumber(ARGV[1]) then return 0 end
  if s then redis.call('SET', KEYS[2], ARGV[1], 'KEEPTTL') end
end
local n = redis.call('HGET', KEYS[1], 'n')
redis.call('DEL', KEYS[1])
return n
