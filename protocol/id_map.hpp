#pragma once
// A map from non-zero 64-bit ids (link ids, connection ids) to small values, looked up on every
// message and never walked: open addressing with linear probing, keys and values inline, so a hit
// usually reads one cache line (std::unordered_map chases a node per lookup). Erase shifts the
// following entries back (no tombstones), so lookups stay short however often links churn.
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace rcsim::protocol {

template <typename Value>
class IdMap {
 public:
  Value* find(uint64_t id) {
    if (size_ == 0) return nullptr;
    for (size_t i = home(id);; i = next(i)) {
      if (slots_[i].id == id) return &slots_[i].value;
      if (slots_[i].id == 0) return nullptr;
    }
  }
  const Value* find(uint64_t id) const { return const_cast<IdMap*>(this)->find(id); }
  bool contains(uint64_t id) const { return find(id) != nullptr; }
  size_t size() const { return size_; }

  // Inserts or overwrites.
  Value& operator[](uint64_t id) {
    assert(id != 0 && "id 0 marks an empty slot");
    if (Value* existing = find(id)) return *existing;
    if ((size_ + 1) * 2 > slots_.size()) grow();
    size_t i = home(id);
    while (slots_[i].id != 0) i = next(i);
    slots_[i] = Slot{id, Value{}};
    ++size_;
    return slots_[i].value;
  }

  bool erase(uint64_t id) {
    if (size_ == 0) return false;
    size_t hole = home(id);
    while (slots_[hole].id != id) {
      if (slots_[hole].id == 0) return false;
      hole = next(hole);
    }
    // Backward-shift: move up every later entry of the run whose home is not between hole and it.
    for (size_t i = next(hole); slots_[i].id != 0; i = next(i)) {
      const size_t wanted = home(slots_[i].id);
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
  struct Slot {
    uint64_t id = 0;
    Value value{};
  };
  size_t home(uint64_t id) const { return static_cast<size_t>((id * 0x9e3779b97f4a7c15ull) >> shift_); }
  size_t next(size_t i) const { return (i + 1) & (slots_.size() - 1); }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    const size_t capacity = old.empty() ? 16 : old.size() * 2;
    slots_.assign(capacity, Slot{});
    shift_ = 64 - static_cast<unsigned>(__builtin_ctzll(capacity));
    size_ = 0;
    for (const Slot& slot : old) {
      if (slot.id != 0) (*this)[slot.id] = slot.value;
    }
  }

  std::vector<Slot> slots_;  // a power of two, at most half full
  size_t size_ = 0;
  unsigned shift_ = 64;
};

}  // namespace rcsim::protocol
