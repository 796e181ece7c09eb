#pragma once
// A Redis Cluster 7.0 node as a sans-IO state machine (clusterState + src/cluster.c). Inputs: tick
// (clusterCron), receive (clusterProcessPacket), link events, admin commands, replication progress;
// before_sleep (clusterBeforeSleep) after each batch of inputs. Outputs: drain() → Effects.
// Randomness comes from the Rng handed in; time only from `now`.
#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/config.hpp"
#include "protocol/effects.hpp"
#include "protocol/flat_map.hpp"
#include "protocol/interner.hpp"
#include "protocol/known_bugs.hpp"
#include "protocol/messages.hpp"
#include "protocol/state.hpp"

namespace rcsim::protocol {

enum class FailoverMode { automatic, manual, force, takeover };
const char* describe(FailoverMode mode);

// What the replication layer tells the cluster layer (src/replication.c server.master /
// repl_down_since / master_last_io): used for data age and offsets.
struct ReplicationStatus {
  bool link_up = false;
  bool ever_synced = false;
  int64_t last_interaction_ms = 0;  // last byte from the master while the link is up
  int64_t down_since_ms = 0;        // when the link dropped (0 with ever_synced=false: "since ever")
  int64_t processed_offset = 0;     // replica: bytes applied; master: master_repl_offset
};

struct CommandResult {
  bool ok = true;
  std::string reply;  // "OK" or the Redis error text
};

class Node {
 public:
  // Boots like Redis: from a nodes.conf text when one exists (clusterLoadConfig), else a fresh node
  // with a random name. `interner` is shared by every node of the simulated world.
  Node(const Config& config, Address address, const std::optional<std::string>& nodes_conf, Rng& rng,
       Interner& interner, int64_t now_ms, KnownBugs bugs = {});
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  ~Node();

  // --- inputs -----------------------------------------------------------------------------------
  void tick(int64_t now_ms);                                // clusterCron
  void receive(LinkId link, const Message& message, int64_t now_ms);
  void link_connected(LinkId link, int64_t now_ms);         // outbound connect completed
  void link_failed(LinkId link, int64_t now_ms);            // connect failed, or either kind closed
  void link_accepted(LinkId link, int64_t now_ms);          // new inbound connection
  void before_sleep(int64_t now_ms);                        // clusterBeforeSleep
  void set_replication(const ReplicationStatus& status) { replication_ = status; }
  // For a host whose disk loses unsynced writes on a crash and which never reads a running node's
  // nodes.conf: saves without fsync can then never be read, and are skipped (writing the text is
  // what costs in a large cluster, which saves on every node it discovers).
  void skip_unsynced_saves(bool skip) { skip_unsynced_saves_ = skip; }

  // --- admin commands (CLUSTER ...) -------------------------------------------------------------
  CommandResult meet(const Address& address, int64_t now_ms);
  CommandResult add_slots(const std::vector<int>& slots, int64_t now_ms);
  CommandResult set_config_epoch(Epoch epoch, int64_t now_ms);
  CommandResult replicate(const NodeName& master, int64_t now_ms);
  CommandResult failover(FailoverMode mode, int64_t now_ms);
  CommandResult forget(const NodeName& name, int64_t now_ms);
  CommandResult bump_epoch(int64_t now_ms);  // CLUSTER BUMPEPOCH: "BUMPED <epoch>" or "STILL <epoch>"
  // SETSLOT <s> IMPORTING <source> / MIGRATING <target>: the same checks but for who must own the slot.
  enum class SlotMove { importing, migrating };
  CommandResult set_slot_moving(int slot, const NodeName& peer, SlotMove move, int64_t now_ms);
  CommandResult set_slot_node(int slot, const NodeName& owner, int64_t now_ms);  // SETSLOT <s> NODE
  CommandResult config_set(std::string_view name, std::string_view value);

  [[nodiscard]] Effects drain();

  // --- introspection ----------------------------------------------------------------------------
  const NodeName& name() const { return myself_->name; }
  const ClusterNode& myself() const { return *myself_; }
  const ClusterNode* find(const NodeName& name) const;
  const std::vector<ClusterNode*>& node_list() const { return node_list_; }  // every node known, in name order
  int handshake_nodes() const { return handshake_nodes_; }  // of node_list(), those still in handshake
  Epoch current_epoch() const { return current_epoch_; }
  Epoch last_vote_epoch() const { return last_vote_epoch_; }
  bool state_ok() const { return state_ok_; }
  int size() const { return size_; }
  const ClusterNode* slot_owner(int slot) const { return slots_[slot]; }
  const Config& config() const { return config_; }
  CantFailoverReason cant_failover_reason() const { return cant_failover_reason_; }
  bool manual_failover_in_progress() const { return mf_end_ms_ != 0; }
  bool clients_paused(int64_t now_ms) const { return mf_end_ms_ != 0 && now_ms < clients_paused_until_ms_; }
  int64_t message_count(MessageType type, bool sent) const;
  int64_t message_bytes(bool sent) const { return sent ? bytes_sent_ : bytes_received_; }
  std::string cluster_nodes(int64_t now_ms) const;  // CLUSTER NODES
  std::string cluster_info() const;                 // CLUSTER INFO
  std::string cluster_slots() const;                // CLUSTER SLOTS, as redis-cli prints the reply
  std::shared_ptr<const std::string> nodes_conf() const;  // nodes.conf contents

 private:
  friend struct NodeInternals;
  // node table (node.cpp)
  ClusterNode* lookup(const NodeName& name);
  ClusterNode* lookup_name_id(uint32_t name_id) const {
    return name_id < by_name_id_.size() ? by_name_id_[name_id].get() : nullptr;
  }
  void set_address(ClusterNode* node, const Address& address);
  void index_by_name_id(std::unique_ptr<ClusterNode> node);
  ClusterNode* create_node(const NodeName& name, uint16_t flags, int64_t now_ms);
  void delete_node(ClusterNode* node);  // clusterDelNode
  void rename_node(ClusterNode* node, const NodeName& new_name);
  void list_insert(ClusterNode* node);  // into node_list_, at its name's place
  void list_erase(ClusterNode* node);
  void add_replica(ClusterNode* master, ClusterNode* replica);
  void remove_replica(ClusterNode* master, ClusterNode* replica);
  void set_node_as_master(ClusterNode* node);  // clusterSetNodeAsMaster
  void free_link(ClusterNode* node);
  ClusterNode* node_of_link(LinkId link);
  void send(LinkId link, std::shared_ptr<const Message> message);
  void send_to(ClusterNode* node, std::shared_ptr<const Message> message);
  void broadcast(const std::shared_ptr<const Message>& message);  // every node with a link, not handshake
  std::shared_ptr<Message> build_header(MessageType type) const;
  void event(const char* kind, const ClusterNode* about, int64_t epoch = -1, int64_t value = -1,
             std::string detail = {});
  void todo_save(bool fsync);
  void save_now(bool fsync);
  void count_received(const Message& message);

  // slots (slots_config.cpp)
  void set_slot_owner(int slot, ClusterNode* owner);
  void clear_slot(int slot);
  void update_slots_config_with(ClusterNode* sender, Epoch sender_config_epoch, const SlotBitmap& claimed);
  void handle_config_epoch_collision(ClusterNode* sender, int64_t now_ms);
  bool bump_config_epoch_without_consensus();
  void send_update(ClusterNode* to, const ClusterNode* about);
  void set_my_master(ClusterNode* master, int64_t now_ms);  // clusterSetMaster
  Epoch max_epoch() const;

  // gossip & failure detection (gossip.cpp)
  void send_ping(ClusterNode* to, LinkId link, MessageType type, int64_t now_ms);
  void process_gossip(ClusterNode* sender, const Message& message, int64_t now_ms);
  void process_ping_extensions(ClusterNode* sender, const Message& message, int64_t now_ms);
  void add_failure_report(ClusterNode* failing, ClusterNode* reporter, int64_t now_ms);
  void del_failure_report(ClusterNode* failing, ClusterNode* reporter);
  int count_failure_reports(ClusterNode* node, int64_t now_ms);
  void mark_failing_if_needed(ClusterNode* node, int64_t now_ms);
  void clear_failure_if_needed(ClusterNode* node, int64_t now_ms);

  // receive paths (receive.cpp)
  void process_ping_config(LinkId link, ClusterNode* sender, const Message& message, int64_t now_ms);
  bool process_handshake_pong(ClusterNode* handshake_node, ClusterNode* known_sender, const Message& message);

  // cron (cron.cpp)
  void cron_node(ClusterNode* node, int64_t now_ms, bool& update_state);
  void handle_replica_migration(int max_replicas, int64_t now_ms);

  // failover (failover.cpp, voting.cpp, manual_failover.cpp)
  void handle_replica_failover(int64_t now_ms);
  int replica_rank() const;
  int failed_primary_rank(int64_t now_ms) const;
  int64_t data_age_ms(int64_t now_ms) const;
  void request_failover_auth(int64_t now_ms);
  void send_failover_auth_if_needed(ClusterNode* requester, const Message& request, int64_t now_ms);
  void failover_replace_my_master(int64_t now_ms);
  void broadcast_pong_to(bool replicas_of_my_master_only);
  void reset_manual_failover();
  void manual_failover_can_start();  // manualFailoverCanStart
  void manual_failover_check_timeout(int64_t now_ms);
  void handle_manual_failover(int64_t now_ms);

  // cluster state (cluster_state.cpp)
  void update_state(int64_t now_ms);

  // nodes.conf (nodes_conf.cpp)
  bool load_config(const std::string& text, int64_t now_ms);
  std::string node_description(const ClusterNode& node, bool for_conf, int64_t now_ms) const;
  // nodes.conf lines of other nodes, each kept with what it was made from: a save rewrites only
  // the lines whose node changed (a big cluster saves often while it forms).
  struct ConfLine {  // names and addresses as Interner ids: 2000 nodes keep 4M of these
    uint32_t name_id = 0;
    uint32_t address_id = 0;
    uint32_t master_name_id = 0;  // 0: no master
    uint16_t flags = 0;
    Epoch epoch = 0;
    int64_t ping_sent_ms = 0;
    int64_t pong_received_ms = 0;
    bool connected = false;
    SlotBitmapPtr slots;  // held, so a change in place copies first (mutable_slots) and shows here
    // The line's text (without its newline) in conf_text_, the last nodes.conf made; length 0: none yet.
    uint32_t text_offset = 0;
    uint32_t text_length = 0;
  };
  bool conf_line_current(const ConfLine& line, const ClusterNode& node) const;
  mutable std::vector<ConfLine> conf_lines_;  // parallel to node_list_
  // The last nodes.conf made, shared with the disk it went to: unchanged lines are copied from it, so the
  // lines are not held twice (2000 nodes: 4M lines).
  mutable std::shared_ptr<const std::string> conf_text_;
  int handshake_nodes_ = 0;                   // entries flagged handshake
  int multi_replica_nodes_ = 0;               // entries with 2 or more replicas listed

  Config config_;
  KnownBugs bugs_;
  VersionRules rules_;  // of config_.version
  Rng& rng_;
  Interner& interner_;
  ClusterNode* myself_ = nullptr;
  std::vector<ClusterNode*> node_list_;  // every node known, in name order: walks and random picks
  // The same nodes by interned name, owned here (every gossip entry is a lookup), null for names not
  // (or no longer) known here. Never walked. (No map by name: 2000 nodes would hold 4M of its ~96-byte
  // entries.)
  std::vector<std::unique_ptr<ClusterNode>> by_name_id_;
  // Links are looked up by id on every message, never walked.
  IdMap<ClusterNode*> outbound_links_;
  IdMap<ClusterNode*> inbound_links_;  // nullptr until bound to a sender
  std::map<NodeName, int64_t> blacklist_until_ms_;          // CLUSTER FORGET
  std::vector<bool> gossip_picked_;                         // send_ping's scratch, by node_list_ position
  LinkId next_link_id_ = 1;
  std::array<ClusterNode*, kClusterSlots> slots_{};
  std::map<int, ClusterNode*> migrating_slots_to_;
  std::map<int, ClusterNode*> importing_slots_from_;
  std::vector<bool> owner_not_claiming_slot_ = std::vector<bool>(kClusterSlots, false);

  Epoch current_epoch_ = 0;
  Epoch last_vote_epoch_ = 0;
  bool state_ok_ = false;
  int size_ = 1;
  int64_t among_minority_time_ms_ = 0;
  int64_t first_update_state_call_ms_ = 0;
  int64_t iteration_ = 0;
  int stats_pfail_nodes_ = 0;

  // election (failover_auth_*)
  int64_t failover_auth_time_ms_ = 0;
  int failover_auth_count_ = 0;
  bool failover_auth_sent_ = false;
  int failover_auth_rank_ = 0;
  int failed_primary_rank_ = 0;  // Valkey 8.1's failover_failed_primary_rank
  Epoch failover_auth_epoch_ = 0;
  CantFailoverReason cant_failover_reason_ = CantFailoverReason::none;

  // manual failover (mf_*)
  int64_t mf_end_ms_ = 0;
  ClusterNode* mf_replica_ = nullptr;  // mf_slave (master side)
  int64_t mf_master_offset_ = -1;
  bool mf_can_start_ = false;
  int64_t clients_paused_until_ms_ = 0;
  FailoverMode pending_mode_ = FailoverMode::automatic;

  ReplicationStatus replication_;

  // todo_before_sleep
  bool todo_save_ = false;
  bool todo_fsync_ = false;
  bool todo_update_state_ = false;
  bool todo_handle_failover_ = false;
  bool todo_handle_manual_failover_ = false;
  bool sent_since_sleep_ = false;  // a socket has output: the event loop comes round at once
  bool skip_unsynced_saves_ = false;

  std::array<int64_t, kMessageTypeCount> sent_by_type_{};
  std::array<int64_t, kMessageTypeCount> received_by_type_{};
  int64_t bytes_sent_ = 0;
  int64_t bytes_received_ = 0;

  Effects effects_;
};

}  // namespace rcsim::protocol
