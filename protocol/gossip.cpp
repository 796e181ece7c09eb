// Heartbeats and failure detection: clusterSendPing, clusterProcessGossipSection, failure reports,
// markNodeAsFailingIfNeeded, clearNodeFailureIfNeeded.
#include <algorithm>
#include <cassert>

#include "protocol/node.hpp"

namespace rcsim::protocol {
namespace {

GossipEntry gossip_entry(const ClusterNode& node) {
  GossipEntry entry;
  entry.name_id = node.name_id;
  entry.address_id = node.address_id;
  entry.ping_sent_s = static_cast<uint32_t>(node.ping_sent_ms / 1000);
  entry.pong_received_s = static_cast<uint32_t>(node.pong_received_ms / 1000);
  entry.flags = node.flags;
  return entry;
}

}  // namespace

void Node::send_ping(ClusterNode* to, LinkId link, MessageType type, int64_t now_ms) {
  assert(type == MessageType::ping || type == MessageType::pong || type == MessageType::meet);
  auto message = build_header(type);
  // floor(K/10) entries, at least 3, at most K-2, chosen by up to 3x random draws; then every PFAIL
  // node. K counts every known node, myself and handshake nodes included.
  const int known = static_cast<int>(node_list_.size());
  int fresh_nodes = known - 2;
  int wanted = std::max(known / 10, 3);
  wanted = std::min(wanted, fresh_nodes);
  message->gossip.reserve(static_cast<size_t>(std::max(wanted, 0) + stats_pfail_nodes_));
  if (to == nullptr) to = node_of_link(link);
  if (to != nullptr && type == MessageType::ping) to->ping_sent_ms = now_ms;

  int max_iterations = wanted * 3;
  // Already in the section (clusterNodeIsInGossipSection): node_list_ holds each name once, so a
  // mark per list position answers it without comparing names. The marks' storage is kept.
  std::vector<bool>& picked = gossip_picked_;
  picked.assign(fresh_nodes > 0 ? node_list_.size() : 0, false);
  // In a large table (far from the cache) the picks to come, drawn from copies of the generator,
  // are fetched from memory ahead in two steps: the node_list_ slot 32 draws ahead, then the node it
  // points to (an entry takes its first line) 16 draws ahead; a draw is a few ns, a miss ~100. The
  // real draws are untouched. A small table is in the cache, and the extra draws would only cost.
  // Slots are fetched into L2 only (locality 1): in L1 they took miss buffers from the nodes' lines,
  // and idle 1000 nodes ran 13% slower.
  constexpr size_t kPrefetchFromNodes = 256;
  constexpr int kSlotAhead = 32;
  constexpr int kNodeAhead = 16;
  const bool prefetch = node_list_.size() >= kPrefetchFromNodes && fresh_nodes > 0 && wanted > 0;
  Rng slot_peek = rng_;
  Rng node_peek = rng_;
  auto prefetch_slot = [&] { __builtin_prefetch(&node_list_[slot_peek.below(node_list_.size())], 0, 1); };
  auto prefetch_node = [&] { __builtin_prefetch(node_list_[node_peek.below(node_list_.size())]); };
  if (prefetch) {
    for (int i = 0; i < std::min(kSlotAhead, max_iterations); ++i) prefetch_slot();
    for (int i = 0; i < std::min(kNodeAhead, max_iterations); ++i) prefetch_node();
  }
  while (fresh_nodes > 0 && static_cast<int>(message->gossip.size()) < wanted && max_iterations-- > 0) {
    const uint64_t index = rng_.below(node_list_.size());
    if (prefetch) {
      prefetch_slot();
      prefetch_node();
    }
    ClusterNode* pick = node_list_[index];
    if (pick == myself_ || pick->has(kFlagPfail)) continue;
    if (rules_.receiver_left_out_of_gossip && pick == to) continue;  // 7.4: it knows itself best
    if (pick->has(kFlagHandshake | kFlagNoaddr) || (pick->link == 0 && pick->numslots == 0)) {
      --fresh_nodes;  // never useful to gossip about
      continue;
    }
    if (picked[index]) continue;
    picked[index] = true;
    message->gossip.push_back(gossip_entry(*pick));
    --fresh_nodes;
  }
  int pfail_wanted = stats_pfail_nodes_;
  for (ClusterNode* node : node_list_) {
    if (pfail_wanted <= 0) break;
    if (node->has(kFlagHandshake | kFlagNoaddr) || !node->has(kFlagPfail)) continue;
    message->gossip.push_back(gossip_entry(*node));
    --pfail_wanted;
  }
  // writePingExt (7.2): the shard id, and every node still on the blacklist with its time to live.
  // Valkey 8.0 writes them only to a node it has heard sending extensions, but flags EXT_DATA always.
  const bool extensions = rules_.shard_id_ping_ext && (!rules_.ext_only_to_supporting_peers ||
                                                       (to != nullptr && to->has(kFlagExtensionsSupported)));
  if (extensions || rules_.ext_only_to_supporting_peers) message->mflags |= kMsgFlagExtData;
  message->shard_id_ext = extensions;
  message->shard_id = myself_->shard_id;
  if (extensions && rules_.forgotten_node_ping_ext) {
    for (const auto& [name, until_ms] : blacklist_until_ms_) {
      if (until_ms >= now_ms) message->forgotten.push_back(ForgottenNode{name, (until_ms - now_ms) / 1000});
    }
  }
  send(link, std::move(message));
}

void Node::add_failure_report(ClusterNode* failing, ClusterNode* reporter, int64_t now_ms) {
  for (FailureReport& report : failing->fail_reports) {
    if (report.reporter == reporter) {
      report.time_ms = now_ms;
      return;
    }
  }
  failing->fail_reports.push_back(FailureReport{reporter, now_ms});
}

void Node::del_failure_report(ClusterNode* failing, ClusterNode* reporter) {
  auto& reports = failing->fail_reports;
  reports.erase(std::remove_if(reports.begin(), reports.end(),
                               [&](const FailureReport& r) { return r.reporter == reporter; }),
                reports.end());
}

int Node::count_failure_reports(ClusterNode* node, int64_t now_ms) {
  // clusterNodeCleanupFailureReports: reports older than 2 x node timeout expire.
  const int64_t max_age_ms = config_.cluster_node_timeout_ms * 2;  // CLUSTER_FAIL_REPORT_VALIDITY_MULT
  if (!bugs_.failure_reports_never_expire) {
    auto& reports = node->fail_reports;
    reports.erase(std::remove_if(reports.begin(), reports.end(),
                                 [&](const FailureReport& r) { return now_ms - r.time_ms > max_age_ms; }),
                  reports.end());
  }
  return static_cast<int>(node->fail_reports.size());
}

void Node::mark_failing_if_needed(ClusterNode* node, int64_t now_ms) {
  const int needed_quorum = bugs_.fail_without_majority ? 1 : size_ / 2 + 1;
  if (!node->has(kFlagPfail) || node->has(kFlagFail)) return;
  int failures = count_failure_reports(node, now_ms);
  // 7.0 counts itself as any master, slots or not; Valkey 8.0 only as a master with slots.
  if (myself_->is_master() && (!rules_.voting_primaries_only || myself_->numslots > 0)) ++failures;
  if (failures < needed_quorum) return;
  node->flags &= static_cast<uint16_t>(~kFlagPfail);
  node->flags |= kFlagFail;
  node->fail_time_ms = now_ms;
  std::string reporters;
  for (const FailureReport& report : node->fail_reports) reporters += " " + report.reporter->name.str().substr(0, 8) + "@" + std::to_string(now_ms - report.time_ms);
  event("fail", node, -1, failures, "reports " + std::to_string(failures) + "/" + std::to_string(needed_quorum) + reporters);
  // Tell everyone (the failing node included) so they don't wait for their own majority.
  auto message = build_header(MessageType::fail);
  message->about = node->name;
  broadcast(message);
  todo_update_state_ = true;
  todo_save(false);
}

void Node::clear_failure_if_needed(ClusterNode* node, int64_t now_ms) {
  assert(node->has(kFlagFail));
  const bool serves_nothing = node->is_replica() || node->numslots == 0;
  const bool nobody_took_over =
      node->is_master() && node->numslots > 0 &&
      now_ms - node->fail_time_ms > config_.cluster_node_timeout_ms * 2;  // CLUSTER_FAIL_UNDO_TIME_MULT
  if (!serves_nothing && !nobody_took_over) return;
  node->flags &= static_cast<uint16_t>(~kFlagFail);
  todo_update_state_ = true;
  todo_save(false);
  event("fail_cleared", node, -1, -1, serves_nothing ? "reachable and serves no slots" : "master back, nobody took over");
}

void Node::process_gossip(ClusterNode* sender, const Message& message, int64_t now_ms) {
  // Fetched from memory ahead, in two steps: the by_name_id_ slot of the entry 16 ahead (into L2,
  // as for picks), then the node of the entry 8 ahead (its slot has arrived by then).
  constexpr size_t kSlotAhead = 16;
  constexpr size_t kNodeAhead = 8;
  const std::vector<GossipEntry>& entries = message.gossip;
  auto prefetch_slot = [&](size_t k) {
    const uint32_t id = entries[k].name_id;
    if (id < by_name_id_.size()) __builtin_prefetch(&by_name_id_[id], 0, 1);
  };
  for (size_t k = 0; k < std::min(kSlotAhead, entries.size()); ++k) prefetch_slot(k);
  for (size_t k = 0; k < std::min(kNodeAhead, entries.size()); ++k) __builtin_prefetch(lookup_name_id(entries[k].name_id));
  // Whether the sender's word counts as a failure report (Valkey 8.0: a master with slots), once per message.
  const bool reporter = sender != nullptr && sender->is_master() && (!rules_.voting_primaries_only || sender->numslots > 0);
  for (size_t k = 0; k < entries.size(); ++k) {
    const GossipEntry& entry = entries[k];
    if (k + kSlotAhead < entries.size()) prefetch_slot(k + kSlotAhead);
    if (k + kNodeAhead < entries.size()) __builtin_prefetch(lookup_name_id(entries[k + kNodeAhead].name_id));
    // Applying entries never removes a node, but an earlier entry may have added this one's name.
    ClusterNode* node = lookup_name_id(entry.name_id);
    const uint16_t flags = entry.flags;
    if (node == nullptr) {
      // Learned from a known member: added at once under its real name, no handshake.
      const NodeName name = interner_.names.value(entry.name_id);
      const auto black = blacklist_until_ms_.find(name);
      const bool blacklisted = black != blacklist_until_ms_.end() && black->second > now_ms;
      if (sender != nullptr && !(flags & kFlagNoaddr) && !blacklisted) {
        ClusterNode* added = create_node(name, flags, now_ms);
        set_address(added, interner_.addresses.value(entry.address_id));
        todo_save(false);
        event("node_discovered", added);
      }
      continue;
    }
    assert(node->name_id == entry.name_id);
    if (reporter && node != myself_) {
      if (flags & (kFlagFail | kFlagPfail)) {
        add_failure_report(node, sender, now_ms);
        mark_failing_if_needed(node, now_ms);
      } else {
        del_failure_report(node, sender);
      }
    }
    // Borrow a fresher pong time, but never while we have our own doubts about the node.
    if (!(flags & (kFlagFail | kFlagPfail)) && node->ping_sent_ms == 0 && count_failure_reports(node, now_ms) == 0) {
      const int64_t pong_ms = int64_t{entry.pong_received_s} * 1000;
      if (pong_ms <= now_ms + 500 && pong_ms > node->pong_received_ms) node->pong_received_ms = pong_ms;
    }
    // Equal ids are equal addresses (interned).
    if (node->has(kFlagFail | kFlagPfail) && !(flags & (kFlagNoaddr | kFlagPfail | kFlagFail)) &&
        node->address_id != entry.address_id && node != myself_) {
      set_address(node, interner_.addresses.value(entry.address_id));
      free_link(node);
      node->flags &= static_cast<uint16_t>(~kFlagNoaddr);
      todo_save(false);
    }
  }
}

void Node::process_ping_extensions(ClusterNode* sender, const Message& message, int64_t now_ms) {
  // clusterProcessPingExtensions (7.2): a node the sender forgot is forgotten here too, for the time
  // the sender has left on it, unless it is myself or my master. The sender's shard id is taken, and
  // a replica takes its master's (updateShardId).
  if (message.shard_id_ext) {
    sender->shard_id = message.shard_id;
    if (myself_->master == sender) myself_->shard_id = message.shard_id;
  }
  for (const ForgottenNode& forgotten : message.forgotten) {
    ClusterNode* node = lookup(forgotten.name);
    if (node == nullptr || node == myself_ || (myself_->is_replica() && myself_->master == node)) continue;
    assert(node != sender && "a node cannot forget itself");
    blacklist_until_ms_[forgotten.name] = now_ms + forgotten.ttl_s * 1000;
    event("forget", node, -1, -1, "told by " + sender->name.str().substr(0, 8));
    delete_node(node);
    todo_update_state_ = true;
    todo_save(false);
  }
}

}  // namespace rcsim::protocol
