#pragma once
// What `sim` writes and prints about a run: summary.json, nodes.txt, and the human summary that
// also says why things did not happen, in Redis's own words.
#include <nlohmann/json.hpp>
#include <string>

#include "sim/run.hpp"

namespace rcsim::tools {

struct RunContext {
  std::string scenario_file;
  const sim::Scenario* scenario = nullptr;
  int64_t wall_ms = 0;
};

nlohmann::json summary_json(const sim::RunResult& result, const RunContext& context);
std::string nodes_txt(const sim::World& world);
// One JSON line per acknowledged write that was lost (empty without a workload).
std::string lost_writes_jsonl(const sim::RunResult& result);
// The human summary: what happened and when, why not, the final CLUSTER NODES digest, the verdict.
std::string human_summary(const sim::RunResult& result, const RunContext& context);

}  // namespace rcsim::tools
