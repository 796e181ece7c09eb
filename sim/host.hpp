#pragma once
// A machine running one process (a Redis node later, test processes now): its lifecycle (up,
// paused by SIGSTOP, crashed by kill -9, restarted), its local clock, its timers and its disk.
//
// Event loop, as Redis's ae runs it:
// - Every callback (network event or timer) is followed by the process's before_sleep(). Redis
//   calls beforeSleep once per loop iteration, which may cover several events; one call per event
//   is the approximation.
// - paused: the process runs nothing. Network events queue in arrival order; a timer that comes
//   due is held (once: a periodic timer re-arms from its callback, so it was due just once).
//   resume() then runs one loop iteration as aeProcessEvents does: the queued network events in
//   arrival order (file events first), then the overdue timers in due order, then before_sleep once.
// - crashed: no process. Its timers are dropped, events for it are dropped, every connection is
//   reset (Network::reset_host). After kill -9 (crash) the disk keeps every write, as the page cache
//   does; after a power loss it keeps only what was fsynced (Disk::lose_unsynced). A host that has
//   never been started is also `crashed`: nothing runs on it.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "protocol/time.hpp"
#include "sim/network.hpp"
#include "sim/scheduler.hpp"

namespace rcsim::sim {

// Survives crashes. A write without fsync is visible to reads at once, survives kill -9 (the page
// cache is the kernel's) and is lost when the machine loses power.
class Disk {
 public:
  void write(const std::string& file, std::string contents, bool fsync);
  void write(const std::string& file, std::shared_ptr<const std::string> contents, bool fsync);
  void fsync(const std::string& file);
  std::optional<std::string> read(const std::string& file) const;
  std::optional<std::string> read_synced(const std::string& file) const;  // what survives a power loss
  void lose_unsynced();  // power loss: every file reverts to its last synced version, or vanishes
  void wipe();   // the disk is lost entirely

 private:
  struct File {  // a synced file shares its text with what was synced (a 2000-node nodes.conf is 260 KB)
    std::shared_ptr<const std::string> current;
    std::shared_ptr<const std::string> synced;  // null: never synced
  };
  std::map<std::string, File> files_;
};

class Process {
 public:
  virtual ~Process() = default;
  virtual void on_start() = 0;
  virtual void on_accepted(ConnId, HostId peer, uint16_t local_port) = 0;
  virtual void on_connected(ConnId) = 0;
  virtual void on_connect_failed(ConnId) = 0;
  virtual void on_closed(ConnId) = 0;
  virtual void on_data(ConnId, const Packet&) = 0;
  virtual void before_sleep() {}  // after each callback, or once after a resume batch
};

enum class HostState { up, paused, crashed };

class Host final : public NetworkEndpoint {
 public:
  Host(Scheduler& scheduler, Network& network, std::string ip);  // registers with the network
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  HostId id() const { return id_; }
  const std::string& ip() const { return network_.ip(id_); }
  HostState state() const { return state_; }

  // Lifecycle. start: boot a process (first start, or restart after a crash); it calls listen()
  // for its ports from on_start. crash: kill -9. power_loss: the machine goes down (kill -9, and
  // the disk loses unsynced writes). pause/resume: SIGSTOP/SIGCONT.
  void start(std::unique_ptr<Process> process);
  void listen(uint16_t port);
  void crash();
  void power_loss();
  void pause();
  void resume();
  Process* process() { return process_.get(); }
  Disk& disk() { return disk_; }

  // Local clock: local = global + offset + ⌊(global − t_set) × drift_ppm / 10^6⌋, t_set being when
  // set_clock was called. Monotonic for |drift_ppm| < 10^6; a new set_clock steps the clock as an
  // operator setting the time would. Timers run on the local clock's rate.
  Instant local_now() const;
  void set_clock(Duration offset, int64_t drift_ppm);

  // For the process. Timer ids are this host's own, opaque to the scheduler.
  TimerId set_timer(Duration local_delay, std::function<void()> callback);
  void cancel_timer(TimerId timer);
  ConnId connect(HostId to, uint16_t port, bool nagle);
  void send(ConnId conn, Packet packet);
  void close(ConnId conn);

  // NetworkEndpoint
  bool net_listening(uint16_t port) const override;
  void net_accepted(ConnId conn, HostId peer, uint16_t local_port) override;
  bool net_connected(ConnId conn) override;
  void net_connect_failed(ConnId conn) override;
  void net_closed(ConnId conn) override;
  void net_data(ConnId conn, const Packet& packet) override;

 private:
  struct NetEvent {
    enum class Kind : uint8_t { accepted, connected, connect_failed, closed, data } kind;
    ConnId conn = 0;
    HostId peer = 0;
    uint16_t port = 0;
    Packet packet;
  };
  struct Timer {
    TimerId scheduled;  // in the scheduler; fired already if the timer is overdue
    std::function<void()> callback;
  };

  void handle(NetEvent event);
  void dispatch(const NetEvent& event);
  void on_timer(uint64_t timer_id);
  void fire(uint64_t timer_id);
  int64_t local_at(int64_t global_us) const;

  Scheduler& scheduler_;
  Network& network_;
  HostId id_;
  HostState state_ = HostState::crashed;
  std::unique_ptr<Process> process_;
  std::set<uint16_t> listening_;
  Disk disk_;
  std::vector<NetEvent> queued_;    // arrived while paused, in arrival order
  std::map<uint64_t, Timer> timers_;  // live timers by host timer id
  std::vector<uint64_t> overdue_;   // came due while paused, in due order
  uint64_t next_timer_id_ = 1;
  int64_t clock_offset_us_ = 0;
  int64_t drift_ppm_ = 0;
  int64_t clock_set_us_ = 0;
};

}  // namespace rcsim::sim
