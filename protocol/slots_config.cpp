// Slot ownership and epochs: clusterUpdateSlotsConfigWith, UPDATE, configEpoch collisions, bumps
// without consensus, clusterSetMaster.
#include <algorithm>
#include <cassert>

#include "protocol/node.hpp"

namespace rcsim::protocol {
namespace {

// Copy-on-write: a bitmap shared with messages or other nodes is copied before it changes.
SlotBitmap& mutable_slots(ClusterNode* node) {
  if (node->slots.use_count() != 1) node->slots = std::make_shared<SlotBitmap>(*node->slots);
  return const_cast<SlotBitmap&>(*node->slots);  // created non-const by make_shared above
}

}  // namespace

void Node::set_slot_owner(int slot, ClusterNode* owner) {
  assert(owner != nullptr && owner->is_master());
  if (slots_[slot] == owner) return;
  if (slots_[slot] != nullptr) clear_slot(slot);
  slots_[slot] = owner;
  mutable_slots(owner).set(slot);
  ++owner->numslots;
  owner_not_claiming_slot_[slot] = false;
}

void Node::clear_slot(int slot) {
  ClusterNode* owner = slots_[slot];
  if (owner == nullptr) return;
  mutable_slots(owner).reset(slot);
  --owner->numslots;
  assert(owner->numslots >= 0);
  slots_[slot] = nullptr;
  owner_not_claiming_slot_[slot] = false;
}

Epoch Node::max_epoch() const {
  Epoch max = current_epoch_;
  for (const ClusterNode* node : node_list_) max = std::max(max, node->config_epoch);
  return max;
}

void Node::update_slots_config_with(ClusterNode* sender, Epoch sender_config_epoch, const SlotBitmap& claimed) {
  if (sender == myself_) return;
  ClusterNode* current_master = myself_->is_master() ? myself_ : myself_->master;
  ClusterNode* new_master = nullptr;
  int migrated_our_slots = 0;
  int moved = 0;
  int64_t max_previous_epoch = -1;  // greatest configEpoch among the owners that lost a slot
  for (size_t slot = claimed._Find_first(); slot < claimed.size(); slot = claimed._Find_next(slot)) {
    ClusterNode* owner = slots_[slot];
    if (owner == sender) {
      owner_not_claiming_slot_[slot] = false;
      continue;
    }
    if (importing_slots_from_.contains(static_cast<int>(slot))) continue;  // manual resharding owns it
    if (owner == nullptr || owner_not_claiming_slot_[slot] || owner->config_epoch < sender_config_epoch ||
        bugs_.ignore_config_epoch_on_claims) {
      if (owner != nullptr && !owner_not_claiming_slot_[slot]) {
        max_previous_epoch = std::max(max_previous_epoch, static_cast<int64_t>(owner->config_epoch));
      }
      if (owner == current_master && current_master != nullptr) {
        new_master = sender;
        ++migrated_our_slots;
      }
      set_slot_owner(static_cast<int>(slot), sender);
      ++moved;
    }
  }
  // Slots the sender owns in my table but no longer claims stay bound, flagged (7.0.15, #12344).
  if (sender->numslots > 0) {
    const SlotBitmap& owned = *sender->slots;
    for (size_t slot = owned._Find_first(); slot < owned.size(); slot = owned._Find_next(slot)) {
      if (!claimed.test(slot)) owner_not_claiming_slot_[slot] = true;
    }
  }
  if (moved > 0) {
    todo_save(true);
    todo_update_state_ = true;
    event("slots_rebound", sender, static_cast<int64_t>(sender_config_epoch), max_previous_epoch,
          std::to_string(moved) + " slots");
  }
  if (new_master != nullptr && current_master->numslots == 0 &&
      (config_.cluster_allow_replica_migration || static_cast<int>(claimed.count()) == migrated_our_slots)) {
    // A master (or the replicas of one) that lost its last slot follows the node that took it.
    set_my_master(sender, 0);
    todo_save(true);
    todo_update_state_ = true;
  } else if (myself_->master != nullptr && myself_->master->master != nullptr &&
             myself_->master->master != myself_) {
    set_my_master(myself_->master->master, 0);  // no sub-replicas
  }
}

void Node::handle_config_epoch_collision(ClusterNode* sender, int64_t /*now_ms*/) {
  // clusterHandleConfigEpochCollision: the node with the smaller name moves to a fresh epoch.
  if (sender->config_epoch != myself_->config_epoch || !sender->is_master() || !myself_->is_master()) return;
  if (bugs_.collision_ignored) return;
  if (!(sender->name > myself_->name)) return;
  ++current_epoch_;
  myself_->config_epoch = current_epoch_;
  save_now(true);
  event("config_epoch_collision", sender, static_cast<int64_t>(myself_->config_epoch));
}

bool Node::bump_config_epoch_without_consensus() {
  const Epoch max = max_epoch();
  if (myself_->config_epoch == 0 || myself_->config_epoch != max) {
    ++current_epoch_;
    myself_->config_epoch = current_epoch_;
    todo_save(true);
    event("config_epoch_bumped", nullptr, static_cast<int64_t>(myself_->config_epoch));
    return true;
  }
  return false;
}

void Node::send_update(ClusterNode* to, const ClusterNode* about) {
  if (to->link == 0) return;
  auto message = build_header(MessageType::update);
  message->about = about->name;
  message->update_config_epoch = about->config_epoch;
  message->update_slots = about->slots;
  event("update_sent", to, static_cast<int64_t>(about->config_epoch), -1, "about " + about->name.str().substr(0, 8));
  send_to(to, std::move(message));
}

void Node::set_my_master(ClusterNode* master, int64_t /*now_ms*/) {
  // clusterSetMaster
  assert(master != myself_);
  if (myself_->is_master()) {
    myself_->flags &= static_cast<uint16_t>(~(kFlagMaster | kFlagMigrateTo));
    myself_->flags |= kFlagSlave;
    migrating_slots_to_.clear();
    importing_slots_from_.clear();
  } else if (myself_->master != nullptr) {
    remove_replica(myself_->master, myself_);
  }
  myself_->master = master;
  add_replica(master, myself_);
  if (rules_.shard_id_ping_ext) myself_->shard_id = master->shard_id;  // 7.2: a replica is in its master's shard
  reset_manual_failover();
  // Valkey 8.0: an election scheduled (or run) under the old master says nothing about the new one.
  if (rules_.auth_time_reset_on_new_master) failover_auth_time_ms_ = 0;
  event("replicating", master);
}

}  // namespace rcsim::protocol
