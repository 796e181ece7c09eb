#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "protocol/rng.hpp"
#include "sim/host.hpp"
#include "sim/network.hpp"
#include "sim/scheduler.hpp"

using namespace rcsim;
using namespace rcsim::sim;

namespace {

constexpr uint16_t kPort = 7000;

Packet message(uint64_t tag) { return Packet{16, std::make_shared<const uint64_t>(tag)}; }

// Logs every callback as "what@t_us" so a test can compare the whole story.
class LogProcess final : public Process {
 public:
  LogProcess(Host& host, std::vector<std::string>& log) : host_(host), log_(log) {}
  void on_start() override {
    host_.listen(kPort);
    note("start");
  }
  void on_accepted(ConnId c, HostId, uint16_t) override {
    accepted = c;
    note("accepted");
  }
  void on_connected(ConnId) override { note("connected"); }
  void on_connect_failed(ConnId) override { note("connect_failed"); }
  void on_closed(ConnId) override { note("closed"); }
  void on_data(ConnId, const Packet& p) override {
    note("data" + std::to_string(*static_cast<const uint64_t*>(p.body.get())));
  }
  void before_sleep() override { note("sleep"); }
  void note(const std::string& what) { log_.push_back(what + "@" + std::to_string(host_.local_now().us)); }
  // A periodic timer that re-arms itself from its callback, like serverCron.
  void every(Duration period) {
    host_.set_timer(period, [this, period] {
      note("tick");
      every(period);
    });
  }

  ConnId accepted = 0;

 private:
  Host& host_;
  std::vector<std::string>& log_;
};

struct World {
  World() : rng(5), net(sched, rng), a(sched, net, "10.0.0.1"), b(sched, net, "10.0.0.2") {
    LinkProfile p;
    p.latency = Duration::micros(100);
    net.set_default_profile(p);
    a.start(std::make_unique<LogProcess>(a, a_log));
    b.start(std::make_unique<LogProcess>(b, b_log));
    a_log.clear();
    b_log.clear();
  }
  LogProcess& proc(Host& h) { return *static_cast<LogProcess*>(h.process()); }
  void run_to(int64_t us) { sched.run_until(Instant::from_micros(us)); }

  Scheduler sched;
  Rng rng;
  Network net;
  Host a, b;
  std::vector<std::string> a_log, b_log;
};

using Log = std::vector<std::string>;

}  // namespace

TEST_CASE("a process gets each callback followed by before_sleep", "[host]") {
  World w;
  const ConnId c = w.a.connect(w.b.id(), kPort, false);
  w.run_to(1000);
  CHECK(w.a_log == Log{"connected@200", "sleep@200"});
  CHECK(w.b_log == Log{"accepted@300", "sleep@300"});
  w.a.send(c, message(1));
  w.run_to(2000);
  CHECK(w.b_log.back() == "sleep@1100");
  CHECK(w.a.state() == HostState::up);
  CHECK(w.a.ip() == "10.0.0.1");
}

TEST_CASE("a paused host queues events and timers - then runs them in one loop iteration", "[host]") {
  World w;
  const ConnId c = w.a.connect(w.b.id(), kPort, false);
  w.run_to(1000);
  w.b_log.clear();
  w.proc(w.b).every(Duration::millis(100));
  w.b.pause();
  for (uint64_t i = 1; i <= 3; ++i) w.a.send(c, message(i));
  w.run_to(1'000'000);  // the 100 ms timer came due several times while paused
  CHECK(w.b_log.empty());
  w.b.resume();
  CHECK(w.b_log == Log{"data1@1000000", "data2@1000000", "data3@1000000", "tick@1000000", "sleep@1000000"});
  w.b_log.clear();
  w.run_to(1'100'000);
  CHECK(w.b_log == Log{"tick@1100000", "sleep@1100000"});  // re-armed from the callback: once
}

TEST_CASE("a paused host's kernel still completes handshakes", "[host]") {
  World w;
  w.b.pause();
  w.a.connect(w.b.id(), kPort, false);
  w.run_to(1000);
  CHECK(w.a_log == Log{"connected@200", "sleep@200"});
  CHECK(w.b_log.empty());
  w.b.resume();
  CHECK(w.b_log == Log{"accepted@1000", "sleep@1000"});
}

TEST_CASE("a cancelled timer does not fire - even when it was held by a pause", "[host]") {
  World w;
  const TimerId t1 = w.b.set_timer(Duration::millis(1), [&] { w.proc(w.b).note("t1"); });
  const TimerId t2 = w.b.set_timer(Duration::millis(2), [&] { w.proc(w.b).note("t2"); });
  w.b.cancel_timer(t1);
  w.b.pause();
  w.run_to(10'000);
  w.b.cancel_timer(t2);
  w.b.resume();
  CHECK(w.b_log == Log{"sleep@10000"});
}

TEST_CASE("a crash drops the process - its timers and connections - a restart boots anew", "[host]") {
  World w;
  w.a.connect(w.b.id(), kPort, false);
  w.run_to(1000);
  w.a_log.clear();
  w.proc(w.b).every(Duration::millis(1));
  w.b.crash();
  CHECK(w.b.state() == HostState::crashed);
  CHECK(w.b.process() == nullptr);
  CHECK_FALSE(w.b.net_listening(kPort));
  w.run_to(10'000);
  CHECK(w.a_log == Log{"closed@1100", "sleep@1100"});  // the RST, one way later
  w.a.connect(w.b.id(), kPort, false);
  w.run_to(20'000);
  CHECK(w.a_log.at(2) == "connect_failed@10200");  // nothing listens: refused after one RTT
  std::vector<std::string> reborn;
  w.b.start(std::make_unique<LogProcess>(w.b, reborn));
  CHECK(reborn == Log{"start@20000", "sleep@20000"});
  w.a.connect(w.b.id(), kPort, false);
  w.run_to(30'000);
  CHECK(reborn.at(2) == "accepted@20300");
}

TEST_CASE("the disk keeps every write across kill -9, and only synced ones across a power loss", "[host][disk]") {
  World w;
  Disk& disk = w.b.disk();
  disk.write("nodes.conf", "v1", true);
  disk.write("nodes.conf", "v2", false);
  disk.write("temp", "t", false);
  disk.write("later", "l1", false);
  disk.fsync("later");
  CHECK(disk.read("nodes.conf") == "v2");  // unsynced writes are visible
  w.b.crash();
  CHECK(disk.read("nodes.conf") == "v2");  // the page cache outlives the process
  CHECK(disk.read("temp") == "t");
  Log reborn;
  w.b.start(std::make_unique<LogProcess>(w.b, reborn));
  w.b.power_loss();
  CHECK(w.b.state() == HostState::crashed);
  CHECK(disk.read("nodes.conf") == "v1");
  CHECK_FALSE(disk.read("temp"));
  CHECK(disk.read("later") == "l1");
  disk.wipe();
  CHECK_FALSE(disk.read("nodes.conf"));
  CHECK_FALSE(disk.read("later"));
}

TEST_CASE("the local clock maps global time through offset and drift", "[host][clock]") {
  World w;
  w.run_to(1'000'000);
  CHECK(w.b.local_now() == Instant::from_micros(1'000'000));
  w.b.set_clock(Duration::millis(5), 1000);  // 5 ms ahead, running 0.1% fast
  CHECK(w.b.local_now() == Instant::from_micros(1'005'000));
  w.run_to(2'000'000);
  CHECK(w.b.local_now() == Instant::from_micros(2'006'000));
  // A local 1001 us is 1000 global us on a clock running 1000 ppm fast.
  Instant fired{};
  w.b.set_timer(Duration::micros(1001), [&] { fired = w.sched.now(); });
  w.run_to(3'000'000);
  CHECK(fired == Instant::from_micros(2'001'000));
  w.b.set_clock(Duration::millis(-3), -500'000);  // behind, and at half speed
  w.b.set_timer(Duration::millis(10), [&] { fired = w.sched.now(); });
  w.run_to(4'000'000);
  CHECK(fired == Instant::from_micros(3'020'000));
  CHECK(w.b.local_now() == Instant::from_micros(3'000'000 - 3'000 + 500'000));
}
