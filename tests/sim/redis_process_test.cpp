// The redis-server around the node: when its event loop runs serverCron, and how its replication
// link retries a master that is gone.
#include <catch2/catch.hpp>

#include "sim/world.hpp"

using namespace rcsim;
using namespace rcsim::sim;

namespace {

WorldOptions cluster(int masters, int replicas_per_master, int64_t node_timeout_ms) {
  WorldOptions options;
  options.seed = 3;
  options.masters = masters;
  options.replicas_per_master = replicas_per_master;
  options.config.cluster_node_timeout_ms = node_timeout_ms;
  return options;
}

}  // namespace

TEST_CASE("serverCron runs every 100.4 ms when nothing wakes the event loop", "[redis_process][cron]") {
  // Due 100 ms after the last run returned, plus epoll_wait's late wake: 0.4 ms a tick as measured on
  // redis-server 7.0.15. 60 s hold 597.6 of them.
  World world(cluster(1, 0, 15000));  // one node, nobody to talk to: only its timer wakes it
  const int before = world.process(0)->cron_runs();
  world.run_for(Duration::seconds(60));
  CHECK(world.process(0)->cron_runs() - before == 598);
}

TEST_CASE("serverCron drifts late when messages wake the loop because epoll_wait rounds the wait up to a ms",
          "[redis_process][cron]") {
  // Each run is due 100.4 ms after the previous one; a wake between them makes the loop sleep a
  // whole number of ms from that wake, up to 1 ms past due. Over 60 s: fewer than the 598 of an
  // undisturbed loop, but never fewer than at 1 ms late every time (60000 / 101.4 = 591.7).
  World world(cluster(3, 1, 1000));
  REQUIRE(world.create_cluster());
  std::vector<int> before(world.node_count());
  for (int i = 0; i < world.node_count(); ++i) before[i] = world.process(i)->cron_runs();
  world.run_for(Duration::seconds(60));
  for (int i = 0; i < world.node_count(); ++i) {
    INFO("node " << world.alias(i));
    const int runs = world.process(i)->cron_runs() - before[i];
    CHECK(runs < 598);
    CHECK(runs >= 591);
  }
}

TEST_CASE("a replica retries its killed master once a second and the bus once per cron tick", "[redis_process]") {
  // Redis connects at once only to a new master (replicationSetMaster); a refused or lost link is
  // retried by replicationCron every second. clusterCron reconnects each peer's bus link every
  // 100 ms. With m1 killed and before any failover (node timeout 15 s): 5 peers x 10 bus attempts
  // + 1 replication attempt per second.
  World world(cluster(3, 1, 15000));
  REQUIRE(world.create_cluster());
  world.crash(0);
  world.run_for(Duration::seconds(1));  // links notice the reset
  const uint64_t before = world.network().refused_connects();
  world.run_for(Duration::seconds(10));
  const uint64_t refused = world.network().refused_connects() - before;
  CHECK(refused >= 10 * (5 * 10 + 1) - 10);
  CHECK(refused <= 10 * (5 * 10 + 1) + 10);
}
