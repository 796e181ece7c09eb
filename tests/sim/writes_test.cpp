// Replication, cluster-aware clients and the acknowledged-write checker.
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "protocol/slots.hpp"
#include "sim/run.hpp"
#include "sim/workload.hpp"
#include "sim/world.hpp"
#include "tests/sim/scenario_from.hpp"

using namespace rcsim;
using namespace rcsim::sim;

namespace {

const WritesReport& writes_of(const RunResult& result) {
  REQUIRE(result.world->workload() != nullptr);
  const WritesReport& report = result.world->workload()->report();
  REQUIRE(report.checked);
  return report;
}

// A bare client: one connection to a node's client port, requests in, replies recorded.
class RawClient final : public Process {
 public:
  explicit RawClient(Host& host) : host_(host) {}
  void on_start() override {}
  void on_accepted(ConnId, HostId, uint16_t) override {}
  void on_connected(ConnId) override {}
  void on_connect_failed(ConnId) override {}
  void on_closed(ConnId) override {}
  void on_data(ConnId, const Packet& packet) override { replies.push_back(*static_cast<const kv::Reply*>(packet.body.get())); }

  void send(ConnId conn, kv::Request request) {
    request.id = next_id_++;
    auto body = std::make_shared<kv::Request>(std::move(request));
    const uint32_t size = body->wire_size();
    host_.send(conn, Packet{size, std::move(body)});
  }
  std::vector<kv::Reply> replies;

 private:
  Host& host_;
  uint64_t next_id_ = 1;
};

struct RawSetup {
  std::unique_ptr<World> world;
  std::unique_ptr<Host> host;
  RawClient* client = nullptr;

  explicit RawSetup(uint64_t seed = 1) {
    WorldOptions options;
    options.seed = seed;
    options.config.cluster_node_timeout_ms = 2000;
    world = std::make_unique<World>(options);
    REQUIRE(world->create_cluster());
    host = std::make_unique<Host>(world->scheduler(), world->network(), "10.0.0.1");
    auto process = std::make_unique<RawClient>(*host);
    client = process.get();
    host->start(std::move(process));
  }
  ConnId connect(int node) { return host->connect(world->host_id(node), world->address(node).port, false); }
  // Sends and runs until the reply arrives.
  kv::Reply call(ConnId conn, kv::Request request, Duration limit = Duration::seconds(1)) {
    const size_t before = client->replies.size();
    client->send(conn, std::move(request));
    world->scheduler().run_until([&] { return client->replies.size() > before; }, world->now() + limit);
    REQUIRE(client->replies.size() == before + 1);
    return client->replies.back();
  }
};

kv::Request set(std::string key, uint64_t value) {
  kv::Request r;
  r.cmd = kv::Cmd::set;
  r.key = std::move(key);
  r.value = value;
  return r;
}

kv::Request get(std::string key) {
  kv::Request r;
  r.cmd = kv::Cmd::get;
  r.key = std::move(key);
  return r;
}

}  // namespace

TEST_CASE("MOVED: a node answers for slots it does not serve with the owner's address", "[writes][redirect]") {
  RawSetup s;
  // 3 masters: m1 0-5460, m2 5461-10922, m3 10923-16383. "foo" hashes to 12182 (m3).
  REQUIRE(protocol::key_hash_slot("foo") == 12182);
  const ConnId to_m1 = s.connect(0);
  kv::Reply r = s.call(to_m1, set("foo", 1));
  CHECK(r.kind == kv::ReplyKind::moved);
  CHECK(r.text == "MOVED 12182 127.0.0.1:30003");
  CHECK(r.slot == 12182);
  CHECK(r.port == 30003);
  // Reads too, and a replica redirects to its master (no READONLY).
  r = s.call(to_m1, get("foo"));
  CHECK(r.text == "MOVED 12182 127.0.0.1:30003");
  const ConnId to_r3 = s.connect(5);  // r3 replicates m3
  r = s.call(to_r3, set("foo", 2));
  CHECK(r.text == "MOVED 12182 127.0.0.1:30003");
  // The owner serves it, and the write reaches its replica.
  const ConnId to_m3 = s.connect(2);
  r = s.call(to_m3, set("foo", 3));
  CHECK(r.kind == kv::ReplyKind::ok);
  CHECK(s.call(to_m3, get("foo")).value == 3);
  s.world->run_for(Duration::millis(10));
  CHECK(s.world->process(5)->get("foo") == std::optional<uint64_t>(3));
  CHECK(s.world->process(5)->repl_offset() == s.world->process(2)->repl_offset());
  CHECK(s.call(to_m3, get("{foo}.missing")).kind == kv::ReplyKind::nil);
}

TEST_CASE("CROSSSLOT: multi-key commands need one slot - hash tags make it so", "[writes][redirect]") {
  RawSetup s;
  const ConnId to_m3 = s.connect(2);
  kv::Request mset;
  mset.cmd = kv::Cmd::mset;
  mset.key = "foo";  // 12182
  mset.more_keys = {"bar"};  // 5061
  mset.value = 7;
  kv::Reply r = s.call(to_m3, mset);
  CHECK(r.kind == kv::ReplyKind::crossslot);
  CHECK(r.text == "CROSSSLOT Keys in request don't hash to the same slot");
  // Same tag, same slot: {user1000} → 3443 (m1).
  mset.key = "{user1000}.following";
  mset.more_keys = {"{user1000}.followers"};
  REQUIRE(protocol::key_hash_slot(mset.key) == 3443);
  r = s.call(to_m3, mset);
  CHECK(r.text == "MOVED 3443 127.0.0.1:30001");
  r = s.call(s.connect(0), mset);
  CHECK(r.kind == kv::ReplyKind::ok);
  CHECK(s.world->process(0)->get("{user1000}.followers") == std::optional<uint64_t>(7));
  // The same key twice is one slot.
  mset.key = "foo";
  mset.more_keys = {"foo"};
  CHECK(s.call(to_m3, mset).kind == kv::ReplyKind::ok);
}

TEST_CASE("CLUSTERDOWN: a master cut off from the majority refuses keys - then MOVED once demoted", "[writes][redirect]") {
  RawSetup s;
  const ConnId to_m1 = s.connect(0);
  CHECK(s.call(to_m1, set("{user1000}", 1)).kind == kv::ReplyKind::ok);
  s.world->run_for(Duration::millis(1));
  CHECK(s.world->process(3)->get("{user1000}") == std::optional<uint64_t>(1));
  s.world->place_beside(0, s.host->id());
  s.world->partition({{0}, {1, 2, 3, 4, 5}});
  s.world->run_for(Duration::millis(100));
  CHECK(s.call(to_m1, set("{user1000}", 5)).kind == kv::ReplyKind::ok);  // acknowledged on the minority side
  s.world->run_for(Duration::millis(3300));  // past the bound: m1 is cluster_state fail
  REQUIRE_FALSE(s.world->node(0)->state_ok());
  kv::Reply r = s.call(to_m1, set("{user1000}", 2));
  CHECK(r.kind == kv::ReplyKind::clusterdown);
  CHECK(r.text == "CLUSTERDOWN The cluster is down");
  // Even for a slot it does not serve: CLUSTERDOWN is checked before MOVED.
  CHECK(s.call(to_m1, set("foo", 3)).kind == kv::ReplyKind::clusterdown);
  s.world->run_for(Duration::seconds(5));  // r1 takes over on the majority side
  s.world->heal();
  s.world->run_for(Duration::seconds(3));
  REQUIRE(s.world->node(0)->myself().is_replica());
  r = s.call(to_m1, set("{user1000}", 4));
  CHECK(r.text == "MOVED 3443 127.0.0.1:30004");  // r1
  // m1 resynced from r1: the write it acknowledged on the minority side is gone, the first one kept.
  s.world->run_for(Duration::seconds(2));
  INFO(s.world->process(0)->get("{user1000}").value_or(0) << " replication_ok " << s.world->process(0)->replication_ok());
  CHECK(s.world->process(0)->get("{user1000}") == std::optional<uint64_t>(1));
  CHECK(s.world->process(3)->get("{user1000}") == std::optional<uint64_t>(1));
}

TEST_CASE("WAIT counts replicas that acknowledged the client's last write", "[writes][wait]") {
  RawSetup s;
  const ConnId to_m1 = s.connect(0);
  REQUIRE(s.call(to_m1, set("{user1000}", 1)).kind == kv::ReplyKind::ok);
  kv::Request wait;
  wait.cmd = kv::Cmd::wait;
  wait.numreplicas = 1;
  wait.timeout_ms = 100;
  kv::Reply r = s.call(to_m1, wait);
  CHECK(r.kind == kv::ReplyKind::integer);
  CHECK(r.integer == 1);
  // Two replicas asked, one exists: WAIT blocks for its timeout, then says 1.
  REQUIRE(s.call(to_m1, set("{user1000}", 2)).kind == kv::ReplyKind::ok);
  wait.numreplicas = 2;
  const Instant sent = s.world->now();
  r = s.call(to_m1, wait);
  CHECK(r.integer == 1);
  CHECK(s.world->now() - sent >= Duration::millis(100));
  // A replica that cannot acknowledge (paused): WAIT 1 times out with 0.
  s.world->pause(3);
  REQUIRE(s.call(to_m1, set("{user1000}", 3)).kind == kv::ReplyKind::ok);
  wait.numreplicas = 1;
  CHECK(s.call(to_m1, wait).integer == 0);
  s.world->resume(3);
  // On a replica: an error, as in Redis.
  r = s.call(s.connect(3), wait);
  CHECK(r.kind == kv::ReplyKind::error);
  CHECK(r.text.rfind("ERR WAIT cannot be used with replica instances", 0) == 0);
}

TEST_CASE("a cluster client with no slot map follows MOVED and learns the map", "[writes][client]") {
  RawSetup s;
  ClusterClientOptions options;
  options.startup_ports = {30001};
  World& world = *s.world;
  options.resolve = [&world](uint16_t port) { return world.client_endpoint(port); };
  Host host(world.scheduler(), world.network(), "10.0.0.2");
  auto owned = std::make_unique<ClusterClient>(host, Rng(5), options);
  ClusterClient* client = owned.get();
  host.start(std::move(owned));
  std::optional<ClusterClient::Outcome> outcome;
  client->run(set("foo", 9), [&](const ClusterClient::Outcome& o) { outcome = o; });
  world.scheduler().run_until([&] { return outcome.has_value(); }, world.now() + Duration::seconds(1));
  REQUIRE(outcome);
  CHECK(outcome->ok);
  CHECK(outcome->port == 30003);
  CHECK(client->redirections() == 1);
  world.run_for(Duration::millis(10));  // the map reload the MOVED asked for
  CHECK(client->slot_map()[0] == 30001);
  CHECK(client->slot_map()[12182] == 30003);
  CHECK(world.process(2)->get("foo") == std::optional<uint64_t>(9));
}

TEST_CASE("no faults: no acknowledged write is lost at 10 000 writes/s for 60 s", "[writes][workload]") {
  const Scenario scenario = scenario_from(R"json({
    "name": "steady_writes", "seed": 7,
    "cluster": {"masters": 3, "replicas_per_master": 1, "config": {"cluster-node-timeout": 2000}},
    "workload": {"clients": 10, "writes_per_s": 10000, "reads_per_s": 1000, "keys": 1000},
    "run_until": "60s",
    "expect": [{"lost_writes": {"max": 0}}]
  })json");
  const RunResult result = run_scenario(scenario, RunOptions{});
  const WritesReport& writes = writes_of(result);
  CHECK(result.passed());
  CHECK(writes.attempted >= 590'000);
  CHECK(writes.attempted <= 610'000);
  CHECK(writes.acked == writes.attempted);
  CHECK(writes.lost == 0);
  CHECK(writes.reads_attempted >= 50'000);
  CHECK(writes.reads_ok == writes.reads_attempted);
  CHECK(result.world->violations().empty());
}

namespace {

const char* const kMinority = R"json({
  "name": "minority_writes", "seed": %SEED%,
  "cluster": {"masters": 3, "replicas_per_master": 1, "config": {"cluster-node-timeout": 2000}},
  "workload": {"clients": 1, "writes_per_s": 1000000, "keys": 1000000000, "placement": ["m1"]},
  "timeline": [
    {"at": "4s", "partition": [["m1"], ["m2", "m3", "r1", "r2", "r3"]]},
    {"at": "12s", "heal": true}
  ],
  "run_until": "15s",
  "expect": [{"lost_writes": {"min": 1}}]
})json";

std::string with_seed(std::string text, uint64_t seed) {
  text.replace(text.find("%SEED%"), 6, std::to_string(seed));
  return text;
}

}  // namespace

TEST_CASE("split brain: the minority master's acknowledged writes are lost - within the bound", "[writes][workload]") {
  const uint64_t seed = GENERATE(1, 2, 3);
  const RunResult result = run_scenario(scenario_from(with_seed(kMinority, seed)), RunOptions{});
  const WritesReport& writes = writes_of(result);
  INFO("seed " << seed);
  CHECK(result.passed());
  CHECK(result.world->violations().empty());
  REQUIRE(writes.lost > 0);
  CHECK(writes.lost_by_reason.size() == 1);
  CHECK(writes.lost_by_reason.count("minority_master") == 1);
  const int64_t cut_us = result.create_done.us + 4'000'000;
  for (const LostWrite& w : writes.lost_writes) {
    CHECK(w.acked_by == 0);  // m1, the demoted master
    CHECK(w.cut_us == cut_us);
    CHECK(w.ack_us >= cut_us);  // nothing acknowledged before the cut is lost
    CHECK(w.ack_us - cut_us <= writes.bound_ms * 1000);
    CHECK(w.cut_both_ways);
  }
  CHECK(writes.max_loss_window_ms >= 2000);  // PFAIL needs a node timeout of silence
  CHECK(writes.max_loss_window_ms <= writes.bound_ms);
  CHECK(result.world->node(0)->myself().is_replica());
}

TEST_CASE("the bound is enforced: a minority master that keeps serving violates lost_write_bound", "[writes][workload]") {
  RunOptions options;
  options.bugs.minority_keeps_writes = true;
  const RunResult result = run_scenario(scenario_from(with_seed(kMinority, 1)), options);
  const WritesReport& writes = writes_of(result);
  CHECK(writes.max_loss_window_ms > 7000);  // it served the whole 8 s partition
  int bound_violations = 0;
  for (const InvariantViolation& v : result.world->violations()) bound_violations += v.invariant == "lost_write_bound";
  CHECK(bound_violations == 1);
  CHECK_FALSE(result.passed());
}

TEST_CASE("kill -9 of a master: WAIT 1 writes survive - unreplicated ones do not", "[writes][workload][wait]") {
  // r1's replication link is slow (5 ms): without WAIT, m1 acknowledges writes r1 never gets.
  const std::string base = R"json({
    "name": "crash_writes", "seed": 3,
    "cluster": {"masters": 3, "replicas_per_master": 1, "config": {"cluster-node-timeout": 2000}},
    "network": {"links": [{"from": "m1", "to": "r1", "latency": "5ms", "both_ways": true}]},
    "workload": {"clients": 20, "writes_per_s": 20000, "keys": 1000000 %WAIT%},
    "timeline": [{"at": "5s", "crash": "m1"}],
    "run_until": "15s"
  })json";
  auto with_wait = [&](const std::string& wait) {
    std::string text = base;
    text.replace(text.find("%WAIT%"), 6, wait);
    return run_scenario(scenario_from(text), RunOptions{});
  };
  const RunResult plain = with_wait("");
  const WritesReport& lost = writes_of(plain);
  CHECK(lost.lost > 0);
  CHECK(lost.lost_by_reason.count("crashed_before_replication") == 1);
  CHECK(lost.lost_by_reason.size() == 1);
  for (const LostWrite& w : lost.lost_writes) CHECK(w.acked_by == 0);

  const RunResult waited = with_wait(R"(, "wait": {"replicas": 1, "timeout": "100ms"})");
  const WritesReport& safe = writes_of(waited);
  CHECK(safe.acked > 20'000);
  CHECK(safe.lost == 0);
  CHECK(waited.world->violations().empty());
  CHECK(waited.world->failovers().size() == 1);
}

TEST_CASE("writes are deterministic: same seed - same trace and same ledger", "[writes][determinism]") {
  const Scenario scenario = scenario_from(with_seed(kMinority, 4));
  const RunResult a = run_scenario(scenario, RunOptions{});
  const RunResult b = run_scenario(scenario, RunOptions{});
  CHECK(a.world->trace().sha256() == b.world->trace().sha256());
  const WritesReport& ra = writes_of(a);
  const WritesReport& rb = writes_of(b);
  CHECK(ra.acked == rb.acked);
  CHECK(ra.lost == rb.lost);
  CHECK(ra.max_loss_window_ms == rb.max_loss_window_ms);
  const auto& wa = a.world->workload()->writes();
  const auto& wb = b.world->workload()->writes();
  REQUIRE(wa.size() == wb.size());
  for (size_t i = 0; i < wa.size(); i += 997) {
    CHECK(wa[i].key == wb[i].key);
    CHECK(wa[i].done_us == wb[i].done_us);
  }
}

TEST_CASE("hash tags: ten keys per tag share a slot", "[writes][workload]") {
  WorkloadSpec spec;
  spec.hash_tags = true;
  WorldOptions options;
  options.config.cluster_node_timeout_ms = 2000;
  World world(options);
  REQUIRE(world.create_cluster());
  Workload workload(world, spec);
  CHECK(workload.key_name(1234) == "{g123}:1234");
  CHECK(protocol::key_hash_slot(workload.key_name(1230)) == protocol::key_hash_slot(workload.key_name(1239)));
}

TEST_CASE("placement: a client beside a node shares its partition fate", "[writes][placement]") {
  RawSetup s;
  World& w = *s.world;
  const HostId client = s.host->id();
  w.place_beside(0, client);
  auto open_both = [&](HostId a, HostId b) { return w.network().path_open(a, b) && w.network().path_open(b, a); };
  w.partition({{0}, {1, 2, 3, 4, 5}});
  CHECK(open_both(client, w.host_id(0)));
  CHECK_FALSE(open_both(client, w.host_id(1)));
  CHECK_FALSE(open_both(client, w.host_id(3)));
  w.heal();
  w.isolate(0);
  CHECK(open_both(client, w.host_id(0)));
  CHECK_FALSE(open_both(client, w.host_id(2)));
  CHECK_FALSE(open_both(w.host_id(0), w.host_id(2)));
  w.heal();
  w.block(0, 1);
  CHECK_FALSE(w.network().path_open(client, w.host_id(1)));
  CHECK(w.network().path_open(w.host_id(1), client));  // one way, like the node's
  CHECK(w.network().path_open(client, w.host_id(2)));
  w.unblock(0, 1);
  CHECK(w.network().path_open(client, w.host_id(1)));
  // A node's fault history records faults and their ends, for the checker.
  const std::vector<FaultRecord>& history = w.fault_history(0);
  REQUIRE(history.size() == 6);
  CHECK(history[0].kind == "partition");
  CHECK(history[1].kind == "heal");
  CHECK(history[2].kind == "isolate");
  CHECK(history[4].kind == "block");
  CHECK(history[5].kind == "unblock");
}

TEST_CASE("migrate_slots moves the slots' keys with them - replicas included", "[writes][migrate]") {
  RawSetup s;
  World& w = *s.world;
  const ConnId to_m1 = s.connect(0);
  REQUIRE(s.call(to_m1, set("{user1000}.a", 1)).kind == kv::ReplyKind::ok);  // slot 3443
  REQUIRE(s.call(to_m1, set("{user1000}.b", 2)).kind == kv::ReplyKind::ok);
  REQUIRE(s.call(to_m1, set("foo{06S}", 3)).kind == kv::ReplyKind::ok);  // slot 0 stays
  REQUIRE(w.migrate_slots({3443}, 0, 1).ok);
  w.run_for(Duration::millis(10));
  CHECK(w.process(0)->get("{user1000}.a") == std::nullopt);
  CHECK(w.process(3)->get("{user1000}.a") == std::nullopt);  // m1's replica applied the DEL
  CHECK(w.process(1)->get("{user1000}.a") == std::optional<uint64_t>(1));
  CHECK(w.process(4)->get("{user1000}.b") == std::optional<uint64_t>(2));  // m2's replica got the SET
  CHECK(w.process(0)->get("foo{06S}") == std::optional<uint64_t>(3));
  CHECK(s.call(to_m1, get("{user1000}.a")).text == "MOVED 3443 127.0.0.1:30002");
}

TEST_CASE("a one-way cut is not held to the bound: the master hears its peers a while longer", "[writes][workload]") {
  // Everything m1 sends is lost (the asymmetric_partition scenario, with m1's client beside it).
  const Scenario scenario = scenario_from(R"json({
    "name": "one_way_writes", "seed": 1,
    "cluster": {"masters": 3, "replicas_per_master": 1, "config": {"cluster-node-timeout": 2000}},
    "workload": {"clients": 1, "writes_per_s": 1000000, "keys": 1000000000, "placement": ["m1"]},
    "timeline": [
      {"at": "4s", "block": {"from": "m1", "to": "m2"}},
      {"at": "4s", "block": {"from": "m1", "to": "m3"}},
      {"at": "4s", "block": {"from": "m1", "to": "r1"}},
      {"at": "4s", "block": {"from": "m1", "to": "r2"}},
      {"at": "4s", "block": {"from": "m1", "to": "r3"}},
      {"at": "12s", "heal": true}
    ],
    "run_until": "15s"
  })json");
  const RunResult result = run_scenario(scenario, RunOptions{});
  const WritesReport& writes = writes_of(result);
  INFO("max window " << writes.max_loss_window_ms << " ms, bound " << writes.bound_ms);
  CHECK(writes.lost > 0);
  CHECK(writes.lost_by_reason.count("minority_master") == 1);
  for (const LostWrite& w : writes.lost_writes) CHECK_FALSE(w.cut_both_ways);
  for (const InvariantViolation& v : result.world->violations()) CHECK(v.invariant != "lost_write_bound");
}

TEST_CASE("loss reasons: restarted without persistence - replaced but still serving", "[writes][workload]") {
  SECTION("a master without replicas restarts empty and keeps its slots") {
    const RunResult result = run_scenario(scenario_from(R"json({
      "name": "restart_empty", "seed": 2,
      "cluster": {"masters": 3, "replicas_per_master": 0, "config": {"cluster-node-timeout": 2000}},
      "workload": {"clients": 4, "writes_per_s": 2000, "keys": 1000000},
      "timeline": [{"at": "3s", "crash": "m1"}, {"at": "4s", "restart": "m1"}],
      "run_until": "8s"
    })json"), RunOptions{});
    const WritesReport& writes = writes_of(result);
    CHECK(writes.lost > 1000);  // about a third of 3 s at 2,000 writes/s
    CHECK(writes.lost_by_reason == std::map<std::string, uint64_t>{{"restarted_empty", writes.lost}});
  }
  SECTION("TAKEOVER by a replica cut off from its master") {
    // r1 is isolated, so m1's writes stop reaching it; r1 takes over anyway; m1 serves on until the
    // heal tells it.
    const RunResult result = run_scenario(scenario_from(R"json({
      "name": "takeover_writes", "seed": 3,
      "cluster": {"masters": 3, "replicas_per_master": 1, "config": {"cluster-node-timeout": 2000}},
      "workload": {"clients": 4, "writes_per_s": 2000, "keys": 1000000},
      "timeline": [{"at": "3s", "isolate": "r1"}, {"at": "4s", "failover": {"node": "r1", "mode": "takeover"}},
                   {"at": "6s", "heal": true}],
      "run_until": "9s"
    })json"), RunOptions{});
    const WritesReport& writes = writes_of(result);
    const int64_t takeover_us = result.create_done.us + 4'000'000;
    REQUIRE(writes.lost_by_reason.count("demoted_master") == 1);
    REQUIRE(writes.lost_by_reason.count("replaced_master") == 1);
    CHECK(writes.lost_by_reason.size() == 2);
    for (const LostWrite& w : writes.lost_writes) {
      CHECK(w.acked_by == 0);
      CHECK((w.ack_us < takeover_us) == (w.reason == "demoted_master"));
    }
  }
}
