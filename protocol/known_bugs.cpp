#include "protocol/known_bugs.hpp"

namespace rcsim::protocol {
namespace {

constexpr KnownBugInfo kBugs[] = {
    {"vote_twice_per_epoch", &KnownBugs::vote_twice_per_epoch,
     "a master grants a second vote in an epoch it already voted in (the 'already voted for epoch' rule of "
     "clusterSendFailoverAuthIfNeeded; redis/redis#5857 shows two replicas in one epoch)"},
    {"vote_not_fsynced", &KnownBugs::vote_not_fsynced,
     "lastVoteEpoch is written but not fsynced before the FAILOVER_AUTH_ACK leaves; a crash forgets the vote "
     "(redis/redis#1479: currentEpoch/lastVoteEpoch were not persisted at all)"},
    {"current_epoch_not_persisted", &KnownBugs::current_epoch_not_persisted,
     "nodes.conf does not record currentEpoch, so a restarted node goes back to its largest configEpoch "
     "(redis/redis#1479)"},
    {"quorum_off_by_one", &KnownBugs::quorum_off_by_one,
     "an election is won with size/2 instead of size/2 + 1 acknowledgements"},
    {"stale_vote_count", &KnownBugs::stale_vote_count,
     "failover_auth_count is not reset when a new election is scheduled, so votes of an earlier election count "
     "(redis/redis#8752, fixed by #8753)"},
    {"failure_reports_never_expire", &KnownBugs::failure_reports_never_expire,
     "failure reports older than 2 x node timeout still count towards FAIL (report validity, redis/redis#2285)"},
    {"fail_without_majority", &KnownBugs::fail_without_majority,
     "a node marks another FAIL on a single failure report instead of a majority of masters (redis/redis#10024 "
     "discusses who may count)"},
    {"ignore_config_epoch_on_claims", &KnownBugs::ignore_config_epoch_on_claims,
     "slot claims in heartbeats rebind slots even when the claimant's configEpoch is not greater "
     "(cluster spec: 'configEpoch conflicts resolution')"},
    {"minority_keeps_writes", &KnownBugs::minority_keeps_writes,
     "a master that cannot reach a majority of masters stays cluster_state ok and keeps accepting writes "
     "(cluster spec: 'Write safety')"},
    {"skip_data_age_check", &KnownBugs::skip_data_age_check,
     "a replica disconnected longer than the validity window still fails over (redis/redis#5081 is about this "
     "check)"},
    {"pfail_early", &KnownBugs::pfail_early,
     "PFAIL is set after node_timeout/2 without a pong instead of node_timeout"},
    {"collision_ignored", &KnownBugs::collision_ignored,
     "two masters with the same configEpoch never separate (clusterHandleConfigEpochCollision skipped)"},
};

}  // namespace

std::span<const KnownBugInfo> known_bug_list() { return kBugs; }

bool enable_known_bug(KnownBugs& bugs, std::string_view name) {
  for (const KnownBugInfo& bug : kBugs) {
    if (name == bug.name) {
      bugs.*bug.flag = true;
      return true;
    }
  }
  return false;
}

}  // namespace rcsim::protocol
