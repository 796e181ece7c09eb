// The fuzz finding of seed 58871 (scenarios/errata/stale_claim_equal_epoch.json): a viewer keeps a dead
// former master as the owner of its old slots at its successor's configEpoch, which Redis 7.0.15 never
// resolves. The liveness check excuses exactly that case, nothing wider.
#include <catch2/catch.hpp>

#include <string>
#include <variant>

#include "protocol/node.hpp"
#include "sim/fuzz.hpp"
#include "sim/run.hpp"
#include "sim/scenario.hpp"

using namespace rcsim;
using namespace rcsim::sim;

namespace {

Scenario errata_scenario() {
  auto loaded = load_scenario_file(std::string(RCSIM_SOURCE_DIR) + "/scenarios/errata/stale_claim_equal_epoch.json");
  if (const auto* error = std::get_if<ScenarioError>(&loaded)) FAIL(error->text());
  return std::get<Scenario>(std::move(loaded));
}

int index_of(const World& world, const std::string& alias) {
  for (int i = 0; i < world.node_count(); ++i) {
    if (world.alias(i) == alias) return i;
  }
  FAIL("no node " << alias);
  return -1;
}

}  // namespace

TEST_CASE("a stale master PING after a takeover leaves a viewer with a dead owner at the new master's configEpoch", "[liveness][errata]") {
  const RunResult result = run_scenario(errata_scenario(), RunOptions{});
  REQUIRE(result.world != nullptr);
  const World& world = *result.world;
  CHECK(result.passed());
  const protocol::Node& r1 = *world.node(index_of(world, "r1"));
  const protocol::Node& m1 = *world.node(index_of(world, "m1"));
  REQUIRE(r1.myself().is_master());
  CHECK(r1.myself().config_epoch == 13);
  // Seed 58871 leaves m3 stuck (which viewer depends on which orphaned PINGs outlive the cut): it maps
  // m1's old slots to m1's old id (m1 itself restarted with a new one), at r1's configEpoch, and only those.
  const protocol::Node& stuck = *world.node(index_of(world, "m3"));
  const protocol::ClusterNode* owner = stuck.slot_owner(0);
  REQUIRE(owner != nullptr);
  CHECK(owner->name != r1.myself().name);
  CHECK(owner->name != m1.myself().name);
  CHECK(owner->config_epoch == r1.myself().config_epoch);
  CHECK(stuck.slot_owner(4095) == owner);
  CHECK(stuck.slot_owner(4096) != owner);
  // Every other node of the cluster agrees on r1 (the reborn m1 knows nobody), so the disagreement is the
  // stuck viewer's, and it is excused by name.
  for (int i = 0; i < world.node_count(); ++i) {
    const protocol::Node* n = world.node(i);
    if (n == nullptr || n == &stuck || n == &m1) continue;
    INFO(world.alias(i));
    REQUIRE(n->slot_owner(0) != nullptr);
    CHECK(n->slot_owner(0)->name == r1.myself().name);
  }
  const auto problems = world.convergence_problems();
  REQUIRE(problems.size() == 1);  // the first found
  CHECK(problems.front() == "m3 disagrees with m2 on the owner of slot 0");
  const auto exemption = world.liveness_exemption();
  REQUIRE(exemption.has_value());
  CHECK(exemption->rule == "stale_claim_equal_epoch");
  CHECK(exemption->detail.find("m3 keeps " + owner->name.str().substr(0, 8) + ", a former master last seen as r1's replica") != std::string::npos);
}

TEST_CASE("the same run with m1 alive converges and needs no exemption", "[liveness][errata]") {
  // m1 stays up as r1's replica: its next PING as a replica makes the viewer drop the stale claim.
  Scenario scenario = errata_scenario();
  std::erase_if(scenario.timeline, [](const TimelineEntry& a) {
    return std::holds_alternative<action::Crash>(a.action) || std::holds_alternative<action::LoseDisk>(a.action) ||
           std::holds_alternative<action::Restart>(a.action);
  });
  scenario.expect.clear();
  const RunResult result = run_scenario(scenario, RunOptions{});
  REQUIRE(result.world != nullptr);
  CHECK(result.world->convergence_problems().empty());
  CHECK_FALSE(result.world->liveness_exemption().has_value());
}

TEST_CASE("a fuzz run that ends stuck this way passes and is counted by its rule", "[liveness][errata][fuzz]") {
  Scenario scenario = errata_scenario();
  scenario.expect = {Expectation{std::nullopt, "liveness", check::Converged{}}};  // what sim fuzz asks
  const FuzzVerdict verdict = run_fuzz_case(scenario);
  CHECK(verdict.signature.empty());
  CHECK(verdict.events.at("liveness_excused:stale_claim_equal_epoch") == 1);
  CHECK_FALSE(verdict.events.contains("liveness_excused:lost_disk"));
}
