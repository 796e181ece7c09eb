#include "sim/host.hpp"

#include <algorithm>
#include <cassert>

namespace rcsim::sim {
namespace {
constexpr int64_t kMillion = 1'000'000;
}

// ---- Disk ----

void Disk::write(const std::string& file, std::string contents, bool fsync) {
  write(file, std::make_shared<const std::string>(std::move(contents)), fsync);
}

void Disk::write(const std::string& file, std::shared_ptr<const std::string> contents, bool fsync) {
  assert(contents != nullptr);
  File& f = files_[file];
  f.current = std::move(contents);
  if (fsync) f.synced = f.current;
}

void Disk::fsync(const std::string& file) {
  const auto it = files_.find(file);
  assert(it != files_.end() && "fsync of a file never written");
  it->second.synced = it->second.current;
}

std::optional<std::string> Disk::read(const std::string& file) const {
  const auto it = files_.find(file);
  if (it == files_.end()) return std::nullopt;
  return *it->second.current;
}

std::optional<std::string> Disk::read_synced(const std::string& file) const {
  const auto it = files_.find(file);
  if (it == files_.end() || !it->second.synced) return std::nullopt;
  return *it->second.synced;
}

void Disk::lose_unsynced() {
  for (auto it = files_.begin(); it != files_.end();) {
    if (it->second.synced) {
      it->second.current = it->second.synced;
      ++it;
    } else {
      it = files_.erase(it);
    }
  }
}

void Disk::wipe() { files_.clear(); }

// ---- lifecycle ----

Host::Host(Scheduler& scheduler, Network& network, std::string ip)
    : scheduler_(scheduler), network_(network), id_(network.add_host(std::move(ip), this)) {}

void Host::start(std::unique_ptr<Process> process) {
  assert(state_ == HostState::crashed && !process_ && "start a host that runs nothing");
  assert(process != nullptr);
  state_ = HostState::up;
  process_ = std::move(process);
  process_->on_start();
  process_->before_sleep();
}

void Host::listen(uint16_t port) {
  assert(process_ != nullptr);
  listening_.insert(port);
}

void Host::crash() {
  assert(state_ != HostState::crashed);
  state_ = HostState::crashed;
  const std::unique_ptr<Process> dead = std::move(process_);  // memory gone, after the cleanup below
  for (const auto& [timer_id, timer] : timers_) scheduler_.cancel(timer.scheduled);
  timers_.clear();
  overdue_.clear();
  queued_.clear();
  listening_.clear();
  network_.reset_host(id_);
}

void Host::power_loss() {
  crash();
  disk_.lose_unsynced();
}

void Host::pause() {
  assert(state_ == HostState::up);
  state_ = HostState::paused;
}

// One iteration of Redis's event loop (aeProcessEvents): file events, then time events, then
// beforeSleep before the next poll.
void Host::resume() {
  assert(state_ == HostState::paused);
  state_ = HostState::up;
  const std::vector<NetEvent> events = std::move(queued_);
  const std::vector<uint64_t> timers = std::move(overdue_);
  queued_.clear();
  overdue_.clear();
  for (const NetEvent& event : events) dispatch(event);
  for (const uint64_t timer_id : timers) fire(timer_id);
  process_->before_sleep();
}

// ---- clock and timers ----

int64_t Host::local_at(int64_t global_us) const {
  assert(global_us >= clock_set_us_);
  const __int128_t scaled = static_cast<__int128_t>(global_us - clock_set_us_) * drift_ppm_;
  const __int128_t drift_us = scaled / kMillion - (scaled % kMillion < 0 ? 1 : 0);  // floor, like a clock
  return global_us + clock_offset_us_ + static_cast<int64_t>(drift_us);
}

Instant Host::local_now() const { return Instant{local_at(scheduler_.now().us)}; }

void Host::set_clock(Duration offset, int64_t drift_ppm) {
  assert(drift_ppm > -kMillion && drift_ppm < kMillion);
  clock_set_us_ = scheduler_.now().us;
  clock_offset_us_ = offset.us;
  drift_ppm_ = drift_ppm;
}

TimerId Host::set_timer(Duration local_delay, std::function<void()> callback) {
  assert(state_ == HostState::up && local_delay.us >= 0 && callback);
  // The earliest global instant at which the local clock shows now + delay.
  const int64_t now_us = scheduler_.now().us;
  const int64_t target_us = local_at(now_us) + local_delay.us;
  const auto scaled = static_cast<__int128_t>(local_delay.us) * kMillion;
  int64_t due_us = now_us + static_cast<int64_t>((scaled + kMillion + drift_ppm_ - 1) / (kMillion + drift_ppm_));
  for (int step = 0; due_us > now_us && local_at(due_us - 1) >= target_us; ++step) {
    assert(step < 4 && "the estimate is off by rounding only");
    --due_us;
  }
  for (int step = 0; local_at(due_us) < target_us; ++step) {
    assert(step < 4 && "the estimate is off by rounding only");
    ++due_us;
  }
  const uint64_t timer_id = next_timer_id_++;
  const TimerId scheduled = scheduler_.at(Instant{due_us}, [this, timer_id] { on_timer(timer_id); });
  timers_.emplace(timer_id, Timer{scheduled, std::move(callback)});
  return TimerId{timer_id, 0};
}

void Host::cancel_timer(TimerId timer) {
  const auto it = timers_.find(timer.seq);
  if (it == timers_.end()) return;  // fired or cancelled already
  scheduler_.cancel(it->second.scheduled);
  timers_.erase(it);
  std::erase(overdue_, timer.seq);
}

void Host::on_timer(uint64_t timer_id) {
  assert(timers_.contains(timer_id) && "cancelled and crashed timers leave the scheduler");
  if (state_ == HostState::paused) {
    overdue_.push_back(timer_id);
    return;
  }
  assert(state_ == HostState::up);
  fire(timer_id);
  process_->before_sleep();
}

void Host::fire(uint64_t timer_id) {
  const auto it = timers_.find(timer_id);
  if (it == timers_.end()) return;  // cancelled by an earlier callback of the same batch
  const std::function<void()> callback = std::move(it->second.callback);
  timers_.erase(it);
  callback();
}

// ---- network, for the process ----

ConnId Host::connect(HostId to, uint16_t port, bool nagle) {
  assert(state_ == HostState::up);
  return network_.connect(id_, to, port, nagle);
}

void Host::send(ConnId conn, Packet packet) {
  assert(state_ == HostState::up);
  network_.send(conn, id_, std::move(packet));
}

void Host::close(ConnId conn) {
  assert(state_ == HostState::up);
  network_.close(conn, id_);
}

// ---- network, from the kernel ----

bool Host::net_listening(uint16_t port) const { return process_ != nullptr && listening_.contains(port); }

void Host::net_accepted(ConnId conn, HostId peer, uint16_t local_port) {
  handle(NetEvent{NetEvent::Kind::accepted, conn, peer, local_port, {}});
}
bool Host::net_connected(ConnId conn) {
  handle(NetEvent{NetEvent::Kind::connected, conn, 0, 0, {}});
  return false;  // dispatch calls connect_handled: before before_sleep, or when a paused process resumes
}
void Host::net_connect_failed(ConnId conn) {
  handle(NetEvent{NetEvent::Kind::connect_failed, conn, 0, 0, {}});
}
void Host::net_closed(ConnId conn) { handle(NetEvent{NetEvent::Kind::closed, conn, 0, 0, {}}); }
void Host::net_data(ConnId conn, const Packet& packet) {
  handle(NetEvent{NetEvent::Kind::data, conn, 0, 0, packet});
}

void Host::handle(NetEvent event) {
  switch (state_) {
    case HostState::crashed: return;  // the kernel already reset this host's connections
    case HostState::paused: queued_.push_back(std::move(event)); return;
    case HostState::up:
      dispatch(event);
      process_->before_sleep();
      return;
  }
}

void Host::dispatch(const NetEvent& event) {
  assert(process_ != nullptr);
  switch (event.kind) {
    case NetEvent::Kind::accepted: process_->on_accepted(event.conn, event.peer, event.port); return;
    case NetEvent::Kind::connected:
      process_->on_connected(event.conn);
      network_.connect_handled(event.conn);
      return;
    case NetEvent::Kind::connect_failed: process_->on_connect_failed(event.conn); return;
    case NetEvent::Kind::closed: process_->on_closed(event.conn); return;
    case NetEvent::Kind::data: process_->on_data(event.conn, event.packet); return;
  }
}

}  // namespace rcsim::sim
