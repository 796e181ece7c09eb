#include "sim/scheduler.hpp"

#include <bit>
#include <limits>

namespace rcsim::sim {

TimerId Scheduler::at(Instant when, Callback callback) {
  assert(when >= now_ && "an event may not be scheduled in the past");
  assert(callback);
  uint32_t slot;
  if (free_slots_.empty()) {
    slot = static_cast<uint32_t>(slot_seqs_.size());
    slot_seqs_.push_back(0);
    callbacks_.emplace_back();
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  const uint64_t seq = next_seq_++;
  callbacks_[slot] = std::move(callback);
  slot_seqs_[slot] = seq;
  insert(Entry{when.us, seq, slot});
  ++queued_;
  return TimerId{seq, slot};
}

bool Scheduler::cancel(TimerId id) {
  if (!id || id.slot >= slot_seqs_.size() || slot_seqs_[id.slot] != id.seq) return false;
  slot_seqs_[id.slot] = 0;  // its wheel entry is now dead and dropped when reached
  callbacks_[id.slot] = nullptr;  // free captured state now
  free_slots_.push_back(id.slot);
  ++cancelled_queued_;
  return true;
}

// An entry goes to the lowest level whose bucket size covers where it first differs from the cursor.
void Scheduler::insert(const Entry& entry) {
  assert(entry.when_us >= cursor_us_);
  const auto diff = static_cast<uint64_t>(entry.when_us ^ cursor_us_);
  const int level = diff == 0 ? 0 : static_cast<int>(std::bit_width(diff) - 1) / kLevelBits;
  const auto bucket = static_cast<int>((entry.when_us >> (level * kLevelBits)) & (kBuckets - 1));
  wheel_[level][bucket].entries.push_back(entry);
  occupied_[level] |= uint64_t{1} << bucket;
  occupied_levels_ |= 1u << level;
}

void Scheduler::clear_bucket(int level, int bucket) {
  release_if_large(wheel_[level][bucket].entries);
  wheel_[level][bucket].head = 0;
  occupied_[level] &= ~(uint64_t{1} << bucket);
  if (occupied_[level] == 0) occupied_levels_ &= ~(1u << level);
}

// Moves the cursor to the bucket's start (all lower levels are empty) and spreads its entries over
// the lower levels, in their order, so equal times stay in scheduling order.
void Scheduler::cascade(int level, int bucket) {
  scratch_.swap(wheel_[level][bucket].entries);
  clear_bucket(level, bucket);
  for (const Entry& entry : scratch_) insert(entry);
  release_if_large(scratch_);
}

// Empties `entries`, keeping its memory only if small: a bucket holds every event of its span, and a
// burst (a 2000-node cluster's boot puts millions of events in a few buckets) must not stay allocated
// in each bucket it passed through for the rest of the run.
void Scheduler::release_if_large(std::vector<Entry>& entries) {
  if (entries.capacity() > kKeptBucketCapacity) std::vector<Entry>().swap(entries);
  else entries.clear();
}

bool Scheduler::fire_next(int64_t limit_us) {
  for (;;) {
    if (occupied_[0] != 0) {  // a level-0 bucket holds one exact time, in scheduling order
      const int b = std::countr_zero(occupied_[0]);
      Bucket& bucket = wheel_[0][b];
      if (bucket.head == bucket.entries.size()) {
        clear_bucket(0, b);
        continue;
      }
      const Entry entry = bucket.entries[bucket.head];
      const bool live = slot_seqs_[entry.slot] == entry.seq;
      if (live && entry.when_us > limit_us) return false;
      ++bucket.head;
      --queued_;
      if (!live) {  // cancelled
        --cancelled_queued_;
        continue;
      }
      assert(entry.when_us >= now_.us && "time never goes backwards");
      now_ = Instant{entry.when_us};
      slot_seqs_[entry.slot] = 0;
      free_slots_.push_back(entry.slot);
      const Callback callback = std::move(callbacks_[entry.slot]);
      ++fired_;
      callback();
      return true;
    }
    const uint32_t upper = occupied_levels_ & ~1u;
    if (upper == 0) return false;
    const int level = std::countr_zero(upper);
    const int b = std::countr_zero(occupied_[level]);
    const int high_bits = (level + 1) * kLevelBits;
    const int64_t base = high_bits >= 63 ? 0 : cursor_us_ & ~((int64_t{1} << high_bits) - 1);
    const int64_t start_us = base | (int64_t{b} << (level * kLevelBits));
    assert(start_us > cursor_us_);
    if (start_us > limit_us) return false;  // the cursor never passes a time the clock may stop at
    cursor_us_ = start_us;
    cascade(level, b);
  }
}

bool Scheduler::step() { return fire_next(std::numeric_limits<int64_t>::max()); }

void Scheduler::run_until(Instant limit) {
  while (fire_next(limit.us)) {
  }
  if (limit > now_) now_ = limit;
}

bool Scheduler::run_until(const std::function<bool()>& done, Instant limit) {
  if (done()) return true;
  while (fire_next(limit.us)) {
    if (done()) return true;
  }
  if (limit > now_) now_ = limit;
  return false;
}

}  // namespace rcsim::sim
