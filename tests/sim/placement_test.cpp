#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "sim/placement.hpp"
#include "tests/sim/scenario_from.hpp"

using namespace rcsim;
using namespace rcsim::sim;

namespace {

std::vector<std::string> aliases(const std::vector<NodeRef>& refs) {
  std::vector<std::string> out;
  for (const NodeRef& r : refs) out.push_back(r.alias);
  return out;
}

}  // namespace

TEST_CASE("zones by rule: masters round-robin, each replica in another zone than its master", "[placement]") {
  // 3 masters x 2 replicas over a, b, c: r1-r3 are the first replicas of m1-m3, r4-r6 the second ones.
  CHECK(zones_by_rule(3, 3, {0, 1, 2, 0, 1, 2}, 0) == std::vector<int>{0, 1, 2, 1, 2, 0, 2, 0, 1});
  // Two zones: every replica in the other zone, the third master back in the first.
  CHECK(zones_by_rule(2, 3, {0, 1, 2}, 1) == std::vector<int>{0, 1, 0, 1, 0, 1, 0});
  CHECK(zones_by_rule(1, 2, {0, 1}, 0) == std::vector<int>{0, 0, 0, 0});
  // An imported cluster's uneven replicas (m1 has three, m2 none): m1's go to b, c, b.
  CHECK(zones_by_rule(3, 2, {0, 0, 0}, 0) == std::vector<int>{0, 1, 1, 2, 1});
}

TEST_CASE("hosts by rule fill machines zone by zone, in alias order", "[placement]") {
  const Scenario s = scenario_from(R"({"name": "p", "run_until": "1s",
      "cluster": {"masters": 3, "replicas_per_master": 2, "zones": ["a", "b", "c"], "hosts": {"nodes_per_host": 2}}})");
  const Placement& p = s.cluster.placement;
  REQUIRE(p.hosts == std::vector<std::string>{"h1", "h2", "h3", "h4", "h5", "h6"});
  // zone a: m1, r3, r5 -> {m1, r3}, {r5}; zone b: m2, r1, r6 -> {m2, r1}, {r6}; zone c: m3, r2, r4 ->
  // {m3, r2}, {r4}; named in the order of their first node.
  CHECK(p.nodes_on_host(0) == std::vector<int>{0, 5});
  CHECK(p.nodes_on_host(1) == std::vector<int>{1, 3});
  CHECK(p.nodes_on_host(2) == std::vector<int>{2, 4});
  CHECK(p.nodes_on_host(3) == std::vector<int>{6});
  CHECK(p.nodes_on_host(4) == std::vector<int>{7});
  CHECK(p.nodes_on_host(5) == std::vector<int>{8});
  CHECK(p.same_host(0, 5));
  CHECK_FALSE(p.same_host(0, 7));
}

TEST_CASE("placement risks: a zone with a majority of masters, a host with a master and all its replicas", "[placement]") {
  const Scenario two_zones = scenario_from(R"({"name": "p", "run_until": "1s",
      "cluster": {"masters": 3, "replicas_per_master": 1, "zones": ["a", "b"]}})");
  CHECK(two_zones.cluster.placement_risks() ==
        std::vector<std::string>{"zone a holds 2 of 3 masters: losing it leaves no majority to fail over"});

  // Half is enough: the other half is no majority either.
  const Scenario halves = scenario_from(R"({"name": "p", "run_until": "1s",
      "cluster": {"masters": 2, "replicas_per_master": 1, "zones": ["a", "b"]}})");
  CHECK(halves.cluster.placement_risks() ==
        std::vector<std::string>{"zone a holds 1 of 2 masters: losing it leaves no majority to fail over",
                                 "zone b holds 1 of 2 masters: losing it leaves no majority to fail over"});

  const Scenario three_zones = scenario_from(R"({"name": "p", "run_until": "1s",
      "cluster": {"masters": 3, "replicas_per_master": 1, "zones": ["a", "b", "c"]}})");
  CHECK(three_zones.cluster.placement_risks().empty());

  const Scenario paired = scenario_from(R"({"name": "p", "run_until": "1s",
      "cluster": {"masters": 3, "replicas_per_master": 1, "hosts": {"h1": ["m1", "r1"], "h2": ["m2", "r3"], "h3": ["m3", "r2"]}}})");
  CHECK(paired.cluster.placement_risks() ==
        std::vector<std::string>{"host h1 holds m1 and all its replicas (r1): losing it loses m1's slots"});
}

TEST_CASE("network zones become one link per pair of nodes on different hosts: the file's links win", "[placement]") {
  const Scenario s = scenario_from(R"({"name": "p", "run_until": "1s",
      "cluster": {"masters": 2, "replicas_per_master": 1, "zones": ["a", "b"], "hosts": {"h1": ["m1", "r2"], "h2": ["m2"], "h3": ["r1"]}},
      "network": {"zones": {"within": {"latency": "200us"}, "between": {"latency": "1ms", "jitter": "100us"}},
                  "links": [{"from": "m1", "to": "m2", "latency": "5ms"}]}})");
  // zone a: m1, r2 (one host: no link between them); zone b: m2, r1 (two hosts).
  const auto& links = s.network.links;
  REQUIRE(links.size() == 10 + 1);  // 4 x 3 ordered pairs, less m1<->r2, then the file's own
  const auto find = [&](const std::string& from, const std::string& to) {
    const LinkOverride* found = nullptr;
    for (const LinkOverride& l : links) {
      if (l.from == from && l.to == to) found = &l;  // the last one wins, as in the network
    }
    return found;
  };
  REQUIRE(find("m1", "r2") == nullptr);
  REQUIRE(find("m2", "r1") != nullptr);
  CHECK(find("m2", "r1")->latency == Duration::micros(200));
  CHECK_FALSE(find("m2", "r1")->jitter.has_value());
  CHECK(find("r1", "m1")->latency == Duration::millis(1));
  CHECK(find("r1", "m1")->jitter == Duration::micros(100));
  CHECK(find("m1", "m2")->latency == Duration::millis(5));
}

TEST_CASE("zone and host actions are the per-node actions they stand for", "[placement]") {
  const Scenario s = scenario_from(R"({"name": "p", "run_until": "9s",
      "cluster": {"masters": 3, "replicas_per_master": 1, "zones": ["a", "b"], "hosts": {"nodes_per_host": 3}},
      "timeline": [{"at": "1s", "crash_zone": "a"}, {"at": "2s", "restart_host": "h1"},
                   {"at": "3s", "isolate_zone": "b"}, {"at": "4s", "partition": [[{"zone": "a"}], ["m2"]]}]})");
  // zone a: m1, m3, r2 (host h1); zone b: m2, r1, r3 (host h2).
  REQUIRE(s.timeline.size() == 3 + 3 + 1 + 1);
  CHECK(std::get<action::Crash>(s.timeline[0].action).node.alias == "m1");
  CHECK(std::get<action::Crash>(s.timeline[1].action).node.alias == "m3");
  CHECK(std::get<action::Crash>(s.timeline[2].action).node.alias == "r2");
  CHECK(s.timeline[2].at == s.timeline[0].at);
  CHECK(std::get<action::Restart>(s.timeline[3].action).node.alias == "m1");
  const auto& isolate = std::get<action::Partition>(s.timeline[6].action);
  CHECK(aliases(isolate.groups[0]) == std::vector<std::string>{"m2", "r1", "r3"});
  CHECK(aliases(isolate.groups[1]) == std::vector<std::string>{"m1", "m3", "r2"});
  const auto& partition = std::get<action::Partition>(s.timeline[7].action);
  CHECK(aliases(partition.groups[0]) == std::vector<std::string>{"m1", "m3", "r2"});

  const Scenario with_check = scenario_from(R"({"name": "p", "run_until": "9s",
      "cluster": {"masters": 3, "replicas_per_master": 1, "zones": ["a", "b"]},
      "expect": [{"cluster_state": {"nodes": [{"zone": "b"}, "m1"], "is": "ok"}}]})");
  const auto& nodes = std::get<check::ClusterState>(with_check.expect[0].check).nodes;
  CHECK(aliases(nodes.list) == std::vector<std::string>{"m2", "r1", "r3", "m1"});

  // The file form holds the resolved layout and the per-node actions, and reads back the same.
  CHECK(scenario_from(to_json(s).dump()) == s);
  const Scenario explicit_zones = scenario_from(R"({"name": "p", "run_until": "1s",
      "cluster": {"masters": 2, "zones": {"z2": ["m2", "r1"], "z1": ["m1", "r2"]}}})");
  CHECK(explicit_zones.cluster.placement.zones == std::vector<std::string>{"z1", "z2"});  // order of first node
  CHECK(scenario_from(to_json(explicit_zones).dump()) == explicit_zones);
}
