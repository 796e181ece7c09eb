#pragma once
// Simulation-side time helpers: the protocol's Instant/Duration plus parsing of "1.5s", "200ms",
// "250us" as used by scenario files and CLI flags.
#include <optional>
#include <string>
#include <string_view>

#include "protocol/time.hpp"

namespace rcsim::sim {

// Parses "<decimal><unit>" with unit us|ms|s|m; at most microsecond precision. nullopt on bad text.
std::optional<Duration> parse_duration(std::string_view text);

// "12.5s", "200ms", "250us": the shortest exact form, the inverse of parse_duration.
std::string format_duration(Duration d);

}  // namespace rcsim::sim
