#pragma once
// Scenario files: the plain, typed form of a scenario JSON file (scenarios/README.md is the user
// reference), its parser/validator and its writer. Pure data: nothing here runs a simulation.
//
// Node aliases are fixed by the cluster shape (ClusterSpec): masters m1..mN (ports 30001..), then
// replicas r1..rK (K = N × replicas_per_master, ports continue), then spares s1..sS. Replica rk
// starts replicating master m(((k-1) mod N) + 1). Node index i (0-based, that order) has port 30001+i.
// An imported cluster numbers its masters and its replicas each in the file's order.
// References to nodes in actions and expectations are NodeRefs: an alias, or a selector resolved by
// the world when the action fires (or the expectation is checked).
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "protocol/config.hpp"
#include "protocol/time.hpp"
#include "sim/cluster_layout.hpp"
#include "sim/network.hpp"  // LatencyShape
#include "sim/placement.hpp"

namespace rcsim::sim {

inline constexpr int kScenarioMaxMasters = 1000;
inline constexpr int kScenarioMaxReplicasPerMaster = 5;
inline constexpr int kScenarioMaxSpares = 100;
inline constexpr int kScenarioFirstPort = 30001;
inline constexpr int kScenarioSlots = 16384;

// ---- node references ----------------------------------------------------------------------------

// A node, named statically (alias) or by a selector chain resolved at the moment of use:
//   base:  `alias` (e.g. "m1"), or, when `master_of_slot` is set, the master serving that slot;
//   then each step of `steps`, in order: ReplicaOf → the first replica (alias order) currently
//   replicating the node so far; MasterOf → the master the node so far currently replicates (a
//   master is its own master_of).
// {"replica_of": {"master_of_slot": 0}} is {alias "", master_of_slot 0, steps {ReplicaOf}}.
struct NodeRef {
  enum class Step : uint8_t { ReplicaOf, MasterOf };
  std::string alias;                  // empty when master_of_slot is set
  std::optional<int> master_of_slot;  // 0..16383
  std::vector<Step> steps;

  static NodeRef of_alias(std::string a) { return NodeRef{std::move(a), std::nullopt, {}}; }
  bool is_alias() const { return !master_of_slot && steps.empty(); }
  bool operator==(const NodeRef&) const = default;
};
// "m1", "replica_of(master_of_slot(0))": for traces and messages.
std::string describe(const NodeRef& ref);

// ---- cluster --------------------------------------------------------------------------------------

enum class TimerPhase : uint8_t { InPhase, Staggered };
// How the cluster comes to be before scenario time 0: as `redis-cli --cluster create` makes it
// (MEET, ADDSLOTS, REPLICATE: O(N^2) handshakes, minutes of wall time at 1000 nodes), or with every
// node booting from the nodes.conf that creation leaves (World::restart_as_created_cluster).
enum class CreateMode : uint8_t { RedisCli, NodesConf };

struct ConfigSetting {
  std::string name;   // canonical Redis name (aliases such as cluster-slave-* are rewritten)
  std::string value;  // canonical value as protocol::Config::get prints it ("5000", "yes")
  bool operator==(const ConfigSetting&) const = default;
};

struct ClusterSpec {
  int masters = 3;              // 1..1000 (required in the file, unless imported)
  int replicas_per_master = 1;  // 0..5; 0 when imported
  int spares = 0;               // 0..100: empty nodes outside the cluster, for `meet`
  TimerPhase timer_phase = TimerPhase::InPhase;
  CreateMode create = CreateMode::RedisCli;  // NodesConf when imported
  protocol::ServerVersion version = protocol::ServerVersion::redis_7_0;  // cluster.version: every node's
  std::vector<ConfigSetting> config;  // applied on every node at boot; unique names, sorted by name
  Placement placement;                // cluster.zones / cluster.hosts; zones and hosts in order of first node
  // cluster.from_cluster_nodes / cluster.cluster_nodes: the cluster an operator runs, taken from its
  // CLUSTER NODES text (masters is then its master count): its nodes boot with the file's ids and
  // addresses, and nodes sharing an ip share a host unless the scenario says otherwise.
  std::optional<ImportedCluster> imported;

  int replicas() const { return imported ? imported->layout.size() - masters : masters * replicas_per_master; }
  int node_count() const { return masters + replicas() + spares; }
  // Node index (0-based: masters, replicas, spares) ↔ alias. index_of: nullopt if no such node.
  std::string alias(int index) const;
  std::optional<int> index_of(std::string_view alias) const;
  int port(int index) const { return kScenarioFirstPort + index; }
  // The master index a replica starts replicating; nullopt for masters and spares.
  std::optional<int> initial_master_of(int index) const;
  // "m1..m3, r1..r3" (+ ", s1..s2"): what error messages list.
  std::string alias_summary() const;
  // What the zones and hosts risk (sim/placement.hpp), by alias; empty without zones or hosts.
  std::vector<std::string> placement_risks() const;
  bool operator==(const ClusterSpec&) const = default;
};

// protocol::Config with cluster.config applied (the settings were validated at load).
protocol::Config node_config(const ClusterSpec& cluster);

// ---- network --------------------------------------------------------------------------------------


struct LinkOverride {  // network.links[i]: a directed link's profile, from the start
  std::string from, to;  // aliases
  std::optional<Duration> latency, jitter;
  std::optional<LatencyShape> shape;
  std::optional<double> loss;
  bool both_ways = false;  // also the reverse direction
  bool operator==(const LinkOverride&) const = default;
};

struct ChaosSpec {  // datagram chaos, beyond what TCP does: per message probabilities
  double drop = 0, duplicate = 0, reorder = 0;
  bool operator==(const ChaosSpec&) const = default;
};

enum class TimerWheel : uint8_t { per_host, shared };

struct NetworkSpec {
  Duration latency = Duration::micros(50);  // one way
  Duration jitter = Duration::micros(0);
  LatencyShape shape = LatencyShape::uniform;
  double loss = 0;  // per segment; TCP retransmits, so it shows as delay
  std::vector<LinkOverride> links;
  ChaosSpec chaos;
  int tcp_syn_linear_timeouts = 4;  // the hosts' net.ipv4.tcp_syn_linear_timeouts (Linux >= 6.5: 4; older: 0)
  // Whose timer wheel the hosts' kernel timers (SYN retransmissions) fire on: each host its own phase,
  // or every node on one kernel, as tools/redis-compare's real side runs them.
  TimerWheel timer_wheel = TimerWheel::per_host;
  bool operator==(const NetworkSpec&) const = default;
};

// ---- workload -------------------------------------------------------------------------------------

struct WaitSpec {  // WAIT numreplicas timeout after each write
  int replicas = 1;
  Duration timeout = Duration::millis(100);
  bool operator==(const WaitSpec&) const = default;
};

struct WorkloadSpec {
  int clients = 1;
  double writes_per_s = 100;  // total over all clients
  double reads_per_s = 0;     // total over all clients
  int64_t keys = 1000;        // key space size
  bool hash_tags = false;
  std::string client = "generic";  // sim/client_profiles.hpp: the library whose defaults the clients follow
  // The client's socket timeout, in place of its library's default (Lettuce's command timeout).
  std::optional<Duration> client_timeout;
  std::optional<WaitSpec> wait;
  std::vector<std::string> placement;  // client i sits beside node alias placement[i] (if i < size)
  bool operator==(const WorkloadSpec&) const = default;
};

// ---- timeline -------------------------------------------------------------------------------------

enum class FailoverMode : uint8_t { Default, Force, Takeover };

namespace action {
struct Partition { std::vector<std::vector<NodeRef>> groups; bool operator==(const Partition&) const = default; };
struct Block { NodeRef from, to; bool both_ways = false; bool operator==(const Block&) const = default; };
struct Unblock { NodeRef from, to; bool both_ways = false; bool operator==(const Unblock&) const = default; };
struct Isolate { NodeRef node; bool operator==(const Isolate&) const = default; };
struct Heal { bool operator==(const Heal&) const = default; };
struct Crash { NodeRef node; bool operator==(const Crash&) const = default; };
struct PowerLoss { NodeRef node; bool operator==(const PowerLoss&) const = default; };
struct Restart { NodeRef node; bool operator==(const Restart&) const = default; };
struct LoseDisk { NodeRef node; bool operator==(const LoseDisk&) const = default; };
struct Pause { NodeRef node; bool operator==(const Pause&) const = default; };
struct Resume { NodeRef node; bool operator==(const Resume&) const = default; };
struct ClockSkew {
  NodeRef node;
  Duration offset;  // signed: node clock = true time + offset (replaces an earlier skew)
  double drift_ppm = 0;
  bool operator==(const ClockSkew&) const = default;
};
struct Failover { NodeRef node; FailoverMode mode = FailoverMode::Default; bool operator==(const Failover&) const = default; };
struct BumpEpoch { NodeRef node; bool operator==(const BumpEpoch&) const = default; };  // CLUSTER BUMPEPOCH
struct Meet { NodeRef node, target; bool operator==(const Meet&) const = default; };
struct Forget { NodeRef node, target; bool operator==(const Forget&) const = default; };
struct AddSlots { NodeRef node; std::vector<SlotRange> slots; bool operator==(const AddSlots&) const = default; };
struct MigrateSlots { std::vector<SlotRange> slots; NodeRef from, to; bool operator==(const MigrateSlots&) const = default; };
struct ConfigSet {
  std::optional<NodeRef> node;  // nullopt = "all" nodes
  std::string name, value;      // canonical, as in ConfigSetting
  bool operator==(const ConfigSet&) const = default;
};
struct Link {  // changes a directed link's profile from now on; unset fields keep their value
  NodeRef from, to;
  std::optional<Duration> latency, jitter;
  std::optional<LatencyShape> shape;
  std::optional<double> loss;
  bool both_ways = false;
  bool operator==(const Link&) const = default;
};
struct Flap {  // the link between[0] ↔ between[1] goes down at `at`, up at at+period, ...; up at `until`
  std::array<NodeRef, 2> between;
  Duration period;
  Instant until;
  bool operator==(const Flap&) const = default;
};
}  // namespace action

using Action = std::variant<action::Partition, action::Block, action::Unblock, action::Isolate,
                            action::Heal, action::Crash, action::PowerLoss, action::Restart, action::LoseDisk,
                            action::Pause, action::Resume, action::ClockSkew, action::Failover,
                            action::Meet, action::Forget, action::AddSlots, action::MigrateSlots,
                            action::ConfigSet, action::Link, action::Flap, action::BumpEpoch>;

struct TimelineEntry {
  Instant at;
  Action action;
  std::string why;  // optional note ("why" in the file): shrunk repros say why each action is needed
  bool operator==(const TimelineEntry&) const = default;
};
// The JSON key of an action ("partition", "lose_disk", ...).
std::string_view action_name(const Action& action);

// A flap's transitions: (time, down?) pairs, down at `at`, alternating every period, ending with
// an "up" at flap.until (unless the link is already up then). At most kScenarioMaxFlapToggles.
inline constexpr int64_t kScenarioMaxFlapToggles = 100000;
std::vector<std::pair<Instant, bool>> flap_transitions(Instant at, const action::Flap& flap);

// ---- expectations ---------------------------------------------------------------------------------

struct CountBound {  // `is` alone, or min and/or max (min <= max); at least one is set
  std::optional<uint64_t> is, min, max;
  bool operator==(const CountBound&) const = default;
};
struct DurationRange {
  Duration min, max;
  bool operator==(const DurationRange&) const = default;
};

struct NodeSet {  // "all" | "live" | [refs]
  enum class Kind : uint8_t { All, Live, List };
  Kind kind = Kind::Live;
  std::vector<NodeRef> list;
  bool operator==(const NodeSet&) const = default;
};

enum class Role : uint8_t { Master, Replica };
enum class FailoverKind : uint8_t { Auto, Manual, Force, Takeover };

namespace check {
struct ClusterState { NodeSet nodes; bool ok = true; bool operator==(const ClusterState&) const = default; };
struct RoleIs { NodeRef node; Role is = Role::Master; std::optional<NodeRef> of; bool operator==(const RoleIs&) const = default; };
struct SlotOwner {
  int slot = 0;
  NodeRef is;
  std::optional<NodeRef> seen_by;  // nullopt = every live node (or some, with any_viewer)
  bool is_not = false;             // "is_not": each viewer maps the slot to some node other than `is`
  bool any_viewer = false;         // seen_by "any": at least one live node maps the slot so
  bool operator==(const SlotOwner&) const = default;
};
struct CurrentEpoch {
  std::optional<NodeRef> node;  // nullopt = every live node
  CountBound bound;
  bool operator==(const CurrentEpoch&) const = default;
};
struct ConfigEpoch { NodeRef node; CountBound bound; bool operator==(const ConfigEpoch&) const = default; };
struct Failover {
  NodeRef old_master;  // resolved at the start of the run
  std::optional<NodeRef> new_master;
  std::optional<DurationRange> within;  // from the last fault action touching old_master
  std::optional<FailoverKind> mode;
  std::optional<uint64_t> epoch;  // the configEpoch it took on promotion: the epoch its election won
  bool operator==(const Failover&) const = default;
};
struct NoFailover { NodeRef of; bool operator==(const NoFailover&) const = default; };
struct Flag {
  std::optional<NodeRef> seen_by;  // nullopt = every live node except `node`
  NodeRef node;
  bool has = true;   // false: "lacks"
  std::string flag;  // a CLUSTER NODES flag: master, slave, fail?, fail, handshake, noaddr, ...
  bool operator==(const Flag&) const = default;
};
struct LostWrites { std::optional<uint64_t> min, max; bool operator==(const LostWrites&) const = default; };
struct FailoversCount { CountBound bound; bool operator==(const FailoversCount&) const = default; };
// Liveness: every live node agrees on every slot's owner, all slots are served, no two masters share a
// configEpoch, cluster_state ok everywhere (DESIGN §7). Not required, and reported so, when Redis by
// design cannot recover on its own: a replica refused for data age, or a slot owner lost its disk.
struct Converged { bool operator==(const Converged&) const = default; };
}  // namespace check

using Check = std::variant<check::ClusterState, check::RoleIs, check::SlotOwner, check::CurrentEpoch,
                           check::ConfigEpoch, check::Failover, check::NoFailover, check::Flag,
                           check::LostWrites, check::FailoversCount, check::Converged>;

struct Expectation {
  std::optional<Instant> at;  // nullopt = at run_until
  std::string label;
  Check check;
  bool operator==(const Expectation&) const = default;
};
// The JSON key of a check ("cluster_state", "role", ...).
std::string_view check_name(const Check& check);

// ---- the scenario ---------------------------------------------------------------------------------

struct Scenario {
  std::string name;  // [A-Za-z0-9_.-]+, used as a directory name under results/
  std::string description;
  uint64_t seed = 1;
  ClusterSpec cluster;
  NetworkSpec network;
  std::optional<WorkloadSpec> workload;
  std::vector<TimelineEntry> timeline;  // `at` non-decreasing
  Instant run_until;                    // > every action's `at` (and flap `until`)
  std::vector<Expectation> expect;
  std::vector<std::string> known_bugs;  // protocol::known_bug_list() names switched on for this run
  bool operator==(const Scenario&) const = default;
};

struct ScenarioError {
  std::string file;
  std::string json_path;  // JSON Pointer ("/timeline/3/partition"); "" = the whole document
  std::string message;
  // "scenarios/x.json: /timeline/3/partition: expected an array of node groups, got a string"
  std::string text() const;
};

// Load and validate. Never throws, on any input.
// `cluster_nodes_path` (sim --cluster-nodes): boot the cluster of that CLUSTER NODES file instead of the
// scenario's own. A relative cluster.from_cluster_nodes is read from the scenario file's directory.
std::variant<Scenario, ScenarioError> load_scenario_file(const std::string& path, const std::string& cluster_nodes_path = "");
std::variant<Scenario, ScenarioError> parse_scenario(std::string_view json_text, const std::string& file_label,
                                                     const std::string& cluster_nodes_path = "");

// The file form of a scenario: parse_scenario(to_json(s).dump(), ...) == s.
nlohmann::json to_json(const Scenario& scenario);

// `--set NAME=VALUE`: validated through protocol::Config::set, then added to (or replacing) the
// scenario's cluster.config. The error text names the flag.
std::optional<std::string> apply_config_override(Scenario& scenario, std::string_view name_eq_value);
// `--version-profile NAME`: the scenario's cluster.version replaced. The error text names the flag.
std::optional<std::string> apply_version_override(Scenario& scenario, std::string_view profile_name);

}  // namespace rcsim::sim
