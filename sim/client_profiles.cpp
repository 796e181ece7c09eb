#include "sim/client_profiles.hpp"

#include <cassert>

namespace rcsim::sim {
namespace {

constexpr Duration ms(int64_t v) { return Duration::millis(v); }
constexpr Duration s(int64_t v) { return Duration::seconds(v); }

std::vector<ClientProfile> make_profiles() {
  std::vector<ClientProfile> out;

  ClientProfile generic;
  generic.name = "generic";
  generic.library = "rcsim's generic client (redis-py-like retries, every reload trigger, a 1 s timeout)";
  generic.attempt_timeout = s(1);
  generic.reload_timeout = s(1);
  generic.max_attempts = 5;
  generic.max_redirects = 16;
  generic.backoff_first = ms(50);
  generic.backoff_max = s(1);
  generic.backoff_jitter = true;
  generic.sources = "the scenario default since the workload was added; not a library";
  out.push_back(generic);

  ClientProfile lettuce;
  lettuce.name = "lettuce";
  lettuce.library = "Lettuce 6.8.2, default ClusterClientOptions";
  lettuce.command_deadline = s(60);  // RedisURI.DEFAULT_TIMEOUT; TimeoutOptions.enabled() since 6.5
  lettuce.reload_timeout = s(60);
  lettuce.max_attempts = 1;      // a command is not retried: it waits on its connection
  lettuce.max_redirects = 5;     // ClusterClientOptions.DEFAULT_MAX_REDIRECTS
  lettuce.retry_clusterdown = false;
  lettuce.moved_updates_slot = false;  // follows MOVED; Partitions change only on a topology refresh
  lettuce.moved_reload_every = 0;
  lettuce.reload_after_connection_errors = 0;
  lettuce.reload_on_timeout = false;
  lettuce.reload_on_clusterdown = false;
  lettuce.wait_for_reconnect = true;  // autoReconnect, DisconnectedBehavior.DEFAULT, unbounded request queue
  lettuce.reconnect_delay_first = ms(1);
  lettuce.reconnect_delay_max = s(30);  // Delay.exponential(): 1, 2, 4 ... ms, at most 30 s
  // Lettuce asks every node at once and takes the view most of them share (PartitionsConsensus); here:
  // every node in a random order until one answers (a dead node does not fail the refresh).
  lettuce.reload_source = RefreshSource::random_order;
  lettuce.sources =
      "lettuce 6.8.2.RELEASE: cluster/ClusterTopologyRefreshOptions.java:40 (DEFAULT_ADAPTIVE_REFRESH_TRIGGERS = "
      "emptySet), :53 (DEFAULT_PERIODIC_REFRESH_ENABLED = false); cluster/ClusterClientOptions.java:48 "
      "(DEFAULT_MAX_REDIRECTS = 5); RedisURI.java:223 (DEFAULT_TIMEOUT = 60 s); ClientOptions.java:53,61,73,93 "
      "(auto-reconnect, DisconnectedBehavior.DEFAULT, requestQueueSize MAX_VALUE, TimeoutOptions.enabled()); "
      "resource/DefaultClientResources.java:106 + resource/Delay.java:44-50 (reconnect delay exponential, "
      "1 ms doubling, 30 s cap); cluster/ClusterDistributionChannelWriter.java:124-165 (MOVED followed, "
      "Partitions untouched); no CLUSTERDOWN handling in src/main/java";
  out.push_back(lettuce);

  ClientProfile adaptive = lettuce;
  adaptive.name = "lettuce_adaptive";
  adaptive.library = "Lettuce 6.8.2 with enablePeriodicRefresh() and enableAllAdaptiveRefreshTriggers()";
  adaptive.periodic_reload = s(60);  // DEFAULT_REFRESH_PERIOD
  adaptive.moved_reload_every = 1;   // MOVED_REDIRECT trigger
  adaptive.reload_after_failed_reconnects = 5;  // PERSISTENT_RECONNECTS, DEFAULT_REFRESH_TRIGGERS_RECONNECT_ATTEMPTS
  adaptive.reload_min_interval = s(30);         // DEFAULT_ADAPTIVE_REFRESH_TIMEOUT
  adaptive.sources =
      "as lettuce, plus cluster/ClusterTopologyRefreshOptions.java:42-47 (DEFAULT_ADAPTIVE_REFRESH_TIMEOUT = "
      "30 s), :55-59 (DEFAULT_REFRESH_PERIOD = 60 s), :61 (DEFAULT_REFRESH_TRIGGERS_RECONNECT_ATTEMPTS = 5); "
      "cluster/ClusterTopologyRefreshScheduler.java:145-158 (MOVED and reconnect triggers)";
  out.push_back(adaptive);

  ClientProfile jedis;
  jedis.name = "jedis";
  jedis.library = "Jedis 5.2.0, JedisCluster defaults";
  jedis.attempt_timeout = ms(2000);   // soTimeout (and connectionTimeout) Protocol.DEFAULT_TIMEOUT
  jedis.command_deadline = ms(10000);  // maxTotalRetriesDuration = soTimeout x maxAttempts
  jedis.reload_timeout = ms(2000);
  jedis.max_attempts = 5;
  jedis.max_redirects = 5;  // a redirection costs an attempt
  jedis.backoff = BackoffKind::jedis_deadline;
  jedis.retry_clusterdown = false;
  jedis.reload_after_connection_errors = 2;  // renewSlotCache after 2 connection failures in a row
  jedis.reload_on_clusterdown = false;
  jedis.reload_source = RefreshSource::seed_order;  // the start nodes in order, then the others
  jedis.sources =
      "jedis v5.2.0: JedisCluster.java:25,30,226 (DEFAULT_TIMEOUT 2000 ms, DEFAULT_MAX_ATTEMPTS 5, "
      "maxTotalRetriesDuration = soTimeout x maxAttempts); executors/ClusterCommandExecutor.java:83-141 "
      "(MOVED renews the slot cache; CLUSTERDOWN thrown to the caller), :176-200 (after 2 consecutive "
      "connection failures: sleep random [0, time left / attempts left^2], renew); "
      "JedisClusterInfoCache.java:186-230 (renew asks the start nodes in order); periodic refresh off "
      "(JedisClusterInfoCache.java:106-110, opt-in)";
  out.push_back(jedis);

  ClientProfile redis_py;
  redis_py.name = "redis_py";
  redis_py.library = "redis-py 5.3.1, RedisCluster defaults";
  redis_py.max_attempts = 4;  // cluster_error_retry_attempts = 3 retries, no sleep between them
  redis_py.max_redirects = 16;  // RedisClusterRequestTTL
  redis_py.clusterdown_delay = ms(250);
  redis_py.moved_reload_every = 5;  // reinitialize_steps; the other MOVEDs patch their slot
  redis_py.retry_waits_for_reload = true;  // NodesManager.initialize() runs before the retry
  redis_py.reload_source = RefreshSource::seed_order;
  redis_py.sources =
      "redis-py v5.3.1: redis/cluster.py:519 (cluster_error_retry_attempts = 3), :522 (reinitialize_steps = 5), "
      ":216 (RedisClusterRequestTTL = 16), :1221-1236 (connection/timeout error: initialize() then retry), "
      ":1260-1272 (CLUSTERDOWN: sleep 0.25 s, initialize(), retry), :1649-1661 (startup nodes in order); "
      "redis/connection.py:228-229 (socket_timeout and socket_connect_timeout None: no timeout)";
  out.push_back(redis_py);

  ClientProfile go_redis;
  go_redis.name = "go_redis";
  go_redis.library = "go-redis v9.22.0, ClusterOptions defaults";
  go_redis.attempt_timeout = s(5);  // ReadTimeout (3 s before v9.22.0)
  go_redis.reload_timeout = s(5);
  go_redis.max_attempts = 4;  // MaxRedirects = 3: attempt 0..3, redirections and retries alike
  go_redis.max_redirects = 3;
  go_redis.backoff_first = ms(10);  // MinRetryBackoff (8 ms before v9.22.0)
  go_redis.backoff_max = s(1);      // MaxRetryBackoff (512 ms before v9.22.0)
  go_redis.backoff_jitter = true;
  go_redis.moved_updates_slot = false;  // retried at the MOVED address; the map by LazyReload
  go_redis.reload_after_connection_errors = 0;  // go-redis#3979: no reload on connection refused
  go_redis.reload_on_timeout = false;
  go_redis.reload_on_clusterdown = false;
  go_redis.reload_min_interval = ms(200);  // LazyReload's cooldown
  go_redis.reload_when_stale = s(60);      // ClusterStateReloadInterval (10 s before v9.22.0)
  go_redis.reload_source = RefreshSource::random_order;  // loadState: rand.Perm over the known nodes
  go_redis.sources =
      "go-redis v9.22.0: osscluster.go:217 (MaxRedirects 3), :225 (DialTimeout 5 s), :253 (ReadTimeout 5 s), "
      ":269,275 (MinRetryBackoff 10 ms, MaxRetryBackoff 1 s), :291 (ClusterStateReloadInterval 60 s, checked "
      "when a command gets the state, :1148), :1106-1138 (LazyReload, 200 ms cooldown), :1293-1392 (MOVED: "
      "LazyReload; connection errors, timeouts and CLUSTERDOWN retried without a reload: go-redis#3979)";
  out.push_back(go_redis);

  ClientProfile ioredis;
  ioredis.name = "ioredis";
  ioredis.library = "ioredis 5.11.1, Cluster defaults";
  ioredis.reload_timeout = ms(1000);  // slotsRefreshTimeout
  ioredis.max_attempts = 16;          // maxRedirections counts every retried error
  ioredis.max_redirects = 16;
  ioredis.backoff_first = ms(100);  // retryDelayOnFailover
  ioredis.backoff_max = ms(100);
  ioredis.clusterdown_delay = ms(100);  // retryDelayOnClusterDown
  ioredis.reload_on_timeout = false;
  ioredis.retry_waits_for_reload = true;
  ioredis.retry_on_random_node = true;
  ioredis.reload_source = RefreshSource::random_order;  // refreshSlotsCache: shuffle(all nodes), first success
  ioredis.sources =
      "ioredis v5.11.1: lib/cluster/ClusterOptions.ts:243-248 (maxRedirections 16, retryDelayOnFailover, "
      "retryDelayOnClusterDown 100 ms, slotsRefreshTimeout 1000 ms), :237-255 (no slotsRefreshInterval: "
      "periodic refresh off since v5.0.0); lib/cluster/index.ts:539-553 (MOVED: patch the slot and refresh), "
      ":733-783 (closed connection or CLUSTERDOWN: wait 100 ms, refresh, retry on a random node); "
      "lib/redis/RedisOptions.ts:20,42 (no commandTimeout or socketTimeout: ioredis#559)";
  out.push_back(ioredis);

  return out;
}

}  // namespace

const std::vector<ClientProfile>& client_profiles() {
  static const std::vector<ClientProfile> profiles = make_profiles();
  return profiles;
}

const ClientProfile* find_client_profile(std::string_view name) {
  for (const ClientProfile& p : client_profiles()) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::string client_profile_names() {
  std::string out;
  for (const ClientProfile& p : client_profiles()) out += (out.empty() ? "" : ", ") + std::string(p.name);
  return out;
}

}  // namespace rcsim::sim
