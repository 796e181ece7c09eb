// An operator's cluster, imported from CLUSTER NODES text, end to end through `sim`: a zone outage on the
// imported 3-zone, 9-machine, 18-node cluster reports the same shards as that cluster laid out by the
// placement rule; --cluster-nodes runs a shipped scenario on an imported cluster; bad files exit 2.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "tests/tools/run_sim.hpp"

namespace {

using rcsim::test::run_sim;
using rcsim::test::source;
using nlohmann::json;

std::filesystem::path temp_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("rcsim-import-test-" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

json read_json(const std::filesystem::path& file) {
  std::ifstream in(file);
  return json::parse(in);
}

// Per shard, by its slots: the outcome, and whether the node serving it at the end is outside zone a
// (which of a shard's replicas wins its election is the election's draw, as in Redis).
std::map<std::string, std::pair<std::string, bool>> shards_by_slots(const json& summary) {
  std::map<std::string, std::pair<std::string, bool>> out;
  for (const json& shard : summary["shards"]) {
    const bool outside_a = !shard["served_by"].is_null() &&
                           summary["placement"][shard["served_by"].get<std::string>()]["zone"] != "a";
    out[shard["slots"].get<std::string>()] = {shard["outcome"].get<std::string>(), outside_a};
  }
  return out;
}

}  // namespace

TEST_CASE("an imported cluster's zone outage reports the shards its rule layout reports", "[import][cli]") {
  // The rule's twin of scenarios/imports/three_zones_18.nodes: 6 masters x 2 replicas, masters
  // round-robin over a, b, c, replicas in other zones, 2 nodes per machine.
  json twin = read_json(source("scenarios/zone_outage_imported.json"));
  twin["name"] = "zone_outage_rule";
  twin["cluster"] = {{"masters", 6}, {"replicas_per_master", 2}, {"zones", {"a", "b", "c"}}, {"hosts", {{"nodes_per_host", 2}}},
                     {"config", twin["cluster"]["config"]}};
  const auto dir = temp_dir("twin");
  std::ofstream(dir / "twin.json") << twin.dump(1);
  for (const char* seed : {"1", "2", "3"}) {
    INFO("seed " << seed);
    const auto imported_out = dir / (std::string("imported-") + seed);
    const auto twin_out = dir / (std::string("twin-") + seed);
    const auto imported_run = run_sim("--scenario " + source("scenarios/zone_outage_imported.json") + " --seed " + seed +
                                      " --out " + imported_out.string());
    const auto twin_run = run_sim("--scenario " + (dir / "twin.json").string() + " --seed " + seed + " --out " + twin_out.string());
    INFO(imported_run.output);
    CHECK(imported_run.exit_code == 0);
    CHECK(twin_run.exit_code == 0);
    const json imported = read_json(imported_out / "summary.json");
    const json rule = read_json(twin_out / "summary.json");
    const auto imported_shards = shards_by_slots(imported);
    CHECK(imported_shards.size() == 6);
    CHECK(imported_shards == shards_by_slots(rule));
    // Zone a held the masters of 0-2730 and 8192-10922: replicas elsewhere took them over.
    CHECK(imported_shards.at("0-2730") == std::pair<std::string, bool>{"failed_over", true});
    CHECK(imported_shards.at("8192-10922") == std::pair<std::string, bool>{"failed_over", true});
    CHECK(imported_shards.at("2731-5460") == std::pair<std::string, bool>{"kept", true});
    CHECK(imported["placement_risks"] == json::array());
    CHECK(rule["placement_risks"] == json::array());
    // The imported run speaks of the file's nodes: ids and addresses.
    CHECK(imported["nodes"]["m1"]["imported_address"] == "10.0.1.11:6379@16379");
    CHECK(imported["nodes"]["m2"]["name"] == "dd68fc66dec92ad65c87f83a5bad63f3b9387966");
    CHECK(imported_run.output.find("m1 = 14ec1c74c4e461188086c95082929b5e3770e798 10.0.1.11:6379@16379") != std::string::npos);
  }
}

TEST_CASE("sim with a --cluster-nodes file runs a scenario on that cluster, and a bad file exits 2 naming line and field", "[import][cli]") {
  const auto out = temp_dir("flag");
  // zone_outage.json's zones by the rule, on the uneven 9-node cluster: zone a gets masters m1 and m4, half
  // of the four, so when it goes down no replica can win an election and both their shards stay masterless.
  const auto run = run_sim("--scenario " + source("scenarios/zone_outage.json") + " --cluster-nodes " +
                           source("scenarios/imports/nine_uneven.conf") + " --out " + out.string());
  INFO(run.output);
  CHECK(run.exit_code == 1);  // its expectations were written for its own 3 x 2 cluster
  const json summary = read_json(out / "summary.json");
  REQUIRE(summary["shards"].size() == 4);
  CHECK(summary["shards"][0]["slots"] == "0-3000,9000-9499,16000-16383");
  CHECK(summary["shards"][0]["outcome"] == "no_master");
  CHECK(summary["shards"][1]["outcome"] == "kept");
  CHECK(summary["shards"][3]["outcome"] == "no_master");
  CHECK(summary["placement_risks"][0] == "zone a holds 2 of 4 masters: losing it leaves no majority to fail over");
  CHECK(summary["nodes"]["m3"]["name"] == "97c1c2319decc35268ffcda11bc39b93e2477e53");
  const std::string bad = source("tests/scenarios/bad/imports/replica_of_replica.nodes");
  const auto refused = run_sim("--scenario " + source("scenarios/zone_outage.json") + " --cluster-nodes " + bad +
                               " --out " + temp_dir("bad").string());
  CHECK(refused.exit_code == 2);
  CHECK(refused.output == "sim: " + bad + ": line 3, field 4 (master): its master 2222222222222222222222222222222222222222 "
                                          "(line 2) is itself a replica\n");
}
