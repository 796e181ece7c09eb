#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "protocol/interner.hpp"
#include "protocol/rng.hpp"

using rcsim::protocol::Address;
using rcsim::protocol::InternTable;
using rcsim::protocol::NodeName;

TEST_CASE("InternTable gives equal values one id and distinct values distinct ids", "[protocol][interner]") {
  // Names from a small pool, so most interns are repeats, across several table growths.
  rcsim::Rng rng(7);
  std::vector<NodeName> pool;
  for (int i = 0; i < 3000; ++i) pool.push_back(NodeName::random(rng));
  InternTable<NodeName> table;
  std::map<NodeName, uint32_t> reference;
  for (int step = 0; step < 50'000; ++step) {
    const NodeName& name = pool[rng.below(pool.size())];
    const uint32_t found_before = table.find(name);
    const uint32_t id = table.intern(name);
    const auto [it, inserted] = reference.emplace(name, id);
    REQUIRE(id == it->second);                               // the same id every time
    REQUIRE(found_before == (inserted ? InternTable<NodeName>::kAbsent : id));
    REQUIRE(table.value(id) == name);
  }
  REQUIRE(table.size() == reference.size() + 1);  // + id 0
  std::map<uint32_t, NodeName> by_id;
  for (const auto& [name, id] : reference) REQUIRE(by_id.emplace(id, name).second);  // ids are distinct
  REQUIRE(by_id.begin()->first == 1);
}

TEST_CASE("InternTable: the empty value is id 0, interned or not", "[protocol][interner]") {
  InternTable<Address> addresses;
  REQUIRE(addresses.find(Address{}) == 0);
  REQUIRE(addresses.intern(Address{}) == 0);
  REQUIRE(addresses.value(0) == Address{});
  const Address a{"127.0.0.1", 30001, 40001};
  const Address b{"127.0.0.1", 30002, 40002};
  const Address a_other_cport{"127.0.0.1", 30001, 40002};
  REQUIRE(addresses.find(a) == InternTable<Address>::kAbsent);
  const uint32_t id_a = addresses.intern(a);
  REQUIRE(id_a != 0);
  REQUIRE(addresses.intern(b) != id_a);
  REQUIRE(addresses.intern(a_other_cport) != id_a);
  REQUIRE(addresses.intern(Address{"127.0.0.1", 30001, 40001}) == id_a);
  REQUIRE(addresses.value(id_a) == a);
  REQUIRE(addresses.size() == 4);
}
