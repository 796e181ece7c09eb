#pragma once
// Redis settings that change cluster behaviour, by their real names and with Redis 7.0.15 defaults
// (src/config.c). Times keep Redis's units: milliseconds for cluster-node-timeout, seconds for
// repl-ping-replica-period.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/version.hpp"

namespace rcsim::protocol {

struct Config {
  // Which server the node is (cluster.version): Redis 7.0.15 unless a scenario names another profile.
  ServerVersion version = ServerVersion::redis_7_0;
  int64_t cluster_node_timeout_ms = 15000;
  int64_t cluster_replica_validity_factor = 10;
  int64_t cluster_migration_barrier = 1;
  bool cluster_require_full_coverage = true;
  bool cluster_replica_no_failover = false;
  bool cluster_allow_reads_when_down = false;
  bool cluster_allow_replica_migration = true;
  int64_t repl_ping_replica_period_s = 10;
  int64_t repl_timeout_s = 60;
  int64_t cluster_blacklist_ttl_s = 60;  // Valkey 8.0's setting; Redis's CLUSTER_BLACKLIST_TTL
  int64_t cluster_manual_failover_timeout_ms = 5000;  // Valkey 8.1's setting; Redis's CLUSTER_MF_TIMEOUT

  // CONFIG SET by real name (aliases such as cluster-slave-validity-factor accepted). Returns an
  // error text ("expected an integer in [1, 2147483647]", "unknown parameter") or nullopt. A
  // setting only one server version has is unknown to the others.
  std::optional<std::string> set(std::string_view name, std::string_view value);
  std::optional<std::string> get(std::string_view name) const;
  static const std::vector<std::string>& names();  // of every version
  // The version that added the setting (redis-7.0 for those every version has); later ones have it too.
  static ServerVersion since(std::string_view name);
};

}  // namespace rcsim::protocol
