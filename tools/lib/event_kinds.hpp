#pragma once
// Which node events are a large cluster's crowd and which its protagonists. In a cluster of
// hundreds of nodes every node marks a dead master PFAIL/FAIL, changes cluster_state and (the
// masters) votes: a timeline lane or a summary line per node for those is noise that buries the
// few nodes that acted (were crashed, ran an election, were promoted...).
#include <string>

namespace rcsim::tools {

// Up to this many nodes, the timeline and the human summary show every node.
inline constexpr int kEveryNodeShownUpTo = 32;

// What nearly every node of a large cluster does when one master fails.
inline bool crowd_event_kind(const std::string& kind) {
  return kind == "pfail" || kind == "pfail_cleared" || kind == "fail" || kind == "fail_received" ||
         kind == "fail_cleared" || kind == "vote_granted" || kind == "vote_refused" || kind == "update_received" ||
         kind == "state_ok" || kind == "state_fail";
}

// The timeline actions that end a node's process: kill -9, or its machine losing power.
inline bool kills_process(const std::string& action) { return action == "crash" || action == "power_loss"; }

}  // namespace rcsim::tools
