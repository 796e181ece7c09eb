// clusterUpdateState: ok/fail from slot coverage and from the reachable majority of masters.
#include <algorithm>

#include "protocol/node.hpp"

namespace rcsim::protocol {

void Node::update_state(int64_t now_ms) {
  if (first_update_state_call_ms_ == 0) first_update_state_call_ms_ = now_ms;
  // A master that just booted waits CLUSTER_WRITABLE_DELAY before accepting writes.
  if (myself_->is_master() && !state_ok_ && now_ms - first_update_state_call_ms_ < 2000) return;

  bool ok = true;
  int size = 0;
  int reachable = 0;
  int assigned_slots = 0;
  bool slot_on_failed_master = false;
  for (const ClusterNode* node : node_list_) {
    if (node->numslots == 0) continue;
    // Owners are masters, but for Valkey 8.0's demoted master that keeps its slots until its successor
    // claims them: they are still served in this view (Redis checks each slot's owner, whatever its role).
    assigned_slots += node->numslots;
    if (node->has(kFlagFail)) slot_on_failed_master = true;
    if (!node->is_master()) continue;
    ++size;
    if (!node->failed_or_pfail()) ++reachable;
  }
  // Counting per owner instead of scanning 16384 slots: every slot's owner is in our table.
  if (config_.cluster_require_full_coverage && (assigned_slots < kClusterSlots || slot_on_failed_master)) ok = false;
  size_ = size;
  const int needed_quorum = size / 2 + 1;
  if (reachable < needed_quorum && !bugs_.minority_keeps_writes) {
    ok = false;
    among_minority_time_ms_ = now_ms;
  }
  if (ok == state_ok_) return;
  const int64_t rejoin_delay_ms = std::clamp<int64_t>(config_.cluster_node_timeout_ms, 500, 5000);
  if (ok && myself_->is_master() && now_ms - among_minority_time_ms_ < rejoin_delay_ms) return;
  state_ok_ = ok;
  event(ok ? "state_ok" : "state_fail", nullptr, -1, reachable,
        "reachable masters " + std::to_string(reachable) + "/" + std::to_string(size));
}

}  // namespace rcsim::protocol
