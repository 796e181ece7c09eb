// The replica side of failover: clusterHandleSlaveFailover, clusterGetSlaveRank,
// clusterRequestFailoverAuth, clusterFailoverReplaceYourMaster, and manual failover.
#include <algorithm>
#include <cassert>

#include "protocol/node.hpp"

namespace rcsim::protocol {

int Node::replica_rank() const {
  const ClusterNode* master = myself_->master;
  if (master == nullptr) return 0;
  const int64_t my_offset = replication_.processed_offset;
  int rank = 0;
  for (const ClusterNode* replica : master->replicas) {
    if (replica == myself_ || replica->has(kFlagNofailover)) continue;
    if (replica->repl_offset > my_offset) ++rank;
    // Valkey 8.0: equal offsets are ranked by name, so tied replicas do not start together.
    else if (rules_.rank_ties_by_name && replica->repl_offset == my_offset && replica->name < myself_->name) ++rank;
  }
  return rank;
}

int Node::failed_primary_rank(int64_t now_ms) const {
  // clusterGetFailedPrimaryRank (Valkey 8.1, #1018): the failed masters with slots and replicas, failed
  // within the validity window, whose shard id sorts before mine; my own master shares my shard.
  const int64_t window_ms = config_.cluster_node_timeout_ms * config_.cluster_replica_validity_factor;
  const NodeName& my_shard = interner_.names.value(myself_->shard_id);
  int rank = 0;
  for (const ClusterNode* node : node_list_) {
    if (!node->has(kFlagFail) || !node->is_master() || node->numslots == 0 || node->replicas.empty()) continue;
    if (config_.cluster_replica_validity_factor != 0 && now_ms - node->fail_time_ms > window_ms) continue;
    if (interner_.names.value(node->shard_id) < my_shard) ++rank;
  }
  return rank;
}

int64_t Node::data_age_ms(int64_t now_ms) const {
  // Whole seconds, like Redis's unixtime arithmetic; never synced = down since the epoch.
  if (replication_.link_up) return (now_ms / 1000 - replication_.last_interaction_ms / 1000) * 1000;
  if (!replication_.ever_synced) return now_ms;
  return (now_ms / 1000 - replication_.down_since_ms / 1000) * 1000;
}

void Node::handle_replica_failover(int64_t now_ms) {
  const int64_t timeout_ms = config_.cluster_node_timeout_ms;
  const int64_t auth_timeout_ms = std::max<int64_t>(timeout_ms * 2, 2000);
  const int64_t auth_retry_ms = auth_timeout_ms * 2;
  int64_t auth_age_ms = now_ms - failover_auth_time_ms_;
  const bool manual = mf_end_ms_ != 0 && mf_can_start_;
  ClusterNode* master = myself_->master;

  if (myself_->is_master() || master == nullptr || (!master->has(kFlagFail) && !manual) ||
      master->numslots == 0) {
    cant_failover_reason_ = CantFailoverReason::none;
    return;
  }
  if (config_.cluster_replica_no_failover && !manual) {
    cant_failover_reason_ = CantFailoverReason::nofailover;
    return;
  }
  int64_t data_age = data_age_ms(now_ms);
  if (data_age > timeout_ms) data_age -= timeout_ms;
  if (config_.cluster_replica_validity_factor != 0 && !bugs_.skip_data_age_check &&
      data_age > config_.repl_ping_replica_period_s * 1000 + timeout_ms * config_.cluster_replica_validity_factor &&
      !manual) {
    if (cant_failover_reason_ != CantFailoverReason::data_age) {
      event("cant_failover", master, -1, data_age, describe(CantFailoverReason::data_age));
    }
    cant_failover_reason_ = CantFailoverReason::data_age;
    return;
  }

  if (auth_age_ms > auth_retry_ms) {
    // Schedule: 500 ms for the FAIL to spread, a random part to avoid ties, rank seconds.
    if (!bugs_.stale_vote_count) failover_auth_count_ = 0;
    failover_auth_sent_ = false;
    failover_auth_rank_ = replica_rank();
    const int64_t random_ms = static_cast<int64_t>(rng_.below(500));
    failover_auth_time_ms_ = now_ms + 500 + random_ms + failover_auth_rank_ * 1000;
    if (rules_.failed_primary_rank_delay) {  // Valkey 8.1: shards that lost their masters together take turns
      failed_primary_rank_ = failed_primary_rank(now_ms);
      failover_auth_time_ms_ += failed_primary_rank_ * 500;
    }
    if (mf_end_ms_ == 0) pending_mode_ = FailoverMode::automatic;
    if (mf_end_ms_ != 0) {
      failover_auth_time_ms_ = now_ms;
      failover_auth_rank_ = 0;
      // Valkey 8.1 (#1081) goes on to the election in this same call; 7.0 asks for another pass.
      if (rules_.force_starts_at_once) auth_age_ms = 0;
      else todo_handle_failover_ = true;
    }
    std::string ranks = "rank " + std::to_string(failover_auth_rank_);
    if (rules_.failed_primary_rank_delay) ranks += ", failed primary rank " + std::to_string(failed_primary_rank_);
    event("election_scheduled", master, -1, failover_auth_time_ms_ - now_ms, ranks);
    broadcast_pong_to(true);
    if (!rules_.force_starts_at_once || mf_end_ms_ == 0) return;
  }
  if (!failover_auth_sent_ && !manual) {
    const int new_rank = replica_rank();
    // 7.0 only ever adds delay; Valkey 8.0 also takes it back when the rank falls.
    if (new_rank > failover_auth_rank_ || (rules_.rank_ties_by_name && new_rank != failover_auth_rank_)) {
      failover_auth_time_ms_ += (new_rank - failover_auth_rank_) * 1000;
      failover_auth_rank_ = new_rank;
      event("election_rank_changed", master, -1, new_rank);
    }
    if (rules_.failed_primary_rank_delay) {
      const int new_failed_rank = failed_primary_rank(now_ms);
      if (new_failed_rank != failed_primary_rank_) {
        failover_auth_time_ms_ += (new_failed_rank - failed_primary_rank_) * 500;
        failed_primary_rank_ = new_failed_rank;
        event("election_rank_changed", master, -1, new_failed_rank, "failed primary rank");
      }
    }
  }
  if (now_ms < failover_auth_time_ms_) {
    cant_failover_reason_ = CantFailoverReason::waiting_delay;
    return;
  }
  if (auth_age_ms > auth_timeout_ms) {
    if (cant_failover_reason_ != CantFailoverReason::expired) {
      event("election_expired", master, static_cast<int64_t>(failover_auth_epoch_), failover_auth_count_);
    }
    cant_failover_reason_ = CantFailoverReason::expired;
    return;
  }
  if (!failover_auth_sent_) {
    ++current_epoch_;
    failover_auth_epoch_ = current_epoch_;
    // The data age rides along so the checker can hold the validity rule against every election.
    event("election_started", master, static_cast<int64_t>(failover_auth_epoch_), data_age,
          "rank " + std::to_string(failover_auth_rank_) + (mf_end_ms_ != 0 ? " manual" : ""));
    request_failover_auth(now_ms);
    failover_auth_sent_ = true;
    todo_save(true);
    todo_update_state_ = true;
    return;
  }
  const int needed_quorum = bugs_.quorum_off_by_one ? size_ / 2 : size_ / 2 + 1;
  if (failover_auth_count_ >= needed_quorum) {
    event("election_won", master, static_cast<int64_t>(failover_auth_epoch_), failover_auth_count_);
    if (myself_->config_epoch < failover_auth_epoch_) myself_->config_epoch = failover_auth_epoch_;
    failover_replace_my_master(now_ms);
  } else {
    cant_failover_reason_ = CantFailoverReason::waiting_votes;
  }
}

void Node::request_failover_auth(int64_t /*now_ms*/) {
  auto message = build_header(MessageType::failover_auth_request);
  if (mf_end_ms_ != 0) message->mflags |= kMsgFlagForceAck;  // vote even though my master is up
  broadcast(message);
}

void Node::broadcast_pong_to(bool replicas_of_my_master_only) {
  // clusterBroadcastPong(CLUSTER_BROADCAST_LOCAL_SLAVES | _ALL)
  for (ClusterNode* node : node_list_) {
    if (node == myself_ || node->in_handshake() || node->link == 0) continue;
    if (replicas_of_my_master_only) {
      const bool local_replica = node->is_replica() && node->master != nullptr &&
                                 (node->master == myself_->master || node->master == myself_);
      if (!local_replica) continue;
    }
    send_ping(node, node->link, MessageType::pong, 0);
  }
}

void Node::failover_replace_my_master(int64_t now_ms) {
  ClusterNode* old_master = myself_->master;
  if (myself_->is_master() || old_master == nullptr) return;
  set_node_as_master(myself_);
  for (int slot = 0; slot < kClusterSlots && old_master->numslots > 0; ++slot) {
    if (slots_[slot] == old_master) set_slot_owner(slot, myself_);
  }
  const FailoverMode mode = mf_end_ms_ == 0 ? FailoverMode::automatic : pending_mode_;
  update_state(now_ms);
  save_now(true);
  event("promoted", old_master, static_cast<int64_t>(myself_->config_epoch), myself_->numslots, describe(mode));
  broadcast_pong_to(false);
  reset_manual_failover();
  failover_auth_time_ms_ = 0;
}

void Node::reset_manual_failover() {
  if (myself_->is_master() && mf_end_ms_ != 0) clients_paused_until_ms_ = 0;  // unpause clients
  mf_end_ms_ = 0;
  mf_can_start_ = false;
  mf_replica_ = nullptr;
  mf_master_offset_ = -1;
}

void Node::manual_failover_can_start() {
  assert(!mf_can_start_);
  // Valkey 8.1 (#1274): an earlier election's window no longer holds a manual failover back.
  if (rules_.manual_failover_clears_election && failover_auth_time_ms_ != 0) {
    failover_auth_time_ms_ = 0;
    event("election_reset", myself_->master, static_cast<int64_t>(failover_auth_epoch_), -1, "manual failover");
  }
  mf_can_start_ = true;
}

void Node::manual_failover_check_timeout(int64_t now_ms) {
  if (mf_end_ms_ != 0 && mf_end_ms_ < now_ms) {
    event("manual_failover_timeout", nullptr);
    reset_manual_failover();
  }
}

void Node::handle_manual_failover(int64_t now_ms) {
  // clusterHandleManualFailover: start once my offset reached the paused master's.
  if (mf_end_ms_ == 0 || mf_can_start_ || mf_master_offset_ == -1) return;
  if (mf_master_offset_ == replication_.processed_offset) {
    manual_failover_can_start();
    todo_handle_failover_ = true;
    event("manual_failover_can_start", myself_->master, -1, mf_master_offset_);
  }
  (void)now_ms;
}

CommandResult Node::failover(FailoverMode mode, int64_t now_ms) {
  assert(mode != FailoverMode::automatic);
  if (myself_->is_master()) return {false, "ERR You should send CLUSTER FAILOVER to a replica"};
  ClusterNode* master = myself_->master;
  if (master == nullptr) return {false, "ERR I'm a replica but my master is unknown to me"};
  if (mode == FailoverMode::manual && (master->has(kFlagFail) || master->link == 0)) {
    return {false, "ERR Master is down or failed, please use CLUSTER FAILOVER FORCE"};
  }
  reset_manual_failover();
  mf_end_ms_ = now_ms + config_.cluster_manual_failover_timeout_ms;  // CLUSTER_MF_TIMEOUT
  pending_mode_ = mode;
  event("manual_failover_requested", master, -1, -1, describe(mode));
  if (mode == FailoverMode::takeover) {
    // No election: a new configEpoch without consensus, then take the slots.
    bump_config_epoch_without_consensus();
    failover_replace_my_master(now_ms);
  } else if (mode == FailoverMode::force) {
    manual_failover_can_start();
    // 7.0: the election starts on the next clusterCron; Valkey 8.1 (#1067) before the event loop sleeps.
    if (rules_.force_starts_at_once) todo_handle_manual_failover_ = true;
  } else {
    send_to(master, build_header(MessageType::mfstart));
  }
  return {true, "OK"};
}

}  // namespace rcsim::protocol
