// clusterCron, every 100 ms of the host's clock: links, pings, PFAIL, replica duties, state.
#include <algorithm>
#include <cassert>

#include "protocol/node.hpp"

namespace rcsim::protocol {

void Node::tick(int64_t now_ms) {
  ++iteration_;
  const int64_t timeout_ms = config_.cluster_node_timeout_ms;
  const int64_t handshake_timeout_ms = std::max<int64_t>(timeout_ms, 1000);
  stats_pfail_nodes_ = 0;

  // 1. Handshake expiry and (re)connection (clusterNodeCronHandleReconnect).
  // The walks below touch every node of a large table once; asking for a node's first line 48
  // steps ahead (a step is a few ns, a miss ~100) lets the memory system fetch many at a time.
  // A handshake timeout deletes the node at k (and nothing else): the next one is then at k.
  constexpr size_t kPrefetchAhead = 48;
  for (size_t k = 0; k < node_list_.size(); ++k) {
    ClusterNode* node = node_list_[k];
    if (k + kPrefetchAhead < node_list_.size()) __builtin_prefetch(node_list_[k + kPrefetchAhead]);
    if (node == myself_ || node->has(kFlagNoaddr)) continue;
    if (node->has(kFlagPfail)) ++stats_pfail_nodes_;
    if (node->in_handshake() && now_ms - node->ctime_ms > handshake_timeout_ms) {
      event("handshake_timeout", node);
      const size_t size_before = node_list_.size();
      delete_node(node);
      assert(node_list_.size() + 1 == size_before);
      --k;
      continue;
    }
    if (node->link == 0) {
      const LinkId link = next_link_id_++;
      assert(link < kInboundLinkBase);
      node->link = link;
      node->link_ctime_ms = now_ms;
      outbound_links_[link] = node;
      effects_.io.push_back(OpenLink{link, node->address()});
    }
  }

  // 2. Once a second, ping the stalest of 5 random nodes.
  if (iteration_ % 10 == 0) {
    ClusterNode* stalest = nullptr;
    for (int draw = 0; draw < 5; ++draw) {
      ClusterNode* pick = node_list_[rng_.below(node_list_.size())];
      if (pick->link == 0 || pick->ping_sent_ms != 0 || pick == myself_ || pick->in_handshake()) continue;
      if (stalest == nullptr || pick->pong_received_ms < stalest->pong_received_ms) stalest = pick;
    }
    if (stalest != nullptr) send_ping(stalest, stalest->link, MessageType::ping, now_ms);
  }

  // 3. Per node: orphan bookkeeping, link refresh, half-timeout pings, PFAIL.
  int orphaned_masters = 0;
  int max_replicas = 0;
  int my_master_replicas = 0;
  bool state_update_needed = false;
  // The replica counts only matter for migration, which needs a master with 2 good replicas: with no
  // node listing 2 replicas they are all below that, and are not counted (nor their flags read).
  const bool count_replicas = myself_->is_replica() && multi_replica_nodes_ > 0;
  for (size_t k = 0; k < node_list_.size(); ++k) {
    ClusterNode* node = node_list_[k];
    if (k + kPrefetchAhead < node_list_.size()) {
      const ClusterNode* ahead = node_list_[k + kPrefetchAhead];
      __builtin_prefetch(ahead);
      if (count_replicas && !ahead->replicas.empty()) __builtin_prefetch(ahead->replicas.front());
    }
    if (node == myself_ || node->has(kFlagNoaddr) || node->in_handshake()) continue;
    if (count_replicas && node->is_master() && !node->has(kFlagFail)) {
      const int ok_replicas = static_cast<int>(std::count_if(
          node->replicas.begin(), node->replicas.end(), [](const ClusterNode* r) { return !r->has(kFlagFail); }));
      if (ok_replicas == 0 && node->numslots > 0 && node->has(kFlagMigrateTo)) ++orphaned_masters;
      max_replicas = std::max(max_replicas, ok_replicas);
      if (myself_->master == node) my_master_replicas = ok_replicas;
    }
    cron_node(node, now_ms, state_update_needed);
  }

  manual_failover_check_timeout(now_ms);
  if (myself_->is_replica()) {
    handle_manual_failover(now_ms);
    handle_replica_failover(now_ms);
    if (orphaned_masters > 0 && max_replicas >= 2 && my_master_replicas == max_replicas &&
        config_.cluster_allow_replica_migration) {
      handle_replica_migration(max_replicas, now_ms);
    }
  }
  if (state_update_needed || !state_ok_) update_state(now_ms);
}

void Node::cron_node(ClusterNode* node, int64_t now_ms, bool& state_update_needed) {
  const int64_t timeout_ms = config_.cluster_node_timeout_ms;
  const int64_t ping_delay_ms = now_ms - node->ping_sent_ms;
  // Only the first line of the node is read unless a ping is in flight (data_received_ms and
  // link_ctime_ms are on the others).
  auto data_delay_ms = [&] { return now_ms - node->data_received_ms; };
  // A link that carries a ping unanswered for T/2 and nothing else is torn down and rebuilt.
  if (node->link != 0 && node->ping_sent_ms != 0 && ping_delay_ms > timeout_ms / 2 &&
      data_delay_ms() > timeout_ms / 2 && now_ms - node->link_ctime_ms > timeout_ms) {
    free_link(node);
  }
  if (node->link != 0 && node->ping_sent_ms == 0 && now_ms - node->pong_received_ms > timeout_ms / 2) {
    send_ping(node, node->link, MessageType::ping, now_ms);
    return;
  }
  if (myself_->is_master() && mf_end_ms_ != 0 && mf_replica_ == node && node->link != 0) {
    send_ping(node, node->link, MessageType::ping, now_ms);
    return;
  }
  if (node->ping_sent_ms == 0) return;
  const int64_t node_delay_ms = std::min(ping_delay_ms, data_delay_ms());
  const int64_t pfail_after_ms = bugs_.pfail_early ? timeout_ms / 2 : timeout_ms;
  if (node_delay_ms > pfail_after_ms && !node->has(kFlagPfail | kFlagFail)) {
    node->flags |= kFlagPfail;
    state_update_needed = true;
    event("pfail", node, -1, node_delay_ms);
    // 7.2.5 (redis#12824): a master alone in the cluster gets no failure reports, so it decides alone.
    if (rules_.sole_primary_fails_replica && myself_->is_master() && size_ == 1 &&
        (!rules_.voting_primaries_only || myself_->numslots > 0)) {
      mark_failing_if_needed(node, now_ms);
    }
  }
}

void Node::handle_replica_migration(int max_replicas, int64_t now_ms) {
  // clusterHandleSlaveMigration. Redis takes the first orphan in hash-table order; we take the
  // first by name, which is deterministic and just as arbitrary.
  if (!state_ok_ || myself_->master == nullptr) return;
  ClusterNode* my_master = myself_->master;
  const int ok_replicas = static_cast<int>(std::count_if(my_master->replicas.begin(), my_master->replicas.end(),
                                                         [](const ClusterNode* r) { return !r->failed_or_pfail(); }));
  if (ok_replicas <= config_.cluster_migration_barrier) return;
  ClusterNode* candidate = myself_;
  ClusterNode* target = nullptr;
  for (ClusterNode* node : node_list_) {
    int non_failed_replicas = 0;
    bool orphaned = !node->is_replica() && !node->has(kFlagFail) && node->has(kFlagMigrateTo);
    if (node->is_master()) {
      non_failed_replicas = static_cast<int>(std::count_if(
          node->replicas.begin(), node->replicas.end(), [](const ClusterNode* r) { return !r->has(kFlagFail); }));
      if (non_failed_replicas > 0) orphaned = false;
    }
    if (orphaned) {
      if (target == nullptr && node->numslots > 0) target = node;
      if (node->orphaned_time_ms == 0) node->orphaned_time_ms = now_ms;
    } else {
      node->orphaned_time_ms = 0;
    }
    if (non_failed_replicas == max_replicas) {
      for (ClusterNode* replica : node->replicas) {
        if (replica->name < candidate->name) candidate = replica;
      }
    }
  }
  if (target != nullptr && candidate == myself_ && now_ms - target->orphaned_time_ms > 5000) {  // CLUSTER_SLAVE_MIGRATION_DELAY
    event("replica_migration", target);
    set_my_master(target, now_ms);
    todo_save(true);
    todo_update_state_ = true;
  }
}

}  // namespace rcsim::protocol
