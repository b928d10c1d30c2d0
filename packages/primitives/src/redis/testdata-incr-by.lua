-- Test fixture for loadScript: adds ARGV[1] to KEYS[1] and returns the new value.
return redis.call('INCRBY', KEYS[1], ARGV[1])
