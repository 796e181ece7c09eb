// sim: run a Redis Cluster scenario on the simulator, check it, write its results.
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "sim/client_profiles.hpp"
#include "sim/run.hpp"
#include "sim/time.hpp"
#include "tools/lib/fuzz_cli.hpp"
#include "tools/lib/huge_pages.hpp"
#include "tools/lib/report.hpp"
#include "tools/lib/report_html.hpp"
#include "tools/lib/sweep_cli.hpp"
#include "tools/lib/timeline_dot.hpp"

namespace po = boost::program_options;
using namespace rcsim;

namespace {

constexpr int kExitPass = 0;
constexpr int kExitFail = 1;
constexpr int kExitBadInput = 2;

const char* kUsage = R"(sim: a deterministic simulator of Redis Cluster (Redis 7.0.15; other versions as profiles, below)

usage:
  sim --scenario FILE [--cluster-nodes FILE] [--seed N] [--until T] [--out DIR] [--set NAME=VALUE ...]
      [--version-profile NAME] [--quiet] [--json]
  sim fuzz --help
  sim sweep --help
  sim ab --help

examples:
  sim --scenario scenarios/split_brain.json
  sim --scenario scenarios/master_crash.json --seed 7 --set cluster-node-timeout=5000
  sim --scenario scenarios/zone_outage.json --cluster-nodes my-cluster-nodes.txt
  sim --scenario scenarios/manual_failover.json --messages-from 10s --messages-to 10.2s
  sim sweep --scenario scenarios/master_crash.json --param cluster-node-timeout --values 1000,5000,15000

Exit codes: 0 every expectation and invariant held, 1 some did not, 2 bad input.
)";

// The file's text, or empty when it cannot be read (timeline.svg is not drawn without Graphviz's dot).
std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool write_file(const std::filesystem::path& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  return static_cast<bool>(out);
}

// The profiles and what each was calibrated against (protocol/VERSIONS.md has the rules).
std::string version_profiles_help() {
  std::string out = "server version profiles (cluster.version, --version-profile; rules in protocol/VERSIONS.md):\n";
  for (const protocol::VersionProfile& p : protocol::version_profiles()) {
    out += "  " + std::string(p.name) + std::string(12 - std::string_view(p.name).size(), ' ') + p.calibrated + "\n";
  }
  return out;
}

int bad_input(const std::string& message) {
  std::cerr << "sim: " << message << "\n";
  return kExitBadInput;
}

std::optional<Instant> parse_time_flag(const po::variables_map& vm, const char* flag, std::string& error) {
  if (!vm.count(flag)) return std::nullopt;
  const std::string text = vm[flag].as<std::string>();
  const auto d = sim::parse_duration(text);
  if (!d) {
    error = std::string("--") + flag + ": expected a duration like 60s, 1.5s or 200ms, got '" + text + "'";
    return std::nullopt;
  }
  return Instant::from_micros(d->us);
}

int run_main(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("help,h", "show this help")
      ("scenario", po::value<std::string>(), "scenario file (JSON)")
      ("cluster-nodes", po::value<std::string>(), "boot the cluster of this file (the output of redis-cli cluster "
                                                  "nodes, or a nodes.conf) instead of the scenario's: its ids, roles, "
                                                  "slots and epochs; aliases m1.., r1.. in the file's order")
      ("seed", po::value<uint64_t>(), "override the scenario's seed")
      ("until", po::value<std::string>(), "override run_until (e.g. 90s)")
      ("out", po::value<std::string>(), "results directory (default results/<name>/seed-<N>)")
      ("set", po::value<std::vector<std::string>>()->composing(), "override a Redis setting: NAME=VALUE (repeatable)")
      ("version-profile", po::value<std::string>(), "run every node as this server version instead of the "
                                                    "scenario's cluster.version (profiles below)")
      ("quiet,q", "print only the verdict line")
      ("json", "print summary.json to stdout instead of the human summary")
      ("list-clients", "list the client library profiles of workload.client (name, library, sources) and exit")
      ("print-scenario", "print the scenario as sim reads it and exit: the file form with zones and hosts "
                         "resolved, zone latencies written out as links, zone and host actions as per-node ones")
      ("bus-from", po::value<std::string>(), "count summary.json's bus_sent from this scenario time (a "
                                             "steady-state window; default 0, the cluster's creation)")
      ("messages-from", po::value<std::string>(), "message-sequence diagram window start (scenario time)")
      ("messages-to", po::value<std::string>(), "message-sequence diagram window end (scenario time)")
      ("no-message-trace", "leave the one record per delivered bus message out of trace.jsonl: the same run, a "
                           "shorter trace with its own sha256 (a 1000-node minute writes ~0.5 GB of them)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(options).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return bad_input(std::string(e.what()) + " (see sim --help)");
  }
  if (vm.count("help")) {
    std::cout << kUsage << "\n" << options << "\n" << version_profiles_help();
    return kExitPass;
  }
  if (vm.count("list-clients")) {
    for (const sim::ClientProfile& p : sim::client_profiles()) std::cout << p.name << "\t" << p.library << "\t" << p.sources << "\n";
    return kExitPass;
  }
  if (!vm.count("scenario")) return bad_input("--scenario FILE is required (see sim --help)");
  const std::string file = vm["scenario"].as<std::string>();
  auto loaded = sim::load_scenario_file(file, vm.count("cluster-nodes") ? vm["cluster-nodes"].as<std::string>() : "");
  if (auto* error = std::get_if<sim::ScenarioError>(&loaded)) return bad_input(error->text());
  sim::Scenario scenario = std::get<sim::Scenario>(std::move(loaded));
  if (vm.count("version-profile")) {
    if (auto error = sim::apply_version_override(scenario, vm["version-profile"].as<std::string>())) return bad_input(*error);
  }
  if (vm.count("set")) {
    for (const std::string& setting : vm["set"].as<std::vector<std::string>>()) {
      if (auto error = sim::apply_config_override(scenario, setting)) return bad_input(*error);
    }
  }
  if (vm.count("print-scenario")) {
    std::cout << sim::to_json(scenario).dump(1) << "\n";
    return kExitPass;
  }
  std::string flag_error;
  const auto until = parse_time_flag(vm, "until", flag_error);
  const auto messages_from = parse_time_flag(vm, "messages-from", flag_error);
  const auto bus_from = parse_time_flag(vm, "bus-from", flag_error);
  const auto messages_to = parse_time_flag(vm, "messages-to", flag_error);
  if (!flag_error.empty()) return bad_input(flag_error);
  if (messages_from.has_value() != messages_to.has_value() || (messages_from && *messages_to <= *messages_from)) {
    return bad_input("--messages-from and --messages-to go together, with from < to");
  }
  if (bus_from && *bus_from >= until.value_or(scenario.run_until)) {
    return bad_input("--bus-from: the window must start before the run ends (" +
                     sim::format_duration(Duration::micros(until.value_or(scenario.run_until).us)) + ")");
  }
  if (messages_from && vm.count("no-message-trace")) {
    return bad_input("--messages-from/--messages-to draw the traced messages: not with --no-message-trace");
  }

  sim::RunOptions run_options;
  run_options.seed = vm.count("seed") ? std::optional<uint64_t>(vm["seed"].as<uint64_t>()) : std::nullopt;
  run_options.until = until;
  run_options.bus_from = bus_from;
  run_options.trace_messages = vm.count("no-message-trace") == 0;
  run_options.sample_shards = true;  // for report.html
  const uint64_t seed = run_options.seed.value_or(scenario.seed);
  const std::filesystem::path out_dir = vm.count("out")
      ? std::filesystem::path(vm["out"].as<std::string>())
      : std::filesystem::path("results") / scenario.name / ("seed-" + std::to_string(seed));
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return bad_input("--out: cannot create " + out_dir.string() + ": " + ec.message());
  run_options.trace_path = (out_dir / "trace.jsonl").string();

  const auto wall_start = std::chrono::steady_clock::now();
  sim::RunResult result = sim::run_scenario(scenario, run_options);
  const auto wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - wall_start).count();
  result.world->trace().flush();

  tools::RunContext context{file, &scenario, wall_ms};
  const nlohmann::json summary = tools::summary_json(result, context);
  bool written = write_file(out_dir / "summary.json", summary.dump(2) + "\n");
  written = written && write_file(out_dir / "nodes.txt", tools::nodes_txt(*result.world));
  if (scenario.workload) written = written && write_file(out_dir / "lost_writes.jsonl", tools::lost_writes_jsonl(result));
  tools::TimelineOptions timeline;
  timeline.origin = result.create_done;
  if (messages_from) {
    timeline.messages_from = result.create_done + Duration::micros(messages_from->us);
    timeline.messages_to = result.create_done + Duration::micros(messages_to->us);
  }
  written = written && tools::write_timeline(*result.world, timeline, out_dir);
  written = written && write_file(out_dir / "report.html", tools::report_html(result, context, read_file(out_dir / "timeline.svg")));
  if (!written) {
    std::cerr << "sim: could not write results under " << out_dir << "\n";
    return kExitFail;
  }
  if (vm.count("json")) {
    std::cout << summary.dump(2) << "\n";
  } else if (vm.count("quiet")) {
    std::cout << scenario.name << " seed " << seed << ": " << (result.passed() ? "PASS" : "FAIL") << "\n";
  } else {
    std::cout << tools::human_summary(result, context) << "results: " << out_dir.string() << "\n";
  }
  return result.passed() ? kExitPass : kExitFail;
}

}  // namespace

int main(int argc, char** argv) {
  tools::use_huge_pages(argv);
  try {
    if (argc > 1 && std::string_view(argv[1]) == "fuzz") return tools::fuzz_main(argc - 1, argv + 1);
    if (argc > 1 && std::string_view(argv[1]) == "sweep") return tools::sweep_main(argc - 1, argv + 1);
    if (argc > 1 && std::string_view(argv[1]) == "ab") return tools::ab_main(argc - 1, argv + 1);
    return run_main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "sim: internal error: " << e.what() << "\n";
    return kExitFail;
  }
}
