// Node: construction, the node table, links, sending, effects. The protocol rules live in the other
// files of this folder, one concern each (receive, gossip, cron, failover, voting, slots_config...).
#include "protocol/node.hpp"

#include <algorithm>
#include <cassert>

namespace rcsim::protocol {

const char* describe(FailoverMode mode) {
  switch (mode) {
    case FailoverMode::automatic: return "auto";
    case FailoverMode::manual: return "manual";
    case FailoverMode::force: return "force";
    case FailoverMode::takeover: return "takeover";
  }
  return "?";
}

const char* describe(CantFailoverReason reason) {
  switch (reason) {
    case CantFailoverReason::none: return "none";
    case CantFailoverReason::data_age: return "Disconnected from master for longer than allowed";
    case CantFailoverReason::waiting_delay: return "Waiting the delay before I can start a new failover";
    case CantFailoverReason::expired: return "Failover attempt expired";
    case CantFailoverReason::waiting_votes: return "Waiting for votes, but majority still not reached";
    case CantFailoverReason::nofailover: return "cluster-replica-no-failover is set";
  }
  return "?";
}

const char* describe(VoteRefusal refusal) {
  switch (refusal) {
    case VoteRefusal::none: return "granted";
    case VoteRefusal::request_epoch_stale: return "request epoch is older than my currentEpoch";
    case VoteRefusal::already_voted: return "already voted in this epoch";
    case VoteRefusal::requester_is_master: return "the requester is a master";
    case VoteRefusal::master_unknown: return "the requester's master is unknown";
    case VoteRefusal::master_not_failed: return "its master is not failed (no FORCEACK)";
    case VoteRefusal::voted_recently: return "voted for a replica of this master within 2 x node timeout";
    case VoteRefusal::slot_epoch_greater: return "a claimed slot has an owner with a greater configEpoch";
  }
  return "?";
}

const char* name(VoteRefusal refusal) {
  switch (refusal) {
    case VoteRefusal::none: return "granted";
    case VoteRefusal::request_epoch_stale: return "request_epoch_stale";
    case VoteRefusal::already_voted: return "already_voted";
    case VoteRefusal::requester_is_master: return "requester_is_master";
    case VoteRefusal::master_unknown: return "master_unknown";
    case VoteRefusal::master_not_failed: return "master_not_failed";
    case VoteRefusal::voted_recently: return "voted_recently";
    case VoteRefusal::slot_epoch_greater: return "slot_epoch_greater";
  }
  return "?";
}

Node::Node(const Config& config, Address address, const std::optional<std::string>& nodes_conf, Rng& rng,
           Interner& interner, int64_t now_ms, KnownBugs bugs)
    : config_(config), bugs_(bugs), rules_(profile_of(config.version).rules), rng_(rng), interner_(interner) {
  if (nodes_conf && !nodes_conf->empty() && load_config(*nodes_conf, now_ms)) {
    assert(myself_ != nullptr);
    set_address(myself_, address);
    event("boot", nullptr, static_cast<int64_t>(current_epoch_), -1, "loaded nodes.conf");
  } else {
    // clusterInit without a config file: a new master with a random name, saved with fsync.
    myself_ = create_node(NodeName::random(rng_), kFlagMyself | kFlagMaster, now_ms);
    set_address(myself_, address);
    event("boot", nullptr, 0, -1, "new node");
    save_now(true);
  }
  if (config_.cluster_replica_no_failover) myself_->flags |= kFlagNofailover;
  // #12824 also starts the size at 0, not 1: a master that has not yet counted the masters with slots
  // (clusterUpdateState waits CLUSTER_WRITABLE_DELAY after a boot) must not think itself alone.
  if (rules_.sole_primary_fails_replica) size_ = 0;
}

Node::~Node() = default;

ClusterNode* Node::lookup(const NodeName& name) {
  return lookup_name_id(interner_.names.find(name));  // kAbsent is past every table: nullptr
}

void Node::set_address(ClusterNode* node, const Address& address) {
  node->address_.value = address;
  node->address_id = interner_.addresses.intern(address);
}

const ClusterNode* Node::find(const NodeName& name) const { return const_cast<Node*>(this)->lookup(name); }

ClusterNode* Node::create_node(const NodeName& name, uint16_t flags, int64_t now_ms) {
  assert(lookup(name) == nullptr);
  auto node = std::make_unique<ClusterNode>();
  node->name = name;
  node->name_id = interner_.names.intern(name);
  node->shard_id = node->name_id;
  node->flags = flags;
  node->ctime_ms = now_ms;
  ClusterNode* raw = node.get();
  index_by_name_id(std::move(node));
  list_insert(raw);
  if (raw->in_handshake()) ++handshake_nodes_;
  return raw;
}

void Node::index_by_name_id(std::unique_ptr<ClusterNode> node) {
  if (node->name_id >= by_name_id_.size()) by_name_id_.resize(interner_.names.size());
  assert(by_name_id_[node->name_id] == nullptr);
  by_name_id_[node->name_id] = std::move(node);
}

namespace {
bool name_order(const ClusterNode* a, const ClusterNode* b) { return a->name < b->name; }
}  // namespace

// node_list_ is in name order; a binary search finds a node's place.
void Node::list_insert(ClusterNode* node) {
  const auto at = std::lower_bound(node_list_.begin(), node_list_.end(), node, name_order);
  conf_lines_.emplace(conf_lines_.begin() + (at - node_list_.begin()));
  node_list_.insert(at, node);
}

void Node::list_erase(ClusterNode* node) {
  const auto at = std::lower_bound(node_list_.begin(), node_list_.end(), node, name_order);
  assert(at != node_list_.end() && *at == node);
  conf_lines_.erase(conf_lines_.begin() + (at - node_list_.begin()));
  node_list_.erase(at);
}

void Node::delete_node(ClusterNode* node) {
  assert(node != myself_);
  // Slots it owned become unassigned; its failure reports about others go; it leaves its master.
  for (int slot = 0; slot < kClusterSlots && node->numslots > 0; ++slot) {
    if (slots_[slot] == node) clear_slot(slot);
  }
  for (auto it = importing_slots_from_.begin(); it != importing_slots_from_.end();) {
    it = it->second == node ? importing_slots_from_.erase(it) : std::next(it);
  }
  for (auto it = migrating_slots_to_.begin(); it != migrating_slots_to_.end();) {
    it = it->second == node ? migrating_slots_to_.erase(it) : std::next(it);
  }
  for (ClusterNode* other : node_list_) {
    if (other != node) del_failure_report(other, node);
  }
  if (node->master != nullptr) remove_replica(node->master, node);
  for (ClusterNode* replica : node->replicas) replica->master = nullptr;
  if (mf_replica_ == node) mf_replica_ = nullptr;
  free_link(node);
  if (node->inbound_link != 0) {
    inbound_links_[node->inbound_link] = nullptr;
    effects_.io.push_back(CloseLink{node->inbound_link});
    inbound_links_.erase(node->inbound_link);
  }
  list_erase(node);
  if (node->in_handshake()) --handshake_nodes_;
  if (node->replicas.size() >= 2) --multi_replica_nodes_;
  by_name_id_[node->name_id].reset();  // frees the node
}

void Node::rename_node(ClusterNode* node, const NodeName& new_name) {
  list_erase(node);
  std::unique_ptr<ClusterNode> owned = std::move(by_name_id_[node->name_id]);
  assert(owned.get() == node);
  node->name = new_name;
  node->name_id = interner_.names.intern(new_name);
  index_by_name_id(std::move(owned));
  list_insert(node);
}

void Node::add_replica(ClusterNode* master, ClusterNode* replica) {
  if (std::find(master->replicas.begin(), master->replicas.end(), replica) != master->replicas.end()) return;
  master->replicas.push_back(replica);
  if (master->replicas.size() == 2) ++multi_replica_nodes_;
  // Keep replica lists in name order so every walk over them is deterministic.
  std::sort(master->replicas.begin(), master->replicas.end(), name_order);
  master->flags |= kFlagMigrateTo;
}

void Node::remove_replica(ClusterNode* master, ClusterNode* replica) {
  auto& list = master->replicas;
  const size_t before = list.size();
  list.erase(std::remove(list.begin(), list.end(), replica), list.end());
  if (before >= 2 && list.size() < 2) --multi_replica_nodes_;
  if (list.empty()) master->flags &= static_cast<uint16_t>(~kFlagMigrateTo);
}

void Node::set_node_as_master(ClusterNode* node) {
  if (node->is_master()) return;
  if (node->master != nullptr) {
    remove_replica(node->master, node);
    if (node != myself_) node->flags |= kFlagMigrateTo;
  }
  node->flags &= static_cast<uint16_t>(~kFlagSlave);
  node->flags |= kFlagMaster;
  node->master = nullptr;
  todo_save(false);
  todo_update_state_ = true;
}

void Node::free_link(ClusterNode* node) {
  if (node->link == 0) return;
  effects_.io.push_back(CloseLink{node->link});
  outbound_links_.erase(node->link);
  node->link = 0;
}

ClusterNode* Node::node_of_link(LinkId link) {
  ClusterNode* const* node = link >= kInboundLinkBase ? inbound_links_.find(link) : outbound_links_.find(link);
  return node == nullptr ? nullptr : *node;
}

void Node::link_connected(LinkId link, int64_t now_ms) {
  ClusterNode* node = node_of_link(link);
  if (node == nullptr || link >= kInboundLinkBase) return;  // a link we already freed
  // clusterLinkConnectHandler: MEET or PING at once, keeping an older ping in flight.
  const int64_t old_ping_sent = node->ping_sent_ms;
  send_ping(node, link, node->has(kFlagMeet) ? MessageType::meet : MessageType::ping, now_ms);
  if (old_ping_sent != 0) node->ping_sent_ms = old_ping_sent;
  node->flags &= static_cast<uint16_t>(~kFlagMeet);
}

void Node::link_failed(LinkId link, int64_t /*now_ms*/) {
  if (link >= kInboundLinkBase) {
    ClusterNode* const* sender = inbound_links_.find(link);
    if (sender == nullptr) return;
    if (*sender != nullptr && (*sender)->inbound_link == link) (*sender)->inbound_link = 0;
    inbound_links_.erase(link);
    return;
  }
  ClusterNode* const* found = outbound_links_.find(link);
  if (found == nullptr) return;
  ClusterNode* node = *found;
  assert(node->link == link);
  node->link = 0;
  outbound_links_.erase(link);
}

void Node::link_accepted(LinkId link, int64_t /*now_ms*/) {
  assert(link >= kInboundLinkBase);
  inbound_links_[link] = nullptr;
}

void Node::send(LinkId link, std::shared_ptr<const Message> message) {
  assert(link != 0);
  const auto type_index = static_cast<size_t>(message->type);
  ++sent_by_type_[type_index];
  bytes_sent_ += message->wire_size_bytes();
  sent_since_sleep_ = true;
  effects_.io.push_back(SendMessage{link, std::move(message)});
}

void Node::send_to(ClusterNode* node, std::shared_ptr<const Message> message) {
  if (node->link == 0) return;  // clusterSendMessage ignores a missing link
  send(node->link, std::move(message));
}

void Node::broadcast(const std::shared_ptr<const Message>& message) {
  for (ClusterNode* node : node_list_) {
    if (node == myself_ || node->in_handshake()) continue;
    send_to(node, message);
  }
}

std::shared_ptr<Message> Node::build_header(MessageType type) const {
  // clusterBuildMessageHdr
  auto message = std::make_shared<Message>();
  const ClusterNode* master = (myself_->is_replica() && myself_->master != nullptr) ? myself_->master : myself_;
  message->type = type;
  message->sender = myself_->name;
  message->current_epoch = current_epoch_;
  message->config_epoch = master->config_epoch;
  message->offset = replication_.processed_offset;
  message->myslots = master->slots;
  if (myself_->is_replica() && myself_->master != nullptr) message->slaveof = myself_->master->name;
  message->sender_address = myself_->address();
  message->sender_flags = myself_->flags;
  message->cluster_state_fail = state_ok_ ? 0 : 1;
  if (myself_->is_master() && mf_end_ms_ != 0) message->mflags |= kMsgFlagPaused;
  return message;
}

void Node::event(const char* kind, const ClusterNode* about, int64_t epoch, int64_t value, std::string detail) {
  NodeEvent e;
  e.kind = kind;
  if (about != nullptr) e.about = about->name;
  e.epoch = epoch;
  e.value = value;
  e.detail = std::move(detail);
  e.cluster_size = size_;
  effects_.events.push_back(std::move(e));
}

void Node::todo_save(bool fsync) {
  todo_save_ = true;
  todo_fsync_ = todo_fsync_ || fsync;
}

void Node::save_now(bool fsync) {
  const bool sync = fsync || (effects_.save && effects_.save->fsync);
  if (!sync && skip_unsynced_saves_) return;
  effects_.save = SaveConfig{nodes_conf(), sync};
}

void Node::count_received(const Message& message) {
  ++received_by_type_[static_cast<size_t>(message.type)];
  bytes_received_ += message.wire_size_bytes();
}

int64_t Node::message_count(MessageType type, bool sent) const {
  const auto index = static_cast<size_t>(type);
  return sent ? sent_by_type_[index] : received_by_type_[index];
}

void Node::before_sleep(int64_t now_ms) {
  // clusterBeforeSleep snapshots its todo flags: work flagged while it runs waits for the next
  // event-loop iteration, which is immediate when output is queued (a socket is writable).
  bool output_queued = sent_since_sleep_;
  for (int pass = 0; pass < 3; ++pass) {
    sent_since_sleep_ = false;
    const bool manual = todo_handle_manual_failover_;
    const bool failover = todo_handle_failover_;
    const bool update = todo_update_state_;
    const bool save = todo_save_;
    const bool fsync = todo_fsync_;
    todo_handle_manual_failover_ = todo_handle_failover_ = todo_update_state_ = false;
    todo_save_ = todo_fsync_ = false;
    if (manual) {
      if (myself_->is_replica()) {
        handle_manual_failover(now_ms);
        handle_replica_failover(now_ms);
      }
    } else if (failover) {
      handle_replica_failover(now_ms);
    }
    if (update) update_state(now_ms);
    if (save) save_now(fsync);
    const bool pending = todo_handle_failover_ || todo_handle_manual_failover_ || todo_update_state_ || todo_save_;
    output_queued = output_queued || sent_since_sleep_;
    if (!pending || !output_queued) break;
    output_queued = false;
  }
}

Effects Node::drain() {
  Effects out = std::move(effects_);
  effects_ = Effects{};
  return out;
}

CommandResult Node::config_set(std::string_view name, std::string_view value) {
  if (auto error = config_.set(name, value)) return {false, "ERR CONFIG SET " + std::string(name) + ": " + *error};
  if (name == "cluster-replica-no-failover" || name == "cluster-slave-no-failover") {
    if (config_.cluster_replica_no_failover) myself_->flags |= kFlagNofailover;
    else myself_->flags &= static_cast<uint16_t>(~kFlagNofailover);
  }
  return {true, "OK"};
}

}  // namespace rcsim::protocol
