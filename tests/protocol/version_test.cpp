// Server version profiles (protocol/version.hpp): each rule shown changing behaviour between two profiles
// on the same seed.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "sim/run.hpp"
#include "sim/world.hpp"
#include "tests/sim/scenario_from.hpp"

using namespace rcsim;
using namespace rcsim::sim;

namespace {

WorldOptions cluster_of(protocol::ServerVersion version, int masters, int replicas_per_master, uint64_t seed) {
  WorldOptions options;
  options.seed = seed;
  options.masters = masters;
  options.replicas_per_master = replicas_per_master;
  options.config.cluster_node_timeout_ms = 2000;
  options.config.version = version;
  return options;
}

bool is_heartbeat(const MessageRecord& m) {
  return m.type == protocol::MessageType::ping || m.type == protocol::MessageType::pong ||
         m.type == protocol::MessageType::meet;
}

bool knows(const World& world, int index, int about) { return world.node(index)->find(world.name_of(about)) != nullptr; }

}  // namespace

TEST_CASE("redis-7.2 heartbeats carry the 48-byte shard-id extension; everything else is 7.0's", "[version]") {
  World old_world(cluster_of(protocol::ServerVersion::redis_7_0, 3, 1, 5));
  World new_world(cluster_of(protocol::ServerVersion::redis_7_2, 3, 1, 5));
  REQUIRE(old_world.create_cluster());
  REQUIRE(new_world.create_cluster());
  old_world.run_for(Duration::seconds(10));
  new_world.run_for(Duration::seconds(10));
  const std::vector<MessageRecord>& old_messages = old_world.messages();
  const std::vector<MessageRecord>& new_messages = new_world.messages();
  REQUIRE(old_messages.size() == new_messages.size());  // the extension changes no decision
  int heartbeats = 0;
  for (size_t i = 0; i < old_messages.size(); ++i) {
    const MessageRecord& a = old_messages[i];
    const MessageRecord& b = new_messages[i];
    REQUIRE(a.type == b.type);
    REQUIRE(a.sent_us == b.sent_us);
    if (is_heartbeat(a)) {
      ++heartbeats;
      CHECK((a.bytes - protocol::kHeaderBytes) % protocol::kGossipEntryBytes == 0);
      CHECK(b.bytes == a.bytes + 48);
    } else {
      CHECK(b.bytes == a.bytes);
    }
  }
  CHECK(heartbeats > 100);
}

TEST_CASE("CLUSTER FORGET: 7.0 forgets on the node told only, 7.2 tells every node in its pings", "[version]") {
  // 3 masters + 1 replica each; m1 forgets r3 (node 5). Only r3 itself never forgets r3.
  constexpr int kM1 = 0, kR3 = 5;
  for (const auto version : {protocol::ServerVersion::redis_7_0, protocol::ServerVersion::redis_7_2}) {
    World world(cluster_of(version, 3, 1, 3));
    REQUIRE(world.create_cluster());
    world.run_for(Duration::seconds(2));
    REQUIRE(world.forget(kM1, kR3).ok);
    world.run_for(Duration::seconds(10));
    INFO(protocol::profile_of(version).name);
    CHECK(!knows(world, kM1, kR3));  // blacklisted for 60 s either way
    for (int node = 1; node < 6; ++node) {
      if (node == kR3) continue;
      INFO("node " << world.alias(node));
      CHECK(knows(world, node, kR3) == (version == protocol::ServerVersion::redis_7_0));
    }
  }
}

TEST_CASE("a master alone in its cluster marks a dead replica FAIL itself from 7.2.5 on (redis#12824)", "[version]") {
  constexpr int kM1 = 0, kR1 = 1;
  for (const auto version : {protocol::ServerVersion::redis_7_0, protocol::ServerVersion::redis_7_2}) {
    World world(cluster_of(version, 1, 1, 4));
    REQUIRE(world.create_cluster());
    world.run_for(Duration::seconds(2));
    const Instant kill = world.now();
    world.crash(kR1);
    world.run_for(Duration::seconds(10));
    int64_t pfail_us = -1, fail_us = -1;
    for (const ObservedEvent& e : world.events()) {
      if (e.node != kM1 || e.about != kR1 || e.t_us < kill.us) continue;
      if (e.kind == "pfail" && pfail_us < 0) pfail_us = e.t_us;
      if (e.kind == "fail" && fail_us < 0) fail_us = e.t_us;
    }
    INFO(protocol::profile_of(version).name);
    REQUIRE(pfail_us > kill.us + 2'000'000);  // node timeout 2000
    if (version == protocol::ServerVersion::redis_7_0) {
      CHECK(fail_us == -1);  // no other master to report: PFAIL for ever
    } else {
      CHECK(fail_us == pfail_us);
    }
  }
}

TEST_CASE("redis-7.4 leaves the receiver out of a heartbeat's gossip: 3 masters send empty sections far more often",
          "[version]") {
  // 3 nodes: one entry wanted, three draws among the three. 7.2 fails only if all three draws are
  // myself, (1/3)^3; 7.4 also spends the draws that hit the receiver, (2/3)^3.
  auto empty_share = [](protocol::ServerVersion version) {
    World world(cluster_of(version, 3, 0, 6));
    REQUIRE(world.create_cluster());
    const Instant steady = world.now() + Duration::seconds(2);
    world.run_until(steady + Duration::seconds(60));
    int heartbeats = 0, empty = 0;
    for (const MessageRecord& m : world.messages()) {
      if (m.sent_us < steady.us || !is_heartbeat(m)) continue;
      ++heartbeats;
      const uint32_t entries = (m.bytes - protocol::kHeaderBytes - protocol::kShardIdExtBytes) / protocol::kGossipEntryBytes;
      CHECK(entries <= 1);
      if (entries == 0) ++empty;
    }
    REQUIRE(heartbeats > 200);
    return static_cast<double>(empty) / heartbeats;
  };
  const double share_72 = empty_share(protocol::ServerVersion::redis_7_2);
  const double share_74 = empty_share(protocol::ServerVersion::redis_7_4);
  CHECK(share_72 < 0.10);
  CHECK(share_74 > 0.20);
  CHECK(share_74 < 0.40);
}

TEST_CASE("redis-7.4 moves a demoted master's slots to its successor on the demoted one's word (redis#13055)",
          "[version]") {
  // m2 cannot hear r1. r1 takes over from m1 by manual failover; m2 learns of it only from m1's next
  // heartbeat, which says m1 now replicates r1.
  constexpr int kM1 = 0, kM2 = 1, kR1 = 3;
  for (const auto version : {protocol::ServerVersion::redis_7_2, protocol::ServerVersion::redis_7_4}) {
    World world(cluster_of(version, 3, 1, 8));
    REQUIRE(world.create_cluster());
    world.run_for(Duration::seconds(2));
    world.block(kR1, kM2);
    REQUIRE(world.failover(kR1, protocol::FailoverMode::manual).ok);
    world.run_for(Duration::millis(1500));
    INFO(protocol::profile_of(version).name);
    const protocol::Node& m2 = *world.node(kM2);
    REQUIRE(world.node(kM1)->myself().is_replica());  // m1 heard r1 and turned replica
    const protocol::ClusterNode* m1_seen = m2.find(world.name_of(kM1));
    REQUIRE(m1_seen != nullptr);
    CHECK(m1_seen->is_replica());
    if (version == protocol::ServerVersion::redis_7_2) {
      CHECK(m2.slot_owner(0) == nullptr);  // unbound until r1 itself is heard
      CHECK_FALSE(m2.state_ok());
    } else {
      REQUIRE(m2.slot_owner(0) != nullptr);
      CHECK(m2.slot_owner(0)->name == world.name_of(kR1));
      CHECK(m2.slot_owner(0)->config_epoch == world.node(kR1)->myself().config_epoch);
      CHECK(m2.state_ok());
    }
  }
}

TEST_CASE("a restarted master does not count itself alone before it has counted the masters (redis#12824's size 0)",
          "[version]") {
  // sim fuzz --profile redis-7.4 seed 131, shrunk: m2 restarts, and is cut off from m1 and m3 just as its
  // 2 s writable delay ends. Its first PFAILs come in the cron before clusterUpdateState first counts the
  // cluster: with 7.0's starting size of 1 the sole-primary rule marked both FAIL on its own word.
  const Scenario scenario = scenario_from(R"({
    "name": "restarted_master_not_alone", "seed": 110997,
    "cluster": {"masters": 3, "replicas_per_master": 0, "version": "redis-7.4", "config": {"cluster-node-timeout": 500}},
    "timeline": [
      {"at": "4496500us", "crash": "m2"}, {"at": "4588ms", "restart": "m2"},
      {"at": "5899500us", "partition": [["m1", "m3"], ["m2"]]}, {"at": "6634500us", "heal": true}],
    "run_until": "10016387us"})");
  const RunResult result = run_scenario(scenario, RunOptions{});
  REQUIRE(result.world != nullptr);
  const World& world = *result.world;
  CHECK(world.violations().empty());
  int m2_pfails = 0;
  for (const ObservedEvent& e : world.events()) {
    if (e.node < 0 || world.alias(e.node) != "m2") continue;
    m2_pfails += e.kind == "pfail";
    CHECK(e.kind != "fail");  // m2 is one master of three: it needs a report it cannot get
  }
  CHECK(m2_pfails == 2);  // it did flag both, in the window
}

// ---- Valkey 8.0 against Redis 7.4, the release it took its cluster code from --------------------

TEST_CASE("valkey-8.0 sends ping extensions only to a node it has heard sending them (valkey#52)", "[version]") {
  auto without_extensions = [](protocol::ServerVersion version) {
    World world(cluster_of(version, 3, 1, 5));
    REQUIRE(world.create_cluster());
    const Instant created = world.now();
    world.run_for(Duration::seconds(10));
    int before = 0, after = 0;
    for (const MessageRecord& m : world.messages()) {
      if (!is_heartbeat(m)) continue;
      const uint32_t residue = (m.bytes - protocol::kHeaderBytes) % protocol::kGossipEntryBytes;
      REQUIRE((residue == 0 || residue == protocol::kShardIdExtBytes));
      if (residue == 0) ++(m.sent_us < created.us ? before : after);
    }
    return std::pair{before, after};
  };
  CHECK(without_extensions(protocol::ServerVersion::redis_7_4) == std::pair{0, 0});
  const auto [while_forming, once_formed] = without_extensions(protocol::ServerVersion::valkey_8_0);
  CHECK(while_forming > 0);  // the MEETs, and pings to nodes not heard yet
  CHECK(once_formed == 0);
}

TEST_CASE("valkey-8.0 counts failure reports and its own vote only from masters with slots (valkey#634)", "[version]") {
  // 3 masters with slots, 2 empty masters met into the cluster. m2, s1 and s2 lose m1; m3 still has it.
  constexpr int kM1 = 0, kM2 = 1, kS1 = 3, kS2 = 4;
  for (const auto version : {protocol::ServerVersion::redis_7_4, protocol::ServerVersion::valkey_8_0}) {
    WorldOptions options = cluster_of(version, 3, 0, 9);
    options.spares = 2;
    World world(options);
    REQUIRE(world.create_cluster());
    REQUIRE(world.meet(kS1, kM1).ok);
    REQUIRE(world.meet(kS2, kM1).ok);
    world.run_for(Duration::seconds(5));
    REQUIRE(knows(world, kM2, kS1));
    REQUIRE(knows(world, kS1, kS2));
    for (const int peer : {kM2, kS1, kS2}) {
      world.block(kM1, peer);
      world.block(peer, kM1);
    }
    world.run_for(Duration::seconds(8));
    INFO(protocol::profile_of(version).name);
    const protocol::ClusterNode* m1_at_m2 = world.node(kM2)->find(world.name_of(kM1));
    REQUIRE(m1_at_m2 != nullptr);
    REQUIRE(m1_at_m2->has(protocol::kFlagPfail | protocol::kFlagFail));
    // Quorum 2 of the 3 masters with slots: 7.4 counts m2 and the empty masters' reports.
    CHECK(m1_at_m2->has(protocol::kFlagFail) == (version == protocol::ServerVersion::redis_7_4));
  }
}

// m1's two replicas in a cluster of 3 masters with 2 replicas each.
std::array<int, 2> replicas_of_m1(const World& world) {
  std::vector<int> out;
  for (int i = world.masters(); i < world.members(); ++i) {
    if (world.initial_master_of(i) == 0) out.push_back(i);
  }
  REQUIRE(out.size() == 2);
  return {out[0], out[1]};
}

TEST_CASE("valkey-8.0 ranks replicas with equal offsets by name, a second apart (valkey#762)", "[version]") {
  constexpr int kM1 = 0;
  for (const auto version : {protocol::ServerVersion::redis_7_4, protocol::ServerVersion::valkey_8_0}) {
    World world(cluster_of(version, 3, 2, 12));
    REQUIRE(world.create_cluster());
    world.run_for(Duration::seconds(2));
    const auto [a, b] = replicas_of_m1(world);
    world.crash(kM1);
    world.run_for(Duration::seconds(8));
    std::map<int, std::string> rank_of;  // replica -> "rank N" of its first election
    for (const ObservedEvent& e : world.events()) {
      if (e.kind == "election_scheduled" && !rank_of.contains(e.node)) rank_of[e.node] = e.detail;
    }
    INFO(protocol::profile_of(version).name);
    REQUIRE(rank_of.size() == 2);  // no data written: both replicas hold the same offset
    if (version == protocol::ServerVersion::redis_7_4) {
      CHECK(rank_of[a] == "rank 0");
      CHECK(rank_of[b] == "rank 0");
    } else {
      const bool a_first = world.name_of(a) < world.name_of(b);
      CHECK(rank_of[a] == (a_first ? "rank 0" : "rank 1"));
      CHECK(rank_of[b] == (a_first ? "rank 1" : "rank 0"));
    }
  }
}

TEST_CASE("valkey-8.0 forgets an election's time when its replica follows a new master (valkey#782)", "[version]") {
  // m1's two replicas: one wins, the other follows it; the winner dies soon after. 7.4's loser must
  // first wait out its own last election (retry = 2 x max(2 x node timeout, 2 s)).
  for (const auto version : {protocol::ServerVersion::redis_7_4, protocol::ServerVersion::valkey_8_0}) {
    World world(cluster_of(version, 3, 2, 14));
    REQUIRE(world.create_cluster());
    world.run_for(Duration::seconds(2));
    const auto [a, b] = replicas_of_m1(world);
    world.crash(0);
    world.run_for(Duration::seconds(6));
    const int winner = world.node(a)->myself().is_master() ? a : b;
    const int loser = winner == a ? b : a;
    REQUIRE(world.node(loser)->myself().master->name == world.name_of(winner));
    world.crash(winner);
    const Instant second_fault = world.now();
    world.run_for(Duration::seconds(20));
    int64_t fail_us = -1, scheduled_us = -1;
    for (const ObservedEvent& e : world.events()) {
      if (e.t_us < second_fault.us || e.about != winner) continue;
      if ((e.kind == "fail" || e.kind == "fail_received") && e.node == loser && fail_us < 0) fail_us = e.t_us;
      if (e.kind == "election_scheduled" && e.node == loser && scheduled_us < 0) scheduled_us = e.t_us;
    }
    INFO(protocol::profile_of(version).name);
    REQUIRE(fail_us > 0);
    REQUIRE(scheduled_us >= fail_us);
    if (version == protocol::ServerVersion::redis_7_4) CHECK(scheduled_us - fail_us > 1'000'000);
    else CHECK(scheduled_us - fail_us < 200'000);  // the next cron
  }
}

TEST_CASE("valkey-8.0 takes configEpochs from senders that claim to be primaries only (valkey#754)", "[version]") {
  // m1 fails over to r1 (epoch 7) and comes back as r1's replica: its header carries r1's configEpoch.
  constexpr int kM1 = 0, kM2 = 1, kR1 = 3;
  for (const auto version : {protocol::ServerVersion::redis_7_4, protocol::ServerVersion::valkey_8_0}) {
    World world(cluster_of(version, 3, 1, 2));
    REQUIRE(world.create_cluster());
    world.run_for(Duration::seconds(2));
    world.crash(kM1);
    world.run_for(Duration::seconds(10));
    world.restart(kM1);
    world.run_for(Duration::seconds(5));
    REQUIRE(world.node(kR1)->myself().is_master());
    REQUIRE(world.node(kR1)->myself().config_epoch == 7);
    REQUIRE(world.node(kM1)->myself().is_replica());
    const protocol::ClusterNode* m1_at_m2 = world.node(kM2)->find(world.name_of(kM1));
    REQUIRE(m1_at_m2 != nullptr);
    INFO(protocol::profile_of(version).name);
    // 7.4 records the replica's header epoch (its master's) as the replica's own; Valkey keeps m1's last.
    CHECK(m1_at_m2->config_epoch == (version == protocol::ServerVersion::redis_7_4 ? 7u : 1u));
  }
}

TEST_CASE("valkey-8.0 leaves a demoted master's slots with it until its successor claims them (valkey#445)", "[version]") {
  // As the redis#13055 case above: m2 cannot hear r1, and learns of the manual failover from m1.
  constexpr int kM1 = 0, kM2 = 1, kR1 = 3;
  World world(cluster_of(protocol::ServerVersion::valkey_8_0, 3, 1, 8));
  REQUIRE(world.create_cluster());
  world.run_for(Duration::seconds(2));
  world.block(kR1, kM2);
  REQUIRE(world.failover(kR1, protocol::FailoverMode::manual).ok);
  world.run_for(Duration::millis(1500));
  const protocol::Node& m2 = *world.node(kM2);
  REQUIRE(world.node(kM1)->myself().is_replica());
  const protocol::ClusterNode* m1_seen = m2.find(world.name_of(kM1));
  const protocol::ClusterNode* r1_seen = m2.find(world.name_of(kR1));
  REQUIRE(m1_seen != nullptr);
  REQUIRE(r1_seen != nullptr);
  CHECK(m1_seen->is_replica());
  CHECK(r1_seen->is_master());
  CHECK(r1_seen->config_epoch == world.node(kR1)->myself().config_epoch);
  REQUIRE(m2.slot_owner(0) != nullptr);
  CHECK(m2.slot_owner(0)->name == world.name_of(kM1));  // still bound to m1, flagged replica
  CHECK(m2.state_ok());                                   // every slot is still served in this view
  world.unblock(kR1, kM2);
  world.run_for(Duration::seconds(3));
  CHECK(m2.slot_owner(0)->name == world.name_of(kR1));  // r1's own claim moved them
}

// ---- Valkey 8.1 against Valkey 8.0 ---------------------------------------------------------------

namespace {

Scenario two_masters_crash(protocol::ServerVersion version, uint64_t seed) {
  auto loaded = load_scenario_file(std::string(RCSIM_SOURCE_DIR) + "/scenarios/two_masters_crash.json");
  if (const auto* error = std::get_if<ScenarioError>(&loaded)) FAIL(error->text());
  Scenario scenario = std::get<Scenario>(std::move(loaded));
  scenario.seed = seed;
  scenario.cluster.version = version;
  return scenario;
}

int64_t last_promotion_after_fault_ms(const World& world) {
  int64_t last = -1;
  for (const FailoverRecord& f : world.failovers()) last = std::max(last, f.promoted_ms - f.fault_ms);
  return last;
}

}  // namespace

TEST_CASE("two masters at once: where valkey-8.0's replicas split the votes, valkey-8.1's do not wait it out (valkey#1018, #1009)",
          "[version]") {
  // The seeds of 1-200 on which valkey-8.0 needs a second election, 4 x node timeout after the first.
  for (const uint64_t seed : {7, 22, 60, 66, 125}) {
    INFO("seed " << seed);
    const RunResult v80 = run_scenario(two_masters_crash(protocol::ServerVersion::valkey_8_0, seed), RunOptions{});
    const RunResult v81 = run_scenario(two_masters_crash(protocol::ServerVersion::valkey_8_1, seed), RunOptions{});
    REQUIRE(v80.world != nullptr);
    REQUIRE(v81.world != nullptr);
    CHECK(v80.world->failovers().size() == 2);
    CHECK(v81.world->failovers().size() == 2);
    CHECK(last_promotion_after_fault_ms(*v80.world) > 12'000);
    CHECK(last_promotion_after_fault_ms(*v81.world) < 6'000);
    CHECK(v81.world->violations().empty());
  }
}

TEST_CASE("valkey-8.1 staggers the shards that lost their masters together, and restarts an election it lost", "[version]") {
  // Seed 140: r2 learns of m1's failure after scheduling, and m1's shard sorts first: r2 waits 500 ms more,
  // meets r1 in epoch 13 anyway, loses, and runs again at once when r1 claims epoch 13.
  const RunResult run = run_scenario(two_masters_crash(protocol::ServerVersion::valkey_8_1, 140), RunOptions{});
  REQUIRE(run.world != nullptr);
  const World& world = *run.world;
  const int r1 = *world.index_of("r1"), r2 = *world.index_of("r2");
  int64_t r2_rank_raised_us = -1, r2_reset_us = -1, r2_second_start_us = -1, r1_promoted_us = -1;
  for (const ObservedEvent& e : world.events()) {
    if (e.node == r2 && e.kind == "election_rank_changed" && e.detail == "failed primary rank" && e.value == 1) r2_rank_raised_us = e.t_us;
    if (e.node == r2 && e.kind == "election_reset" && e.about == r1) r2_reset_us = e.t_us;
    if (e.node == r2 && e.kind == "election_started" && e.epoch == 14) r2_second_start_us = e.t_us;
    if (e.node == r1 && e.kind == "promoted") r1_promoted_us = e.t_us;
  }
  CHECK(r2_rank_raised_us > 0);
  REQUIRE(r1_promoted_us > 0);
  REQUIRE(r2_reset_us > r1_promoted_us);
  REQUIRE(r2_second_start_us > r2_reset_us);
  CHECK(r2_second_start_us - r2_reset_us < 1'000'000);  // the normal delay, not 4 x node timeout
  CHECK(world.violations().empty());
}

TEST_CASE("valkey-8.1 has no 2 x node timeout wait between votes for one master's replicas (valkey#1305, #1356)", "[version]") {
  // m1's replicas r1 and r4 cannot hear each other: r4 asks for votes 3.4 s after r1 won. 8.0's voters
  // refuse it as voted recently, 8.1's as claiming slots already held at a greater configEpoch.
  for (const char* version : {"valkey-8.0", "valkey-8.1"}) {
    const Scenario scenario = scenario_from(std::string(R"({"name": "second_replica_asks", "seed": 12,
      "cluster": {"masters": 3, "replicas_per_master": 2, "version": ")") + version + R"(", "config": {"cluster-node-timeout": 2000}},
      "timeline": [{"at": "2s", "block": {"from": "r1", "to": "r4"}}, {"at": "2s", "block": {"from": "r4", "to": "r1"}},
                   {"at": "2s", "crash": "m1"}],
      "run_until": "12s"})");
    const RunResult run = run_scenario(scenario, RunOptions{});
    REQUIRE(run.world != nullptr);
    std::map<protocol::VoteRefusal, int> refusals;
    for (const ObservedEvent& e : run.world->events()) {
      if (e.kind == "vote_refused") ++refusals[static_cast<protocol::VoteRefusal>(e.value)];
    }
    INFO(version);
    if (std::string(version) == "valkey-8.0") {
      CHECK(refusals[protocol::VoteRefusal::voted_recently] == 2);
    } else {
      CHECK(refusals[protocol::VoteRefusal::voted_recently] == 0);
      CHECK(refusals[protocol::VoteRefusal::slot_epoch_greater] == 2);
    }
  }
}

TEST_CASE("valkey-8.1 runs a CLUSTER FAILOVER FORCE election before the event loop sleeps (valkey#1067, #1081)", "[version]") {
  constexpr int kR1 = 3;
  for (const auto version : {protocol::ServerVersion::valkey_8_0, protocol::ServerVersion::valkey_8_1}) {
    World world(cluster_of(version, 3, 1, 21));
    REQUIRE(world.create_cluster());
    world.run_for(Duration::millis(2050));  // off the 100 ms cron grid
    const Instant asked = world.now();
    REQUIRE(world.failover(kR1, protocol::FailoverMode::force).ok);
    world.run_for(Duration::seconds(2));
    int64_t started_us = -1;
    for (const ObservedEvent& e : world.events()) {
      if (e.node == kR1 && e.kind == "election_started" && started_us < 0) started_us = e.t_us;
    }
    INFO(protocol::profile_of(version).name);
    REQUIRE(started_us >= asked.us);
    if (version == protocol::ServerVersion::valkey_8_0) CHECK(started_us > asked.us);  // the next clusterCron
    else CHECK(started_us == asked.us);
  }
}

TEST_CASE("valkey-8.1 lets a manual failover start inside an earlier election's window (valkey#1274)", "[version]") {
  // r1's automatic election cannot reach the other masters and expires; the operator forces a failover
  // once the links are back, before the election's retry time (2 x max(2 x node timeout, 2 s) = 8 s).
  for (const char* version : {"valkey-8.0", "valkey-8.1"}) {
    const Scenario scenario = scenario_from(std::string(R"({"name": "force_in_window", "seed": 23,
      "cluster": {"masters": 3, "replicas_per_master": 1, "version": ")") + version + R"(", "config": {"cluster-node-timeout": 2000}},
      "timeline": [{"at": "2s", "block": {"from": "r1", "to": "m2"}}, {"at": "2s", "block": {"from": "r1", "to": "m3"}},
                   {"at": "2s", "crash": "m1"},
                   {"at": "11s", "unblock": {"from": "r1", "to": "m2"}}, {"at": "11s", "unblock": {"from": "r1", "to": "m3"}},
                   {"at": "11.2s", "failover": {"node": "r1", "mode": "force"}}],
      "run_until": "20s"})");
    const RunResult run = run_scenario(scenario, RunOptions{});
    REQUIRE(run.world != nullptr);
    const World& world = *run.world;
    const int r1 = *world.index_of("r1");
    int64_t expired_us = -1, promoted_us = -1;
    for (const ObservedEvent& e : world.events()) {
      if (e.node == r1 && e.kind == "election_expired" && expired_us < 0) expired_us = e.t_us;
      if (e.node == r1 && e.kind == "promoted" && promoted_us < 0) promoted_us = e.t_us;
    }
    const int64_t asked_us = run.create_done.us + 11'200'000;
    INFO(version);
    REQUIRE(expired_us > 0);
    REQUIRE(expired_us < asked_us);
    REQUIRE(promoted_us > asked_us);
    if (std::string(version) == "valkey-8.0") CHECK(promoted_us - asked_us > 2'000'000);  // the retry time
    else CHECK(promoted_us - asked_us < 100'000);
  }
}
