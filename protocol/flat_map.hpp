#pragma once
// A hash map for keys looked up on every message and never walked (link and connection ids, node
// names): open addressing with linear probing, keys and values inline in slots of a power-of-two
// size, so a hit usually reads one cache line where std::unordered_map chases a node. Erase shifts
// the following entries back (no tombstones), so lookups stay short however often keys churn.
// A key equal to its type's empty value (id 0, the empty name) marks a free slot and is never stored.
#include <algorithm>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "protocol/types.hpp"

namespace rcsim::protocol {

template <typename Key>
struct FlatKey;

template <>
struct FlatKey<uint64_t> {
  static size_t hash(uint64_t id) {
    const uint64_t h = id * 0x9e3779b97f4a7c15ull;
    return static_cast<size_t>(h ^ (h >> 32));
  }
  static bool empty(uint64_t id) { return id == 0; }
};

template <>
struct FlatKey<NodeName> {
  static size_t hash(const NodeName& name) { return name.hash(); }
  static bool empty(const NodeName& name) { return name.empty(); }
};

template <>
struct FlatKey<Address> {
  static size_t hash(const Address& address) { return address.hash(); }
  static bool empty(const Address& address) { return address.empty(); }
};

template <typename Key, typename Value>
class FlatMap {
 public:
  Value* find(const Key& key) {
    if (size_ == 0) return nullptr;
    for (size_t i = home(key);; i = next(i)) {
      if (slots_[i].key == key) return &slots_[i].value;
      if (FlatKey<Key>::empty(slots_[i].key)) return nullptr;
    }
  }
  const Value* find(const Key& key) const { return const_cast<FlatMap*>(this)->find(key); }
  bool contains(const Key& key) const { return find(key) != nullptr; }
  size_t size() const { return size_; }
  // A hint that find(key) comes soon: the key's home slot is fetched meanwhile.
  void prefetch(const Key& key) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[home(key)]);
  }

  // Inserts a default value if the key is absent.
  Value& operator[](const Key& key) {
    assert(!FlatKey<Key>::empty(key) && "the empty key marks a free slot");
    if (Value* existing = find(key)) return *existing;
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    size_t i = home(key);
    while (!FlatKey<Key>::empty(slots_[i].key)) i = next(i);
    slots_[i].key = key;
    slots_[i].value = Value{};
    ++size_;
    return slots_[i].value;
  }

  bool erase(const Key& key) {
    if (size_ == 0) return false;
    size_t hole = home(key);
    while (!(slots_[hole].key == key)) {
      if (FlatKey<Key>::empty(slots_[hole].key)) return false;
      hole = next(hole);
    }
    // Backward shift: move up every later entry of the run whose home is not between hole and it.
    for (size_t i = next(hole); !FlatKey<Key>::empty(slots_[i].key); i = next(i)) {
      const size_t wanted = home(slots_[i].key);
      const bool stays = hole <= i ? (hole < wanted && wanted <= i) : (hole < wanted || wanted <= i);
      if (stays) continue;
      slots_[hole] = slots_[i];
      hole = i;
    }
    slots_[hole] = Slot{};
    --size_;
    return true;
  }

 private:
  struct Entry {
    Key key{};
    Value value{};
  };
  // A slot never straddles two cache lines (up to 64 bytes).
  struct alignas(std::min<size_t>(64, std::bit_ceil(sizeof(Entry)))) Slot : Entry {};

  size_t home(const Key& key) const { return FlatKey<Key>::hash(key) & (slots_.size() - 1); }
  size_t next(size_t i) const { return (i + 1) & (slots_.size() - 1); }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 16 : old.size() * 2, Slot{});
    size_ = 0;
    for (const Slot& slot : old) {
      if (!FlatKey<Key>::empty(slot.key)) (*this)[slot.key] = slot.value;
    }
  }

  // A power of two, at most three quarters full (2000 nodes hold ~16M link and connection entries:
  // half full cost a third more memory, for probes that stay short with these well-mixed ids).
  std::vector<Slot> slots_;
  size_t size_ = 0;
};

// Link ids (and the simulator's connection ids) to values.
template <typename Value>
using IdMap = FlatMap<uint64_t, Value>;

}  // namespace rcsim::protocol
