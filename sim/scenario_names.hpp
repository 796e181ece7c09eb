#pragma once
// The words of the scenario file form that sim/scenario.cpp reads and sim/scenario_write.cpp writes: the
// names of its enums, and times as text. Internal to those two files.
#include <cassert>
#include <string>
#include <utility>
#include <vector>

#include "sim/scenario.hpp"
#include "sim/time.hpp"

namespace rcsim::sim::scenario_names {

template <typename E>
using Names = std::vector<std::pair<std::string, E>>;

template <typename E>
std::string enum_text(E value, const Names<E>& names) {
  for (const auto& [name, v] : names) {
    if (v == value) return name;
  }
  assert(false && "every enum value has a name");
  return {};
}

inline const Names<TimerPhase> kTimerPhases = {{"in_phase", TimerPhase::InPhase}, {"staggered", TimerPhase::Staggered}};
inline const Names<CreateMode> kCreateModes = {{"redis_cli", CreateMode::RedisCli}, {"nodes_conf", CreateMode::NodesConf}};
// cluster.version: the profiles of protocol/version.hpp, by name.
inline const Names<protocol::ServerVersion> kServerVersions = [] {
  Names<protocol::ServerVersion> names;
  for (const protocol::VersionProfile& profile : protocol::version_profiles()) names.emplace_back(profile.name, profile.version);
  return names;
}();
inline const Names<TimerWheel> kTimerWheels = {{"per_host", TimerWheel::per_host}, {"shared", TimerWheel::shared}};
inline const Names<LatencyShape> kShapes = {
    {"fixed", LatencyShape::fixed}, {"uniform", LatencyShape::uniform}, {"long_tail", LatencyShape::long_tail}};
inline const Names<FailoverMode> kFailoverModes = {
    {"default", FailoverMode::Default}, {"force", FailoverMode::Force}, {"takeover", FailoverMode::Takeover}};
inline const Names<FailoverKind> kFailoverKinds = {{"auto", FailoverKind::Auto},
                                            {"manual", FailoverKind::Manual},
                                            {"force", FailoverKind::Force},
                                            {"takeover", FailoverKind::Takeover}};
inline const Names<Role> kRoles = {{"master", Role::Master}, {"replica", Role::Replica}};
inline const Names<bool> kClusterStates = {{"ok", true}, {"fail", false}};
inline const std::vector<std::string> kClusterNodesFlags = {"myself", "master", "slave", "fail?", "fail",
                                                     "handshake", "noaddr", "nofailover", "noflags"};

inline std::string time_text(Instant t) { return format_duration(Duration{t.us}); }
inline std::string dur_text(Duration d) { return d.us < 0 ? "-" + format_duration(Duration{-d.us}) : format_duration(d); }

}  // namespace rcsim::sim::scenario_names
