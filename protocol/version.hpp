#pragma once
// Server versions as profiles of named rules. The node is Redis 7.0.15's; each later version is the
// set of rules it changed, each rule one switch read where Redis/Valkey changed the code (never a copy
// of a function). protocol/VERSIONS.md says what each rule does, with the pull request it comes from
// and how the profile was calibrated.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace rcsim::protocol {

struct VersionRules {
  // Redis 7.2
  bool shard_id_ping_ext = false;      // every PING/PONG/MEET carries the shard-id extension (+48 bytes)
  bool forgotten_node_ping_ext = false;  // CLUSTER FORGET travels in pings for the blacklist's 60 s
  bool sole_primary_fails_replica = false;  // a lone master marks a replica FAIL on its own (7.2.5)
  // Redis 7.4
  bool receiver_left_out_of_gossip = false;  // a PING's gossip never describes its receiver
  bool demoted_pong_moves_slots = false;     // a PONG that says its sender turned replica rebinds its old slots
  // Valkey 8.0
  bool ext_only_to_supporting_peers = false;  // ping extensions only to a node heard sending them
  bool voting_primaries_only = false;         // failure reports and the own vote count only from masters with slots
  bool rank_ties_by_name = false;             // equal offsets ranked by node name; a rank may also fall
  bool auth_time_reset_on_new_master = false;  // a new master clears failover_auth_time
  bool epochs_and_slots_from_primaries_only = false;  // configEpoch and slot claims only from senders that claim primary
  bool demoted_pong_keeps_slots = false;      // a demoted master keeps its slots until its successor claims them
  // Valkey 8.1
  bool failed_primary_rank_delay = false;  // +500 ms per failed master of a smaller shard id
  bool lost_election_reset = false;        // a claim at my election's epoch or later ends it: schedule again now
  bool no_vote_throttle = false;           // no 2 x node timeout wait between votes for one master's replicas
  bool force_starts_at_once = false;       // CLUSTER FAILOVER FORCE runs the election before the event loop sleeps
  bool manual_failover_clears_election = false;  // a manual failover may start inside an earlier election's window
};

// In order of the code's lineage: each later one took the cluster changes of those before (Valkey 8.0
// forked from 7.2.4 and took 7.4's), which a setting's `since` relies on.
enum class ServerVersion : uint8_t { redis_7_0, redis_7_2, redis_7_4, valkey_8_0, valkey_8_1 };

struct VersionProfile {
  ServerVersion version;
  const char* name;         // "redis-7.0": what cluster.version and --version-profile take
  const char* calibrated;   // the real server its timings were compared with, or "not calibrated"
  VersionRules rules;
};

std::span<const VersionProfile> version_profiles();
const VersionProfile& profile_of(ServerVersion version);
// nullptr if no profile has that name.
const VersionProfile* find_version_profile(std::string_view name);
// "redis-7.0, redis-7.2, ...": what error messages list.
std::string version_profile_names();

}  // namespace rcsim::protocol
