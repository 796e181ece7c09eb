// Admin commands: CLUSTER MEET / ADDSLOTS / SET-CONFIG-EPOCH / REPLICATE / FORGET / BUMPEPOCH / SETSLOT.
#include <algorithm>

#include "protocol/node.hpp"

namespace rcsim::protocol {

CommandResult Node::meet(const Address& address, int64_t now_ms) {
  if (address.ip.empty() || address.port == 0) return {false, "ERR Invalid node address specified"};
  for (const ClusterNode* node : node_list_) {
    if (node->in_handshake() && node->address() == address) return {true, "OK"};  // already meeting
  }
  ClusterNode* node = create_node(NodeName::random(rng_), kFlagHandshake | kFlagMeet, now_ms);
  set_address(node, address);
  event("meet", node, -1, address.port);
  return {true, "OK"};
}

CommandResult Node::add_slots(const std::vector<int>& slots, int64_t /*now_ms*/) {
  if (myself_->is_replica()) return {false, "ERR Please use SETSLOT only with masters."};
  for (int slot : slots) {
    if (slot < 0 || slot >= kClusterSlots) return {false, "ERR Invalid or out of range slot"};
    if (slots_[slot] != nullptr) return {false, "ERR Slot " + std::to_string(slot) + " is already busy"};
  }
  for (int slot : slots) set_slot_owner(slot, myself_);
  todo_save(false);
  todo_update_state_ = true;
  return {true, "OK"};
}

CommandResult Node::set_config_epoch(Epoch epoch, int64_t /*now_ms*/) {
  if (node_list_.size() > 1) return {false, "ERR The user can assign a config epoch only when the node does not know any other node."};
  if (myself_->config_epoch != 0) return {false, "ERR Node config epoch is already non-zero"};
  myself_->config_epoch = epoch;
  if (current_epoch_ < epoch) current_epoch_ = epoch;
  todo_save(true);
  todo_update_state_ = true;
  return {true, "OK"};
}

CommandResult Node::replicate(const NodeName& master_name, int64_t now_ms) {
  ClusterNode* master = lookup(master_name);
  if (master == nullptr) return {false, "ERR Unknown node " + master_name.str()};
  if (master == myself_) return {false, "ERR Can't replicate myself"};
  if (master->is_replica()) return {false, "ERR I can only replicate a master, not a replica."};
  if (myself_->is_master() && myself_->numslots != 0) {
    return {false, "ERR To set a master the node must be empty and without assigned slots."};
  }
  set_my_master(master, now_ms);
  todo_save(true);
  todo_update_state_ = true;
  return {true, "OK"};
}

CommandResult Node::forget(const NodeName& name, int64_t now_ms) {
  ClusterNode* node = lookup(name);
  if (node == nullptr) return {false, "ERR Unknown node " + name.str()};
  if (node == myself_) return {false, "ERR I tried hard but I can't forget myself..."};
  if (myself_->is_replica() && myself_->master == node) return {false, "ERR Can't forget my master!"};
  blacklist_until_ms_[name] = now_ms + config_.cluster_blacklist_ttl_s * 1000;  // CLUSTER_BLACKLIST_TTL
  event("forget", node);
  delete_node(node);
  todo_save(true);
  todo_update_state_ = true;
  return {true, "OK"};
}

// A new configEpoch without agreement, unless mine is already the largest (and not 0); nobody is told
// at once: peers learn it from my next heartbeats, and my replicas only from those sent to them.
CommandResult Node::bump_epoch(int64_t /*now_ms*/) {
  const bool bumped = bump_config_epoch_without_consensus();
  return {true, std::string(bumped ? "BUMPED " : "STILL ") + std::to_string(myself_->config_epoch)};
}

CommandResult Node::set_slot_moving(int slot, const NodeName& peer_name, SlotMove move, int64_t /*now_ms*/) {
  if (myself_->is_replica()) return {false, "ERR Please use SETSLOT only with masters."};
  if (slot < 0 || slot >= kClusterSlots) return {false, "ERR Invalid or out of range slot"};
  const bool mine = slots_[slot] == myself_;
  if (move == SlotMove::importing && mine) {
    return {false, "ERR I'm already the owner of hash slot " + std::to_string(slot)};
  }
  if (move == SlotMove::migrating && !mine) return {false, "ERR I'm not the owner of hash slot " + std::to_string(slot)};
  ClusterNode* peer = lookup(peer_name);
  if (peer == nullptr) return {false, "ERR I don't know about node " + peer_name.str()};
  if (peer->is_replica()) return {false, "ERR Target node is not a master"};
  (move == SlotMove::importing ? importing_slots_from_ : migrating_slots_to_)[slot] = peer;
  todo_save(false);
  todo_update_state_ = true;
  return {true, "OK"};
}

CommandResult Node::set_slot_node(int slot, const NodeName& owner_name, int64_t now_ms) {
  if (slot < 0 || slot >= kClusterSlots) return {false, "ERR Invalid or out of range slot"};
  if (myself_->is_replica()) return {false, "ERR Please use SETSLOT only with masters."};
  ClusterNode* owner = lookup(owner_name);
  if (owner == nullptr) return {false, "ERR Unknown node " + owner_name.str()};
  if (owner->is_replica()) return {false, "ERR Target node is not a master"};
  const bool was_mine = slots_[slot] == myself_;
  migrating_slots_to_.erase(slot);
  const bool closing_import = owner == myself_ && importing_slots_from_.erase(slot) > 0;
  set_slot_owner(slot, owner);
  if (was_mine && owner != myself_ && myself_->numslots == 0 && config_.cluster_allow_replica_migration) {
    set_my_master(owner, now_ms);  // my last slot left: follow its new owner
  }
  if (closing_import) {
    // The import is final: claim it with a fresh epoch and tell everyone now.
    bump_config_epoch_without_consensus();
    broadcast_pong_to(false);
  }
  todo_save(true);
  todo_update_state_ = true;
  return {true, "OK"};
}

}  // namespace rcsim::protocol
