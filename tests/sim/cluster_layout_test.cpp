// Importing a cluster from CLUSTER NODES / nodes.conf text (sim/cluster_layout.hpp, cluster.from_cluster_nodes).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "sim/cluster_layout.hpp"
#include "sim/run.hpp"
#include "sim/workload.hpp"
#include "tests/sim/scenario_from.hpp"

using namespace rcsim;
using namespace rcsim::sim;
using nlohmann::json;

namespace {

std::string source_path(const std::string& rel) { return std::string(RCSIM_SOURCE_DIR) + "/" + rel; }

constexpr const char* kA = "d11cc3a6ecb81f05521d3a8a62c9159e1dd6bad3";  // lines of scenarios/imports/nine_uneven.conf
constexpr const char* kD = "016265adf41b6efeb52bee9357766565b166bec7";
constexpr const char* kB = "97c1c2319decc35268ffcda11bc39b93e2477e53";
constexpr const char* kC = "75808f81d7e3dee48156348a4b89f2f1db51db84";
constexpr const char* kC1 = "a2906131ef1ee5939e7a8b4c3b3df8399a52b29d";

std::string nine_uneven_scenario(const std::string& rest = "") {
  return R"({"name": "imported", "run_until": "3s", "cluster": {"from_cluster_nodes": ")" +
         source_path("scenarios/imports/nine_uneven.conf") + R"("})" + rest + "}";
}

// The error parse_cluster_nodes gives, as text ("" when the text is accepted).
std::string import_error(const std::string& text) {
  ImportedCluster imported;
  const auto error = parse_cluster_nodes(text, imported);
  return error ? error->text() : "";
}

const std::string kMaster = "1111111111111111111111111111111111111111 10.0.0.1:6379@16379 myself,master - 0 0 1 connected 0-16383\n";

}  // namespace

TEST_CASE("import: masters then replicas in the file's order, with ids, slots, epochs and flags", "[import]") {
  const Scenario s = scenario_from(nine_uneven_scenario());
  const ClusterSpec& c = s.cluster;
  REQUIRE(c.imported);
  const ClusterLayout& layout = c.imported->layout;
  CHECK(c.masters == 4);
  CHECK(c.replicas() == 5);
  CHECK(c.alias_summary() == "m1..m4, r1..r5");
  CHECK(layout.members[0].name == kA);
  CHECK(layout.members[1].name == kD);
  CHECK(layout.members[2].name == kB);
  CHECK(layout.members[3].name == kC);
  CHECK(layout.members[0].slots == std::vector<SlotRange>{{0, 3000}, {9000, 9499}, {16000, 16383}});
  CHECK(layout.members[1].slots == std::vector<SlotRange>{{12001, 15999}});
  CHECK(layout.members[0].config_epoch == 9);
  CHECK(layout.members[1].config_epoch == 10);
  CHECK(layout.current_epoch == 10);
  CHECK(layout.last_vote_epoch == 9);
  // r1 is the file's first line: C's replica, with cluster-replica-no-failover.
  CHECK(layout.members[4].name == kC1);
  CHECK(c.initial_master_of(4) == 3);
  CHECK(layout.members[4].no_failover);
  CHECK_FALSE(layout.members[5].no_failover);
  CHECK(c.imported->addresses[4] == "10.2.0.5:7002@17002");
  // One machine per ip: three of them.
  CHECK(c.placement.hosts == std::vector<std::string>{"10.1.0.5", "10.2.0.5", "10.3.0.5"});
  CHECK(c.placement.host_of[1] == 0);
  // D has no replica, and its machine also holds A: half of the four masters.
  CHECK(c.placement_risks() ==
        std::vector<std::string>{"host 10.1.0.5 holds 2 of 4 masters: losing it leaves no majority to fail over",
                                 "host 10.1.0.5 holds m2, which has no replica: losing it loses m2's slots"});
  // The file form carries the text: the scenario reads back the same.
  auto again = parse_scenario(to_json(s).dump(), "again.json");
  REQUIRE(std::holds_alternative<Scenario>(again));
  CHECK(std::get<Scenario>(again) == s);
}

TEST_CASE("import: the cluster boots as the file says it is", "[import]") {
  const RunResult r = run_scenario(scenario_from(nine_uneven_scenario()), RunOptions{});
  REQUIRE(r.cluster_created);
  const World& w = *r.world;
  REQUIRE(w.node_count() == 9);
  for (int i = 0; i < w.node_count(); ++i) {
    const protocol::Node* n = w.node(i);
    REQUIRE(n != nullptr);
    INFO(w.alias(i) << "\n" << w.cluster_nodes(i));
    CHECK(n->state_ok());
    CHECK(n->current_epoch() == 10);
    CHECK(n->name().str() == w.layout().members[i].name);
    CHECK(n->myself().is_master() == (i < 4));
  }
  CHECK(w.node(0)->myself().config_epoch == 9);
  CHECK(w.node(0)->myself().numslots == 3001 + 500 + 384);
  CHECK(w.current_master_of_slot(9200) == 0);
  CHECK(w.current_master_of_slot(9600) == 3);
  CHECK(w.node(4)->myself().has(protocol::kFlagNofailover));
  // CLUSTER NODES shows the imported ids: C's line lists C1's id as its replica's master.
  CHECK(w.cluster_nodes(0).find(std::string(kC1) + " 10.2.0.5:7002@17002 slave,nofailover " + kC) != std::string::npos);
  // Every node listens on its file address; m1 and m2 share 10.1.0.5 (ports 7000 and 7001).
  CHECK(w.address(0) == protocol::Address{"10.1.0.5", 7000, 17000});
  CHECK(w.address(1) == protocol::Address{"10.1.0.5", 7001, 17001});
}

TEST_CASE("import: clients reach the nodes at the file's addresses, through MOVED and a failover", "[import]") {
  // Clients write keys of every slot; m1 (three slot ranges) crashes at 2 s and r3 or r4 takes over.
  const RunResult r = run_scenario(scenario_from(R"({"name": "imported", "run_until": "12s",
      "cluster": {"from_cluster_nodes": ")" + source_path("scenarios/imports/nine_uneven.conf") + R"(",
                  "config": {"cluster-node-timeout": 2000}},
      "workload": {"clients": 2, "writes_per_s": 200, "keys": 1000},
      "timeline": [{"at": "2s", "crash": "m1"}]})"),
                                   RunOptions{});
  const WritesReport& writes = r.world->workload()->report();
  CHECK(writes.acked > 1500);
  CHECK(writes.lost == 0);
  REQUIRE(r.world->failovers().size() == 1);
  const std::string winner = r.world->alias(r.world->failovers()[0].new_master);
  CHECK((winner == "r3" || winner == "r4"));
  REQUIRE(writes.clients.recoveries.size() == 1);
  CHECK(writes.clients.recoveries[0].all_clients_back_ms > 0);
}

TEST_CASE("import: nodes the file flags fail or fail? boot down, and the others boot with that view", "[import]") {
  // m1..m3 serve the slots; m4, a master with no slots, and r2 (m2's replica) are down.
  const std::string text =
      "1111111111111111111111111111111111111111 10.0.0.1:6379@16379 myself,master - 0 0 1 connected 0-5460\n"
      "2222222222222222222222222222222222222222 10.0.0.2:6379@16379 master - 0 1 2 connected 5461-10922\n"
      "3333333333333333333333333333333333333333 10.0.0.3:6379@16379 master - 0 1 3 connected 10923-16383\n"
      "4444444444444444444444444444444444444444 10.0.0.4:6379@16379 master,fail - 1 1 0 disconnected\n"
      "5555555555555555555555555555555555555555 10.0.0.5:6379@16379 slave 1111111111111111111111111111111111111111 0 1 1 connected\n"
      "6666666666666666666666666666666666666666 10.0.0.6:6379@16379 slave,fail? 2222222222222222222222222222222222222222 1 1 2 connected\n";
  json doc = {{"name", "down"}, {"run_until", "5s"}, {"cluster", {{"cluster_nodes", text}}}};
  const RunResult r = run_scenario(scenario_from(doc.dump()), RunOptions{});
  REQUIRE(r.cluster_created);
  const World& w = *r.world;
  CHECK(w.violations().empty());
  CHECK(w.node(3) == nullptr);  // m4
  CHECK(w.node(5) == nullptr);  // r2
  REQUIRE(w.node(0) != nullptr);
  CHECK(w.node(0)->state_ok());
  CHECK(w.node(4)->state_ok());  // r1
  CHECK(w.name_of(3).str() == "4444444444444444444444444444444444444444");
  const protocol::ClusterNode* m4 = w.node(0)->find(w.name_of(3));
  REQUIRE(m4 != nullptr);
  CHECK(m4->has(protocol::kFlagFail));
  // The down nodes' disks hold their nodes.conf: a restart boots them as the cluster knows them.
  doc["timeline"] = json::array({{{"at", "1s"}, {"restart", "m4"}}});
  const RunResult restarted = run_scenario(scenario_from(doc.dump()), RunOptions{});
  const protocol::Node* back = restarted.world->node(3);
  REQUIRE(back != nullptr);
  CHECK(back->name().str() == "4444444444444444444444444444444444444444");
  CHECK(back->state_ok());
  CHECK_FALSE(restarted.world->node(0)->find(back->name())->has(protocol::kFlagFail));
}

TEST_CASE("import: files real redis-server 7.0.15 wrote read as they are", "[import]") {
  // `redis-cli -p 31001 cluster nodes` of a fresh create-cluster (3 x 1); once 31003 had been shut down and
  // 31006 had replaced it, CLUSTER NODES on 31001 and the nodes.conf of 31002.
  ImportedCluster created, conf, failed;
  for (auto [file, out] : {std::pair{"redis-7.0.15-create-cluster.nodes", &created}, {"redis-7.0.15-nodes.conf", &conf},
                           {"redis-7.0.15-after-failover.nodes", &failed}}) {
    INFO(file);
    std::ifstream in(source_path(std::string("tests/scenarios/imports/") + file));
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE_FALSE(text.empty());
    const auto error = parse_cluster_nodes(text, *out);
    CHECK_FALSE(error.has_value());
  }
  CHECK(created.layout.masters == 3);
  CHECK(created.layout.current_epoch == 3);  // CLUSTER NODES does not show it: the highest configEpoch
  CHECK(failed.layout.masters == 4);
  CHECK(failed.layout.members[0].down_flag == "fail");  // 31003, the file's first line, its slots gone
  CHECK(failed.layout.members[0].slots.empty());
  CHECK(failed.layout.current_epoch == 7);
  CHECK(conf.layout.current_epoch == 7);  // the vars line
  CHECK(conf.layout.last_vote_epoch == 7);
  CHECK(conf.layout.masters == 4);
  // 31006 serves 10923-16383 at configEpoch 7 in both views.
  const auto serving = [](const ImportedCluster& c) {
    for (const MemberLayout& m : c.layout.members) {
      if (!m.slots.empty() && m.slots.front().first == 10923) return std::pair{m.name, m.config_epoch};
    }
    return std::pair{std::string(), uint64_t{0}};
  };
  CHECK(serving(conf) == std::pair{std::string("32aa0447945295f54adb978a6449d7888b29977d"), uint64_t{7}});
  CHECK(serving(failed) == serving(conf));
}

TEST_CASE("import: a bad line is refused with its line number and field", "[import]") {
  CHECK(import_error(kMaster).empty());
  const std::string replica = "2222222222222222222222222222222222222222 10.0.0.2:6379@16379 slave ";
  CHECK(import_error(kMaster + "xyz 10.0.0.2:6379@16379 master - 0 0 2 connected\n") ==
        "line 2, field 1 (id): expected a node id of 40 lowercase hex characters, got 'xyz'");
  CHECK(import_error(kMaster + replica + "1111111111111111111111111111111111111111 0 0 1\n") ==
        "line 2: expected at least 8 space-separated fields (id address flags master ping-sent pong-recv config-epoch "
        "link-state [slot ...]), got 7");
  CHECK(import_error(kMaster + "2222222222222222222222222222222222222222 10.0.0.2:6379 master - 0 0 2 connected\n") ==
        "line 2, field 2 (address): expected ip:port@cport (as Redis 4.0 and later print it), got '10.0.0.2:6379'");
  CHECK(import_error(kMaster + replica.substr(0, 61) + "master,handshake - 0 0 2 connected\n").find(
            "line 2, field 3 (flags): the node is flagged handshake: ") == 0);
  CHECK(import_error(kMaster + replica.substr(0, 61) + "master,frobbed - 0 0 2 connected\n") ==
        "line 2, field 3 (flags): unknown flag 'frobbed' (expected myself, master, slave, nofailover)");
  CHECK(import_error(kMaster + replica + "3333333333333333333333333333333333333333 0 0 1 connected\n") ==
        "line 2, field 4 (master): no node 3333333333333333333333333333333333333333 in the file");
  CHECK(import_error(kMaster + replica + "1111111111111111111111111111111111111111 0 0 x connected\n") ==
        "line 2, field 7 (config-epoch): expected a non-negative integer, got 'x'");
  CHECK(import_error(kMaster + replica + "1111111111111111111111111111111111111111 0 0 1 up\n") ==
        "line 2, field 8 (link-state): expected connected or disconnected, got 'up'");
  CHECK(import_error(kMaster + replica + "1111111111111111111111111111111111111111 0 0 1 connected 5\n") ==
        "line 2, field 9 (slot): a replica with slots: only masters serve slots");
  CHECK(import_error("1111111111111111111111111111111111111111 10.0.0.1:6379@16379 master - 0 0 1 connected 0-16384\n") ==
        "line 1, field 9 (slot): expected a slot or a slot range within 0-16383 such as 0-5460, got '0-16384'");
  CHECK(import_error(kMaster + "2222222222222222222222222222222222222222 10.0.0.2:6379@16379 master - 0 0 2 connected 7 [8->-1111111111111111111111111111111111111111]\n")
            .find("line 2, field 10 (slot): an open slot migration") == 0);
  CHECK(import_error(kMaster + "2222222222222222222222222222222222222222 10.0.0.2:6379@16379 master - 0 0 2 connected 100\n") ==
        "line 2: slot 100 is also served by the node on line 1");
  CHECK(import_error(kMaster + kMaster) == "line 2, field 3 (flags): a second node flagged myself (the first is on line 1)");
  CHECK(import_error("vars currentEpoch 3\n") ==
        "no master: expected the output of CLUSTER NODES (or a nodes.conf) of a running cluster");
}

TEST_CASE("import: scenario errors name the file, or the JSON path", "[import]") {
  const std::string bad_file = source_path("tests/scenarios/bad/imports/replica_of_replica.nodes");
  auto from_file = parse_scenario(R"({"name": "x", "run_until": "1s", "cluster": {"from_cluster_nodes": ")" + bad_file + R"("}})", "s.json");
  REQUIRE(std::holds_alternative<ScenarioError>(from_file));
  CHECK(std::get<ScenarioError>(from_file).text() ==
        bad_file + ": line 3, field 4 (master): its master 2222222222222222222222222222222222222222 (line 2) is itself a replica");
  auto with_masters = parse_scenario(R"({"name": "x", "run_until": "1s", "cluster": {"masters": 3, "cluster_nodes": ")" +
                                         std::string(kMaster.substr(0, kMaster.size() - 1)) + R"("}})", "s.json");
  REQUIRE(std::holds_alternative<ScenarioError>(with_masters));
  CHECK(std::get<ScenarioError>(with_masters).text() == "s.json: /cluster/masters: masters comes from the imported cluster: leave it out");
  auto uncovered = parse_scenario(R"({"name": "x", "run_until": "1s", "cluster": {"cluster_nodes":
      "1111111111111111111111111111111111111111 10.0.0.1:6379@16379 master - 0 0 1 connected 0-100 200-16383"}})", "s.json");
  REQUIRE(std::holds_alternative<ScenarioError>(uncovered));
  CHECK(std::get<ScenarioError>(uncovered).text().find("s.json: /cluster/cluster_nodes: no master serves slots 101-199:") == 0);
  // --cluster-nodes replaces the scenario's cluster: its zone lists then name the file's machines.
  auto replaced = load_scenario_file(source_path("scenarios/zone_outage.json"), source_path("scenarios/imports/nine_uneven.conf"));
  REQUIRE(std::holds_alternative<Scenario>(replaced));
  CHECK(std::get<Scenario>(replaced).cluster.masters == 4);
}
