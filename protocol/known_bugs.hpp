#pragma once
// Named protocol bugs that can be switched on at run time, to measure that the fuzzer finds real
// bugs. All off by default: with none set, the node behaves like Redis 7.0.15. Each is modelled on a
// bug or a rule that the Redis/Valkey trackers or the cluster spec discuss (see known_bugs.cpp).
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace rcsim::protocol {

struct KnownBugs {
  bool vote_twice_per_epoch = false;         // the lastVoteEpoch check is skipped
  bool vote_not_fsynced = false;             // the vote is saved without fsync before the ACK leaves
  bool current_epoch_not_persisted = false;  // nodes.conf keeps currentEpoch 0
  bool quorum_off_by_one = false;            // an election is won with size/2 votes
  bool stale_vote_count = false;             // the ACK count is not reset for a new election
  bool failure_reports_never_expire = false;
  bool fail_without_majority = false;        // one failure report is enough for FAIL
  bool ignore_config_epoch_on_claims = false;  // slot claims win whatever their configEpoch
  bool minority_keeps_writes = false;        // cluster state ignores the minority rule
  bool skip_data_age_check = false;          // stale replicas may fail over
  bool pfail_early = false;                  // PFAIL after node_timeout/2 instead of node_timeout
  bool collision_ignored = false;            // configEpoch collisions are never resolved
};

struct KnownBugInfo {
  const char* name;
  bool KnownBugs::*flag;
  const char* description;  // what goes wrong, and the tracker issue or spec section it comes from
};

std::span<const KnownBugInfo> known_bug_list();
// Switches the named bug on; false if no bug has that name.
bool enable_known_bug(KnownBugs& bugs, std::string_view name);

}  // namespace rcsim::protocol
