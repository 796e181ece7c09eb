#pragma once
// Fuzzing seeds (TigerBeetle's VOPR, FoundationDB's simulation): a seed generates a whole scenario
// (cluster, Redis config, network, fault schedule), spelled out as a plain scenario file, ending with
// every fault healed and a quiet period that must converge. Failures are reduced by shrinking.
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/scenario.hpp"

namespace rcsim::sim {

struct FuzzOptions {
  std::vector<std::string> known_bugs;  // switched on in every generated scenario
  protocol::ServerVersion version = protocol::ServerVersion::redis_7_0;  // every generated cluster's
};

// What a seed may inject. Swarm testing (Groce et al., ISSTA 2012; TigerBeetle's VOPR): each seed first
// draws which kinds are on and their weights, so most seeds leave most kinds out and reach the deep
// states that the other kinds would interrupt.
enum class FaultKind : uint8_t {
  partition, partition3, isolate, one_way_cut, flap, kill, power_loss, lose_disk, pause, masters_together,
  failover, failover_force, failover_takeover, failovers_together, clock_skew, lossy_link, slow_link, config_set,
  rolling_restart
};
inline constexpr int kFaultKindCount = 19;
// Not drawn: migrate_slots. A reshard cut by a fault leaves slots open (MIGRATING/IMPORTING) until an
// operator runs `redis-cli --cluster fix`, which the simulator does not model, so such a seed could
// never be required to converge.
std::string_view fault_kind_name(FaultKind kind);

struct Swarm {
  std::array<int, kFaultKindCount> weight{};  // 0: the kind is off in this seed; else 1-4
  int faults = 0;                             // faults drawn (a fault and its undoing count once)
  int victim_masters = 0;                     // half the node faults fall on this many masters
  bool clustered = false;                     // each fault starts at a detection or election offset of the last
};

struct FuzzCase {
  Scenario scenario;
  Swarm swarm;
  std::array<int, kFaultKindCount> faults_drawn{};  // per kind, what the schedule holds
};

// Deterministic: the same seed and options give the same case.
FuzzCase generate_fuzz_case(uint64_t seed, const FuzzOptions& options);
Scenario generate_fuzz_scenario(uint64_t seed, const FuzzOptions& options);

// What went wrong, as one stable word: the first violated invariant, "liveness", "expectation",
// "cluster_not_created", or "" when the run passed. Crashes are named by the caller (they kill the
// process running the seed).
struct FuzzVerdict {
  std::string signature;
  std::string detail;
  std::string trace_sha256;
  int64_t violation_at_us = -1;  // when the invariant broke; -1 for the other signatures
  // What the run reached, for a campaign's coverage: protocol events by kind ("election_won"), votes
  // refused by rule ("vote_refused:already_voted").
  std::map<std::string, uint64_t> events;
};
FuzzVerdict run_fuzz_case(const Scenario& scenario);

// Shrinking: the run cut a second after a safety violation; fewer nodes (masters no action names, then
// masters and replica places in bulk, then one by one); delta debugging over the faults (halves, then
// quarters, ... then single faults; a fault goes with the actions that end it, and the quiet period's
// restore stays); time (faults shorter and earlier); values (Redis and network defaults). Each step is
// kept while the same signature fails; a single fault or node step that no longer fails is retried
// under other seeds (the repro carries its seed), 8 of them, and when nothing helps 32, then 128. Until
// that finds nothing or four fifths of `max_runs` were spent; then single replicas, one at a time, the
// cluster written as an imported one (its CLUSTER NODES text), with what is left of the budget. Each fault
// left gets a `why` note: what the run does without it; a fault the run fails the same way without goes.
using FuzzRunner = std::function<FuzzVerdict(const Scenario&)>;
struct ShrinkResult {
  Scenario minimal;
  int runs = 0;
};
ShrinkResult shrink(const Scenario& failing, const FuzzVerdict& failure, const FuzzRunner& run, int max_runs);
// A scenario's size: actions plus nodes; its faults: actions that are not the end of another's fault
// or the quiet period's restore.
int scenario_size(const Scenario& scenario);
int fault_count(const Scenario& scenario);

}  // namespace rcsim::sim
