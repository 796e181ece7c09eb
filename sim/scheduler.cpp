#include "sim/scheduler.hpp"

#include <algorithm>

namespace rcsim::sim {

TimerId Scheduler::at(Instant when, Callback callback) {
  assert(when >= now_ && "an event may not be scheduled in the past");
  assert(callback);
  uint32_t slot;
  if (free_slots_.empty()) {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  const uint64_t seq = next_seq_++;
  slots_[slot].callback = std::move(callback);
  slots_[slot].seq = seq;
  heap_.push_back(Entry{when.us, seq, slot});
  std::push_heap(heap_.begin(), heap_.end(), Later{});
  return TimerId{seq, slot};
}

bool Scheduler::cancel(TimerId id) {
  if (!id || id.slot >= slots_.size() || slots_[id.slot].seq != id.seq) return false;
  slots_[id.slot].seq = 0;
  slots_[id.slot].callback = nullptr;  // free captured state now
  ++cancelled_in_heap_;
  return true;
}

const Scheduler::Entry* Scheduler::peek_live() {
  while (!heap_.empty()) {
    const Entry& head = heap_.front();
    if (slots_[head.slot].seq == head.seq) return &head;
    std::pop_heap(heap_.begin(), heap_.end(), Later{});  // drop a cancelled head
    free_slots_.push_back(heap_.back().slot);
    heap_.pop_back();
    assert(cancelled_in_heap_ > 0);
    --cancelled_in_heap_;
  }
  return nullptr;
}

bool Scheduler::step() {
  if (peek_live() == nullptr) return false;
  std::pop_heap(heap_.begin(), heap_.end(), Later{});
  const Entry entry = heap_.back();
  heap_.pop_back();
  assert(entry.when_us >= now_.us && "time never goes backwards");
  now_ = Instant{entry.when_us};
  Callback callback = std::move(slots_[entry.slot].callback);
  slots_[entry.slot].seq = 0;
  free_slots_.push_back(entry.slot);
  ++fired_;
  callback();
  return true;
}

void Scheduler::run_until(Instant limit) {
  for (const Entry* head = peek_live(); head != nullptr && head->when_us <= limit.us; head = peek_live()) {
    step();
  }
  if (limit > now_) now_ = limit;
}

bool Scheduler::run_until(const std::function<bool()>& done, Instant limit) {
  if (done()) return true;
  for (const Entry* head = peek_live(); head != nullptr && head->when_us <= limit.us; head = peek_live()) {
    step();
    if (done()) return true;
  }
  if (limit > now_) now_ = limit;
  return false;
}

}  // namespace rcsim::sim
