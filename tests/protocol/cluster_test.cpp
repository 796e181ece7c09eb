// The Redis Cluster node inside the simulated world: formation, failure detection, failover.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <sstream>

#include "sim/run.hpp"
#include "sim/world.hpp"
#include "tests/sim/scenario_from.hpp"

using namespace rcsim;
using namespace rcsim::sim;

namespace {

WorldOptions three_by_one(uint64_t seed, int64_t node_timeout_ms) {
  WorldOptions options;
  options.seed = seed;
  options.masters = 3;
  options.replicas_per_master = 1;
  options.config.cluster_node_timeout_ms = node_timeout_ms;
  return options;
}

int first_event_ms(const World& world, const std::string& kind, int about) {
  for (const ObservedEvent& e : world.events()) {
    if (e.kind == kind && e.about == about) return static_cast<int>(e.t_us / 1000);
  }
  return -1;
}

}  // namespace

TEST_CASE("create-cluster forms a 3+3 cluster with redis-cli's epochs", "[cluster]") {
  World world(three_by_one(1, 2000));
  REQUIRE(world.create_cluster());
  for (int i = 0; i < 6; ++i) {
    const protocol::Node* n = world.node(i);
    INFO(world.alias(i) << "\n" << world.cluster_nodes(i));
    CHECK(n->state_ok());
    CHECK(n->node_list().size() == 6);
    CHECK(n->current_epoch() == 6);  // node i of N got configEpoch i
    CHECK(n->myself().config_epoch == static_cast<uint64_t>(i + 1));
  }
  CHECK(world.node(3)->myself().is_replica());
  CHECK(world.node(3)->myself().master->name == world.node(0)->name());
  // As redis-cli splits them (a real 3-master create-cluster: 0-5460, 5461-10922, 10923-16383).
  CHECK(world.initial_slots(0) == std::vector{sim::SlotRange{0, 5460}});
  CHECK(world.initial_slots(1) == std::vector{sim::SlotRange{5461, 10922}});
  CHECK(world.initial_slots(2) == std::vector{sim::SlotRange{10923, 16383}});
  CHECK(world.node(0)->myself().numslots == 5461);
  CHECK(world.node(1)->myself().numslots == 5462);
  CHECK(world.node(2)->myself().numslots == 5461);
  CHECK(world.violations().empty());
}

TEST_CASE("kill -9 of a master: PFAIL - FAIL - its replica promoted at epoch 7", "[cluster][failover]") {
  World world(three_by_one(3, 2000));
  REQUIRE(world.create_cluster());
  world.run_until(Instant::from_millis(10'000));
  world.crash(0);
  world.run_until(Instant::from_millis(30'000));
  INFO(world.cluster_nodes(1));
  REQUIRE(world.failovers().size() == 1);
  const FailoverRecord& f = world.failovers()[0];
  CHECK(f.old_master == 0);
  CHECK(f.new_master == 3);
  CHECK(f.epoch == 7);
  CHECK(world.node(3)->myself().is_master());
  CHECK(world.node(3)->myself().config_epoch == 7);
  for (int i = 1; i < 6; ++i) {
    INFO(world.alias(i));
    CHECK(world.node(i)->current_epoch() == 7);
    CHECK(world.node(i)->state_ok());
  }
  const int pfail_ms = first_event_ms(world, "pfail", 0) - 10'000;
  const int fail_ms = first_event_ms(world, "fail", 0) - 10'000;
  CHECK(pfail_ms >= 2000);
  CHECK(pfail_ms <= 3200);
  CHECK(fail_ms >= pfail_ms);
  CHECK(f.promoted_ms - 10'000 >= fail_ms + 500);
  CHECK(world.violations().empty());
}

namespace {

// How redis-cli reads CLUSTER NODES: id, ip:port@cport, flags, master, ping-sent, pong-recv,
// config-epoch, link-state, slots...
struct NodesLine {
  std::string id, address, flags, master, link_state;
  long long ping_sent = 0, pong_received = 0, config_epoch = 0;
  std::vector<std::string> slots;
};

std::vector<NodesLine> parse_cluster_nodes(const std::string& text) {
  std::vector<NodesLine> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    NodesLine n;
    REQUIRE(static_cast<bool>(fields >> n.id >> n.address >> n.flags >> n.master >> n.ping_sent >> n.pong_received >>
                              n.config_epoch >> n.link_state));
    for (std::string slot; fields >> slot;) n.slots.push_back(slot);
    lines.push_back(n);
  }
  return lines;
}

}  // namespace

TEST_CASE("CLUSTER NODES has redis-cli's shape", "[cluster]") {
  World world(three_by_one(5, 2000));
  REQUIRE(world.create_cluster());
  const auto lines = parse_cluster_nodes(world.cluster_nodes(0));
  REQUIRE(lines.size() == 6);
  int masters = 0, replicas = 0, myself = 0;
  for (const NodesLine& n : lines) {
    CHECK(n.id.size() == 40);
    CHECK(n.address.find('@') != std::string::npos);
    CHECK(n.link_state == "connected");
    if (n.flags.find("myself") != std::string::npos) ++myself;
    if (n.flags.find("master") != std::string::npos) {
      ++masters;
      CHECK(n.master == "-");
      CHECK(n.slots.size() == 1);  // one contiguous range each
    } else {
      ++replicas;
      CHECK(n.master.size() == 40);
      CHECK(n.slots.empty());
    }
  }
  CHECK(myself == 1);
  CHECK(masters == 3);
  CHECK(replicas == 3);
}

TEST_CASE("gossip sections: max(3 - N/10) random entries plus every PFAIL node", "[cluster][gossip]") {
  WorldOptions options;
  options.seed = 2;
  options.masters = 20;
  options.replicas_per_master = 1;  // 40 nodes: wanted = 4
  options.config.cluster_node_timeout_ms = 2000;
  World world(options);
  REQUIRE(world.create_cluster());
  const Instant steady = world.now() + Duration::seconds(5);
  world.run_until(steady + Duration::seconds(5));
  std::map<uint32_t, int> entries_histogram;
  for (const MessageRecord& m : world.messages()) {
    if (m.sent_us < steady.us || (m.type != protocol::MessageType::ping && m.type != protocol::MessageType::pong)) continue;
    ++entries_histogram[(m.bytes - protocol::kHeaderBytes) / protocol::kGossipEntryBytes];
  }
  REQUIRE(!entries_histogram.empty());
  CHECK(entries_histogram.rbegin()->first == 4);  // never more than wanted without PFAIL nodes
  int total = 0;
  for (const auto& [entries, count] : entries_histogram) total += count;
  CHECK(entries_histogram[4] > total * 9 / 10);  // best effort: 3 x wanted draws rarely fall short

  // Between a node's own PFAIL of a dead node and its FAIL, every heartbeat it sends carries the
  // PFAIL node on top of the random entries, from the next cron on (the count of PFAIL nodes to
  // append is taken at the start of each clusterCron).
  const Instant fault = world.now();
  world.crash(5);
  world.run_until(fault + Duration::seconds(8));
  std::map<int, int64_t> pfail_at, fail_at;
  for (const ObservedEvent& e : world.events()) {
    if (e.about != 5 || e.t_us < fault.us) continue;
    if (e.kind == "pfail") pfail_at.emplace(e.node, e.t_us + 101'400);  // the next cron: 100.4 ms on, + <= 1 ms late
    if (e.kind == "fail" || e.kind == "fail_received") fail_at.emplace(e.node, e.t_us);
  }
  REQUIRE(pfail_at.size() > 10);
  int with_extra = 0, heartbeats = 0;
  for (const MessageRecord& m : world.messages()) {
    if (m.type != protocol::MessageType::ping && m.type != protocol::MessageType::pong) continue;
    const auto p = pfail_at.find(m.from);
    const auto f = fail_at.find(m.from);
    if (p == pfail_at.end() || f == fail_at.end() || m.sent_us <= p->second || m.sent_us >= f->second) continue;
    ++heartbeats;
    const uint32_t entries = (m.bytes - protocol::kHeaderBytes) / protocol::kGossipEntryBytes;
    CHECK(entries <= 5);
    if (entries == 5) ++with_extra;
  }
  REQUIRE(heartbeats > 0);
  CHECK(with_extra > heartbeats * 9 / 10);
}

TEST_CASE("FAIL needs a majority of masters and reaches every node", "[cluster][failure]") {
  World world(three_by_one(11, 2000));
  REQUIRE(world.create_cluster());
  const Instant fault = world.now() + Duration::seconds(5);
  world.run_until(fault);
  world.crash(0);
  world.run_until(fault + Duration::seconds(10));
  std::set<int> flagged_pfail, knew_fail;
  int64_t first_pfail_us = -1, first_fail_us = -1;
  for (const ObservedEvent& e : world.events()) {
    if (e.about != 0 || e.t_us < fault.us) continue;
    if (e.kind == "pfail") {
      flagged_pfail.insert(e.node);
      if (first_pfail_us < 0) first_pfail_us = e.t_us;
      CHECK(e.t_us - fault.us >= 2000 * 1000);  // never before a node timeout
    }
    if (e.kind == "fail") {
      if (first_fail_us < 0) first_fail_us = e.t_us;
      // 3 masters: quorum 2; the master that marks it counts itself plus one report.
      CHECK(e.detail.find("/2") != std::string::npos);
    }
    if (e.kind == "fail" || e.kind == "fail_received") knew_fail.insert(e.node);
  }
  CHECK(first_pfail_us - fault.us <= 3200 * 1000);  // at most 1.5 T + cron rounding
  CHECK(first_fail_us >= first_pfail_us);
  CHECK(knew_fail == std::set<int>{1, 2, 3, 4, 5});  // FAIL reaches every live node
}

TEST_CASE("TAKEOVER needs no majority: an isolated replica takes the slots - and wins after the heal", "[cluster][failover]") {
  World world(three_by_one(9, 2000));
  REQUIRE(world.create_cluster());
  world.isolate(3);  // r1 alone
  world.run_for(Duration::millis(500));
  REQUIRE(world.failover(3, protocol::FailoverMode::takeover).ok);
  world.run_for(Duration::millis(10));
  CHECK(world.node(3)->myself().is_master());
  CHECK(world.node(3)->myself().config_epoch == 7);
  CHECK(world.node(3)->myself().numslots == 5461);
  CHECK(world.node(1)->slot_owner(0)->name == world.node(0)->name());  // nobody else heard yet
  world.heal();
  world.run_for(Duration::seconds(10));
  for (int i = 0; i < 6; ++i) {
    INFO(world.alias(i));
    CHECK(world.node(i)->slot_owner(0)->name == world.node(3)->name());
  }
  CHECK(world.node(0)->myself().is_replica());
  CHECK(world.node(0)->myself().master->name == world.node(3)->name());
  CHECK(world.violations().empty());
}

TEST_CASE("the replica with the larger offset wins - a stale one does not fail over", "[cluster][failover]") {
  WorldOptions options = three_by_one(4, 2000);
  options.replicas_per_master = 2;  // m1 has r1 and r4
  World world(options);
  REQUIRE(world.create_cluster());
  world.block(0, 6);  // r4 stops hearing m1: its offset falls behind at the next replication ping
  world.run_for(Duration::seconds(22));
  world.crash(0);
  world.run_for(Duration::seconds(15));
  REQUIRE(world.failovers().size() == 1);
  CHECK(world.failovers()[0].new_master == 3);  // r1, rank 0
  CHECK(world.node(6)->myself().master->name == world.node(3)->name());

  WorldOptions stale_options = three_by_one(5, 1000);
  stale_options.config.cluster_replica_validity_factor = 1;  // limit 10 s + 1 x 1 s of data age
  World stale(stale_options);
  REQUIRE(stale.create_cluster());
  stale.block(0, 3);
  stale.block(3, 0);
  stale.run_for(Duration::seconds(25));
  stale.crash(0);
  stale.run_for(Duration::seconds(20));
  CHECK(stale.failovers().empty());
  bool refused_for_data_age = false;
  for (const ObservedEvent& e : stale.events()) refused_for_data_age |= e.kind == "cant_failover" && e.node == 3;
  CHECK(refused_for_data_age);
}

TEST_CASE("migrate_slots as redis-cli reshard: the target bumps its configEpoch, every master maps the slots at once", "[cluster][migrate]") {
  World world(three_by_one(1, 2000));
  REQUIRE(world.create_cluster());
  std::vector<int> slots(100);
  for (int slot = 0; slot < 100; ++slot) slots[slot] = slot;
  REQUIRE(world.migrate_slots(slots, 0, 1).ok);
  // Closing the import (SETSLOT NODE on the target after IMPORTING) bumps it past every epoch.
  CHECK(world.node(1)->myself().config_epoch == 7);
  CHECK(world.node(1)->current_epoch() == 7);
  for (int master : {0, 1, 2}) {  // told by SETSLOT NODE, before any message
    INFO(world.alias(master));
    CHECK(world.node(master)->slot_owner(99)->name == world.node(1)->name());
    CHECK(world.node(master)->slot_owner(100)->name == world.node(0)->name());
  }
  world.run_for(Duration::millis(100));  // the replicas from the target's broadcast PONG
  for (int i = 0; i < 6; ++i) CHECK(world.node(i)->slot_owner(0)->name == world.node(1)->name());
  CHECK(world.violations().empty());
}

TEST_CASE("migrate_slots of a master's every slot: it follows the target as its replica", "[cluster][migrate]") {
  World world(three_by_one(1, 2000));
  REQUIRE(world.create_cluster());
  std::vector<int> slots;
  for (int slot = 0; slot < protocol::kClusterSlots; ++slot) {
    if (world.node(2)->slot_owner(slot) == &world.node(2)->myself()) slots.push_back(slot);  // m3's
  }
  REQUIRE(world.migrate_slots(slots, 2, 0).ok);
  world.run_for(Duration::seconds(5));
  REQUIRE(world.node(2)->myself().is_replica());
  CHECK(world.node(2)->myself().master->name == world.node(0)->name());
  CHECK(world.node(0)->myself().numslots == 5461 + 5461);
  CHECK(world.convergence_problems().empty());
}

TEST_CASE("a node reborn without nodes.conf meets the cluster and hears of its old self at its own address", "[cluster][membership]") {
  // m2 is down while r1 is reborn; restarted from its nodes.conf, m2 gossips r1's old id at r1's
  // address, and the reborn r1 starts a handshake with itself.
  const Scenario scenario = scenario_from(R"json({
    "name": "reborn_meets", "seed": 1,
    "cluster": {"masters": 3, "replicas_per_master": 1, "config": {"cluster-node-timeout": 2000}},
    "timeline": [{"at": "2s", "crash": "m2"}, {"at": "3s", "crash": "r1"}, {"at": "3.5s", "lose_disk": "r1"},
                 {"at": "4s", "restart": "r1"}, {"at": "5s", "meet": {"node": "r1", "target": "m1"}},
                 {"at": "8s", "restart": "m2"}],
    "run_until": "20s",
    "expect": [{"role": {"node": "r1", "is": "master"}}, {"cluster_state": {"nodes": "all", "is": "ok"}},
               {"converged": true}]
  })json");
  const RunResult result = run_scenario(scenario, RunOptions{});
  CHECK(result.passed());
}

TEST_CASE("BUMPEPOCH unknown to its replica: the master dies and every vote is refused (valkey#2169)", "[cluster][failover]") {
  World world(three_by_one(1, 2000));
  REQUIRE(world.create_cluster());
  world.block(0, 3);  // m1's messages to r1 are dropped
  const auto bumped = world.bump_epoch(0);
  CHECK(bumped.reply == "BUMPED 7");
  CHECK(world.bump_epoch(0).reply == "STILL 7");  // already the largest
  world.run_for(Duration::millis(1500));
  CHECK(world.node(1)->find(world.node(0)->name())->config_epoch == 7);  // m2 heard it
  CHECK(world.node(3)->find(world.node(0)->name())->config_epoch == 1);  // r1 did not
  world.crash(0);
  world.run_for(Duration::seconds(30));
  CHECK(world.node(3)->myself().is_replica());
  int refused = 0;
  for (const ObservedEvent& e : world.events()) {
    if (e.kind == "vote_granted" && e.about == 3) FAIL("a vote for r1");
    if (e.kind == "vote_refused" && e.about == 3) {
      CHECK(e.value == static_cast<int64_t>(protocol::VoteRefusal::slot_epoch_greater));
      ++refused;
    }
  }
  CHECK(refused >= 4);  // m2 and m3, at two elections at least
  CHECK(world.violations().empty());
}

TEST_CASE("a replica's heartbeats carry its master's configEpoch - peers record it as the replica's", "[cluster]") {
  // clusterProcessPacket (7.0.15) raises a known sender's configEpoch from any header, a replica's too:
  // after r1 takes over, m1 (its replica now) shows r1's epoch 7 in every peer's CLUSTER NODES.
  World world(three_by_one(3, 2000));
  REQUIRE(world.create_cluster());
  REQUIRE(world.failover(3, protocol::FailoverMode::takeover).ok);
  world.run_for(Duration::seconds(3));
  REQUIRE(world.node(0)->myself().is_replica());
  CHECK(world.node(0)->myself().config_epoch == 1);  // its own, as saved
  for (int peer : {1, 2, 4, 5}) {
    INFO(world.alias(peer));
    CHECK(world.node(peer)->find(world.node(0)->name())->config_epoch == 7);
  }
}
