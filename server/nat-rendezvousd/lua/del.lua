-- del: a peer record goes, unless a later seq was seen.
-- KEYS: p s.  ARGV: seq (-1: none) channel message.
if tonumber(ARGV[1]) >= 0 then
  local s = redis.call('GET', KEYS[2])
  if s and tonumber(s) >= tonumber(ARGV[1]) then return 0 end
  if s then redis.call('SET', KEYS[2], ARGV[1], 'KEEPTTL') end
end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
