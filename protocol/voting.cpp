// The master side of an election: clusterSendFailoverAuthIfNeeded.
#include <cassert>

#include "protocol/node.hpp"

namespace rcsim::protocol {

void Node::send_failover_auth_if_needed(ClusterNode* requester, const Message& request, int64_t now_ms) {
  const Epoch request_epoch = request.current_epoch;
  const bool force_ack = (request.mflags & kMsgFlagForceAck) != 0;
  ClusterNode* master = requester->master;
  VoteRefusal refusal = VoteRefusal::none;
  // Replicas and masters without slots are not voters; they stay silent, as in Redis.
  if (myself_->is_replica() || myself_->numslots == 0) return;
  if (request_epoch < current_epoch_) refusal = VoteRefusal::request_epoch_stale;
  else if (last_vote_epoch_ == current_epoch_ && !bugs_.vote_twice_per_epoch) refusal = VoteRefusal::already_voted;
  else if (requester->is_master()) refusal = VoteRefusal::requester_is_master;
  else if (master == nullptr) refusal = VoteRefusal::master_unknown;
  else if (!master->has(kFlagFail) && !force_ack) refusal = VoteRefusal::master_not_failed;
  else if (!rules_.no_vote_throttle && now_ms - master->voted_time_ms < config_.cluster_node_timeout_ms * 2) {
    refusal = VoteRefusal::voted_recently;  // Valkey 8.1 (#1305, #1356) has no such wait
  }
  if (refusal == VoteRefusal::none) {
    const SlotBitmap& claimed = *request.myslots;
    for (size_t slot = claimed._Find_first(); slot < claimed.size(); slot = claimed._Find_next(slot)) {
      if (owner_not_claiming_slot_[slot]) continue;
      const ClusterNode* owner = slots_[slot];
      if (owner == nullptr || owner->config_epoch <= request.config_epoch) continue;
      refusal = VoteRefusal::slot_epoch_greater;
      break;
    }
  }
  if (refusal != VoteRefusal::none) {
    std::string detail = describe(refusal);
    if (refusal == VoteRefusal::already_voted) detail += " " + std::to_string(last_vote_epoch_);
    if (refusal == VoteRefusal::voted_recently) detail += " (" + std::to_string(now_ms - master->voted_time_ms) + " ms ago)";
    event("vote_refused", requester, static_cast<int64_t>(request_epoch), static_cast<int64_t>(refusal), detail);
    return;
  }
  assert(current_epoch_ >= last_vote_epoch_);
  last_vote_epoch_ = current_epoch_;
  master->voted_time_ms = now_ms;
  // The vote reaches disk before the ACK leaves: the host applies the save before the sends.
  if (bugs_.vote_not_fsynced) todo_save(false);
  else save_now(true);
  event("vote_granted", requester, static_cast<int64_t>(current_epoch_));
  send_to(requester, build_header(MessageType::failover_auth_ack));
}

}  // namespace rcsim::protocol
