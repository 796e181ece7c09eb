#include <catch2/catch.hpp>

#include <map>

#include "protocol/flat_map.hpp"
#include "protocol/rng.hpp"

using rcsim::protocol::FlatMap;
using rcsim::protocol::IdMap;
using rcsim::protocol::NodeName;

TEST_CASE("IdMap agrees with std::map under random inserts and erases", "[protocol][flat_map]") {
  // Ids from a small range collide on home slots and form long probe runs, which is where the
  // backward-shift erase can go wrong.
  rcsim::Rng rng(42);
  IdMap<uint64_t> map;
  std::map<uint64_t, uint64_t> reference;
  for (int step = 0; step < 200'000; ++step) {
    const uint64_t id = 1 + rng.below(3000);
    switch (rng.below(3)) {
      case 0:
        map[id] = static_cast<uint64_t>(step);
        reference[id] = static_cast<uint64_t>(step);
        break;
      case 1:
        REQUIRE(map.erase(id) == (reference.erase(id) == 1));
        break;
      default: {
        const uint64_t* found = map.find(id);
        const auto expected = reference.find(id);
        REQUIRE((found != nullptr) == (expected != reference.end()));
        if (found != nullptr) REQUIRE(*found == expected->second);
      }
    }
    REQUIRE(map.size() == reference.size());
  }
  for (const auto& [id, value] : reference) {
    REQUIRE(map.find(id) != nullptr);
    REQUIRE(*map.find(id) == value);
  }
}

TEST_CASE("IdMap keeps a present key with a default value apart from an absent key", "[protocol][flat_map]") {
  IdMap<int*> links;
  const uint64_t inbound = (uint64_t{1} << 62) + 7;  // kInboundLinkBase + a connection id
  links[inbound] = nullptr;                          // accepted, not yet bound to a sender
  REQUIRE(links.contains(inbound));
  REQUIRE(*links.find(inbound) == nullptr);
  REQUIRE_FALSE(links.contains(inbound + 1));
  REQUIRE(links.erase(inbound));
  REQUIRE_FALSE(links.contains(inbound));
  REQUIRE_FALSE(links.erase(inbound));
}

TEST_CASE("FlatMap by node name finds every name it holds after erasing others", "[protocol][flat_map]") {
  rcsim::Rng rng(7);
  std::vector<NodeName> names;
  for (int i = 0; i < 500; ++i) names.push_back(NodeName::random(rng));
  FlatMap<NodeName, int> index;
  for (int i = 0; i < 500; ++i) index[names[i]] = i;
  for (int i = 0; i < 500; i += 3) REQUIRE(index.erase(names[i]));
  REQUIRE(index.size() == 500 - 167);
  for (int i = 0; i < 500; ++i) {
    const int* found = index.find(names[i]);
    if (i % 3 == 0) {
      REQUIRE(found == nullptr);
    } else {
      REQUIRE(found != nullptr);
      REQUIRE(*found == i);
    }
  }
}
