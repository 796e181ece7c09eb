// valkey-io/valkey#974 in Redis 7.0.15 (scenarios/errata/old_primary_takes_slots_back.json): an old primary
// that comes back with the configEpoch its successor took, and the smaller node id, wins the collision,
// takes its slots back, and its successor's acknowledged writes are lost.
#include <catch2/catch.hpp>

#include <string>
#include <variant>

#include "protocol/node.hpp"
#include "sim/run.hpp"
#include "sim/scenario.hpp"
#include "sim/workload.hpp"

using namespace rcsim;
using namespace rcsim::sim;

namespace {

Scenario errata_scenario(uint64_t seed) {
  auto loaded = load_scenario_file(std::string(RCSIM_SOURCE_DIR) + "/scenarios/errata/old_primary_takes_slots_back.json");
  if (const auto* error = std::get_if<ScenarioError>(&loaded)) FAIL(error->text());
  Scenario scenario = std::get<Scenario>(std::move(loaded));
  scenario.seed = seed;
  return scenario;
}

constexpr int kM1 = 0, kR1 = 3;  // 3 masters, then their replicas in order

}  // namespace

TEST_CASE("an old primary with its successor's configEpoch and the smaller id takes its slots back - valkey#974", "[errata]") {
  const RunResult result = run_scenario(errata_scenario(1), RunOptions{});
  REQUIRE(result.world != nullptr);
  const World& world = *result.world;
  CHECK(result.passed());
  // The coin of this seed: m1's id is the smaller of the two at epoch 7.
  CHECK(world.name_of(kM1) < world.name_of(kR1));
  // On resuming, m1 meets r1's claim at its own epoch 7 and moves past it: 8.
  std::vector<std::pair<int, uint64_t>> collisions;  // (whom, m1's new configEpoch)
  for (const ObservedEvent& e : world.events()) {
    if (e.kind == "config_epoch_collision" && e.node == kM1) collisions.emplace_back(e.about, static_cast<uint64_t>(e.epoch));
  }
  CHECK(collisions == std::vector<std::pair<int, uint64_t>>{{kR1, 8}});
  const protocol::Node& m1 = *world.node(kM1);
  const protocol::Node& r1 = *world.node(kR1);
  CHECK(m1.myself().is_master());
  CHECK(m1.myself().config_epoch == 8);
  CHECK(m1.myself().numslots == 5461);
  REQUIRE(r1.myself().master != nullptr);
  CHECK(r1.myself().master->name == world.name_of(kM1));
  REQUIRE(world.workload() != nullptr);
  CHECK(world.workload()->report().lost > 0);
}

TEST_CASE("whether the old primary takes its slots back is the coin of the node ids, and only then are writes lost", "[errata]") {
  int took_back = 0, stayed_replaced = 0;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    const RunResult result = run_scenario(errata_scenario(seed), RunOptions{});
    REQUIRE(result.world != nullptr);
    const World& world = *result.world;
    const bool m1_master = world.node(kM1)->myself().is_master();
    INFO("seed " << seed);
    CHECK(world.violations().empty());  // Redis's own rules, every one kept: a flaw of the protocol, not of a node
    if (m1_master) {
      ++took_back;
      CHECK(world.workload()->report().lost > 0);
    } else {
      ++stayed_replaced;
      CHECK(world.workload()->report().lost == 0);
      CHECK(world.node(kM1)->myself().master->name == world.name_of(kR1));
    }
  }
  CHECK(took_back >= 2);
  CHECK(stayed_replaced >= 2);
}
