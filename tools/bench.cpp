// Benchmarks, one core. The kernel: the scheduler (schedule + fire of small events with a
// realistic heap) and the network (many connections, steady request/echo traffic), each run
// kRepeats times, best kept: other processes on the machine only ever slow it down. The whole
// protocol: idle clusters of 6..2000 nodes (Redis Cluster's design limit) (each size in a forked child, so peak RSS is its own),
// the master_crash scenario against the real cluster's wall time, and fuzzing seeds per second.
// `bench [--out DIR] [--only GROUP] [--sizes N,N] [--idle-seconds S]` prints a table; with --out
// it merges its figures into DIR/bench.json (other benchmarks add their own keys) and writes
// DIR/bench.md from that file.
// Wall time comes from std::chrono::steady_clock here only: simulations never read a real clock.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "protocol/rng.hpp"
#include "sim/fuzz.hpp"
#include "sim/network.hpp"
#include "sim/run.hpp"
#include "sim/scenario.hpp"
#include "sim/scheduler.hpp"
#include "sim/world.hpp"
#include "tools/lib/child_process.hpp"
#include "tools/lib/huge_pages.hpp"

using namespace rcsim;
using namespace rcsim::sim;
using rcsim::tools::ChildProcess;

namespace {

// How a figure is printed; bench.json holds the plain number.
enum class Unit { per_s, ratio, bytes, seconds, bytes_per_s };

struct Result {
  std::string key;  // the bench.json key
  double value;
  std::string detail;
  Unit unit = Unit::per_s;
};

class Stopwatch {
 public:
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  // CPU time of this process since the start: what a busy machine does not inflate.
  double cpu_seconds() const { return process_cpu_seconds() - cpu_start_; }

 private:
  static double process_cpu_seconds() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
  }
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  double cpu_start_ = process_cpu_seconds();
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
  return {"scheduler_events_per_s", best_per_s, detail.str(), Unit::per_s};
}

// Echoes every message back on the connection it came from; a client starts `in_flight` messages
// when its connection opens.
class EchoEndpoint final : public NetworkEndpoint {
 public:
  EchoEndpoint(Network& network, size_t in_flight) : network_(network), in_flight_(in_flight) {}
  void attach(HostId self) { self_ = self; }
  bool net_listening(uint16_t) const override { return true; }
  void net_accepted(ConnId, HostId, uint16_t) override {}
  bool net_connected(ConnId conn) override {
    for (size_t i = 0; i < in_flight_; ++i) network_.send(conn, self_, Packet{kMessageBytes, body_});
    return true;
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
  return {"network_messages_per_s", best_per_s, detail.str(), Unit::per_s};
}

// ---- whole protocol ---------------------------------------------------------------------------

// The peak resident set of this process (VmHWM), in bytes; ru_maxrss when /proc is missing.
double peak_rss_bytes() {
  if (std::ifstream status("/proc/self/status"); status) {
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) * 1024.0;  // "VmHWM:  1234 kB"
    }
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024.0;
}

// Runs `work` in a forked child and returns its results (as JSON through a pipe): the child's
// memory peak is its own, and a crash or an abort there loses only that measure.
std::vector<Result> in_child(const std::string& what, const std::function<std::vector<Result>()>& work) {
  int status = 0;
  const std::optional<std::string> text = ChildProcess::run(
      [&work] {
        nlohmann::json out = nlohmann::json::array();
        for (const Result& r : work()) {
          out.push_back({{"key", r.key}, {"value", r.value}, {"detail", r.detail}, {"unit", static_cast<int>(r.unit)}});
        }
        return out.dump();
      },
      status);
  const nlohmann::json parsed =
      text ? nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false) : nlohmann::json();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !parsed.is_array()) {
    std::fprintf(stderr, "bench: %s: the child process failed (status %d)\n", what.c_str(), status);
    return {};
  }
  std::vector<Result> results;
  for (const auto& r : parsed) {
    results.push_back({r["key"].get<std::string>(), r["value"].get<double>(), r["detail"].get<std::string>(),
                       static_cast<Unit>(r["unit"].get<int>())});
  }
  return results;
}

// An idle cluster of `nodes` (half masters, one replica each) at node timeout 15000, as redis-cli
// --cluster create leaves it, restarted as a whole from nodes.conf (forming it by MEET costs O(N^2)
// handshakes: minutes at 1000 nodes), then run for `idle_seconds` of simulated time.
std::vector<Result> bench_idle_cluster(int nodes, int idle_seconds) {
  WorldOptions options;
  options.seed = 1;
  options.masters = nodes / 2;
  options.replicas_per_master = 1;
  options.config.cluster_node_timeout_ms = 15000;
  options.trace_messages = false;
  // The minority check walks every master's view every 100 ms: O(N^2) work no real cluster does.
  options.check_minority_bound = nodes < 300;
  const std::string prefix = "nodes_" + std::to_string(nodes) + "_";
  const Stopwatch create_watch;
  World world(options);
  const bool created = world.restart_as_created_cluster(Duration::seconds(600));
  const double create_wall_s = create_watch.seconds();
  const double create_cpu_s = create_watch.cpu_seconds();
  const double create_sim_s = static_cast<double>(world.now().us) / 1e6;
  if (!created) {
    std::fprintf(stderr, "bench: %d nodes: the cluster did not converge within 600 simulated seconds\n", nodes);
    return {};
  }
  auto bus_bytes = [&world] {
    int64_t bytes = 0;
    for (int i = 0; i < world.node_count(); ++i) bytes += world.node(i)->message_bytes(/*sent=*/true);
    return bytes;
  };
  const int64_t bytes_before = bus_bytes();
  const uint64_t events_before = world.scheduler().events_fired();
  const Stopwatch run_watch;
  world.run_for(Duration::seconds(idle_seconds));
  const double run_wall_s = run_watch.seconds();
  const double run_cpu_s = run_watch.cpu_seconds();
  const double events = static_cast<double>(world.scheduler().events_fired() - events_before);
  const double bytes = static_cast<double>(bus_bytes() - bytes_before);
  std::ostringstream run;
  run << nodes << " nodes (" << nodes / 2 << " masters + " << nodes / 2 << " replicas), node timeout 15000, "
      << idle_seconds << " simulated s idle after creation: " << run_wall_s << " wall s (" << run_cpu_s << " CPU s), "
      << static_cast<uint64_t>(events) << " events"
      << (options.check_minority_bound ? "" : ", minority-bound check off");
  std::ostringstream create;
  create << "restart_as_created_cluster (every node boots from nodes.conf; until state ok and replicas synced): "
         << create_sim_s << " simulated s, " << create_cpu_s << " CPU s";
  return {
      {prefix + "boot_wall_s", create_wall_s, create.str(), Unit::seconds},
      {prefix + "sim_s_per_wall_s", idle_seconds / run_wall_s, run.str(), Unit::ratio},
      {prefix + "events_per_s", events / run_wall_s, run.str(), Unit::per_s},
      {prefix + "peak_rss_bytes", peak_rss_bytes(), "VmHWM of a forked child that created and ran it", Unit::bytes},
      {prefix + "bus_bytes_per_node_per_s", bytes / nodes / idle_seconds,
       "cluster bus bytes sent (Node::message_bytes), per node per simulated second", Unit::bytes_per_s},
  };
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// scenarios/master_crash.json as `sim --scenario` runs it (message records on, trace hashed but not
// written), 20 seeds. The real cluster needs the scenario's whole simulated span in wall time.
std::vector<Result> bench_master_crash(const std::string& scenarios_dir) {
  constexpr uint64_t kSeeds = 20;
  const std::string file = scenarios_dir + "/master_crash.json";
  auto loaded = load_scenario_file(file);
  if (const auto* error = std::get_if<ScenarioError>(&loaded)) {
    std::fprintf(stderr, "bench: %s\n", error->text().c_str());
    return {};
  }
  const Scenario scenario = std::get<Scenario>(std::move(loaded));
  std::vector<double> wall;
  int passed = 0;
  double sim_s = 0;
  const Stopwatch all;
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    RunOptions options;
    options.seed = seed;
    options.trace_messages = true;
    const Stopwatch watch;
    const RunResult result = run_scenario(scenario, options);
    wall.push_back(watch.seconds());
    passed += result.passed() ? 1 : 0;
    sim_s = static_cast<double>(scenario.run_until.us) / 1e6;
  }
  const double wall_s = median(wall);
  std::ostringstream detail;
  detail << file << ", seeds 1-" << kSeeds << ": median " << wall_s * 1000 << " wall ms per run (" << passed
         << " passed; " << all.cpu_seconds() / kSeeds * 1000 << " CPU ms per run on average) against " << sim_s
         << " s for the real cluster (run_until)";
  return {{"master_crash_wall_ms", wall_s * 1000, detail.str(), Unit::seconds},
          {"master_crash_speedup_vs_real", sim_s / wall_s, detail.str(), Unit::ratio}};
}

// Seeds per wall second on one core: generated fuzz cases, and a fixed 6-node 120 s case with a
// master crash at 10 s and its restart at 40 s.
std::vector<Result> bench_fuzz() {
  constexpr uint64_t kGenerated = 30;
  double sim_s = 0;
  const Stopwatch generated_watch;
  for (uint64_t seed = 1; seed <= kGenerated; ++seed) {
    const Scenario scenario = generate_fuzz_scenario(seed, {});
    sim_s += static_cast<double>(scenario.run_until.us) / 1e6;
    (void)run_fuzz_case(scenario);
  }
  const double generated_s = generated_watch.seconds();
  const double generated_cpu_s = generated_watch.cpu_seconds();
  std::ostringstream generated;
  generated << "generate_fuzz_scenario + run_fuzz_case, seeds 1-" << kGenerated << " (mean " << sim_s / kGenerated
            << " simulated s per case), in this process: " << generated_s << " wall s, " << generated_cpu_s << " CPU s";

  constexpr uint64_t kFixed = 20;
  Scenario fixed;  // scenarios/idle_cluster.json plus a crash and a restart of m1
  fixed.name = "idle_cluster_crash";
  fixed.cluster.masters = 3;
  fixed.cluster.replicas_per_master = 1;
  fixed.timeline.push_back({Instant::from_millis(10'000), action::Crash{NodeRef::of_alias("m1")}, {}});
  fixed.timeline.push_back({Instant::from_millis(40'000), action::Restart{NodeRef::of_alias("m1")}, {}});
  fixed.run_until = Instant::from_millis(120'000);
  fixed.expect.push_back(Expectation{std::nullopt, "liveness", check::Converged{}});
  const Stopwatch fixed_watch;
  for (uint64_t seed = 1; seed <= kFixed; ++seed) {
    fixed.seed = seed;
    (void)run_fuzz_case(fixed);
  }
  const double fixed_s = fixed_watch.seconds();
  const double fixed_cpu_s = fixed_watch.cpu_seconds();
  std::ostringstream fixed_detail;
  fixed_detail << "3 masters + 3 replicas, node timeout 15000, 120 simulated s, crash m1 at 10 s, restart at 40 s, "
                  "run_fuzz_case, seeds 1-"
               << kFixed << ": " << fixed_s << " wall s, " << fixed_cpu_s << " CPU s";
  return {{"fuzz_seeds_per_s", kGenerated / generated_s, generated.str(), Unit::ratio},
          {"fuzz_6node_120s_seeds_per_s", kFixed / fixed_s, fixed_detail.str(), Unit::ratio}};
}

std::string format_value(const Result& r) {
  char text[48];
  switch (r.unit) {
    case Unit::per_s: std::snprintf(text, sizeof text, "%.2f M/s", r.value / 1e6); break;
    case Unit::ratio: std::snprintf(text, sizeof text, "%.1f", r.value); break;
    case Unit::bytes: std::snprintf(text, sizeof text, "%.1f MiB", r.value / (1024.0 * 1024.0)); break;
    case Unit::seconds: std::snprintf(text, sizeof text, "%.3f", r.value); break;
    case Unit::bytes_per_s: std::snprintf(text, sizeof text, "%.0f B/s", r.value); break;
  }
  return text;
}

// Large figures as integers, small ones to three significant digits.
nlohmann::json json_value(double value) {
  if (std::abs(value) >= 1000) return static_cast<int64_t>(std::llround(value));
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", value);
  return std::stod(text);
}

void write_outputs(const std::filesystem::path& dir, const std::vector<Result>& results, const std::string& command,
                   const std::string& machine) {
  std::filesystem::create_directories(dir);
  const std::filesystem::path json_path = dir / "bench.json";
  nlohmann::json merged = nlohmann::json::object();
  if (std::ifstream in(json_path); in) {
    merged = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (!merged.is_object()) merged = nlohmann::json::object();  // unreadable: start afresh
  }
  for (const Result& r : results) merged[r.key] = json_value(r.value);
  std::ofstream(json_path) << merged.dump(2) << '\n';
  std::ofstream md(dir / "bench.md");
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  md << "# Benchmarks\n\n`" << command << "` (Release, one core; " << machine
     << "; GLIBC_TUNABLES=" << (tunables != nullptr ? tunables : "") << ")\n\n| measure | value |\n|---|---|\n";
  for (const auto& [key, value] : merged.items()) md << "| " << key << " | " << value.dump() << " |\n";
  md << "\nThis run:\n\n";
  for (const Result& r : results) md << "- " << r.key << ": " << r.detail << "\n";
}

std::vector<int> parse_sizes(const std::string& text) {
  std::vector<int> sizes;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    const int n = std::stoi(item);
    if (n < 2 || n % 2 != 0) throw std::invalid_argument("--sizes: node counts are even, at least 2");
    sizes.push_back(n);
  }
  return sizes;
}

std::string load_average() {
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) < 1) return "load average unknown";
  char text[64];
  std::snprintf(text, sizeof text, "load average %.2f at the start", load[0]);
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  rcsim::tools::use_huge_pages(argv);
  namespace po = boost::program_options;
  po::options_description options("bench options");
  options.add_options()("help", "this text")("out", po::value<std::string>(), "write DIR/bench.json and DIR/bench.md")(
      "only", po::value<std::vector<std::string>>()->composing(),
      "run only these groups: kernel, nodes, master_crash, fuzz (repeatable)")(
      "sizes", po::value<std::string>()->default_value("6,60,300,1000,2000"), "idle cluster sizes (nodes, comma separated; 2000 takes ~15 min)")(
      "idle-seconds", po::value<int>()->default_value(60), "simulated seconds each idle cluster runs (measured)")(
      "scenarios", po::value<std::string>()->default_value("scenarios"), "the folder with master_crash.json");
  po::variables_map args;
  std::vector<int> sizes;
  try {
    po::store(po::parse_command_line(argc, argv, options), args);
    sizes = parse_sizes(args["sizes"].as<std::string>());
    if (args["idle-seconds"].as<int>() < 1) throw std::invalid_argument("--idle-seconds: expected a whole number >= 1");
  } catch (const std::exception& e) {
    std::cerr << "bench: " << e.what() << "\n" << options;
    return 2;
  }
  if (args.contains("help")) {
    std::cout << options;
    return 0;
  }
  std::vector<std::string> only;
  if (args.contains("only")) only = args["only"].as<std::vector<std::string>>();
  auto wanted = [&only](const std::string& group) { return only.empty() || std::ranges::find(only, group) != only.end(); };
  const std::string machine = load_average();
  std::vector<Result> results;
  auto add = [&results](std::vector<Result> more) {
    for (Result& r : more) {
      std::printf("%-40s %14s  %s\n", r.key.c_str(), format_value(r).c_str(), r.detail.c_str());
      std::fflush(stdout);
      results.push_back(std::move(r));
    }
  };
  std::printf("%-40s %14s  %s\n", "benchmark", "value", "detail");
  if (wanted("kernel")) add({bench_scheduler(), bench_network()});
  if (wanted("nodes")) {
    const int idle_seconds = args["idle-seconds"].as<int>();
    for (const int n : sizes) {
      add(in_child(std::to_string(n) + " nodes", [n, idle_seconds] { return bench_idle_cluster(n, idle_seconds); }));
    }
  }
  const std::string scenarios = args["scenarios"].as<std::string>();
  if (wanted("master_crash")) add(in_child("master_crash", [&scenarios] { return bench_master_crash(scenarios); }));
  if (wanted("fuzz")) add(in_child("fuzz", [] { return bench_fuzz(); }));
  if (args.contains("out")) {
    std::string command = "./build/bench";
    for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
    write_outputs(args["out"].as<std::string>(), results, command, machine);
  }
  return 0;
}
