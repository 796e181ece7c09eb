// clusterProcessPacket: what a node does with each bus message.
#include <cassert>

#include "protocol/node.hpp"

namespace rcsim::protocol {

void Node::receive(LinkId link, const Message& message, int64_t now_ms) {
  count_received(message);
  const MessageType type = message.type;
  const bool is_ping_like = type == MessageType::ping || type == MessageType::pong || type == MessageType::meet;

  // getNodeFromLinkAndMsg: the link's node unless it is in handshake, else look the sender up (and
  // bind an unbound inbound link to it).
  ClusterNode* link_node = node_of_link(link);
  ClusterNode* sender = nullptr;
  if (link_node != nullptr && !link_node->in_handshake()) {
    sender = link_node;
  } else {
    sender = lookup(message.sender);
    if (sender != nullptr && link >= kInboundLinkBase && link_node == nullptr && inbound_links_.contains(link)) {
      // setClusterNodeToInboundClusterLink: one inbound link per peer; the older one is freed and
      // its connection closed, so whatever its peer's old process left queued on it is never read.
      if (sender->inbound_link != 0 && sender->inbound_link != link) {
        effects_.io.push_back(CloseLink{sender->inbound_link});
        inbound_links_.erase(sender->inbound_link);
      }
      sender->inbound_link = link;
      inbound_links_[link] = sender;
    }
  }
  if (sender != nullptr) sender->data_received_ms = now_ms;
  // Valkey 8.0: a node that flags EXT_DATA gets ping extensions from now on (until my next restart).
  if (sender != nullptr && rules_.ext_only_to_supporting_peers && (message.mflags & kMsgFlagExtData)) {
    sender->flags |= kFlagExtensionsSupported;
  }

  if (sender != nullptr && !sender->in_handshake()) {
    // Epochs and offsets from the header.
    if (message.current_epoch > current_epoch_) current_epoch_ = message.current_epoch;
    // Any sender, a replica too: its header carries its master's configEpoch, which Redis 7.0.15 records as
    // the replica's own (Valkey 8.0 keeps it to senders that claim to be primaries).
    const bool claims_primary = message.slaveof.empty();
    if (message.config_epoch > sender->config_epoch && (claims_primary || !rules_.epochs_and_slots_from_primaries_only)) {
      sender->config_epoch = message.config_epoch;
      todo_save(true);
      // Valkey 8.1 (#1009, #1339): a master at my election's epoch or later means I cannot win it; schedule
      // a new one now instead of waiting out this one (2 x the election timeout).
      if (rules_.lost_election_reset && failover_auth_time_ms_ != 0 && failover_auth_sent_ &&
          sender->config_epoch >= failover_auth_epoch_) {
        failover_auth_time_ms_ = 0;
        todo_handle_failover_ = true;
        event("election_reset", sender, static_cast<int64_t>(failover_auth_epoch_), static_cast<int64_t>(sender->config_epoch),
              "lost to a claim at epoch " + std::to_string(sender->config_epoch));
      }
    }
    sender->repl_offset = message.offset;
    sender->repl_offset_time_ms = now_ms;
    if (myself_->is_replica() && myself_->master == sender && (message.mflags & kMsgFlagPaused) &&
        mf_end_ms_ != 0 && mf_master_offset_ == -1) {
      mf_master_offset_ = sender->repl_offset;
      todo_handle_manual_failover_ = true;
      event("mf_master_offset", sender, -1, mf_master_offset_);
    }
  }

  if (type == MessageType::ping || type == MessageType::meet) {
    ClusterNode* met = nullptr;
    if (sender == nullptr && type == MessageType::meet) {
      // A MEET from a stranger: add it in handshake under a random name; our cron will PING it.
      // Valkey 8.0 (#778) takes its EXT_DATA flag at once, so the PONG below carries extensions.
      const uint16_t ext = rules_.ext_only_to_supporting_peers && (message.mflags & kMsgFlagExtData) ? kFlagExtensionsSupported : 0;
      met = create_node(NodeName::random(rng_), kFlagHandshake | ext, now_ms);
      set_address(met, message.sender_address);
      todo_save(false);
      event("meet_received", met);
    }
    if (sender == nullptr) process_gossip(nullptr, message, now_ms);
    send_ping(met, link, MessageType::pong, now_ms);
  }

  if (is_ping_like) {
    if (link < kInboundLinkBase && link_node != nullptr) {
      if (link_node->in_handshake()) {
        // As in Redis, the renamed node is not yet the sender of this packet: its config is taken
        // from its next message.
        if (process_handshake_pong(link_node, sender, message)) return;
      } else if (link_node->name != message.sender) {
        // The address now answers with another name: NOADDR until we learn the new one.
        link_node->flags |= kFlagNoaddr;
        set_address(link_node, Address{});
        free_link(link_node);
        todo_save(false);
        return;
      }
    }
    if (sender != nullptr) {
      if (message.sender_flags & kFlagNofailover) sender->flags |= kFlagNofailover;
      else sender->flags &= static_cast<uint16_t>(~kFlagNofailover);
    }
    if (sender != nullptr && type == MessageType::ping && link >= kInboundLinkBase &&
        !(sender->address() == message.sender_address)) {
      set_address(sender, message.sender_address);  // nodeUpdateAddressIfNeeded
      sender->flags &= static_cast<uint16_t>(~kFlagNoaddr);
      free_link(sender);
      todo_save(false);
    }
    if (link < kInboundLinkBase && link_node != nullptr && type == MessageType::pong) {
      link_node->pong_received_ms = now_ms;
      link_node->ping_sent_ms = 0;
      if (link_node->has(kFlagPfail)) {
        link_node->flags &= static_cast<uint16_t>(~kFlagPfail);
        todo_save(false);
        todo_update_state_ = true;
        event("pfail_cleared", link_node);
      } else if (link_node->has(kFlagFail)) {
        clear_failure_if_needed(link_node, now_ms);
      }
    }
    if (sender == nullptr) return;
    process_ping_config(link, sender, message, now_ms);
    return;
  }

  if (sender == nullptr) return;  // only PING/MEET are answered for strangers
  switch (type) {
    case MessageType::fail: {
      ClusterNode* failing = lookup(message.about);
      if (failing != nullptr && !failing->has(kFlagFail | kFlagMyself)) {
        failing->flags |= kFlagFail;
        failing->fail_time_ms = now_ms;
        failing->flags &= static_cast<uint16_t>(~kFlagPfail);
        todo_update_state_ = true;
        todo_save(false);
        event("fail_received", failing, -1, -1, "from " + sender->name.str().substr(0, 8));
      }
      break;
    }
    case MessageType::failover_auth_request:
      send_failover_auth_if_needed(sender, message, now_ms);
      break;
    case MessageType::failover_auth_ack:
      // Counted only from masters serving slots, for this election's epoch.
      if (sender->is_master() && sender->numslots > 0 && message.current_epoch >= failover_auth_epoch_) {
        ++failover_auth_count_;
        todo_handle_failover_ = true;
        event("vote_received", sender, static_cast<int64_t>(message.current_epoch), failover_auth_count_);
      }
      break;
    case MessageType::mfstart:
      if (sender->master != myself_) break;
      reset_manual_failover();
      mf_end_ms_ = now_ms + config_.cluster_manual_failover_timeout_ms;  // CLUSTER_MF_TIMEOUT
      mf_replica_ = sender;
      clients_paused_until_ms_ = now_ms + config_.cluster_manual_failover_timeout_ms * 2;  // CLUSTER_MF_PAUSE_MULT
      event("manual_failover_master_paused", sender);
      send_ping(sender, link, MessageType::ping, now_ms);
      break;
    case MessageType::update: {
      ClusterNode* node = lookup(message.about);
      if (node == nullptr || node->config_epoch >= message.update_config_epoch) break;
      if (node->is_replica()) set_node_as_master(node);
      node->config_epoch = message.update_config_epoch;
      todo_save(true);
      event("update_received", node, static_cast<int64_t>(message.update_config_epoch));
      update_slots_config_with(node, message.update_config_epoch, *message.update_slots);
      break;
    }
    default:
      break;  // PUBLISH: no subscribers are modelled
  }
}

bool Node::process_handshake_pong(ClusterNode* handshake_node, ClusterNode* known_sender, const Message& message) {
  if (known_sender != nullptr) {
    // We met a member we already know under its real name: keep that entry, drop the placeholder.
    if (!(known_sender->address() == message.sender_address)) {
      set_address(known_sender, message.sender_address);
      free_link(known_sender);
      todo_save(false);
    }
    delete_node(handshake_node);
    return true;
  }
  rename_node(handshake_node, message.sender);
  handshake_node->flags &= static_cast<uint16_t>(~kFlagHandshake);
  --handshake_nodes_;
  handshake_node->flags |= message.sender_flags & (kFlagMaster | kFlagSlave);
  todo_save(false);
  event("handshake_completed", handshake_node);
  return false;
}

}  // namespace rcsim::protocol

namespace rcsim::protocol {

// The config part of PING/PONG/MEET from a known sender: role, slots, UPDATE, collisions, gossip.
void Node::process_ping_config(LinkId /*link*/, ClusterNode* sender, const Message& message, int64_t now_ms) {
  if (sender->in_handshake()) return;
  const bool was_replica = sender->is_replica();
  // Role.
  if (message.slaveof.empty()) {
    set_node_as_master(sender);
  } else {
    ClusterNode* master = lookup(message.slaveof);
    if (sender->is_master()) {
      // A master turned replica. 7.4: of a master of its own shard, which took over from it: its slots
      // are that master's now, unless the message is older than what I know of the sender. Before
      // 7.4, and when the new master is in another shard: it serves nothing any more (clusterDelNodeSlots).
      // Valkey 8.0 (#445) makes the successor a master too but leaves the slots bound to the demoted node
      // until the successor claims them itself: neither moved (7.4) nor unbound (7.2).
      const bool shard_rule = rules_.demoted_pong_moves_slots || rules_.demoted_pong_keeps_slots;
      if (shard_rule && master != nullptr && master->shard_id == sender->shard_id) {
        if (sender->config_epoch <= message.config_epoch) {
          set_node_as_master(master);
          if (rules_.demoted_pong_moves_slots) {
            int moved = 0;
            for (int slot = 0; slot < kClusterSlots && sender->numslots > 0; ++slot) {
              if (slots_[slot] != sender) continue;
              set_slot_owner(slot, master);  // clusterMoveNodeSlots
              ++moved;
            }
            event("slots_moved", master, static_cast<int64_t>(message.config_epoch), moved,
                  "from " + sender->name.str().substr(0, 8) + ", which turned its replica");
          }
          master->config_epoch = message.config_epoch;
        }
      } else {
        for (int slot = 0; slot < kClusterSlots && sender->numslots > 0; ++slot) {
          if (slots_[slot] == sender) clear_slot(slot);
        }
      }
      sender->flags &= static_cast<uint16_t>(~(kFlagMaster | kFlagMigrateTo));
      sender->flags |= kFlagSlave;
      todo_save(false);
      todo_update_state_ = true;
      event("role_seen", sender, -1, -1, "replica");
    }
    if (sender->master != master) {
      if (sender->master != nullptr) remove_replica(sender->master, sender);
      if (master != nullptr) add_replica(master, sender);
      sender->master = master;
      todo_save(false);
    }
  }

  // Slots: a master's claim is applied by the configEpoch rule; any stale claim earns an UPDATE.
  ClusterNode* sender_master = sender->is_master() ? sender : sender->master;
  bool dirty = false;
  if (sender_master != nullptr) {
    dirty = !same_slots(sender_master->slots, message.myslots);
    if (!dirty && sender_master->slots != message.myslots) sender_master->slots = message.myslots;  // share memory
  }
  // Valkey 8.0 (#754): only a sender that claims primary speaks for slots, and also when it was a
  // replica in my view (a failover in its shard), not only when its claim changed.
  if (rules_.epochs_and_slots_from_primaries_only) dirty = message.slaveof.empty() && (dirty || was_replica);
  if (sender->is_master() && dirty) update_slots_config_with(sender, message.config_epoch, *message.myslots);
  if (dirty) {
    const SlotBitmap& claimed = *message.myslots;
    for (size_t slot = claimed._Find_first(); slot < claimed.size(); slot = claimed._Find_next(slot)) {
      ClusterNode* owner = slots_[slot];
      if (owner == sender || owner == nullptr || owner_not_claiming_slot_[slot]) continue;
      if (owner->config_epoch > message.config_epoch) {
        send_update(sender, owner);
        break;  // one UPDATE per packet
      }
    }
  }

  if (myself_->is_master() && sender->is_master() && message.config_epoch == myself_->config_epoch) {
    handle_config_epoch_collision(sender, now_ms);
  }
  process_gossip(sender, message, now_ms);
  process_ping_extensions(sender, message, now_ms);
}

}  // namespace rcsim::protocol
