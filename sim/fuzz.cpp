#include "sim/fuzz.hpp"

#include "protocol/state.hpp"
#include "sim/run.hpp"

namespace rcsim::sim {

FuzzVerdict run_fuzz_case(const Scenario& scenario) {
  RunOptions options;
  options.keep_message_records = false;  // the verdict reads events and the trace hash, not the message list
  RunResult result = run_scenario(scenario, options);
  FuzzVerdict verdict;
  verdict.trace_sha256 = result.world->trace().sha256();
  for (const ObservedEvent& e : result.world->events()) {
    ++verdict.events[e.kind];
    if (e.kind == "vote_refused") ++verdict.events["vote_refused:" + std::string(protocol::name(static_cast<protocol::VoteRefusal>(e.value)))];
  }
  for (const ExpectationResult& e : result.expectations) {
    // A stuck state Redis cannot leave alone passes with a note: counted by rule, for a campaign to show.
    if (!e.excused_by.empty()) ++verdict.events["liveness_excused:" + e.excused_by];
  }
  if (!result.cluster_created) {
    verdict.signature = "cluster_not_created";
  } else if (!result.world->violations().empty()) {
    verdict.signature = result.world->violations().front().invariant;
    verdict.detail = result.world->violations().front().detail;
    verdict.violation_at_us = result.world->violations().front().t_us;
  } else if (result.failed_expectations() > 0) {
    for (const ExpectationResult& e : result.expectations) {
      if (e.passed) continue;
      verdict.signature = e.label == "liveness" ? "liveness" : "expectation";
      verdict.detail = e.detail;
      break;
    }
  }
  return verdict;
}

}  // namespace rcsim::sim
