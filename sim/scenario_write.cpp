// The file form of a scenario (to_json): what parse_scenario reads back to the same Scenario. Split
// from sim/scenario.cpp, the parser; the words they share are in sim/scenario_names.hpp.
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "sim/scenario.hpp"
#include "sim/scenario_names.hpp"
#include "sim/time.hpp"

namespace rcsim::sim {
namespace {

using json = nlohmann::json;
using namespace scenario_names;

json ref_json(const NodeRef& ref) {
  json out = ref.master_of_slot ? json{{"master_of_slot", *ref.master_of_slot}} : json(ref.alias);
  for (NodeRef::Step step : ref.steps) {
    out = json{{step == NodeRef::Step::ReplicaOf ? "replica_of" : "master_of", std::move(out)}};
  }
  return out;
}

json ref_or_all_json(const std::optional<NodeRef>& ref) { return ref ? ref_json(*ref) : json("all"); }

json slots_json(const std::vector<SlotRange>& slots) {
  json out = json::array();
  for (const SlotRange& r : slots) {
    if (r.first == r.last) out.push_back(r.first);
    else out.push_back(std::to_string(r.first) + "-" + std::to_string(r.last));
  }
  return out;
}

json setting_value_json(const std::string& value) {  // "5000" → 5000 (it parses back to "5000")
  if (!value.empty() && value.size() <= 18 && value.find_first_not_of("0123456789") == std::string::npos &&
      (value == "0" || value[0] != '0')) {
    return std::stoll(value);
  }
  return value;
}

template <typename T>
void put_link_profile(json& out, const T& l) {
  if (l.latency) out["latency"] = format_duration(*l.latency);
  if (l.jitter) out["jitter"] = format_duration(*l.jitter);
  if (l.shape) out["shape"] = enum_text(*l.shape, kShapes);
  if (l.loss) out["loss"] = *l.loss;
  if (l.both_ways) out["both_ways"] = true;
}

json action_json(const Action& action) {
  return std::visit(
      [](const auto& a) -> json {
        using A = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<A, action::Partition>) {
          json groups = json::array();
          for (const auto& g : a.groups) {
            json group = json::array();
            for (const NodeRef& r : g) group.push_back(ref_json(r));
            groups.push_back(std::move(group));
          }
          return groups;
        } else if constexpr (std::is_same_v<A, action::Block> || std::is_same_v<A, action::Unblock>) {
          json out{{"from", ref_json(a.from)}, {"to", ref_json(a.to)}};
          if (a.both_ways) out["both_ways"] = true;
          return out;
        } else if constexpr (std::is_same_v<A, action::Heal>) {
          return true;
        } else if constexpr (std::is_same_v<A, action::ClockSkew>) {
          return json{{"node", ref_json(a.node)}, {"offset", dur_text(a.offset)}, {"drift_ppm", a.drift_ppm}};
        } else if constexpr (std::is_same_v<A, action::Failover>) {
          return json{{"node", ref_json(a.node)}, {"mode", enum_text(a.mode, kFailoverModes)}};
        } else if constexpr (std::is_same_v<A, action::Meet> || std::is_same_v<A, action::Forget>) {
          return json{{"node", ref_json(a.node)}, {"target", ref_json(a.target)}};
        } else if constexpr (std::is_same_v<A, action::AddSlots>) {
          return json{{"node", ref_json(a.node)}, {"slots", slots_json(a.slots)}};
        } else if constexpr (std::is_same_v<A, action::MigrateSlots>) {
          return json{{"slots", slots_json(a.slots)}, {"from", ref_json(a.from)}, {"to", ref_json(a.to)}};
        } else if constexpr (std::is_same_v<A, action::ConfigSet>) {
          return json{{"node", ref_or_all_json(a.node)}, {"name", a.name}, {"value", setting_value_json(a.value)}};
        } else if constexpr (std::is_same_v<A, action::Link>) {
          json out{{"from", ref_json(a.from)}, {"to", ref_json(a.to)}};
          put_link_profile(out, a);
          return out;
        } else if constexpr (std::is_same_v<A, action::Flap>) {
          return json{{"between", json::array({ref_json(a.between[0]), ref_json(a.between[1])})},
                      {"period", format_duration(a.period)},
                      {"until", time_text(a.until)}};
        } else {  // Isolate, Crash, PowerLoss, Restart, LoseDisk, Pause, Resume, BumpEpoch
          return ref_json(a.node);
        }
      },
      action);
}

void put_bound(json& out, const CountBound& b) {
  if (b.is) out["is"] = *b.is;
  if (b.min) out["min"] = *b.min;
  if (b.max) out["max"] = *b.max;
}

json check_json(const Check& check) {
  return std::visit(
      [](const auto& c) -> json {
        using C = std::decay_t<decltype(c)>;
        json out = json::object();
        if constexpr (std::is_same_v<C, check::ClusterState>) {
          if (c.nodes.kind == NodeSet::Kind::All) out["nodes"] = "all";
          else if (c.nodes.kind == NodeSet::Kind::Live) out["nodes"] = "live";
          else {
            out["nodes"] = json::array();
            for (const NodeRef& r : c.nodes.list) out["nodes"].push_back(ref_json(r));
          }
          out["is"] = c.ok ? "ok" : "fail";
        } else if constexpr (std::is_same_v<C, check::RoleIs>) {
          out["node"] = ref_json(c.node);
          out["is"] = enum_text(c.is, kRoles);
          if (c.of) out["of"] = ref_json(*c.of);
        } else if constexpr (std::is_same_v<C, check::SlotOwner>) {
          out["slot"] = c.slot;
          out[c.is_not ? "is_not" : "is"] = ref_json(c.is);
          out["seen_by"] = c.any_viewer ? json("any") : ref_or_all_json(c.seen_by);
        } else if constexpr (std::is_same_v<C, check::CurrentEpoch>) {
          out["node"] = ref_or_all_json(c.node);
          put_bound(out, c.bound);
        } else if constexpr (std::is_same_v<C, check::ConfigEpoch>) {
          out["node"] = ref_json(c.node);
          put_bound(out, c.bound);
        } else if constexpr (std::is_same_v<C, check::Failover>) {
          out["old_master"] = ref_json(c.old_master);
          if (c.new_master) out["new_master"] = ref_json(*c.new_master);
          if (c.within) out["within"] = json::array({format_duration(c.within->min), format_duration(c.within->max)});
          if (c.mode) out["mode"] = enum_text(*c.mode, kFailoverKinds);
          if (c.epoch) out["epoch"] = *c.epoch;
        } else if constexpr (std::is_same_v<C, check::NoFailover>) {
          out["of"] = ref_json(c.of);
        } else if constexpr (std::is_same_v<C, check::Flag>) {
          out["seen_by"] = ref_or_all_json(c.seen_by);
          out["node"] = ref_json(c.node);
          out[c.has ? "has" : "lacks"] = c.flag;
        } else if constexpr (std::is_same_v<C, check::LostWrites>) {
          if (c.min) out["min"] = *c.min;
          if (c.max) out["max"] = *c.max;
        } else if constexpr (std::is_same_v<C, check::FailoversCount>) {
          put_bound(out, c.bound);
        } else if constexpr (std::is_same_v<C, check::Converged>) {
          out = true;
        }
        return out;
      },
      check);
}

json domains_json(const std::vector<std::string>& names, const std::vector<int>& domain_of, const ClusterSpec& c) {
  json out = json::object();
  for (const std::string& name : names) out[name] = json::array();
  for (int i = 0; i < static_cast<int>(domain_of.size()); ++i) out[names[domain_of[i]]].push_back(c.alias(i));
  return out;
}

json cluster_json(const ClusterSpec& c) {
  json config = json::object();
  for (const ConfigSetting& s : c.config) config[s.name] = setting_value_json(s.value);
  json out{{"spares", c.spares}, {"timer_phase", enum_text(c.timer_phase, kTimerPhases)}, {"config", std::move(config)}};
  if (c.imported) {
    out["cluster_nodes"] = c.imported->text;
  } else {
    out["masters"] = c.masters;
    out["replicas_per_master"] = c.replicas_per_master;
    out["create"] = enum_text(c.create, kCreateModes);
  }
  // Written only when set, so that every 7.0 scenario reads as it did before versions existed.
  if (c.version != protocol::ServerVersion::redis_7_0) out["version"] = enum_text(c.version, kServerVersions);
  const Placement& p = c.placement;
  if (p.has_zones()) out["zones"] = domains_json(p.zones, p.zone_of, c);
  if (p.has_hosts()) out["hosts"] = domains_json(p.hosts, p.host_of, c);
  return out;
}

json network_json(const NetworkSpec& n) {
  json links = json::array();
  for (const LinkOverride& l : n.links) {
    json link{{"from", l.from}, {"to", l.to}};
    put_link_profile(link, l);
    links.push_back(std::move(link));
  }
  return json{{"latency", format_duration(n.latency)},
              {"jitter", format_duration(n.jitter)},
              {"shape", enum_text(n.shape, kShapes)},
              {"loss", n.loss},
              {"links", std::move(links)},
              {"chaos", {{"drop", n.chaos.drop}, {"duplicate", n.chaos.duplicate}, {"reorder", n.chaos.reorder}}},
              {"tcp_syn_linear_timeouts", n.tcp_syn_linear_timeouts},
              {"timer_wheel", enum_text(n.timer_wheel, kTimerWheels)}};
}

json workload_json(const WorkloadSpec& w) {
  json out{{"clients", w.clients},
           {"writes_per_s", w.writes_per_s},
           {"reads_per_s", w.reads_per_s},
           {"keys", w.keys},
           {"hash_tags", w.hash_tags},
           {"client", w.client},
           {"placement", w.placement}};
  if (w.client_timeout) out["client_timeout"] = format_duration(*w.client_timeout);
  if (w.wait) out["wait"] = json{{"replicas", w.wait->replicas}, {"timeout", format_duration(w.wait->timeout)}};
  return out;
}

}  // namespace

nlohmann::json to_json(const Scenario& s) {
  json timeline = json::array();
  for (const TimelineEntry& e : s.timeline) {
    json entry{{"at", time_text(e.at)}, {std::string(action_name(e.action)), action_json(e.action)}};
    if (!e.why.empty()) entry["why"] = e.why;
    timeline.push_back(std::move(entry));
  }
  json expect = json::array();
  for (const Expectation& e : s.expect) {
    json entry{{std::string(check_name(e.check)), check_json(e.check)}};
    if (e.at) entry["at"] = time_text(*e.at);
    if (!e.label.empty()) entry["label"] = e.label;
    expect.push_back(std::move(entry));
  }
  json out{{"name", s.name},
           {"description", s.description},
           {"seed", s.seed},
           {"cluster", cluster_json(s.cluster)},
           {"network", network_json(s.network)},
           {"timeline", std::move(timeline)},
           {"run_until", time_text(s.run_until)},
           {"expect", std::move(expect)}};
  if (s.workload) out["workload"] = workload_json(*s.workload);
  if (!s.known_bugs.empty()) out["known_bugs"] = s.known_bugs;
  return out;
}

}  // namespace rcsim::sim
