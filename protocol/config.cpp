#include "protocol/config.hpp"

#include <charconv>
#include <limits>
#include <optional>

namespace rcsim::protocol {
namespace {

struct IntParam {
  const char* name;
  const char* alias;
  int64_t Config::*field;
  int64_t min;
  int64_t max;
  ServerVersion since = ServerVersion::redis_7_0;  // the version that added it (the lineage order)
};
struct BoolParam {
  const char* name;
  const char* alias;
  bool Config::*field;
};

constexpr int64_t kIntMax = std::numeric_limits<int32_t>::max();
// Ranges as src/config.c declares them.
const IntParam kIntParams[] = {
    {"cluster-node-timeout", nullptr, &Config::cluster_node_timeout_ms, 1, std::numeric_limits<int64_t>::max() / 1000},
    {"cluster-replica-validity-factor", "cluster-slave-validity-factor", &Config::cluster_replica_validity_factor, 0, kIntMax},
    {"cluster-migration-barrier", nullptr, &Config::cluster_migration_barrier, 0, kIntMax},
    {"repl-ping-replica-period", "repl-ping-slave-period", &Config::repl_ping_replica_period_s, 1, kIntMax},
    {"repl-timeout", nullptr, &Config::repl_timeout_s, 1, kIntMax},
    // Valkey 8.0 (#738): seconds a CLUSTER FORGET keeps the node out; Redis fixes it at 60.
    {"cluster-blacklist-ttl", nullptr, &Config::cluster_blacklist_ttl_s, 0, kIntMax, ServerVersion::valkey_8_0},
    // Valkey 8.1 (#1690): CLUSTER_MF_TIMEOUT as a setting; the master pauses writes twice as long.
    {"cluster-manual-failover-timeout", nullptr, &Config::cluster_manual_failover_timeout_ms, 1, kIntMax, ServerVersion::valkey_8_1},
};
const BoolParam kBoolParams[] = {
    {"cluster-require-full-coverage", nullptr, &Config::cluster_require_full_coverage},
    {"cluster-replica-no-failover", "cluster-slave-no-failover", &Config::cluster_replica_no_failover},
    {"cluster-allow-reads-when-down", nullptr, &Config::cluster_allow_reads_when_down},
    {"cluster-allow-replica-migration", nullptr, &Config::cluster_allow_replica_migration},
};

bool matches(std::string_view name, const char* canonical, const char* alias) {
  return name == canonical || (alias != nullptr && name == alias);
}

}  // namespace

std::optional<std::string> Config::set(std::string_view name, std::string_view value) {
  for (const IntParam& p : kIntParams) {
    if (!matches(name, p.name, p.alias)) continue;
    if (version < p.since) {
      return "unknown parameter for " + std::string(profile_of(version).name) + " (" + profile_of(p.since).name + " added it)";
    }
    int64_t parsed = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
    if (ec != std::errc{} || end != value.data() + value.size() || parsed < p.min || parsed > p.max) {
      return "expected an integer in [" + std::to_string(p.min) + ", " + std::to_string(p.max) + "]";
    }
    this->*p.field = parsed;
    return std::nullopt;
  }
  for (const BoolParam& p : kBoolParams) {
    if (!matches(name, p.name, p.alias)) continue;
    if (value == "yes") this->*p.field = true;
    else if (value == "no") this->*p.field = false;
    else return "expected yes or no";
    return std::nullopt;
  }
  return "unknown parameter (known: cluster-node-timeout, cluster-replica-validity-factor, "
         "cluster-migration-barrier, cluster-require-full-coverage, cluster-replica-no-failover, "
         "cluster-allow-reads-when-down, cluster-allow-replica-migration, repl-ping-replica-period, "
         "repl-timeout; from valkey-8.0 cluster-blacklist-ttl, from valkey-8.1 cluster-manual-failover-timeout)";
}

std::optional<std::string> Config::get(std::string_view name) const {
  for (const IntParam& p : kIntParams) {
    if (matches(name, p.name, p.alias)) {
      if (version < p.since) return std::nullopt;
      return std::to_string(this->*p.field);
    }
  }
  for (const BoolParam& p : kBoolParams) {
    if (matches(name, p.name, p.alias)) return std::string(this->*p.field ? "yes" : "no");
  }
  return std::nullopt;
}

ServerVersion Config::since(std::string_view name) {
  for (const IntParam& p : kIntParams) {
    if (matches(name, p.name, p.alias)) return p.since;
  }
  return ServerVersion::redis_7_0;
}

const std::vector<std::string>& Config::names() {
  static const std::vector<std::string> all = [] {
    std::vector<std::string> out;
    for (const IntParam& p : kIntParams) out.emplace_back(p.name);
    for (const BoolParam& p : kBoolParams) out.emplace_back(p.name);
    return out;
  }();
  return all;
}

}  // namespace rcsim::protocol
