#pragma once
// Graphviz views of a simulated run, built with the cgraph C API:
//  - timeline_dot: one horizontal lane per node (plus a "world" lane for cluster-wide actions),
//    time flowing left to right; the meaningful protocol events (PFAIL/FAIL, elections, votes,
//    promotions, configEpoch changes, UPDATEs, cluster_state) and the fault actions, with an edge
//    from every voter to the election it answered. Network cuts shade the lanes they affect.
//  - messages_dot: a Lamport message-sequence diagram of the bus messages sent in a window.
// Same world, same options → same bytes.
#include <filesystem>
#include <optional>
#include <string>

#include "sim/world.hpp"

namespace rcsim::tools {

struct TimelineOptions {
  Instant origin;                          // scenario time 0 (cluster created); labels show times relative to it, in seconds with ms precision
  std::optional<Instant> messages_from;    // absolute; when both set, also write messages.dot (+ .svg)
  std::optional<Instant> messages_to;
};

std::string timeline_dot(const sim::World& world, const TimelineOptions& options);   // the DOT text
std::string messages_dot(const sim::World& world, Instant from, Instant to);          // Lamport message-sequence DOT
// Writes dir/timeline.dot, and dir/timeline.svg when the `dot` program is on PATH (run `dot -Tsvg`; when dot is missing, skip the SVG silently); messages.dot/.svg when the window is set. Returns false only on a write error.
bool write_timeline(const sim::World& world, const TimelineOptions& options, const std::filesystem::path& dir);

}  // namespace rcsim::tools
