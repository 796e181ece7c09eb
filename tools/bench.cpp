// Benchmarks of the simulation kernel, one core: the scheduler (schedule + fire of small events
// with a realistic heap) and the network (many connections, steady request/echo traffic). Each
// runs kRepeats times and reports its best: other processes on the machine only ever slow it down.
// `bench [--out DIR]` prints a table; with --out it merges its figures into DIR/bench.json (other
// benchmarks add their own keys) and writes DIR/bench.md from that file.
// Wall time comes from std::chrono::steady_clock here only: simulations never read a real clock.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "protocol/rng.hpp"
#include "sim/network.hpp"
#include "sim/scheduler.hpp"

using namespace rcsim;
using namespace rcsim::sim;

namespace {

struct Result {
  std::string key;  // the bench.json key
  double value;
  std::string detail;
};

class Stopwatch {
 public:
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// Every fired event schedules one more, so `pending` stays constant. Delays mimic a large cluster:
// 4 in 5 are network deliveries 50 us..1 ms ahead, 1 in 5 timers 1 ms..1 s ahead.
class SchedulerLoad {
 public:
  SchedulerLoad(size_t pending, uint64_t events) : left_(events) {
    for (size_t i = 0; i < pending; ++i) schedule_one();
  }
  void run() {
    while (scheduler_.step()) {
    }
  }
  uint64_t fired() const { return scheduler_.events_fired(); }

 private:
  void schedule_one() {
    if (left_ == 0) return;
    --left_;
    const int64_t delay_us = rng_.chance(4, 5) ? rng_.between(50, 1'000) : rng_.between(1'000, 1'000'000);
    scheduler_.after(Duration::micros(delay_us), [this] { schedule_one(); });
  }

  Scheduler scheduler_;
  Rng rng_{1};
  uint64_t left_;
};

constexpr int kRepeats = 5;

// A 100-node cluster has ~10k bus connection directions; with timers and clients, ~10k pending
// events is a large but realistic queue.
Result bench_scheduler() {
  constexpr size_t kPending = 10'000;
  constexpr uint64_t kEvents = 10'000'000;
  double best_per_s = 0;
  for (int i = 0; i < kRepeats; ++i) {
    const Stopwatch watch;
    SchedulerLoad load(kPending, kEvents);
    load.run();
    best_per_s = std::max(best_per_s, static_cast<double>(load.fired()) / watch.seconds());
  }
  std::ostringstream detail;
  detail << kEvents << " events, " << kPending << " pending (4/5 due in 50 us-1 ms, 1/5 in 1 ms-1 s), best of "
         << kRepeats;
  return {"scheduler_events_per_s", best_per_s, detail.str()};
}

// Echoes every message back on the connection it came from; a client starts `in_flight` messages
// when its connection opens.
class EchoEndpoint final : public NetworkEndpoint {
 public:
  EchoEndpoint(Network& network, size_t in_flight) : network_(network), in_flight_(in_flight) {}
  void attach(HostId self) { self_ = self; }
  bool net_listening(uint16_t) const override { return true; }
  void net_accepted(ConnId, HostId, uint16_t) override {}
  void net_connected(ConnId conn) override {
    for (size_t i = 0; i < in_flight_; ++i) network_.send(conn, self_, Packet{kMessageBytes, body_});
  }
  void net_connect_failed(ConnId) override {}
  void net_closed(ConnId) override {}
  void net_data(ConnId conn, const Packet& packet) override { network_.send(conn, self_, packet); }

 private:
  static constexpr uint32_t kMessageBytes = 2256;  // a Redis 7 PING with gossip, roughly
  Network& network_;
  size_t in_flight_;
  HostId self_ = 0;
  std::shared_ptr<const void> body_ = std::make_shared<const int>(0);
};

// A full mesh like a cluster bus: every host connects to every other (Nagle on, as Redis's
// outbound links are), with jitter, and keeps a few messages in flight on each connection.
double network_run(uint64_t messages) {
  constexpr HostId kHosts = 50;
  constexpr size_t kInFlight = 2;
  Scheduler scheduler;
  Rng rng(1);
  Network network(scheduler, rng);
  LinkProfile profile;
  profile.latency = Duration::micros(100);
  profile.jitter = Duration::micros(50);
  profile.shape = LatencyShape::uniform;
  network.set_default_profile(profile);
  std::vector<std::unique_ptr<EchoEndpoint>> endpoints;
  for (HostId h = 0; h < kHosts; ++h) {
    endpoints.push_back(std::make_unique<EchoEndpoint>(network, kInFlight));
    endpoints.back()->attach(network.add_host("10.0.0." + std::to_string(h), endpoints.back().get()));
  }
  for (HostId from = 0; from < kHosts; ++from) {
    for (HostId to = 0; to < kHosts; ++to) {
      if (from != to) network.connect(from, to, 16379, true);
    }
  }
  scheduler.run_until(Instant::from_millis(10));  // handshakes done, traffic steady
  const uint64_t start = network.delivered_messages();
  const Stopwatch watch;
  while (network.delivered_messages() - start < messages) scheduler.run_until(scheduler.now() + Duration::millis(10));
  return static_cast<double>(network.delivered_messages() - start) / watch.seconds();
}

// A full mesh like a cluster bus: 50 hosts, each connected to every other (2,450 connections,
// Nagle on as on Redis's outbound links), 100-150 us one way, 2 messages in flight per connection.
Result bench_network() {
  constexpr uint64_t kMessages = 10'000'000;
  double best_per_s = 0;
  for (int i = 0; i < kRepeats; ++i) best_per_s = std::max(best_per_s, network_run(kMessages));
  std::ostringstream detail;
  detail << kMessages << " messages, 50-host full mesh (2450 connections, Nagle), 100-150 us one way, echo with 2 "
         << "in flight per connection, best of " << kRepeats;
  return {"network_messages_per_s", best_per_s, detail.str()};
}

std::string format_rate(double per_s) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f M/s", per_s / 1e6);
  return text;
}

void write_outputs(const std::filesystem::path& dir, const std::vector<Result>& results, const std::string& command) {
  std::filesystem::create_directories(dir);
  const std::filesystem::path json_path = dir / "bench.json";
  nlohmann::json merged = nlohmann::json::object();
  if (std::ifstream in(json_path); in) {
    merged = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (!merged.is_object()) merged = nlohmann::json::object();  // unreadable: start afresh
  }
  for (const Result& r : results) merged[r.key] = static_cast<int64_t>(r.value);
  std::ofstream(json_path) << merged.dump(2) << '\n';
  std::ofstream md(dir / "bench.md");
  md << "# Benchmarks\n\n`" << command << "` (Release, one core)\n\n| measure | value |\n|---|---|\n";
  for (const auto& [key, value] : merged.items()) md << "| " << key << " | " << value.dump() << " |\n";
  md << "\nThis run:\n\n";
  for (const Result& r : results) md << "- " << r.key << ": " << r.detail << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  namespace po = boost::program_options;
  po::options_description options("bench options");
  options.add_options()("help", "this text")("out", po::value<std::string>(), "write DIR/bench.json and DIR/bench.md");
  po::variables_map args;
  try {
    po::store(po::parse_command_line(argc, argv, options), args);
  } catch (const po::error& e) {
    std::cerr << "bench: " << e.what() << "\n" << options;
    return 2;
  }
  if (args.contains("help")) {
    std::cout << options;
    return 0;
  }
  const std::vector<Result> results{bench_scheduler(), bench_network()};
  std::printf("%-26s %14s  %s\n", "benchmark", "rate", "detail");
  for (const Result& r : results) std::printf("%-26s %14s  %s\n", r.key.c_str(), format_rate(r.value).c_str(), r.detail.c_str());
  if (args.contains("out")) {
    std::string command = "./build/bench";
    for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
    write_outputs(args["out"].as<std::string>(), results, command);
  }
  return 0;
}
