#pragma once
// One simulated run: a scheduler, a network, one host per redis-server, the cluster built like
// `redis-cli --cluster create`, fault actions, the trace, and the invariant checker.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "protocol/node.hpp"
#include "sim/cluster_layout.hpp"
#include "sim/host.hpp"
#include "sim/network.hpp"
#include "sim/redis_process.hpp"
#include "sim/scheduler.hpp"
#include "sim/trace.hpp"

namespace rcsim::sim {

struct LinkProfileOverride {
  int from = 0;
  int to = 0;
  LinkProfile profile;
};

struct WorldOptions {
  uint64_t seed = 1;
  int masters = 3;
  int replicas_per_master = 1;
  std::optional<ClusterLayout> layout;  // an imported cluster: replaces masters × replicas_per_master
  int spares = 0;                 // started empty, outside the cluster (for MEET)
  bool staggered_timers = false;  // cron phases spread over the whole 100 ms (else within 5 ms)
  protocol::Config config;
  protocol::KnownBugs bugs;
  LinkProfile default_link;
  std::vector<LinkProfileOverride> link_overrides;
  ChaosOptions chaos;
  SynSchedule syn_schedule;
  bool shared_timer_wheel = false;  // every node on one kernel (network.timer_wheel "shared")
  bool trace_messages = true;     // one trace record per delivered bus message
  bool keep_message_records = true;  // messages(): for sequence diagrams and sweeps (needs trace_messages)
  bool check_minority_bound = true;  // the periodic "minority master stops serving" check
  std::string trace_path;         // trace.jsonl; empty = hash only
};

// Cluster bus messages sent by every node since the world began (what leaves a node, delivered or not).
struct BusTotals {
  uint64_t messages = 0;
  uint64_t bytes = 0;           // wire size
  uint64_t gossip_entries = 0;  // of PING, PONG and MEET: the per-entry work of building and applying them
  uint64_t connects = 0;        // TCP connects opened (cluster bus links, and clients'), refused ones too
};

// A protocol-visible event, kept in memory for the summary, the timeline and the checker.
struct ObservedEvent {
  int64_t t_us = 0;
  int node = -1;
  std::string kind;
  int about = -1;  // node index, -1 when none or unknown
  int64_t epoch = -1;
  int64_t value = -1;
  std::string detail;
  int cluster_size = 0;  // the node's view when it happened (protocol::NodeEvent::cluster_size)
};

struct FailoverRecord {
  int old_master = -1;
  int new_master = -1;
  int64_t epoch = 0;
  std::string mode;
  int64_t fault_ms = -1, first_pfail_ms = -1, fail_ms = -1, election_ms = -1, promoted_ms = -1, converged_ms = -1;
};

// One bus message, for message-sequence diagrams (kept when trace_messages is on).
struct MessageRecord {
  int from = -1;
  int to = -1;
  protocol::MessageType type = protocol::MessageType::ping;
  int64_t sent_us = 0;
  int64_t received_us = -1;  // -1: never arrived (lost with its connection)
  uint64_t epoch = 0;
  uint32_t bytes = 0;
  std::string summary;
};

// A fault touching a node, or its end (heal, unblock, resume, restart): the writes checker's view.
struct FaultRecord {
  int64_t t_us = 0;
  std::string kind;  // crash pause partition block isolate failover | heal unblock resume restart
};

class Workload;  // sim/workload.hpp

// Every invariant the checker holds each run to (DESIGN §7, as Redis 7.0 actually guarantees it).
inline constexpr const char* kInvariantNames[] = {
    "one_vote_per_epoch",          "one_winner_per_epoch_per_slot",    "winner_has_majority",
    "vote_durable_before_ack",     "current_epoch_monotonic",          "config_epoch_le_current_epoch",
    "last_vote_epoch_le_current_epoch", "fail_needs_majority",         "pfail_after_node_timeout",
    "slot_claims_need_greater_config_epoch", "stale_replica_never_elected", "minority_master_stops_serving",
    "lost_write_bound"};

struct InvariantViolation {
  int64_t t_us = 0;
  std::string invariant;
  std::string detail;
};

class World {
 public:
  explicit World(const WorldOptions& options);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // Builds the cluster like redis-cli --cluster create; runs until every node says cluster_state
  // ok, every replica has synced and every node lists every replica under its master (or `limit`).
  // Returns whether it converged.
  bool create_cluster(Duration limit = Duration::seconds(60));
  // The same cluster as create_cluster leaves it, restarted as a whole from nodes.conf files written
  // for it (clusterLoadConfig): for large clusters, where forming by MEET takes minutes of wall
  // time. Runs until every node is ok and every replica synced (or `limit`).
  bool restart_as_created_cluster(Duration limit = Duration::seconds(60));

  Scheduler& scheduler() { return scheduler_; }
  Network& network() { return *network_; }
  Trace& trace() { return trace_; }
  Instant now() const { return scheduler_.now(); }
  void run_until(Instant t) { scheduler_.run_until(t); }
  void run_for(Duration d) { scheduler_.run_until(scheduler_.now() + d); }

  // Nodes: index 0..masters-1 are m1.., then replicas r1.., then spares s1...
  int node_count() const { return static_cast<int>(hosts_.size()); }
  const std::string& alias(int index) const { return aliases_.at(index); }
  std::optional<int> index_of(const std::string& alias) const;
  std::optional<int> index_of_name(const protocol::NodeName& name) const;
  // The node's name as last seen running (a crashed node keeps it).
  const protocol::NodeName& name_of(int index) const { return names_.at(index); }
  bool is_running(int index) const;          // up or paused, with a live process
  bool is_up(int index) const;               // up (not paused, not crashed)
  HostState host_state(int index) const { return hosts_.at(index)->state(); }
  const protocol::Node* node(int index) const;  // nullptr when crashed
  protocol::Node* node(int index);
  RedisProcess* process(int index);
  const protocol::Address& address(int index) const { return addresses_.at(index); }
  // The layout the cluster boots with (WorldOptions::layout, else redis-cli's for masters × replicas).
  const ClusterLayout& layout() const { return layout_; }
  int masters() const { return layout_.masters; }  // at boot: node indexes 0..masters()-1
  int initial_master_of(int replica_index) const;
  int members() const { return layout_.size(); }  // masters + replicas, not spares
  // The slots master m boots with, ascending.
  const std::vector<SlotRange>& initial_slots(int master_index) const;

  // Faults and commands (the scenario timeline's vocabulary).
  void crash(int index);       // kill -9: the node's nodes.conf keeps every write
  void power_loss(int index);  // the node's machine loses power: nodes.conf as last fsynced
  void restart(int index);
  void lose_disk(int index);
  // Set when Redis by design cannot converge on its own (a replica refused for data age, a node
  // serving slots lost its disk, or a viewer keeps a former master's stale claim at the configEpoch
  // of its successor): liveness is then not required.
  struct LivenessExemption {
    std::string rule;    // "cant_failover", "lost_disk", "stale_claim_equal_epoch": for counting
    std::string detail;  // what happened, for people
  };
  std::optional<LivenessExemption> liveness_exemption() const;
  void pause(int index);
  void resume(int index);
  void set_clock(int index, Duration offset, int64_t drift_ppm);
  void partition(const std::vector<std::vector<int>>& groups);
  void block(int from, int to);
  void unblock(int from, int to);
  void isolate(int index);
  void heal();
  // Every link's profile and the chaos settings, as WorldOptions gives them (not traced).
  void set_network(const LinkProfile& default_link, const std::vector<LinkProfileOverride>& links,
                   const ChaosOptions& chaos);
  void set_link(int from, int to, const LinkProfile& profile);
  const LinkProfile& link_profile(int from, int to) const;
  protocol::CommandResult failover(int index, protocol::FailoverMode mode);
  protocol::CommandResult meet(int index, int target);
  protocol::CommandResult forget(int index, int target);
  protocol::CommandResult bump_epoch(int index);  // CLUSTER BUMPEPOCH
  protocol::CommandResult add_slots(int index, const std::vector<int>& slots);
  protocol::CommandResult migrate_slots(const std::vector<int>& slots, int from, int to);
  protocol::CommandResult config_set(int index, const std::string& name, const std::string& value);

  // Observation.
  const std::vector<ObservedEvent>& events() const { return events_; }
  const std::vector<FailoverRecord>& failovers() const { return failovers_; }
  const std::vector<MessageRecord>& messages() const { return messages_; }
  BusTotals bus_sent() const;
  const std::vector<InvariantViolation>& violations() const { return violations_; }
  // Marks a fault touching `index` (for failover timing: fault → promotion).
  void note_fault(int index, const char* kind = "fault");

  // Clients (sim/workload.hpp). A client host placed beside a node shares its network fate:
  // partition, isolate, block and unblock of the node apply to it too.
  HostId host_id(int index) const { return hosts_.at(index)->id(); }
  // The simulated clients know a node by one number, its client port in create-cluster's numbering:
  // 30001 + its index, its address's port too unless the cluster was imported with addresses of its own
  // (then several nodes may listen on 6379, each on its own ip).
  static uint16_t client_port(int index);
  std::optional<int> index_of_port(uint16_t client_port) const;
  // Where a client connects for that number: the node's host and its real client port.
  std::optional<std::pair<HostId, uint16_t>> client_endpoint(uint16_t client_port) const;
  // The number of the node at a protocol address (MOVED and CLUSTER SLOTS replies); 0 if none.
  uint16_t client_port_of(const protocol::Address& address) const;
  Rng fork_rng(std::string_view name) const { return rng_.fork(name); }
  void place_beside(int index, HostId client_host) { beside_[index].push_back(client_host); }
  const std::vector<FaultRecord>& fault_history(int index) const { return fault_history_.at(index); }
  void report_violation(const std::string& invariant, const std::string& detail) { violation(invariant, detail); }
  void attach_workload(std::unique_ptr<Workload> workload);
  Workload* workload() const { return workload_.get(); }
  // Live-node agreement on every slot's owner, all slots served, distinct configEpochs, state ok.
  std::vector<std::string> convergence_problems() const;
  int current_master_of_slot(int slot, int seen_by = -1) const;
  // Per initial shard (master m's slot range, by m): when it was served, i.e. some up master in
  // cluster_state ok claimed its first slot. Only the changes, sampled every 100 ms from
  // start_shard_sampling() on (for report.html; it reads state only, so the run is the same).
  struct ShardSample {
    int64_t t_us = 0;
    bool served = false;
  };
  void start_shard_sampling();
  const std::vector<std::vector<ShardSample>>& shard_availability() const { return shard_availability_; }
  std::string cluster_nodes(int index) const;
  const WorldOptions& options() const { return options_; }

 private:
  std::optional<LivenessExemption> stale_claim_at_equal_epoch() const;  // a liveness_exemption case
  // first_cron: when the process's first serverCron runs after it starts.
  void start_process(int index, Duration first_cron);
  void go_down(int index, bool power_loss);  // crash and power_loss
  // A process ends (killed, or restarted while running): the failure reports it sent age from now,
  // the commands waiting for it to resume are lost.
  void on_process_end(int index);
  void sample_shards();
  void reindex_name(const protocol::NodeName& name);
  // The node's name is now `name`: the old one joins its former names, both are reindexed.
  void set_name(int index, const protocol::NodeName& name);
  void on_node_event(int index, const protocol::NodeEvent& event);
  void on_message(int to, const protocol::Message& message);
  void on_send(int from, const protocol::Message& message, HostId to);
  void check_after_input(int index);
  bool run_until_cluster_ok(Instant deadline);
  // Runs until ok(i) holds for every cluster member i at once, or the deadline.
  template <typename Predicate>
  bool run_until_every_member(const Predicate& ok, Instant deadline);
  void check_convergence_of_failovers();
  void violation(const std::string& invariant, const std::string& detail);
  void check_vote(int voter, const ObservedEvent& e);
  void check_promotion(int winner, const ObservedEvent& e);
  void check_election_won(int winner, const ObservedEvent& e);
  void check_fail_quorum(int marker, const ObservedEvent& e);
  void check_pfail(int observer, const ObservedEvent& e, const protocol::NodeName& about);
  void check_election_start(int candidate, const ObservedEvent& e);
  void check_minority_masters();
  // Running nodes that can pass gossip between them, directly or through others (a link open either
  // way), share a group number; computed on demand, at most once per instant.
  const std::vector<int>& relay_groups();
  int64_t timeout_us(int index) const;
  void trace_action(const char* kind, int node, const std::string& detail = {});
  std::vector<HostId> hosts_with_beside(int index) const;

  WorldOptions options_;
  ClusterLayout layout_;
  Rng rng_;
  Rng node_rng_;
  protocol::Interner interner_;  // names and addresses of every node's tables (protocol/interner.hpp)
  Scheduler scheduler_;
  Trace trace_;
  std::unique_ptr<Network> network_;
  std::vector<std::unique_ptr<Host>> hosts_;
  std::vector<std::string> aliases_;
  std::vector<protocol::Address> addresses_;
  // A port on an ip, compared without building a string: the bus lookup runs for every traced message.
  struct Endpoint {
    protocol::IpText ip;
    uint16_t port = 0;
    bool operator<(const Endpoint& o) const { return port != o.port ? port < o.port : ip.view() < o.ip.view(); }
  };
  std::map<Endpoint, int> index_by_bus_;     // (ip, cport)
  std::map<Endpoint, int> index_by_client_;  // (ip, port)
  std::vector<std::vector<ShardSample>> shard_availability_;
  std::vector<Duration> cron_phase_;  // first serverCron of each node when the cluster boots together
  int64_t clock_base_ms_ = 0;

  std::vector<ObservedEvent> events_;
  std::vector<FailoverRecord> failovers_;
  std::vector<MessageRecord> messages_;
  BusTotals bus_sent_;
  // In-flight messages by (message object, receiver): the address is only a lookup key, never an
  // order, so it cannot reach any output.
  struct InFlight {
    int64_t sent_us = 0;
    size_t record = SIZE_MAX;  // index in messages_, when they are kept
  };
  // The per-message maps below are only looked up, never walked, so their order cannot reach any
  // output. An address reused by a later message means the earlier one was lost: [] overwrites it.
  static uint64_t in_flight_key(const protocol::Message& message, int to);
  protocol::IdMap<InFlight> in_flight_;
  struct HeardFrom {  // by a receiver, from a sender name
    int64_t last_us = -1;  // -1: nothing yet
    // The longest transit of the messages received in each of two windows of 2 x the receiver's node
    // timeout (this one and the one before): a failure report is as old as its message's arrival, but
    // a batch of queued messages can carry one sent long before the last of them.
    // 32 bits each (a window index lasts 49 days at node timeout 1 ms; a transit is under 35 min): a
    // cluster of 2000 nodes has 4M of these.
    int32_t window = -1;
    int32_t window_max_transit_us = 0, previous_window_max_transit_us = 0;
    // The longest transit among the messages received in the last 2 x node timeout, or more.
    int64_t recent_max_transit_us(int64_t now_window) const {
      if (now_window == window) return std::max(window_max_transit_us, previous_window_max_transit_us);
      return now_window == window + 1 ? window_max_transit_us : 0;
    }
  };
  // Per receiver, by the sender name's id in interner_ (every sender's own node interned its name):
  // dense, 24 bytes a pair, where a map by name took ~190 (2000 nodes: 4M pairs).
  std::vector<std::vector<HeardFrom>> heard_;
  HeardFrom& heard_by(int receiver, const protocol::NodeName& sender);
  const HeardFrom* find_heard(int receiver, const protocol::NodeName& sender) const;  // null: never
  std::map<HostId, int> index_by_host_;
  std::vector<InvariantViolation> violations_;
  std::vector<protocol::NodeName> names_;                // last known name of each node
  // Per node, the names it had before (a restart with an empty disk draws a new one): its peers may
  // still read, and count, reports its former identity sent.
  std::vector<std::vector<protocol::NodeName>> former_names_;
  protocol::FlatMap<protocol::NodeName, int> index_by_name_;  // names_ inverted (lowest index)
  // Nodes that handled an input since create_cluster last looked (a node's view changes only then).
  std::vector<uint8_t> touched_flag_;
  std::vector<int> touched_;
  std::vector<int64_t> fault_ms_;                         // last fault per node
  // checker state
  std::vector<uint64_t> max_current_epoch_;                // per node, across restarts (not disk loss)
  std::set<std::pair<int, int64_t>> votes_;                 // (voter, epoch)
  std::map<int64_t, std::vector<std::pair<int, protocol::SlotBitmapPtr>>> winners_by_epoch_;
  std::map<std::pair<int, int64_t>, int> votes_for_;         // (candidate, epoch) -> granted votes
  // Per candidate: ACKs of an earlier election that Redis counted toward the next one (they arrived
  // after it was scheduled, before it started), and whether an election of its is running.
  std::vector<int> carried_acks_;
  std::vector<bool> electing_;
  std::map<std::pair<int, protocol::NodeName>, int64_t> flag_cleared_us_;  // (viewer, node): PFAIL/FAIL gone
  // [i][j]: since when master j has been out of master i's reach (-1: in reach); a row is allocated when
  // i first serves slots as a master.
  std::vector<std::vector<int64_t>> unreachable_since_us_;
  std::vector<int64_t> unreachable_scratch_us_;
  std::vector<int> relay_group_;
  int64_t relay_groups_at_us_ = -1;
  std::vector<std::vector<std::pair<std::string, std::string>>> config_set_at_resume_;  // per paused node
  std::vector<bool> minority_reported_;
  bool slot_owner_lost_disk_ = false;
  // The master each node name last announced it replicates ("replicating"); erased on promotion.
  std::map<protocol::NodeName, protocol::NodeName> last_replica_of_;
  std::map<int, std::vector<HostId>> beside_;              // client hosts placed beside a node
  std::vector<std::vector<FaultRecord>> fault_history_;     // per node, in time order
  std::unique_ptr<Workload> workload_;                      // destroyed before hosts, network, scheduler
  std::vector<int> last_numslots_;
  std::vector<int64_t> last_master_us_;
  std::vector<int64_t> clock_offset_us_;                    // each host's clock offset, as last set
  std::vector<int64_t> clock_step_us_;                      // forward steps of each clock, within a node timeout
  std::vector<int64_t> clock_step_at_us_;                   // and when it happened                     // when each node was last seen a master                          // slots each node served, last seen                       // Redis cannot recover those slots alone
};

}  // namespace rcsim::sim
