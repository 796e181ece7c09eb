#pragma once
// Runs a scenario: builds the World, fires the timeline at its times, checks expectations and
// invariants, and gathers what the outputs (summary.json, nodes.txt, timeline.dot) need.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/known_bugs.hpp"
#include "sim/scenario.hpp"
#include "sim/world.hpp"

namespace rcsim::sim {

struct ExpectationResult {
  std::string label;
  std::string check;  // the JSON key ("cluster_state", ...)
  int64_t at_ms = 0;
  bool passed = false;
  std::string detail;  // what was seen
  std::string excused_by;  // `converged` passed though not converged: the liveness exemption's rule
};

inline constexpr int kShardSamplingMaxMasters = 200;

struct RunOptions {
  std::optional<uint64_t> seed;   // overrides the scenario's
  std::optional<Instant> until;   // overrides run_until
  std::string trace_path;         // trace.jsonl; empty = hash only
  protocol::KnownBugs bugs;
  bool trace_messages = true;
  bool keep_message_records = true;  // World::messages(), for whoever reads them after the run
  // Count the bus from this scenario time on (RunResult::bus_from), not from the cluster's creation: a
  // steady-state window. The run itself is the same.
  std::optional<Instant> bus_from;
  // Sample which shards are served every 100 ms from scenario time 0 (World::shard_availability), for
  // report.html; clusters of at most kShardSamplingMaxMasters masters (it costs masters x shards a sample).
  bool sample_shards = false;
  // After run_until: heal everything, restart crashed nodes, resume paused ones, wait this long and
  // require convergence (the fuzzer's liveness check). Zero = no liveness phase.
  Duration liveness_quiet{};
};

struct RunResult {
  uint64_t seed = 0;
  bool cluster_created = false;
  Instant create_done{};
  // The bus window: from create_done, or RunOptions::bus_from, to the end; its traffic is
  // World::bus_sent() minus bus_at_from.
  Instant bus_from{};
  BusTotals bus_at_from;
  Instant end{};
  std::vector<ExpectationResult> expectations;
  std::vector<std::string> action_errors;       // actions that could not run (e.g. failover refused)
  std::vector<std::string> liveness_problems;   // non-empty: the cluster did not converge
  std::unique_ptr<World> world;

  bool passed() const;
  int failed_expectations() const;
};

RunResult run_scenario(const Scenario& scenario, const RunOptions& options);

// Resolves a node reference now (an alias, or a selector on the current cluster). -1 if nothing.
int resolve(const World& world, const NodeRef& ref);

WorldOptions world_options(const Scenario& scenario, uint64_t seed);

}  // namespace rcsim::sim
