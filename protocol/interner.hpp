#pragma once
// Node names and addresses, interned: every gossip entry names a node (40 bytes) and its address
// (20 bytes), and at 1000 nodes a run handles millions of entries a simulated second. The nodes of
// one simulated world share one Interner, so a gossip entry carries two 4-byte ids, and a node finds
// the entry's node by indexing its own table with the id instead of hashing the name (a name lookup
// was a cache miss of its own per entry). The wire size of a message is unchanged (Message::
// wire_size_bytes counts Redis's 104-byte entry). Ids only stand for their value: nothing iterates,
// orders by or prints them, so they cannot reach any output or decision.
#include <cassert>
#include <cstdint>
#include <vector>

#include "protocol/flat_map.hpp"
#include "protocol/types.hpp"

namespace rcsim::protocol {

template <typename Key>
class InternTable {
 public:
  static constexpr uint32_t kAbsent = UINT32_MAX;

  // Id 0 stands for the empty value (the empty name, the cleared address of a NOADDR node), which
  // FlatMap cannot store.
  InternTable() : keys_(1) {}

  uint32_t intern(const Key& key) {
    if (FlatKey<Key>::empty(key)) return 0;
    uint32_t& id = ids_[key];
    if (id == 0) {
      id = static_cast<uint32_t>(keys_.size());
      keys_.push_back(key);
    }
    return id;
  }
  // The id of a value interned before, or kAbsent.
  uint32_t find(const Key& key) const {
    if (FlatKey<Key>::empty(key)) return 0;
    const uint32_t* id = ids_.find(key);
    return id == nullptr ? kAbsent : *id;
  }
  // A copy: a later intern() may move the stored values.
  Key value(uint32_t id) const {
    assert(id < keys_.size());
    return keys_[id];
  }
  size_t size() const { return keys_.size(); }

 private:
  FlatMap<Key, uint32_t> ids_;
  std::vector<Key> keys_;  // by id
};

struct Interner {
  InternTable<NodeName> names;
  InternTable<Address> addresses;
};

}  // namespace rcsim::protocol
