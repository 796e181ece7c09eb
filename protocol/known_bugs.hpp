#pragma once
// Named protocol bugs that can be switched on at run time, for measuring that the fuzzer finds real
// bugs. All off by default: with none set, the node behaves like Redis 7.0.15.
namespace rcsim::protocol {

struct KnownBugs {
  bool vote_twice_per_epoch = false;        // lastVoteEpoch check skipped
  bool vote_not_fsynced = false;            // ACK leaves before lastVoteEpoch is fsynced
  bool quorum_off_by_one = false;           // election won with size/2 votes
  bool no_rank_delay = false;               // rank ignored in the election delay
  bool failure_reports_never_expire = false;
  bool fail_without_majority = false;       // one report suffices for FAIL
  bool ignore_config_epoch_on_claims = false;  // slot claims applied whatever their configEpoch
  bool ignore_update = false;               // UPDATE messages dropped
  bool minority_keeps_writes = false;       // cluster state ignores the minority rule
  bool skip_data_age_check = false;
  bool current_epoch_not_persisted = false; // nodes.conf keeps currentEpoch 0
};

}  // namespace rcsim::protocol
