#include <catch2/catch.hpp>

#include "sim/run.hpp"
#include "sim/world.hpp"
#include "tests/sim/scenario_from.hpp"

using namespace rcsim;
using namespace rcsim::sim;

// scenarios/README.md: a `link` action changes the properties it names; unset ones keep the link's current
// value. A network.links entry's latency survived no link action before: the action started from the
// network-wide profile (a helper found it running the same scenario on real Redis).
TEST_CASE("link action: unset properties keep the links entry's values", "[scenario][network]") {
  const RunResult result = run_scenario(scenario_from(R"json({
    "name": "link_keeps_links_entry",
    "cluster": {"masters": 3, "replicas_per_master": 1},
    "network": {"latency": "100us", "links": [{"from": "m1", "to": "r1", "latency": "2ms", "jitter": "1ms", "both_ways": true}]},
    "timeline": [
      {"at": "1s", "link": {"from": "m1", "to": "r1", "loss": 0.25}},
      {"at": "2s", "link": {"from": "m2", "to": "r2", "jitter": "3ms"}}
    ],
    "run_until": "3s"
  })json"), RunOptions{});
  const World& world = *result.world;
  const int m1 = 0, m2 = 1, r1 = 3, r2 = 4;
  const LinkProfile& changed = world.link_profile(m1, r1);
  CHECK(changed.latency == Duration::millis(2));
  CHECK(changed.jitter == Duration::millis(1));
  CHECK(changed.loss_ppm == 250'000);
  const LinkProfile& other_way = world.link_profile(r1, m1);  // both_ways entry, not touched by the action
  CHECK(other_way.latency == Duration::millis(2));
  CHECK(other_way.loss_ppm == 0);
  const LinkProfile& network_wide = world.link_profile(m2, r2);
  CHECK(network_wide.latency == Duration::micros(100));
  CHECK(network_wide.jitter == Duration::millis(3));
}
