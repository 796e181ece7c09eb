#include "protocol/version.hpp"

#include <cassert>

namespace rcsim::protocol {
namespace {

constexpr VersionRules kRedis72Rules{
    .shard_id_ping_ext = true,
    .forgotten_node_ping_ext = true,
    .sole_primary_fails_replica = true,
};

constexpr VersionRules with_redis_74(VersionRules rules) {
  rules.receiver_left_out_of_gossip = true;
  rules.demoted_pong_moves_slots = true;
  return rules;
}

// Valkey 8.0 forked from Redis 7.2.4 and took 7.4's cluster changes (#13046, #13055, the latter reworked).
constexpr VersionRules valkey_80(VersionRules rules) {
  rules.demoted_pong_moves_slots = false;
  rules.demoted_pong_keeps_slots = true;
  rules.ext_only_to_supporting_peers = true;
  rules.voting_primaries_only = true;
  rules.rank_ties_by_name = true;
  rules.auth_time_reset_on_new_master = true;
  rules.epochs_and_slots_from_primaries_only = true;
  return rules;
}

constexpr VersionRules valkey_81(VersionRules rules) {
  rules.failed_primary_rank_delay = true;
  rules.lost_election_reset = true;
  rules.no_vote_throttle = true;
  rules.force_starts_at_once = true;
  rules.manual_failover_clears_election = true;
  return rules;
}

// In ServerVersion order.
constexpr VersionProfile kProfiles[] = {
    {ServerVersion::redis_7_0, "redis-7.0", "redis-server 7.0.15 (results/fidelity-real.md)", {}},
    {ServerVersion::redis_7_2, "redis-7.2", "redis-server 7.2.6 (results/fidelity-versions.md)", kRedis72Rules},
    {ServerVersion::redis_7_4, "redis-7.4", "redis-server 7.4.1 (results/fidelity-versions.md)", with_redis_74(kRedis72Rules)},
    {ServerVersion::valkey_8_0, "valkey-8.0", "valkey-server 8.0.1 (results/fidelity-versions.md)", valkey_80(with_redis_74(kRedis72Rules))},
    {ServerVersion::valkey_8_1, "valkey-8.1", "not calibrated: modelled from valkey-io/valkey source of spring 2025 (no 8.1 release to build here)",
     valkey_81(valkey_80(with_redis_74(kRedis72Rules)))},
};

}  // namespace

std::span<const VersionProfile> version_profiles() { return kProfiles; }

const VersionProfile& profile_of(ServerVersion version) {
  const VersionProfile& profile = kProfiles[static_cast<size_t>(version)];
  assert(profile.version == version);
  return profile;
}

const VersionProfile* find_version_profile(std::string_view name) {
  for (const VersionProfile& profile : kProfiles) {
    if (name == profile.name) return &profile;
  }
  return nullptr;
}

std::string version_profile_names() {
  std::string out;
  for (const VersionProfile& profile : kProfiles) out += (out.empty() ? "" : ", ") + std::string(profile.name);
  return out;
}

}  // namespace rcsim::protocol
