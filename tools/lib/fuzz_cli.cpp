#include "tools/lib/fuzz_cli.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "protocol/known_bugs.hpp"
#include "sim/fuzz.hpp"
#include "tools/lib/child_process.hpp"

namespace po = boost::program_options;

namespace rcsim::tools {
namespace {

constexpr int kExitBadInput = 2;

const char* kFuzzUsage = R"(sim fuzz: run generated fault schedules and check every invariant

usage:
  sim fuzz --seeds N [--from S] [--jobs J] [--shard I/K] [--time-limit T] [--mutation NAME ...] [--profile P]
           [--out DIR] [--stop-at-first] [--no-shrink] [--trace-hashes FILE]
  sim fuzz --list-mutations
  sim fuzz --merge DIR...

Each seed first draws a swarm: which of 19 fault kinds are on and how often, 1-10 faults, on one, two
or every master's nodes, and whether each fault follows the last at a failure-detection or election
offset. Then a cluster (3-9 masters, 0-2 replicas each), a Redis config, a network and the schedule;
it runs, heals everything, waits, and requires convergence. A failing seed is printed and written as
DIR/seed-N/repro.json (a plain scenario: `sim --scenario repro.json` replays it), then shrunk (nodes,
then delta debugging over faults, then time and values; a step that stops failing is retried under
other seeds) into repro.min.json, where every action says why it is needed. Exit code 1 when any seed failed.

examples:
  sim fuzz --seeds 2000 --jobs 2
  sim fuzz --seeds 1000 --mutation vote_twice_per_epoch --stop-at-first
  sim fuzz --seeds 100000 --shard 3/16 --out results/fuzz-shard-3
  sim fuzz --seeds 300 --jobs 2 --trace-hashes a.txt   # on two builds, then diff: same behaviour?
)";

struct SeedOutcome {
  uint64_t seed = 0;
  std::string signature;  // "" = passed
  std::string detail;
  std::string trace_sha256;
  int64_t violation_at_us = -1;
  std::map<std::string, uint64_t> events;

  sim::FuzzVerdict verdict() const { return sim::FuzzVerdict{signature, detail, trace_sha256, violation_at_us, events}; }
};

// What a campaign reached: per protocol event and per fault kind, the seeds that had one and the total.
struct Reach {
  uint64_t seeds = 0, total = 0;
};
using Coverage = std::map<std::string, Reach>;

void add_reach(Coverage& coverage, const std::string& key, uint64_t count) {
  if (count == 0) return;
  Reach& reach = coverage[key];
  ++reach.seeds;
  reach.total += count;
}

nlohmann::json coverage_json(const Coverage& coverage) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [key, reach] : coverage) out[key] = {{"seeds", reach.seeds}, {"total", reach.total}};
  return out;
}

// Runs one seed's scenario in a child process: an assertion failure there is a found bug, not the
// end of the fuzzer. The child reports one line.
struct ChildRun {
  ChildProcess process;
  uint64_t seed;

  static std::optional<ChildRun> start(const sim::Scenario& scenario, uint64_t seed) {
    std::optional<ChildProcess> process = ChildProcess::start([&scenario] {
      const sim::FuzzVerdict verdict = sim::run_fuzz_case(scenario);
      std::string detail = verdict.detail;
      std::replace_if(detail.begin(), detail.end(), [](char c) { return c == '\n' || c == '\t'; }, ' ');
      std::string events;
      for (const auto& [kind, count] : verdict.events) events += kind + "=" + std::to_string(count) + ";";
      return verdict.signature + "\t" + verdict.trace_sha256 + "\t" + std::to_string(verdict.violation_at_us) + "\t" + events + "\t" +
             detail + "\n";
    });
    if (!process) return std::nullopt;
    return ChildRun{*process, seed};
  }

  // After the child was reaped with `status`: its one line is waiting in the pipe.
  SeedOutcome collect(int status) {
    const std::string text = process.take_output();
    SeedOutcome outcome;
    outcome.seed = seed;
    if (WIFSIGNALED(status)) {
      outcome.signature = std::string("crash:") + strsignal(WTERMSIG(status));
      return outcome;
    }
    std::istringstream in(text);
    std::getline(in, outcome.signature, '\t');
    std::getline(in, outcome.trace_sha256, '\t');
    std::string violation_at, events;
    std::getline(in, violation_at, '\t');
    std::getline(in, events, '\t');
    std::getline(in, outcome.detail);
    if (!violation_at.empty()) outcome.violation_at_us = std::stoll(violation_at);
    for (size_t start = 0; start < events.size();) {
      const size_t end = events.find(';', start);
      const size_t equals = events.find('=', start);
      if (end == std::string::npos || equals == std::string::npos || equals > end) break;
      outcome.events[events.substr(start, equals - start)] = std::stoull(events.substr(equals + 1, end - equals - 1));
      start = end + 1;
    }
    if (text.empty()) outcome.signature = "crash:no result";
    return outcome;
  }
};

SeedOutcome run_isolated(const sim::Scenario& scenario, uint64_t seed) {
  std::optional<ChildRun> child = ChildRun::start(scenario, seed);
  if (!child) return SeedOutcome{seed, "crash:fork failed", "", "", -1, {}};
  int status = 0;
  waitpid(child->process.pid(), &status, 0);
  return child->collect(status);
}

bool parse_shard(const std::string& text, uint64_t& index, uint64_t& count) {
  const size_t slash = text.find('/');
  if (slash == std::string::npos) return false;
  try {
    index = std::stoull(text.substr(0, slash));
    count = std::stoull(text.substr(slash + 1));
  } catch (const std::exception&) {
    return false;
  }
  return count > 0 && index < count;
}

class Progress {
 public:
  explicit Progress(uint64_t total) : total_(total), tty_(isatty(STDERR_FILENO) != 0), start_(Clock::now()) {}
  void update(uint64_t done, uint64_t failures) {
    const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
    if (tty_) {
      const int width = 30;
      const int filled = total_ ? static_cast<int>(width * done / total_) : width;
      std::fprintf(stderr, "\r[%s%s] %llu/%llu seeds  %.1f seeds/s  %llu failed ", std::string(static_cast<size_t>(filled), '#').c_str(),
                   std::string(static_cast<size_t>(width - filled), '.').c_str(), static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(total_), rate, static_cast<unsigned long long>(failures));
      if (done == total_) std::fprintf(stderr, "\n");
    } else if (done % 100 == 0 || done == total_) {
      std::fprintf(stderr, "%llu/%llu seeds, %.1f seeds/s, %llu failed\n", static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(total_), rate, static_cast<unsigned long long>(failures));
    }
  }
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  using Clock = std::chrono::steady_clock;
  uint64_t total_;
  bool tty_;
  Clock::time_point start_;
};

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

// Writes repro.json, shrinks it while the same signature fails, writes repro.min.json.
nlohmann::json record_failure(const SeedOutcome& outcome, const sim::Scenario& scenario, const std::filesystem::path& dir,
                              int shrink_budget) {
  std::filesystem::create_directories(dir);
  write_text(dir / "repro.json", sim::to_json(scenario).dump(2) + "\n");
  nlohmann::json entry{{"seed", outcome.seed},
                       {"signature", outcome.signature},
                       {"detail", outcome.detail},
                       {"trace_sha256", outcome.trace_sha256},
                       {"repro", (dir / "repro.json").string()},
                       {"size", sim::scenario_size(scenario)},
                       {"faults", sim::fault_count(scenario)},
                       {"nodes", scenario.cluster.node_count()}};
  if (shrink_budget > 0) {
    const sim::FuzzRunner run = [&](const sim::Scenario& candidate) { return run_isolated(candidate, outcome.seed).verdict(); };
    const sim::ShrinkResult shrunk = sim::shrink(scenario, outcome.verdict(), run, shrink_budget);
    write_text(dir / "repro.min.json", sim::to_json(shrunk.minimal).dump(2) + "\n");
    entry["repro_min"] = (dir / "repro.min.json").string();
    entry["min_size"] = sim::scenario_size(shrunk.minimal);
    entry["min_faults"] = sim::fault_count(shrunk.minimal);
    entry["min_nodes"] = shrunk.minimal.cluster.node_count();
    entry["shrink_runs"] = shrunk.runs;
  }
  return entry;
}

int merge(const std::vector<std::string>& dirs) {
  nlohmann::json merged{{"seeds_run", 0}, {"wall_s", 0.0}, {"failures", nlohmann::json::array()}};
  std::map<std::string, Coverage> coverage;  // section -> key -> reach
  for (const std::string& dir : dirs) {
    std::ifstream in(std::filesystem::path(dir) / "fuzz-summary.json");
    nlohmann::json shard = nlohmann::json::parse(in, nullptr, false);
    if (shard.is_discarded() || !shard.contains("seeds_run")) {
      std::cerr << "sim fuzz --merge: " << dir << "/fuzz-summary.json: missing or not a fuzz summary\n";
      return kExitBadInput;
    }
    // Summaries from before profiles existed ran 7.0.
    const std::string profile = shard.value("profile", std::string("redis-7.0"));
    if (merged.contains("profile") && merged["profile"] != profile) {
      std::cerr << "sim fuzz --merge: " << dir << " fuzzed profile " << profile << ", the shards before it "
                << merged["profile"].get<std::string>() << "\n";
      return kExitBadInput;
    }
    merged["profile"] = profile;
    merged["seeds_run"] = merged["seeds_run"].get<uint64_t>() + shard["seeds_run"].get<uint64_t>();
    // Shards that ran side by side: the campaign took as long as the longest.
    merged["wall_s"] = std::max(merged["wall_s"].get<double>(), shard.value("wall_s", 0.0));
    for (const auto& failure : shard["failures"]) merged["failures"].push_back(failure);
    // Bound first: items() of the temporary value() returns would outlive it inside the loop.
    const nlohmann::json shard_coverage = shard.value("coverage", nlohmann::json::object());
    for (const auto& [section, entries] : shard_coverage.items()) {
      for (const auto& [key, reach] : entries.items()) {
        Reach& sum = coverage[section][key];
        sum.seeds += reach.value("seeds", uint64_t{0});
        sum.total += reach.value("total", uint64_t{0});
      }
    }
  }
  merged["coverage"] = nlohmann::json::object();
  for (const auto& [section, entries] : coverage) merged["coverage"][section] = coverage_json(entries);
  std::cout << merged.dump(2) << "\n";
  return merged["failures"].empty() ? 0 : 1;
}

}  // namespace

int fuzz_main(int argc, char** argv) {
  po::options_description options("fuzz options");
  options.add_options()
      ("help,h", "show this help")
      ("seeds", po::value<uint64_t>()->default_value(100), "number of seeds")
      ("from", po::value<uint64_t>()->default_value(1), "first seed")
      ("jobs,j", po::value<unsigned>()->default_value(1), "parallel processes")
      ("shard", po::value<std::string>(), "I/K: run only seeds with seed % K == I")
      ("time-limit", po::value<double>(), "stop starting seeds after this many wall seconds")
      ("mutation", po::value<std::vector<std::string>>()->composing(), "switch on a known bug (repeatable)")
      ("list-mutations", "list the known bugs")
      ("profile", po::value<std::string>()->default_value("redis-7.0"), "the server version profile every case runs "
                                                                       "(sim --help lists them): the same cases under each")
      ("out", po::value<std::string>()->default_value("results/fuzz"), "where failures are written")
      ("stop-at-first", "stop at the first failing seed")
      ("no-shrink", "do not shrink failures")
      ("shrink-budget", po::value<int>()->default_value(300), "at most this many runs to shrink each failure")
      ("trace-hashes", po::value<std::string>(), "write FILE: one line per seed run, in seed order: seed, trace "
                                                  "sha256, verdict (a change that must not alter behaviour keeps it)")
      ("merge", po::value<std::vector<std::string>>()->multitoken(), "merge the fuzz-summary.json of shard dirs");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(options).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "sim fuzz: " << e.what() << " (see sim fuzz --help)\n";
    return kExitBadInput;
  }
  if (vm.count("help")) {
    std::cout << kFuzzUsage << "\n" << options << "\n";
    return 0;
  }
  if (vm.count("list-mutations")) {
    for (const auto& bug : protocol::known_bug_list()) std::cout << bug.name << "\n    " << bug.description << "\n";
    return 0;
  }
  if (vm.count("merge")) return merge(vm["merge"].as<std::vector<std::string>>());

  sim::FuzzOptions fuzz;
  const std::string profile_name = vm["profile"].as<std::string>();
  if (const protocol::VersionProfile* profile = protocol::find_version_profile(profile_name)) {
    fuzz.version = profile->version;
  } else {
    std::cerr << "sim fuzz: --profile " << profile_name << ": expected one of " << protocol::version_profile_names() << "\n";
    return kExitBadInput;
  }
  if (vm.count("mutation")) {
    for (const std::string& name : vm["mutation"].as<std::vector<std::string>>()) {
      protocol::KnownBugs probe;
      if (!protocol::enable_known_bug(probe, name)) {
        std::cerr << "sim fuzz: --mutation: unknown known bug '" << name << "' (see sim fuzz --list-mutations)\n";
        return kExitBadInput;
      }
      fuzz.known_bugs.push_back(name);
    }
  }
  uint64_t shard_index = 0, shard_count = 1;
  if (vm.count("shard") && !parse_shard(vm["shard"].as<std::string>(), shard_index, shard_count)) {
    std::cerr << "sim fuzz: --shard: expected I/K with 0 <= I < K, e.g. 3/16\n";
    return kExitBadInput;
  }
  const unsigned jobs = std::max(1u, vm["jobs"].as<unsigned>());
  const uint64_t first = vm["from"].as<uint64_t>();
  const uint64_t count = vm["seeds"].as<uint64_t>();
  const std::filesystem::path out_dir = vm["out"].as<std::string>();
  const bool stop_at_first = vm.count("stop-at-first") > 0;
  // No --time-limit: no limit (GCC 12 also warns falsely about a std::optional<double> here).
  const double time_limit_s =
      vm.count("time-limit") ? vm["time-limit"].as<double>() : std::numeric_limits<double>::infinity();

  const bool write_hashes = vm.count("trace-hashes") > 0;
  std::ofstream hashes_out;
  if (write_hashes) {
    hashes_out.open(vm["trace-hashes"].as<std::string>(), std::ios::trunc);
    if (!hashes_out) {
      std::cerr << "sim fuzz: --trace-hashes: cannot write " << vm["trace-hashes"].as<std::string>() << "\n";
      return kExitBadInput;
    }
  }

  std::vector<uint64_t> seeds;
  for (uint64_t s = first; s < first + count; ++s) {
    if (s % shard_count == shard_index) seeds.push_back(s);
  }
  Progress progress(seeds.size());
  std::map<pid_t, ChildRun> running;
  std::vector<SeedOutcome> failures;
  std::map<uint64_t, SeedOutcome> by_seed;  // every outcome, for --trace-hashes
  Coverage events_reached, faults_drawn, kinds_on;
  size_t next = 0;
  uint64_t done = 0;
  auto stopping = [&] {
    return (stop_at_first && !failures.empty()) || progress.seconds() > time_limit_s;
  };
  while (next < seeds.size() || !running.empty()) {
    while (running.size() < jobs && next < seeds.size() && !stopping()) {
      const uint64_t seed = seeds[next++];
      const sim::FuzzCase generated = sim::generate_fuzz_case(seed, fuzz);
      for (int k = 0; k < sim::kFaultKindCount; ++k) {
        const std::string kind(sim::fault_kind_name(static_cast<sim::FaultKind>(k)));
        add_reach(faults_drawn, kind, static_cast<uint64_t>(generated.faults_drawn[static_cast<size_t>(k)]));
        add_reach(kinds_on, kind, generated.swarm.weight[static_cast<size_t>(k)] > 0 ? 1 : 0);
      }
      std::optional<ChildRun> child = ChildRun::start(generated.scenario, seed);
      if (!child) {
        std::cerr << "sim fuzz: cannot start a process for seed " << seed << "\n";
        return 1;
      }
      running.emplace(child->process.pid(), *child);
    }
    if (running.empty()) break;
    // Children finish in any order; results are reported by seed below, so output stays stable.
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) {
      usleep(1000);
      continue;
    }
    auto it = running.find(pid);
    if (it == running.end()) continue;
    SeedOutcome outcome = it->second.collect(status);
    running.erase(it);
    ++done;
    for (const auto& [kind, times] : outcome.events) add_reach(events_reached, kind, times);
    if (write_hashes) by_seed.emplace(outcome.seed, outcome);
    if (!outcome.signature.empty()) {
      std::fprintf(stderr, "%sseed %llu FAILED: %s %s\n", isatty(STDERR_FILENO) ? "\n" : "",
                   static_cast<unsigned long long>(outcome.seed), outcome.signature.c_str(), outcome.detail.c_str());
      failures.push_back(outcome);
    }
    progress.update(done, failures.size());
  }
  std::sort(failures.begin(), failures.end(), [](const SeedOutcome& a, const SeedOutcome& b) { return a.seed < b.seed; });
  nlohmann::json summary{{"seeds_run", done}, {"first_seed", first}, {"shard", std::to_string(shard_index) + "/" + std::to_string(shard_count)},
                         {"mutations", fuzz.known_bugs}, {"profile", profile_name}, {"wall_s", progress.seconds()},
                         {"seeds_per_s", progress.seconds() > 0 ? static_cast<double>(done) / progress.seconds() : 0.0},
                         {"failures", nlohmann::json::array()},
                         {"coverage", {{"protocol_events", coverage_json(events_reached)},
                                       {"faults_drawn", coverage_json(faults_drawn)},
                                       {"swarm_kinds_on", coverage_json(kinds_on)}}}};
  for (const SeedOutcome& failure : failures) {
    const std::filesystem::path dir = out_dir / ("seed-" + std::to_string(failure.seed));
    const int shrink_budget = vm.count("no-shrink") ? 0 : vm["shrink-budget"].as<int>();
    const nlohmann::json entry = record_failure(failure, sim::generate_fuzz_scenario(failure.seed, fuzz), dir, shrink_budget);
    summary["failures"].push_back(entry);
    std::cout << "seed " << failure.seed << ": " << failure.signature << " — replay: sim --scenario " << (dir / "repro.json").string();
    if (entry.contains("repro_min")) {
      std::cout << "\n  shrunk from " << entry["faults"] << " faults on " << entry["nodes"] << " nodes to " << entry["min_faults"]
                << " on " << entry["min_nodes"] << " (" << entry["shrink_runs"] << " runs): sim --scenario " << entry["repro_min"].get<std::string>();
    }
    std::cout << "\n";
  }
  std::filesystem::create_directories(out_dir);
  write_text(out_dir / "fuzz-summary.json", summary.dump(2) + "\n");
  for (const auto& [seed, outcome] : by_seed) {
    hashes_out << seed << "\t" << outcome.trace_sha256 << "\t" << (outcome.signature.empty() ? "pass" : outcome.signature) << "\n";
  }
  std::cout << done << " seeds, " << failures.size() << " failed, " << summary["seeds_per_s"].get<double>() << " seeds/s\n";
  return failures.empty() ? 0 : 1;
}

}  // namespace rcsim::tools
