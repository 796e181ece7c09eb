"""tools/redis-compare: a scenario on real Redis and on the simulator (tools/README-redis-compare.md)."""
