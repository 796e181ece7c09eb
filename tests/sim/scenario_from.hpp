#pragma once
// A scenario from JSON text in a test; a parse error fails the test with the parser's message.
#include <catch2/catch.hpp>

#include <string>
#include <utility>

#include "sim/scenario.hpp"

namespace rcsim::sim {

inline Scenario scenario_from(const std::string& json, const std::string& file_name = "test.json") {
  auto parsed = parse_scenario(json, file_name);
  if (const auto* error = std::get_if<ScenarioError>(&parsed)) FAIL(error->text());
  return std::get<Scenario>(std::move(parsed));
}

}  // namespace rcsim::sim
