#pragma once
// Fuzzing seeds (TigerBeetle's VOPR, FoundationDB's simulation): a seed generates a whole scenario
// (cluster, Redis config, network, fault schedule), spelled out as a plain scenario file, ending with
// every fault healed and a quiet period that must converge. Failures are reduced by shrinking.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sim/scenario.hpp"

namespace rcsim::sim {

struct FuzzOptions {
  std::vector<std::string> known_bugs;  // switched on in every generated scenario
};

// Deterministic: the same seed and options give the same scenario.
Scenario generate_fuzz_scenario(uint64_t seed, const FuzzOptions& options);

// What went wrong, as one stable word: the first violated invariant, "liveness", "expectation",
// "cluster_not_created", or "" when the run passed. Crashes are named by the caller (they kill the
// process running the seed).
struct FuzzVerdict {
  std::string signature;
  std::string detail;
  std::string trace_sha256;
};
FuzzVerdict run_fuzz_case(const Scenario& scenario);

// Candidate reductions of a failing scenario, smallest steps first: fewer actions, shorter spans,
// fewer nodes. Each candidate is a valid scenario (checked by re-parsing).
std::vector<Scenario> shrink_candidates(const Scenario& scenario);
// A scenario's size for shrinking: actions plus nodes.
int scenario_size(const Scenario& scenario);

// Greedy shrinking: keeps a candidate while `still_fails(candidate)` holds, until no candidate
// helps or `max_attempts` runs were spent.
Scenario shrink(const Scenario& failing, const std::function<bool(const Scenario&)>& still_fails, int max_attempts);

}  // namespace rcsim::sim
