// libFuzzer harness for the parsers that read what users hand us (issue 16): a scenario file, a
// nodes.conf (the loader every restart uses) and CLUSTER NODES text to import. The first byte of an input
// picks the parser, the rest is the text. On no input may one crash, hang or trip ASan/UBSan; a rejection is
// a value (ScenarioError, ImportError, or a fresh node for an unreadable nodes.conf, as clusterInit makes).
// Built only with clang (-DRCSIM_PARSER_FUZZ=ON); tools/fuzz-parsers builds and runs it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "protocol/node.hpp"
#include "sim/cluster_layout.hpp"
#include "sim/scenario.hpp"

using namespace rcsim;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      const auto parsed = sim::parse_scenario(text, "fuzz.json");
      if (const auto* scenario = std::get_if<sim::Scenario>(&parsed)) {
        (void)sim::to_json(*scenario).dump();  // what was accepted can be written back
      }
      break;
    }
    case 1: {
      protocol::Config config;
      Rng rng(1);
      protocol::Interner interner;
      protocol::Node node(config, protocol::Address{"127.0.0.1", 30001, 40001}, text, rng, interner, 1'000'000);
      (void)node.cluster_nodes(1'000'000);
      (void)node.nodes_conf();
      break;
    }
    default: {
      sim::ImportedCluster imported;
      (void)sim::parse_cluster_nodes(text, imported);
      break;
    }
  }
  return 0;
}
