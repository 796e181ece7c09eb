#pragma once
// The single event queue of a run: events ordered by (time, sequence number), so ties fire in the
// order they were scheduled. Timers can be cancelled. No threads, no wall clock.
#include <cassert>
#include <cstdint>
#include <functional>
#include <vector>

#include "protocol/time.hpp"

namespace rcsim::sim {

struct TimerId {
  uint64_t seq = 0;  // 0 = no timer
  uint32_t slot = 0;
  explicit operator bool() const { return seq != 0; }
};

class Scheduler {
 public:
  using Callback = std::function<void()>;

  Instant now() const { return now_; }
  uint64_t events_fired() const { return fired_; }
  size_t pending() const { return heap_.size() - cancelled_in_heap_; }

  TimerId at(Instant when, Callback callback);
  TimerId after(Duration delay, Callback callback) { return at(now_ + delay, std::move(callback)); }
  // True if the timer was pending and is now cancelled; false if it already fired or was cancelled.
  bool cancel(TimerId id);

  // Fires the next event; false when the queue is empty.
  bool step();
  // Fires every event due at or before `limit`, then sets the clock to `limit`.
  void run_until(Instant limit);
  // Fires events until `done()` holds (checked after each event) or the next event is past `limit`.
  // Returns whether `done()` held.
  bool run_until(const std::function<bool()>& done, Instant limit);

 private:
  struct Entry {
    int64_t when_us;
    uint64_t seq;
    uint32_t slot;
  };
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.when_us != b.when_us ? a.when_us > b.when_us : a.seq > b.seq;
    }
  };
  struct Slot {
    Callback callback;
    uint64_t seq = 0;  // seq of the live timer in this slot, 0 when free or cancelled
  };

  const Entry* peek_live();  // the earliest live entry, dropping cancelled ones on the way

  Instant now_{};
  uint64_t next_seq_ = 1;
  uint64_t fired_ = 0;
  size_t cancelled_in_heap_ = 0;
  std::vector<Entry> heap_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
};

}  // namespace rcsim::sim
