// The Redis Cluster node inside the simulated world: formation, failure detection, failover.
#include <catch2/catch.hpp>

#include "sim/world.hpp"

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
    CHECK(n->nodes().size() == 6);
    CHECK(n->current_epoch() == 6);  // node i of N got configEpoch i
    CHECK(n->myself().config_epoch == static_cast<uint64_t>(i + 1));
  }
  CHECK(world.node(3)->myself().is_replica());
  CHECK(world.node(3)->myself().master->name == world.node(0)->name());
  CHECK(world.node(0)->myself().numslots == 5461);
  CHECK(world.node(2)->myself().numslots == 5462);
  CHECK(world.violations().empty());
}

TEST_CASE("kill -9 of a master: PFAIL, FAIL, its replica promoted at epoch 7", "[cluster][failover]") {
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
