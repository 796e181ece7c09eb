#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "protocol/rng.hpp"
#include "sim/run.hpp"
#include "sim/scenario.hpp"

using namespace rcsim;
using namespace rcsim::sim;

namespace {

// Every action and every check, selectors at several depths, most optional fields set.
const char* const kFullScenario = R"json({
  "name": "full-scenario_1.0",
  "description": "exercises every field",
  "seed": 18446744073709551615,
  "cluster": {
    "masters": 3, "replicas_per_master": 2, "spares": 2, "timer_phase": "staggered", "create": "nodes_conf",
    "config": {"cluster-node-timeout": 2000, "cluster-slave-validity-factor": "5",
               "cluster-require-full-coverage": false}
  },
  "network": {
    "latency": "1.5ms", "jitter": "250us", "shape": "long_tail", "loss": 0.01,
    "links": [{"from": "m1", "to": "r4", "latency": "20ms", "loss": 0, "both_ways": true},
              {"from": "s2", "to": "m3", "shape": "fixed"}],
    "chaos": {"drop": 0.1, "duplicate": 0.2, "reorder": 0.3}
  },
  "workload": {
    "clients": 3, "writes_per_s": 1000.5, "reads_per_s": 10, "keys": 5000, "hash_tags": true,
    "client_timeout": "2s", "wait": {"replicas": 1, "timeout": "50ms"}, "placement": ["m1", "r2"]
  },
  "timeline": [
    {"at": "0s", "partition": [["m1", {"replica_of": "m1"}], ["m2", "m3"], [{"master_of_slot": 16383}]]},
    {"at": "1s", "block": {"from": "m1", "to": "m2"}},
    {"at": "1s", "unblock": {"from": "m1", "to": "m2", "both_ways": true}},
    {"at": "2s", "isolate": {"master_of": "r3"}},
    {"at": "2.5s", "heal": true},
    {"at": "3s", "crash": {"replica_of": {"master_of_slot": 0}}},
    {"at": "4s", "lose_disk": "r1"},
    {"at": "5s", "restart": "r1"},
    {"at": "6s", "pause": "m3"},
    {"at": "7s", "resume": "m3"},
    {"at": "8s", "clock_skew": {"node": "m2", "offset": "-1.5s", "drift_ppm": -20.5}},
    {"at": "9s", "failover": {"node": "r2", "mode": "takeover"}},
    {"at": "10s", "meet": {"node": "s1", "target": "m1"}},
    {"at": "11s", "forget": {"node": "m1", "target": "s1"}},
    {"at": "12s", "addslots": {"node": "s2", "slots": [5, "100-200"]}},
    {"at": "13s", "migrate_slots": {"slots": ["0-99"], "from": "m1", "to": {"master_of_slot": 6000}}},
    {"at": "14s", "config_set": {"node": "all", "name": "cluster-slave-no-failover", "value": true}},
    {"at": "14s", "config_set": {"node": "m2", "name": "cluster-node-timeout", "value": "3000"}},
    {"at": "15s", "link": {"from": "m1", "to": "m2", "latency": "10ms", "both_ways": true}},
    {"at": "16s", "flap": {"between": ["m1", {"replica_of": "m1"}], "period": "500ms", "until": "18s"}},
    {"at": "19s", "power_loss": "m3"},
    {"at": "20s", "bump_epoch": {"replica_of": "m2"}}
  ],
  "run_until": "1m",
  "expect": [
    {"at": "2.5s", "label": "minority", "cluster_state": {"nodes": ["m1", {"replica_of": "m1"}], "is": "fail"}},
    {"cluster_state": {"nodes": "all", "is": "ok"}},
    {"cluster_state": {"is": "ok"}},
    {"role": {"node": "r1", "is": "replica", "of": "m1"}},
    {"slot_owner": {"slot": 16383, "is": "m3", "seen_by": "r6"}},
    {"slot_owner": {"slot": 0, "is": "m1"}},
    {"current_epoch": {"node": "all", "min": 3, "max": 9}},
    {"config_epoch": {"node": "m2", "is": 2}},
    {"failover": {"old_master": "m1", "new_master": "r1", "within": ["1s", "20s"], "mode": "auto", "epoch": 7}},
    {"no_failover": {"of": "m3"}},
    {"flag": {"seen_by": "m2", "node": "m1", "lacks": "fail?"}},
    {"flag": {"node": "m1", "has": "master"}},
    {"lost_writes": {"max": 0}},
    {"failovers_count": {"is": 1}},
    {"converged": true}
  ],
  "known_bugs": ["quorum_off_by_one"]
})json";

std::string source_path(const std::string& rel) { return std::string(RCSIM_SOURCE_DIR) + "/" + rel; }

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Scenario parse_ok(std::string_view text) {
  auto result = parse_scenario(text, "test.json");
  if (const auto* err = std::get_if<ScenarioError>(&result)) FAIL(err->text());
  return std::get<Scenario>(std::move(result));
}

ScenarioError parse_err(std::string_view text) {
  auto result = parse_scenario(text, "test.json");
  REQUIRE(std::holds_alternative<ScenarioError>(result));
  return std::get<ScenarioError>(std::move(result));
}

NodeRef alias(const char* a) { return NodeRef::of_alias(a); }

}  // namespace

TEST_CASE("scenario: a full scenario parses into the expected structs", "[scenario]") {
  const Scenario s = parse_ok(kFullScenario);
  CHECK(s.name == "full-scenario_1.0");
  CHECK(s.description == "exercises every field");
  CHECK(s.seed == 18446744073709551615ull);
  CHECK(s.run_until == Instant::from_millis(60000));

  CHECK(s.cluster.masters == 3);
  CHECK(s.cluster.replicas_per_master == 2);
  CHECK(s.cluster.spares == 2);
  CHECK(s.cluster.timer_phase == TimerPhase::Staggered);
  CHECK(s.cluster.create == CreateMode::NodesConf);
  // Old names rewritten, sorted by name, values as CONFIG GET prints them.
  REQUIRE(s.cluster.config.size() == 3);
  CHECK(s.cluster.config[0] == ConfigSetting{"cluster-node-timeout", "2000"});
  CHECK(s.cluster.config[1] == ConfigSetting{"cluster-replica-validity-factor", "5"});
  CHECK(s.cluster.config[2] == ConfigSetting{"cluster-require-full-coverage", "no"});
  const protocol::Config config = node_config(s.cluster);
  CHECK(config.cluster_node_timeout_ms == 2000);
  CHECK(config.cluster_replica_validity_factor == 5);
  CHECK_FALSE(config.cluster_require_full_coverage);

  CHECK(s.network.latency == Duration::micros(1500));
  CHECK(s.network.jitter == Duration::micros(250));
  CHECK(s.network.shape == LatencyShape::long_tail);
  CHECK(s.network.loss == Approx(0.01));
  REQUIRE(s.network.links.size() == 2);
  CHECK(s.network.links[0].from == "m1");
  CHECK(s.network.links[0].to == "r4");
  CHECK(s.network.links[0].latency == Duration::millis(20));
  CHECK_FALSE(s.network.links[0].jitter);
  CHECK(s.network.links[0].loss == 0.0);
  CHECK(s.network.links[0].both_ways);
  CHECK(s.network.links[1].shape == LatencyShape::fixed);
  CHECK_FALSE(s.network.links[1].both_ways);
  CHECK(s.network.chaos == ChaosSpec{0.1, 0.2, 0.3});

  REQUIRE(s.workload);
  CHECK(s.workload->clients == 3);
  CHECK(s.workload->writes_per_s == 1000.5);
  CHECK(s.workload->reads_per_s == 10.0);
  CHECK(s.workload->keys == 5000);
  CHECK(s.workload->hash_tags);
  CHECK(s.workload->client_timeout == Duration::seconds(2));
  CHECK(s.workload->wait == WaitSpec{1, Duration::millis(50)});
  CHECK(s.workload->placement == std::vector<std::string>{"m1", "r2"});

  REQUIRE(s.timeline.size() == 22);
  CHECK(std::get<action::PowerLoss>(s.timeline[20].action).node == alias("m3"));
  CHECK(std::get<action::BumpEpoch>(s.timeline[21].action).node.steps.size() == 1);
  std::set<std::string_view> actions;
  for (const TimelineEntry& e : s.timeline) actions.insert(action_name(e.action));
  CHECK(actions.size() == std::variant_size_v<Action>);

  const auto& partition = std::get<action::Partition>(s.timeline[0].action);
  REQUIRE(partition.groups.size() == 3);
  CHECK(partition.groups[0][0] == alias("m1"));
  CHECK(partition.groups[0][1] == NodeRef{"m1", std::nullopt, {NodeRef::Step::ReplicaOf}});
  CHECK(partition.groups[2][0] == NodeRef{"", 16383, {}});
  CHECK(std::get<action::Block>(s.timeline[1].action) == action::Block{alias("m1"), alias("m2"), false});
  CHECK(std::get<action::Unblock>(s.timeline[2].action).both_ways);
  CHECK(std::get<action::Isolate>(s.timeline[3].action).node == NodeRef{"r3", std::nullopt, {NodeRef::Step::MasterOf}});
  CHECK(s.timeline[4].at == Instant::from_millis(2500));
  CHECK(std::holds_alternative<action::Heal>(s.timeline[4].action));
  const NodeRef crashed = std::get<action::Crash>(s.timeline[5].action).node;
  CHECK(crashed == NodeRef{"", 0, {NodeRef::Step::ReplicaOf}});
  CHECK(describe(crashed) == "replica_of(master_of_slot(0))");
  CHECK(std::get<action::LoseDisk>(s.timeline[6].action).node == alias("r1"));
  CHECK(std::get<action::Restart>(s.timeline[7].action).node == alias("r1"));
  CHECK(std::get<action::Pause>(s.timeline[8].action).node == alias("m3"));
  CHECK(std::get<action::Resume>(s.timeline[9].action).node == alias("m3"));
  const auto& skew = std::get<action::ClockSkew>(s.timeline[10].action);
  CHECK(skew.offset == Duration::millis(-1500));
  CHECK(skew.drift_ppm == -20.5);
  CHECK(std::get<action::Failover>(s.timeline[11].action).mode == FailoverMode::Takeover);
  CHECK(std::get<action::Meet>(s.timeline[12].action) == action::Meet{alias("s1"), alias("m1")});
  CHECK(std::get<action::Forget>(s.timeline[13].action) == action::Forget{alias("m1"), alias("s1")});
  CHECK(std::get<action::AddSlots>(s.timeline[14].action).slots == std::vector<SlotRange>{{5, 5}, {100, 200}});
  const auto& migrate = std::get<action::MigrateSlots>(s.timeline[15].action);
  CHECK(migrate.slots == std::vector<SlotRange>{{0, 99}});
  CHECK(migrate.to == NodeRef{"", 6000, {}});
  const auto& set_all = std::get<action::ConfigSet>(s.timeline[16].action);
  CHECK_FALSE(set_all.node);
  CHECK(set_all.name == "cluster-replica-no-failover");
  CHECK(set_all.value == "yes");
  CHECK(std::get<action::ConfigSet>(s.timeline[17].action).node == alias("m2"));
  const auto& link = std::get<action::Link>(s.timeline[18].action);
  CHECK(link.latency == Duration::millis(10));
  CHECK_FALSE(link.loss);
  CHECK(link.both_ways);
  const auto& flap = std::get<action::Flap>(s.timeline[19].action);
  CHECK(flap.period == Duration::millis(500));
  CHECK(flap.until == Instant::from_millis(18000));
  CHECK(flap.between[1] == NodeRef{"m1", std::nullopt, {NodeRef::Step::ReplicaOf}});

  REQUIRE(s.expect.size() == 15);
  CHECK(s.known_bugs == std::vector<std::string>{"quorum_off_by_one"});
  std::set<std::string_view> checks;
  for (const Expectation& e : s.expect) checks.insert(check_name(e.check));
  CHECK(checks.size() == std::variant_size_v<Check>);
  CHECK(s.expect[0].at == Instant::from_millis(2500));
  CHECK(s.expect[0].label == "minority");
  const auto& minority = std::get<check::ClusterState>(s.expect[0].check);
  CHECK(minority.nodes.kind == NodeSet::Kind::List);
  CHECK(minority.nodes.list.size() == 2);
  CHECK_FALSE(minority.ok);
  CHECK_FALSE(s.expect[1].at);
  CHECK(std::get<check::ClusterState>(s.expect[1].check).nodes.kind == NodeSet::Kind::All);
  CHECK(std::get<check::ClusterState>(s.expect[2].check).nodes.kind == NodeSet::Kind::Live);
  CHECK(std::get<check::RoleIs>(s.expect[3].check) == check::RoleIs{alias("r1"), Role::Replica, alias("m1")});
  CHECK(std::get<check::SlotOwner>(s.expect[4].check) == check::SlotOwner{16383, alias("m3"), alias("r6")});
  CHECK_FALSE(std::get<check::SlotOwner>(s.expect[5].check).seen_by);
  const auto& epoch = std::get<check::CurrentEpoch>(s.expect[6].check);
  CHECK_FALSE(epoch.node);
  CHECK(epoch.bound == CountBound{std::nullopt, 3, 9});
  CHECK(std::get<check::ConfigEpoch>(s.expect[7].check).bound.is == 2u);
  const auto& failover = std::get<check::Failover>(s.expect[8].check);
  CHECK(failover.old_master == alias("m1"));
  CHECK(failover.new_master == alias("r1"));
  CHECK(failover.within == DurationRange{Duration::seconds(1), Duration::seconds(20)});
  CHECK(failover.mode == FailoverKind::Auto);
  CHECK(failover.epoch == 7u);
  CHECK(std::get<check::NoFailover>(s.expect[9].check).of == alias("m3"));
  CHECK(std::get<check::Flag>(s.expect[10].check) == check::Flag{alias("m2"), alias("m1"), false, "fail?"});
  CHECK_FALSE(std::get<check::Flag>(s.expect[11].check).seen_by);
  CHECK(std::get<check::LostWrites>(s.expect[12].check) == check::LostWrites{std::nullopt, 0u});
  CHECK(std::get<check::FailoversCount>(s.expect[13].check).bound.is == 1u);
}

TEST_CASE("scenario: defaults of a minimal scenario", "[scenario]") {
  const Scenario s = parse_ok(R"({"name": "min", "cluster": {"masters": 1}, "run_until": "1s"})");
  CHECK(s.seed == 1);
  CHECK(s.description.empty());
  CHECK(s.cluster.replicas_per_master == 1);
  CHECK(s.cluster.spares == 0);
  CHECK(s.cluster.timer_phase == TimerPhase::InPhase);
  CHECK(s.cluster.create == CreateMode::RedisCli);
  CHECK(s.cluster.config.empty());
  CHECK(s.network == NetworkSpec{});
  CHECK(s.network.latency == Duration::micros(50));
  CHECK_FALSE(s.workload);
  CHECK(s.timeline.empty());
  CHECK(s.expect.empty());

  const Scenario w = parse_ok(R"({"name": "w", "cluster": {"masters": 1}, "run_until": "1s", "workload": {}})");
  REQUIRE(w.workload);
  CHECK(*w.workload == WorkloadSpec{});
}

TEST_CASE("scenario: to_json round-trips", "[scenario]") {
  const Scenario s = parse_ok(kFullScenario);
  const std::string written = to_json(s).dump(2);
  const Scenario again = parse_ok(written);
  CHECK(again == s);
  CHECK(to_json(again).dump(2) == written);  // the written form is a fixed point

  // A change anywhere is visible to ==, so the equality above means something.
  Scenario changed = s;
  std::get<action::Flap>(changed.timeline[19].action).between[1].steps.clear();
  CHECK_FALSE(changed == s);

  const Scenario minimal = parse_ok(R"({"name": "min", "cluster": {"masters": 1}, "run_until": "1s"})");
  CHECK(parse_ok(to_json(minimal).dump()) == minimal);
  CHECK(minimal.cluster.version == protocol::ServerVersion::redis_7_0);
  CHECK_FALSE(to_json(minimal)["cluster"].contains("version"));  // a 7.0 file reads as before versions

  const Scenario on_74 = parse_ok(R"({"name": "v", "cluster": {"masters": 1, "version": "redis-7.4"}, "run_until": "1s"})");
  CHECK(on_74.cluster.version == protocol::ServerVersion::redis_7_4);
  CHECK(node_config(on_74.cluster).version == protocol::ServerVersion::redis_7_4);
  CHECK(parse_ok(to_json(on_74).dump()) == on_74);

  // A setting one version added is read for that version only, in the file and by --set.
  const Scenario on_valkey = parse_ok(R"({"name": "v", "cluster": {"masters": 1, "version": "valkey-8.0",
                                          "config": {"cluster-blacklist-ttl": 5}}, "run_until": "1s"})");
  CHECK(node_config(on_valkey.cluster).cluster_blacklist_ttl_s == 5);
  Scenario retargeted = on_valkey;
  const auto refused = apply_version_override(retargeted, "redis-7.4");
  REQUIRE(refused);
  CHECK_THAT(*refused, Catch::Contains("sets cluster-blacklist-ttl, which valkey-8.0 added"));
  Scenario on_74_set = on_74;
  const auto unknown_here = apply_config_override(on_74_set, "cluster-blacklist-ttl=5");
  REQUIRE(unknown_here);
  CHECK_THAT(*unknown_here, Catch::Contains("not a setting of redis-7.4"));
  // Later versions keep the settings of those before them in the lineage.
  Scenario on_81 = on_valkey;
  REQUIRE_FALSE(apply_version_override(on_81, "valkey-8.1"));
  REQUIRE_FALSE(apply_config_override(on_81, "cluster-manual-failover-timeout=2000"));
  CHECK(node_config(on_81.cluster).cluster_manual_failover_timeout_ms == 2000);
  Scenario still_80 = on_valkey;
  const auto not_yet = apply_config_override(still_80, "cluster-manual-failover-timeout=2000");
  REQUIRE(not_yet);
  CHECK_THAT(*not_yet, Catch::Contains("not a setting of valkey-8.0 (cluster.version): valkey-8.1 added it"));
}

TEST_CASE("scenario: the README's complete example loads and round-trips", "[scenario]") {
  const std::string readme = read_text(source_path("scenarios/README.md"));
  const size_t marker = readme.find("<!-- complete-example");
  REQUIRE(marker != std::string::npos);
  const size_t begin = readme.find("```json\n", marker);
  REQUIRE(begin != std::string::npos);
  const size_t end = readme.find("\n```", begin + 8);
  REQUIRE(end != std::string::npos);
  const Scenario s = parse_ok(std::string_view(readme).substr(begin + 8, end - begin - 8));
  CHECK(s.name == "split_brain_example");
  CHECK(s.cluster.alias_summary() == "m1..m3, r1..r3, s1");
  CHECK(s.timeline.size() == 5);
  CHECK(s.expect.size() == 8);
  CHECK(parse_ok(to_json(s).dump()) == s);
}

TEST_CASE("scenario: every malformed file gives its expected path and message", "[scenario]") {
  const std::string dir = source_path("tests/scenarios/bad");
  std::ifstream table(dir + "/expected.txt");
  REQUIRE(table);
  std::set<std::string> listed;
  std::string line;
  while (std::getline(table, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t t1 = line.find('\t');
    const size_t t2 = line.find('\t', t1 + 1);
    REQUIRE(t2 != std::string::npos);
    const std::string file = line.substr(0, t1);
    std::string path = line.substr(t1 + 1, t2 - t1 - 1);
    if (path == "-") path.clear();
    const std::string substring = line.substr(t2 + 1);
    listed.insert(file);

    INFO(file);
    const auto result = load_scenario_file(dir + "/" + file);
    REQUIRE(std::holds_alternative<ScenarioError>(result));
    const ScenarioError& err = std::get<ScenarioError>(result);
    INFO(err.text());
    CHECK(err.file == dir + "/" + file);
    CHECK(err.json_path == path);
    CHECK_THAT(err.message, Catch::Contains(substring));
  }
  CHECK(listed.size() >= 25);
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".json") {
      INFO(entry.path().filename().string());
      CHECK(listed.count(entry.path().filename().string()) == 1);
    }
  }
}

TEST_CASE("scenario: error text and unreadable files", "[scenario]") {
  const ScenarioError e{"scenarios/x.json", "/timeline/3/partition", "expected an array of node groups, got a string"};
  CHECK(e.text() == "scenarios/x.json: /timeline/3/partition: expected an array of node groups, got a string");
  CHECK(ScenarioError{"x.json", "", "invalid JSON"}.text() == "x.json: invalid JSON");

  const auto missing = load_scenario_file("/nonexistent/nowhere.json");
  REQUIRE(std::holds_alternative<ScenarioError>(missing));
  CHECK(std::get<ScenarioError>(missing).json_path.empty());
  CHECK_THAT(std::get<ScenarioError>(missing).message, Catch::Contains("cannot read"));
  const auto directory = load_scenario_file(source_path("tests"));
  REQUIRE(std::holds_alternative<ScenarioError>(directory));
  CHECK_THAT(std::get<ScenarioError>(directory).message, Catch::Contains("not a regular file"));

  const auto ok = load_scenario_file(source_path("tests/scenarios/bad/../bad/masters_zero.json"));
  CHECK(std::get<ScenarioError>(ok).json_path == "/cluster/masters");
}

TEST_CASE("scenario: JSON syntax errors report line and column", "[scenario]") {
  const ScenarioError e = parse_err("{\n  \"name\": \"x\",\n  \"cluster\": {\"masters\": 1}\n  \"run_until\": \"1s\"\n}");
  CHECK(e.json_path.empty());
  // The position of the last character read: the end of the token that cannot follow.
  CHECK_THAT(e.message, Catch::StartsWith("invalid JSON at line 4, column 13: "));
  CHECK_THAT(e.message, Catch::Contains("expected '}'"));
}

TEST_CASE("scenario: numbers beyond double's range are reported with their path", "[scenario]") {
  const ScenarioError in_array =
      parse_err(R"({"name": "x", "cluster": {"masters": 1}, "run_until": "1s", "timeline": [{"at": "0s", "addslots": {"node": "m1", "slots": [1, 2, 1e400]}}]})");
  CHECK(in_array.json_path == "/timeline/0/addslots/slots/2");
  CHECK_THAT(in_array.message, Catch::Contains("number overflow"));
}

TEST_CASE("scenario: JSON Pointer escapes ~ and / in keys", "[scenario]") {
  const ScenarioError e = parse_err(R"({"name": "x", "cluster": {"masters": 1, "a/b~c": 1}, "run_until": "1s"})");
  CHECK(e.json_path == "/cluster/a~1b~0c");
}

TEST_CASE("scenario: durations are bounded - signed only where allowed", "[scenario]") {
  auto with_latency = [](const std::string& d) {
    return R"({"name": "x", "cluster": {"masters": 1}, "run_until": "1s", "network": {"latency": ")" + d + R"("}})";
  };
  CHECK_THAT(parse_err(with_latency("99999999999999999999m")).message, Catch::Contains("too large"));
  CHECK_THAT(parse_err(with_latency("1000000000m")).message, Catch::Contains("too large"));
  CHECK(parse_ok(with_latency("1000000m")).network.latency == Duration::seconds(60'000'000));
  CHECK_THAT(parse_err(with_latency("")).message, Catch::Contains("expected a duration"));
  CHECK_THAT(parse_err(with_latency("-")).message, Catch::Contains("expected a duration"));
  CHECK_THAT(parse_err(with_latency("1.5.5s")).message, Catch::Contains("expected a duration"));
  CHECK(parse_ok(with_latency("0us")).network.latency == Duration::micros(0));
}

TEST_CASE("scenario: apply_config_override", "[scenario]") {
  Scenario s = parse_ok(
      R"({"name": "x", "cluster": {"masters": 1, "config": {"cluster-node-timeout": 2000, "cluster-slave-no-failover": "yes"}}, "run_until": "1s"})");
  CHECK_FALSE(apply_config_override(s, "cluster-node-timeout=5000"));
  CHECK(node_config(s.cluster).cluster_node_timeout_ms == 5000);
  CHECK(std::count_if(s.cluster.config.begin(), s.cluster.config.end(),
                      [](const ConfigSetting& c) { return c.name == "cluster-node-timeout"; }) == 1);
  // An old name replaces the setting stored under the new one.
  CHECK_FALSE(apply_config_override(s, "cluster-replica-no-failover=no"));
  CHECK_FALSE(node_config(s.cluster).cluster_replica_no_failover);
  CHECK_FALSE(apply_config_override(s, "repl-ping-slave-period=3"));
  CHECK(node_config(s.cluster).repl_ping_replica_period_s == 3);
  REQUIRE(s.cluster.config.size() == 3);
  CHECK(s.cluster.config[0] == ConfigSetting{"cluster-node-timeout", "5000"});
  CHECK(s.cluster.config[1] == ConfigSetting{"cluster-replica-no-failover", "no"});
  CHECK(s.cluster.config[2] == ConfigSetting{"repl-ping-replica-period", "3"});
  CHECK(parse_ok(to_json(s).dump()) == s);

  const Scenario before = s;
  const auto bad_value = apply_config_override(s, "cluster-node-timeout=fast");
  REQUIRE(bad_value);
  CHECK_THAT(*bad_value, Catch::StartsWith("--set cluster-node-timeout=fast: bad value \"fast\": expected an integer"));
  const auto unknown = apply_config_override(s, "node-timeout=5");
  REQUIRE(unknown);
  CHECK_THAT(*unknown, Catch::StartsWith("--set node-timeout=5: unknown Redis setting \"node-timeout\" (known: cluster-node-timeout,"));
  const auto no_eq = apply_config_override(s, "cluster-node-timeout");
  REQUIRE(no_eq);
  CHECK_THAT(*no_eq, Catch::Contains("expected NAME=VALUE"));
  CHECK(apply_config_override(s, "=5"));
  CHECK(apply_config_override(s, "cluster-require-full-coverage=maybe"));
  CHECK(s == before);  // failed overrides change nothing
}

TEST_CASE("scenario: node aliases follow the cluster shape", "[scenario]") {
  ClusterSpec c;
  c.masters = 3;
  c.replicas_per_master = 2;
  c.spares = 1;
  CHECK(c.node_count() == 10);
  CHECK(c.alias(0) == "m1");
  CHECK(c.alias(3) == "r1");
  CHECK(c.alias(8) == "r6");
  CHECK(c.alias(9) == "s1");
  CHECK(c.index_of("m3") == 2);
  CHECK(c.index_of("r4") == 6);
  CHECK(c.index_of("s1") == 9);
  CHECK_FALSE(c.index_of("m4"));
  CHECK_FALSE(c.index_of("r7"));
  CHECK_FALSE(c.index_of("s2"));
  CHECK_FALSE(c.index_of("m0"));
  CHECK_FALSE(c.index_of("m01"));
  CHECK_FALSE(c.index_of("m"));
  CHECK_FALSE(c.index_of("x1"));
  CHECK_FALSE(c.index_of("m-1"));
  CHECK(c.port(0) == 30001);
  CHECK(c.port(c.index_of("r1").value()) == 30004);
  // rk replicates m(((k-1) mod N)+1)
  CHECK(c.initial_master_of(c.index_of("r1").value()) == 0);
  CHECK(c.initial_master_of(c.index_of("r3").value()) == 2);
  CHECK(c.initial_master_of(c.index_of("r4").value()) == 0);
  CHECK(c.initial_master_of(c.index_of("r6").value()) == 2);
  CHECK_FALSE(c.initial_master_of(0));
  CHECK_FALSE(c.initial_master_of(9));
  CHECK(c.alias_summary() == "m1..m3, r1..r6, s1");
  c.replicas_per_master = 0;
  c.spares = 0;
  c.masters = 1;
  CHECK(c.alias_summary() == "m1");
}

TEST_CASE("scenario: flap transitions", "[scenario]") {
  action::Flap flap{{NodeRef::of_alias("m1"), NodeRef::of_alias("m2")}, Duration::seconds(1), Instant::from_millis(13000)};
  const auto t = flap_transitions(Instant::from_millis(10000), flap);
  REQUIRE(t.size() == 4);
  CHECK(t[0] == std::pair{Instant::from_millis(10000), true});
  CHECK(t[1] == std::pair{Instant::from_millis(11000), false});
  CHECK(t[2] == std::pair{Instant::from_millis(12000), true});
  CHECK(t[3] == std::pair{Instant::from_millis(13000), false});
  flap.until = Instant::from_millis(12000);
  const auto even = flap_transitions(Instant::from_millis(10000), flap);
  REQUIRE(even.size() == 2);
  CHECK(even.back() == std::pair{Instant::from_millis(11000), false});

  const ScenarioError many = parse_err(R"({"name": "x", "cluster": {"masters": 2}, "run_until": "20m",
    "timeline": [{"at": "0s", "flap": {"between": ["m1", "m2"], "period": "1ms", "until": "10m"}}]})");
  CHECK(many.json_path == "/timeline/0/flap/period");
  CHECK_THAT(many.message, Catch::Contains("flaps more than 100000 times"));
}

TEST_CASE("scenario: selectors nest at most 8 deep", "[scenario]") {
  std::string ref = "\"m1\"";
  for (int i = 0; i < 8; ++i) ref = R"({"master_of": )" + ref + "}";
  const std::string ok = R"({"name": "x", "cluster": {"masters": 1}, "run_until": "1s", "timeline": [{"at": "0s", "crash": )" + ref + "}]}";
  CHECK(std::get<action::Crash>(parse_ok(ok).timeline[0].action).node.steps.size() == 8);
  ref = R"({"replica_of": )" + ref + "}";
  const std::string deep = R"({"name": "x", "cluster": {"masters": 1}, "run_until": "1s", "timeline": [{"at": "0s", "crash": )" + ref + "}]}";
  CHECK_THAT(parse_err(deep).message, Catch::Contains("nest at most 8"));
}

TEST_CASE("scenario: never throws on truncated or mutated input", "[scenario]") {
  const std::string full = kFullScenario;
  size_t errors = 0;
  for (size_t n = 0; n < full.size(); ++n) {
    const auto result = parse_scenario(std::string_view(full).substr(0, n), "cut.json");
    errors += std::holds_alternative<ScenarioError>(result) ? 1 : 0;
  }
  CHECK(errors == full.size());  // no proper prefix of an object is a valid document

  Rng rng(2024);
  const char alphabet[] = "{}[]\",:-0123456789.aems \n\\/~";
  for (int round = 0; round < 3000; ++round) {
    std::string text = full;
    const int edits = 1 + static_cast<int>(rng.below(4));
    for (int k = 0; k < edits; ++k) {
      const size_t at = rng.below(text.size());
      switch (rng.below(3)) {
        case 0: text[at] = alphabet[rng.below(sizeof(alphabet) - 1)]; break;
        case 1: text.erase(at, 1 + rng.below(8)); break;
        default: text.insert(at, 1, alphabet[rng.below(sizeof(alphabet) - 1)]); break;
      }
    }
    std::variant<Scenario, ScenarioError> result;
    REQUIRE_NOTHROW(result = parse_scenario(text, "mutated.json"));
    if (const auto* s = std::get_if<Scenario>(&result)) {
      CHECK(parse_ok(to_json(*s).dump()) == *s);
    } else {
      const ScenarioError& err = std::get<ScenarioError>(result);
      CHECK_FALSE(err.message.empty());
      CHECK_THAT(err.message, !Catch::Contains("internal error"));
    }
  }
}

TEST_CASE("scenario: power_loss is its own action, apart from crash", "[scenario]") {
  const Scenario s = parse_ok(R"({"name": "x", "cluster": {"masters": 1}, "run_until": "2s",
    "timeline": [{"at": "0s", "crash": "m1"}, {"at": "1s", "power_loss": "m1"}]})");
  CHECK(std::get<action::Crash>(s.timeline[0].action).node == NodeRef::of_alias("m1"));
  CHECK(std::get<action::PowerLoss>(s.timeline[1].action).node == NodeRef::of_alias("m1"));
  CHECK(parse_ok(to_json(s).dump()) == s);
  CHECK(to_json(s)["timeline"][1].contains("power_loss"));
}

TEST_CASE("scenario: slot_owner takes exactly one of is and is_not", "[scenario]") {
  const auto with = [](const char* fields) {
    return std::string(R"({"name": "s", "seed": 1, "cluster": {"masters": 3}, "run_until": "10s", "expect": [{"slot_owner": {"slot": 0, )") +
           fields + "}}]}";
  };
  const auto not_r1 = std::get<check::SlotOwner>(parse_ok(with(R"("is_not": "m1", "seen_by": "m2")")).expect[0].check);
  CHECK(not_r1.is_not);
  CHECK(not_r1.is == alias("m1"));
  CHECK_FALSE(std::get<check::SlotOwner>(parse_ok(with(R"("is": "m1")")).expect[0].check).is_not);
  for (const char* fields : {R"("is": "m1", "is_not": "m2")", R"("seen_by": "m2")"}) {
    const ScenarioError err = parse_err(with(fields));
    CHECK(err.json_path == "/expect/0/slot_owner");
    CHECK_THAT(err.message, Catch::Contains("exactly one of \"is\" and \"is_not\""));
  }
}

TEST_CASE("scenario: slot_owner seen_by any asks for at least one live viewer and round-trips", "[scenario]") {
  const Scenario s = parse_ok(R"({"name": "s", "seed": 1, "cluster": {"masters": 3}, "run_until": "3s", "expect": [
      {"slot_owner": {"slot": 0, "is": "m1", "seen_by": "any"}},
      {"slot_owner": {"slot": 0, "is_not": "m1", "seen_by": "any"}},
      {"slot_owner": {"slot": 0, "is_not": "m2", "seen_by": "all"}}]})");
  const auto& any = std::get<check::SlotOwner>(s.expect[0].check);
  CHECK(any.any_viewer);
  CHECK_FALSE(any.seen_by.has_value());
  CHECK_FALSE(std::get<check::SlotOwner>(s.expect[2].check).any_viewer);
  CHECK(to_json(s)["expect"][0]["slot_owner"]["seen_by"] == "any");
  CHECK(parse_ok(to_json(s).dump()) == s);
  // Idle: every view maps slot 0 to m1, so "some view maps it elsewhere" fails and names nobody.
  const RunResult result = run_scenario(s, RunOptions{});
  REQUIRE(result.expectations.size() == 3);
  CHECK(result.expectations[0].passed);
  CHECK_THAT(result.expectations[0].detail, Catch::Contains("m1 sees m1; "));
  CHECK_FALSE(result.expectations[1].passed);
  CHECK(result.expectations[1].detail == "slot 0 not served by another node than m1 in any view");
  CHECK(result.expectations[2].passed);
}

TEST_CASE("scenario: network.timer_wheel is per_host unless shared - and names what it accepts", "[scenario]") {
  const auto with = [](const char* network) {
    return std::string(R"({"name": "s", "cluster": {"masters": 3}, "run_until": "1s", "network": )") + network + "}";
  };
  CHECK(parse_ok(with("{}")).network.timer_wheel == TimerWheel::per_host);
  const Scenario shared = parse_ok(with(R"({"timer_wheel": "shared"})"));
  CHECK(shared.network.timer_wheel == TimerWheel::shared);
  CHECK(to_json(shared)["network"]["timer_wheel"] == "shared");
  CHECK(parse_ok(to_json(shared).dump()) == shared);
  const ScenarioError err = parse_err(with(R"({"timer_wheel": "one"})"));
  CHECK(err.json_path == "/network/timer_wheel");
  CHECK_THAT(err.message, Catch::Contains("per_host") && Catch::Contains("shared"));
}
