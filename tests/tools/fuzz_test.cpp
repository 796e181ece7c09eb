// The fuzzer: deterministic generation, replayable failures, known bugs found, shrinking.
#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "sim/fuzz.hpp"
#include "sim/run.hpp"

using namespace rcsim;
using namespace rcsim::sim;

TEST_CASE("a seed generates the same valid scenario every time", "[fuzz]") {
  const Scenario a = generate_fuzz_scenario(17, {});
  const Scenario b = generate_fuzz_scenario(17, {});
  CHECK(a == b);
  CHECK_FALSE(a == generate_fuzz_scenario(18, {}));
  // It is a plain scenario file: it parses back to itself.
  auto parsed = parse_scenario(to_json(a).dump(), "generated");
  REQUIRE(std::holds_alternative<Scenario>(parsed));
  CHECK(std::get<Scenario>(parsed) == a);
  CHECK(a.cluster.masters >= 3);
  CHECK(a.cluster.masters <= 9);
  CHECK_FALSE(a.timeline.empty());
  CHECK(std::holds_alternative<check::Converged>(a.expect.back().check));
}

TEST_CASE("the generated schedules draw every fault kind, power loss too", "[fuzz]") {
  std::map<std::string, int> drawn;
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    for (const TimelineEntry& e : generate_fuzz_scenario(seed, {}).timeline) ++drawn[std::string(action_name(e.action))];
  }
  for (const char* kind : {"partition", "isolate", "block", "flap", "crash", "power_loss", "lose_disk", "restart", "pause",
                           "failover", "clock_skew", "heal"}) {
    INFO(kind);
    CHECK(drawn[kind] > 0);
  }
  // A power loss is a quarter of the node faults: about a third as many as the kills.
  CHECK(drawn["power_loss"] * 2 < drawn["crash"]);
  CHECK(drawn["power_loss"] * 5 > drawn["crash"]);
}

TEST_CASE("the correct protocol passes a few seeds - a repro replays to the same trace", "[fuzz]") {
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    const Scenario scenario = generate_fuzz_scenario(seed, {});
    const FuzzVerdict verdict = run_fuzz_case(scenario);
    INFO("seed " << seed << ": " << verdict.signature << " " << verdict.detail);
    CHECK(verdict.signature.empty());
    const Scenario replay = std::get<Scenario>(parse_scenario(to_json(scenario).dump(), "repro"));
    CHECK(run_fuzz_case(replay).trace_sha256 == verdict.trace_sha256);
  }
}

TEST_CASE("a known bug is found - named - and shrinks to a smaller case that still fails", "[fuzz]") {
  FuzzOptions options;
  options.known_bugs = {"quorum_off_by_one"};
  // Any election shows it: the winner stops at size/2 votes.
  uint64_t seed = 1;
  FuzzVerdict verdict;
  for (; seed <= 30 && verdict.signature.empty(); ++seed) verdict = run_fuzz_case(generate_fuzz_scenario(seed, options));
  REQUIRE(verdict.signature == "winner_has_majority");
  const Scenario failing = generate_fuzz_scenario(seed - 1, options);
  const Scenario minimal = shrink(
      failing, [&](const Scenario& candidate) { return run_fuzz_case(candidate).signature == verdict.signature; }, 40);
  CHECK(scenario_size(minimal) < scenario_size(failing));
  CHECK(run_fuzz_case(minimal).signature == "winner_has_majority");
}
