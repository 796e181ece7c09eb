#include "tools/lib/sweep_cli.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <boost/program_options.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string_view>
#include <variant>

#include "protocol/config.hpp"
#include "protocol/version.hpp"
#include "sim/run.hpp"
#include "sim/scenario.hpp"
#include "sim/time.hpp"
#include "sim/workload.hpp"
#include "tools/lib/child_process.hpp"

namespace po = boost::program_options;

namespace rcsim::tools {
namespace {

constexpr int kExitBadInput = 2;
constexpr size_t kMaxValues = 1000;
constexpr uint64_t kMaxRuns = 100000;

const char* kSweepUsage = R"(sim sweep: run a scenario over a range of one parameter, several seeds each

usage:
  sim sweep --scenario FILE --param NAME (--values A,B,C | --range FROM:TO:STEP) [--seeds N] [--from S]
            [--jobs J] [--metric M[,M...]] [--set NAME=VALUE ...] [--until T] [--out DIR] [--no-plot]

NAME is any Redis setting `sim --set` accepts (cluster-node-timeout, cluster-replica-validity-factor,
...) or a scenario parameter:
  masters               cluster.masters (cluster size: masters, each with replicas-per-master replicas)
  replicas-per-master   cluster.replicas_per_master
  timer-phase           cluster.timer_phase: in_phase or staggered
  network-loss          network.loss, per-segment probability 0..1 (TCP retransmits: delay, not loss)
  network-latency-ms    network.latency, one way, in ms (0.05 = 50 us)
  network-jitter-ms     network.jitter, in ms
  run-until-s           run_until, in simulated seconds
  writes-per-s          workload.writes_per_s (scenarios with a workload)
  clients               workload.clients (scenarios with a workload)
  version               cluster.version: a server profile (redis-7.0, redis-7.2, ...; sim --help lists them)
Seeds are the inner loop (--seeds, --from), not a parameter. The slot count is not a parameter: it is
Redis's compile-time CLUSTER_SLOTS (16384), fixed in protocol/ as in Redis.

Each (value, seed) runs in its own process (--jobs at a time); results are written in (value, seed)
order whatever --jobs is, so the files are byte-identical for any --jobs. Writes to DIR:
  sweep.csv     one row per run: the value, the seed, sim's exit code (0 pass, 1 fail, 128+signal
                crashed), every metric, the trace hash
  summary.csv   one row per value: runs, passed, then n, median, min, max of every metric
  sweep.gp      a gnuplot script: median and min-max of the --metric columns against the value
  sweep.svg, sweep.png   rendered with gnuplot when it is on PATH (else: cd DIR && gnuplot sweep.gp)
  scenarios/VALUE.json   the scenario each value ran: sim --scenario DIR/scenarios/VALUE.json --seed N
                         replays a row (same trace_sha256)
Exit code: 0 the sweep ran (rows may fail their scenario's expectations: see the exit column), 1 a run
crashed or broke an invariant, 2 bad input (nothing is written).

examples:
  sim sweep --scenario scenarios/master_crash.json --param cluster-node-timeout --range 1000:5000:1000
  sim sweep --scenario scenarios/idle_cluster.json --param masters --values 3,10,25 --until 30s
            --metric bytes_per_node_per_s --seeds 3 --jobs 2 --out results/sweep/bus
)";

// ---- parameters -----------------------------------------------------------------------------------

enum class ValueKind : uint8_t { integer, number, millis, seconds, word };

struct ScenarioParam {
  const char* name;
  const char* json_pointer;  // into the scenario file
  ValueKind kind;
  bool needs_workload;
};

constexpr ScenarioParam kScenarioParams[] = {
    {"masters", "/cluster/masters", ValueKind::integer, false},
    {"replicas-per-master", "/cluster/replicas_per_master", ValueKind::integer, false},
    {"timer-phase", "/cluster/timer_phase", ValueKind::word, false},
    {"network-loss", "/network/loss", ValueKind::number, false},
    {"network-latency-ms", "/network/latency", ValueKind::millis, false},
    {"network-jitter-ms", "/network/jitter", ValueKind::millis, false},
    {"run-until-s", "/run_until", ValueKind::seconds, false},
    {"writes-per-s", "/workload/writes_per_s", ValueKind::number, true},
    {"clients", "/workload/clients", ValueKind::integer, true},
    {"version", "/cluster/version", ValueKind::word, false},
};

const ScenarioParam* find_scenario_param(std::string_view name) {
  for (const ScenarioParam& p : kScenarioParams) {
    if (name == p.name) return &p;
  }
  return nullptr;
}

std::string join(const std::vector<std::string>& items, const char* separator = ", ") {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

std::string known_params_text() {
  std::vector<std::string> scenario_params;
  for (const ScenarioParam& p : kScenarioParams) scenario_params.push_back(p.name);
  return "a Redis setting (" + join(protocol::Config::names()) + ") or a scenario parameter (" + join(scenario_params) + ")";
}

std::optional<double> parse_number(std::string_view text) {
  if (text.empty()) return std::nullopt;
  const std::string copy(text);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(copy.c_str(), &end);
  if (errno != 0 || end != copy.c_str() + copy.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// The JSON value a scenario parameter takes for `value`, or an error naming what was expected.
std::variant<nlohmann::json, std::string> scenario_param_json(const ScenarioParam& p, const std::string& value) {
  if (p.kind == ValueKind::word) return nlohmann::json(value);
  const std::optional<double> v = parse_number(value);
  if (!v) return std::string("expected a number");
  switch (p.kind) {
    case ValueKind::integer:
      if (*v != std::floor(*v) || std::fabs(*v) > 1e9) return std::string("expected an integer");
      return nlohmann::json(static_cast<int64_t>(*v));
    case ValueKind::number: return nlohmann::json(*v);
    case ValueKind::millis:
      if (*v < 0 || *v > 1e9) return std::string("expected milliseconds >= 0");
      return nlohmann::json(std::to_string(std::llround(*v * 1000)) + "us");
    case ValueKind::seconds:
      if (*v <= 0 || *v > 1e7) return std::string("expected seconds > 0");
      return nlohmann::json(std::to_string(std::llround(*v * 1e6)) + "us");
    case ValueKind::word: break;
  }
  return std::string("unreachable");
}

// The base scenario with the swept parameter set to `value`, validated as a scenario file is.
std::variant<sim::Scenario, std::string> with_value(const sim::Scenario& base, const std::string& file_label,
                                                    const std::string& param, const std::string& value) {
  const ScenarioParam* p = find_scenario_param(param);
  if (p == nullptr) {  // a Redis setting: exactly what `sim --set` does
    sim::Scenario out = base;
    if (std::optional<std::string> error = sim::apply_config_override(out, param + "=" + value)) {
      const std::string prefix = "--set ";
      return "--values: " + (error->starts_with(prefix) ? error->substr(prefix.size()) : *error);
    }
    return out;
  }
  if (p->needs_workload && !base.workload) return "--param " + param + ": the scenario has no workload";
  auto converted = scenario_param_json(*p, value);
  if (auto* error = std::get_if<std::string>(&converted)) return "--values: " + param + "=" + value + ": " + *error;
  nlohmann::json file = sim::to_json(base);
  file[nlohmann::json::json_pointer(p->json_pointer)] = std::get<nlohmann::json>(converted);
  auto parsed = sim::parse_scenario(file.dump(), file_label);
  if (auto* error = std::get_if<sim::ScenarioError>(&parsed)) {
    return "--values: " + param + "=" + value + " makes an invalid scenario: " + error->text();
  }
  return std::get<sim::Scenario>(std::move(parsed));
}

// ---- values ---------------------------------------------------------------------------------------

bool plain_value(const std::string& v) {
  return !v.empty() && std::all_of(v.begin(), v.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+' || c == '_';
  });
}

std::variant<std::vector<std::string>, std::string> parse_values(const std::string& text) {
  std::vector<std::string> values;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!plain_value(item)) {
      return "--values: expected a comma-separated list of numbers or words such as 1000,2000,5000, got '" + text + "'";
    }
    if (std::find(values.begin(), values.end(), item) != values.end()) return "--values: " + item + " is listed twice";
    values.push_back(item);
  }
  if (values.empty() || text.back() == ',') {
    return "--values: expected a comma-separated list of numbers or words such as 1000,2000,5000, got '" + text + "'";
  }
  if (values.size() > kMaxValues) return "--values: at most " + std::to_string(kMaxValues) + " values";
  return values;
}

std::string range_value_text(double v) {
  char text[64];
  std::snprintf(text, sizeof text, "%.12g", v);
  return text;
}

// FROM:TO:STEP, inclusive of TO when a step lands on it.
std::variant<std::vector<std::string>, std::string> parse_range(const std::string& text) {
  const std::string expected = "--range: expected FROM:TO:STEP with numbers, FROM <= TO and STEP > 0 (e.g. 1000:15000:1000), got '" + text + "'";
  const size_t a = text.find(':');
  const size_t b = a == std::string::npos ? a : text.find(':', a + 1);
  if (b == std::string::npos || text.find(':', b + 1) != std::string::npos) return expected;
  const auto from = parse_number(text.substr(0, a)), to = parse_number(text.substr(a + 1, b - a - 1));
  const auto step = parse_number(text.substr(b + 1));
  if (!from || !to || !step || *step <= 0 || *to < *from) return expected;
  const double steps = std::floor((*to - *from) / *step + 1e-9);
  if (steps + 1 > static_cast<double>(kMaxValues)) return "--range: more than " + std::to_string(kMaxValues) + " values";
  std::vector<std::string> values;
  for (int64_t i = 0; i <= static_cast<int64_t>(steps); ++i) {
    values.push_back(range_value_text(*from + static_cast<double>(i) * *step));
  }
  return values;
}

// ---- metrics --------------------------------------------------------------------------------------

struct MetricDef {
  const char* name;
  const char* unit;  // the plot's y label
  const char* meaning;
};

// Failover times are measured from the fault on the old master (the failover record's fault_ms),
// so they read as "how long after kill -9" whatever the scenario's timeline.
constexpr MetricDef kMetrics[] = {
    {"expect_failed", "count", "expectations of the scenario that failed"},
    {"violations", "count", "invariant violations (each one a found bug)"},
    {"failovers", "count", "failovers (auto and manual) during the run"},
    {"pfail_ms", "ms after the fault", "first failover: ms from the fault to the first PFAIL"},
    {"fail_ms", "ms after the fault", "first failover: ms from the fault to the first FAIL"},
    {"election_ms", "ms after the fault", "first failover: ms from the fault to the winner's election start"},
    {"promoted_ms", "ms after the fault", "first failover: ms from the fault to the replica's promotion"},
    {"converged_ms", "ms after the fault", "first failover: ms from the fault to every node agreeing on the new master"},
    {"last_promoted_ms", "ms after the fault", "the slowest failover: ms from its fault to its replica's promotion (several masters failed)"},
    {"current_epoch", "epoch", "highest currentEpoch of a running node at the end"},
    {"messages_per_node_per_s", "messages per node per s", "bus messages sent in scenario time, per node per simulated second"},
    {"bytes_per_node_per_s", "bytes per node per s", "bus bytes sent in scenario time (wire size), per node per simulated second"},
    {"bytes_per_message", "bytes", "mean bus message size (wire size) in scenario time"},
    {"acked_writes", "writes", "acknowledged writes (scenarios with a workload)"},
    {"lost_writes", "writes", "acknowledged writes lost (scenarios with a workload)"},
    {"events", "events", "scheduler events fired (the run's cost)"},
};
constexpr size_t kMetricCount = std::size(kMetrics);

std::optional<size_t> metric_index(std::string_view name) {
  for (size_t i = 0; i < kMetricCount; ++i) {
    if (name == kMetrics[i].name) return i;
  }
  return std::nullopt;
}

// Integers as integers; other numbers with at most 3 decimals (deterministic text for the CSVs).
std::string format_number(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  char text[64];
  std::snprintf(text, sizeof text, "%.3f", v);
  std::string out = text;
  out.erase(out.find_last_not_of('0') + 1);
  if (out.back() == '.') out.pop_back();
  return out;
}

// Every metric of one finished run, as CSV cells ("" = not applicable), in kMetrics order.
std::vector<std::string> measure(const sim::RunResult& result) {
  const sim::World& world = *result.world;
  std::vector<std::string> cells(kMetricCount);
  auto set = [&cells](const char* name, double v) { cells[*metric_index(name)] = format_number(v); };
  set("expect_failed", result.failed_expectations());
  set("violations", static_cast<double>(world.violations().size()));
  set("failovers", static_cast<double>(world.failovers().size()));
  if (!world.failovers().empty() && world.failovers().front().fault_ms >= 0) {
    const sim::FailoverRecord& f = world.failovers().front();
    auto since_fault = [&](const char* name, int64_t ms) { if (ms >= 0) set(name, static_cast<double>(ms - f.fault_ms)); };
    since_fault("pfail_ms", f.first_pfail_ms);
    since_fault("fail_ms", f.fail_ms);
    since_fault("election_ms", f.election_ms);
    since_fault("promoted_ms", f.promoted_ms);
    since_fault("converged_ms", f.converged_ms);
  }
  int64_t slowest_ms = -1;
  for (const sim::FailoverRecord& f : world.failovers()) {
    if (f.fault_ms >= 0 && f.promoted_ms >= 0) slowest_ms = std::max(slowest_ms, f.promoted_ms - f.fault_ms);
  }
  if (slowest_ms >= 0) set("last_promoted_ms", static_cast<double>(slowest_ms));
  uint64_t epoch = 0;
  for (int i = 0; i < world.node_count(); ++i) {
    if (const protocol::Node* n = world.node(i)) epoch = std::max<uint64_t>(epoch, n->current_epoch());
  }
  set("current_epoch", static_cast<double>(epoch));
  // Scenario time only (the run's bus window): the cluster's creation (MEET storm, first gossip) is not steady state.
  const auto messages = static_cast<double>(world.bus_sent().messages - result.bus_at_from.messages);
  const auto bytes = static_cast<double>(world.bus_sent().bytes - result.bus_at_from.bytes);
  const double seconds = static_cast<double>((result.end - result.bus_from).us) / 1e6;
  if (seconds > 0 && world.node_count() > 0) {
    set("messages_per_node_per_s", messages / world.node_count() / seconds);
    set("bytes_per_node_per_s", bytes / world.node_count() / seconds);
  }
  if (messages > 0) set("bytes_per_message", bytes / messages);
  if (const sim::Workload* workload = world.workload(); workload != nullptr && workload->report().checked) {
    set("acked_writes", static_cast<double>(workload->report().acked));
    set("lost_writes", static_cast<double>(workload->report().lost));
  }
  set("events", static_cast<double>(const_cast<sim::World&>(world).scheduler().events_fired()));
  return cells;
}

// ---- runs -----------------------------------------------------------------------------------------

struct RunRow {
  size_t value_index = 0;
  uint64_t seed = 0;
  int exit_code = -1;  // sim's: 0 pass, 1 fail; 128 + signal when the run crashed
  std::vector<std::string> cells;  // kMetrics order
  std::string trace_sha256;
  std::string invariants;  // the invariants the run broke, '+'-separated, in the order first broken
};

// The child's side: run, measure, one tab-separated line.
std::string run_child(const sim::Scenario& scenario, uint64_t seed) {
  sim::RunOptions options;
  options.seed = seed;
  options.keep_message_records = false;  // the bus metrics read World::bus_sent()
  const sim::RunResult result = sim::run_scenario(scenario, options);
  std::string invariants;
  for (const sim::InvariantViolation& v : result.world->violations()) {
    if (("+" + invariants + "+").find("+" + v.invariant + "+") == std::string::npos) {
      invariants += (invariants.empty() ? "" : "+") + v.invariant;
    }
  }
  std::string line = std::to_string(result.passed() ? 0 : 1) + "\t" + result.world->trace().sha256() + "\t" + invariants;
  for (const std::string& cell : measure(result)) line += "\t" + cell;
  return line + "\n";
}

struct Child {
  ChildProcess process;
  size_t run = 0;  // index into the run list
};

std::optional<Child> start_child(const sim::Scenario& scenario, uint64_t seed, size_t run) {
  std::optional<ChildProcess> process = ChildProcess::start([&] { return run_child(scenario, seed); });
  if (!process) return std::nullopt;
  return Child{*process, run};
}

// Reads the child's line (it has exited: everything is in the pipe) and fills `row`.
void collect(Child& child, int status, RunRow& row) {
  std::string text = child.process.take_output();
  row.cells.assign(kMetricCount, "");
  if (WIFSIGNALED(status) || text.empty() || text.back() != '\n') {
    row.exit_code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 128;
    return;
  }
  text.pop_back();
  std::vector<std::string> fields;
  std::stringstream in(text);
  for (std::string field; std::getline(in, field, '\t');) fields.push_back(field);
  if (text.back() == '\t') fields.emplace_back();
  if (fields.size() != 3 + kMetricCount) {
    row.exit_code = 128;
    return;
  }
  row.exit_code = std::stoi(fields[0]);
  row.trace_sha256 = fields[1];
  row.invariants = fields[2];
  std::copy(fields.begin() + 3, fields.end(), row.cells.begin());
}

struct Sweep {
  std::string scenario_file;
  std::string scenario_name;
  std::string param;
  std::vector<std::string> values;
  std::vector<sim::Scenario> scenarios;  // one per value
  uint64_t first_seed = 1, seed_count = 1;
  std::vector<size_t> plot_metrics;  // kMetrics indices
  std::vector<std::string> fixed;    // --set and --until, for the plot's subtitle
};

std::string progress_line(const Sweep& sweep, const RunRow& row) {
  std::string line = sweep.param + "=" + sweep.values[row.value_index] + " seed " + std::to_string(row.seed) +
                     ": exit " + std::to_string(row.exit_code);
  for (size_t m : sweep.plot_metrics) line += std::string("  ") + kMetrics[m].name + " " + (row.cells[m].empty() ? "-" : row.cells[m]);
  return line;
}

// Runs every (value, seed), `jobs` processes at a time; rows come back in (value, seed) order.
std::optional<std::vector<RunRow>> run_all(const Sweep& sweep, unsigned jobs) {
  std::vector<RunRow> rows;
  for (size_t v = 0; v < sweep.values.size(); ++v) {
    for (uint64_t s = 0; s < sweep.seed_count; ++s) rows.push_back(RunRow{v, sweep.first_seed + s, -1, {}, {}, {}});
  }
  std::map<pid_t, Child> running;
  size_t next = 0, done = 0;
  while (done < rows.size()) {
    while (running.size() < jobs && next < rows.size()) {
      const RunRow& row = rows[next];
      std::optional<Child> child = start_child(sweep.scenarios[row.value_index], row.seed, next);
      if (!child) {
        std::cerr << "sim sweep: cannot start a process for " << sweep.values[row.value_index] << " seed " << row.seed << "\n";
        return std::nullopt;
      }
      running.emplace(child->process.pid(), *child);
      ++next;
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    const auto it = running.find(pid);
    if (it == running.end()) continue;
    RunRow& row = rows[it->second.run];
    collect(it->second, status, row);
    running.erase(it);
    ++done;
    std::cerr << "[" << done << "/" << rows.size() << "] " << progress_line(sweep, row) << "\n";
  }
  return rows;
}

// ---- outputs --------------------------------------------------------------------------------------

std::string sweep_csv(const Sweep& sweep, const std::vector<RunRow>& rows) {
  std::string out = sweep.param + ",seed,exit";
  for (const MetricDef& m : kMetrics) out += std::string(",") + m.name;
  out += ",trace_sha256\n";
  for (const RunRow& row : rows) {
    out += sweep.values[row.value_index] + "," + std::to_string(row.seed) + "," + std::to_string(row.exit_code);
    for (const std::string& cell : row.cells) out += "," + cell;
    out += "," + row.trace_sha256 + "\n";
  }
  return out;
}

struct Stats {
  size_t n = 0;
  double median = 0, min = 0, max = 0;
  double p10 = 0, p90 = 0;  // nearest rank
};

Stats stats_of(std::vector<double> xs) {
  Stats s;
  s.n = xs.size();
  if (xs.empty()) return s;
  std::sort(xs.begin(), xs.end());
  s.min = xs.front();
  s.max = xs.back();
  const size_t mid = xs.size() / 2;
  s.median = xs.size() % 2 == 1 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
  auto rank = [&](size_t percent) { return xs[std::max<size_t>((percent * xs.size() + 99) / 100, 1) - 1]; };
  s.p10 = rank(10);
  s.p90 = rank(90);
  return s;
}

// stats[value][metric]
std::vector<std::vector<Stats>> summarize(const Sweep& sweep, const std::vector<RunRow>& rows) {
  std::vector<std::vector<Stats>> out(sweep.values.size(), std::vector<Stats>(kMetricCount));
  for (size_t v = 0; v < sweep.values.size(); ++v) {
    for (size_t m = 0; m < kMetricCount; ++m) {
      std::vector<double> xs;
      for (const RunRow& row : rows) {
        if (row.value_index == v && !row.cells[m].empty()) xs.push_back(*parse_number(row.cells[m]));
      }
      out[v][m] = stats_of(std::move(xs));
    }
  }
  return out;
}

// summary.csv column (1-based, as gnuplot counts) of a metric's median; min and max follow it.
size_t median_column(size_t metric) { return 5 + 4 * metric; }

std::string summary_csv(const Sweep& sweep, const std::vector<RunRow>& rows, const std::vector<std::vector<Stats>>& stats) {
  std::string out = sweep.param + ",runs,passed";
  for (const MetricDef& m : kMetrics) {
    for (const char* part : {"_n", "_median", "_min", "_max"}) out += std::string(",") + m.name + part;
  }
  out += "\n";
  for (size_t v = 0; v < sweep.values.size(); ++v) {
    const auto runs = std::count_if(rows.begin(), rows.end(), [v](const RunRow& r) { return r.value_index == v; });
    const auto passed = std::count_if(rows.begin(), rows.end(), [v](const RunRow& r) { return r.value_index == v && r.exit_code == 0; });
    out += sweep.values[v] + "," + std::to_string(runs) + "," + std::to_string(passed);
    for (const Stats& s : stats[v]) {
      out += "," + std::to_string(s.n);
      if (s.n == 0) out += ",,,";
      else out += "," + format_number(s.median) + "," + format_number(s.min) + "," + format_number(s.max);
    }
    out += "\n";
  }
  return out;
}

// A gnuplot single-quoted string: no escapes inside but '' for a quote.
std::string gp_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

bool numeric_values(const Sweep& sweep) {
  return std::all_of(sweep.values.begin(), sweep.values.end(), [](const std::string& v) { return parse_number(v).has_value(); });
}

// "promoted_ms (ms after the fault)"; metrics of one unit share it: "fail_ms, promoted_ms (ms after the fault)".
std::string y_label(const Sweep& sweep) {
  std::vector<std::string> names;
  for (size_t m : sweep.plot_metrics) names.push_back(kMetrics[m].name);
  const std::string_view unit = kMetrics[sweep.plot_metrics.front()].unit;
  const bool one_unit = std::all_of(sweep.plot_metrics.begin(), sweep.plot_metrics.end(), [&](size_t m) { return unit == kMetrics[m].unit; });
  return one_unit ? join(names) + " (" + std::string(unit) + ")" : join(names);
}

std::string gnuplot_script(const Sweep& sweep) {
  std::vector<std::string> names;
  for (size_t m : sweep.plot_metrics) names.push_back(kMetrics[m].name);
  const std::string seeds = sweep.seed_count == 1
      ? "seed " + std::to_string(sweep.first_seed)
      : std::to_string(sweep.seed_count) + " seeds (" + std::to_string(sweep.first_seed) + ".." +
            std::to_string(sweep.first_seed + sweep.seed_count - 1) + ")";
  std::string subtitle = "median, min-max over " + seeds;
  if (!sweep.fixed.empty()) subtitle += "; " + join(sweep.fixed);
  const bool numeric = numeric_values(sweep);
  std::ostringstream gp;
  gp << "# rcsim sweep: " << join(names) << " against " << sweep.param << " (" << sweep.scenario_name << ").\n"
     << "# Data: summary.csv (median, min, max per value). Render: cd into this directory, gnuplot sweep.gp\n"
     << "set datafile separator ','\n"
     << "set title \"" << sweep.scenario_name << ": " << join(names) << " vs " << sweep.param << "\\n" << subtitle << "\"\n"
     << "set xlabel '" << sweep.param << "'\n"
     << "set ylabel " << gp_quote(y_label(sweep)) << "\n"
     << "set grid\n"
     << "set key top left\n"
     << (numeric ? "set autoscale xfix\nset offsets graph 0.05, graph 0.05, graph 0.08, 0\n"
                 : "set xrange [-0.5:" + std::to_string(sweep.values.size()) + "-0.5]\nset offsets 0, 0, graph 0.08, 0\n")
     << "set yrange [0:*]\n"
     << "set terminal svg size 900,560 dynamic noenhanced font 'sans,12'\n"
     << "set output 'sweep.svg'\n"
     << "plot ";
  for (size_t i = 0; i < sweep.plot_metrics.size(); ++i) {
    const size_t c = median_column(sweep.plot_metrics[i]);
    gp << (i ? ", \\\n     " : "") << "'summary.csv' skip 1 using "
       << (numeric ? "1" : "0") << ":" << c << ":" << c + 1 << ":" << c + 2 << (numeric ? "" : ":xticlabels(1)")
       << " with yerrorlines lw 2 pt 7 title '" << names[i] << "'";
  }
  gp << "\n"
     << "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
     << "  set terminal pngcairo size 900,560 noenhanced font 'sans,10'\n"
     << "} else {\n"
     << "  set terminal png size 900,560 noenhanced\n"
     << "}\n"
     << "set output 'sweep.png'\n"
     << "replot\n"
     << "unset output\n";
  return gp.str();
}

std::optional<std::filesystem::path> find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return std::nullopt;
  std::stringstream in(path);
  for (std::string dir; std::getline(in, dir, ':');) {
    if (dir.empty()) continue;
    const std::filesystem::path candidate = std::filesystem::path(dir) / program;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

// Runs `gnuplot sweep.gp` inside `dir`; true when it exited 0.
bool render(const std::filesystem::path& gnuplot, const std::filesystem::path& dir) {
  std::cout.flush();
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    if (chdir(dir.c_str()) != 0) _exit(127);
    execl(gnuplot.c_str(), "gnuplot", "sweep.gp", static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return false;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::string file_name_for(const std::string& value) {
  return value + ".json";  // values are plain (letters, digits, . - + _): see plain_value
}

bool write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

// The table printed at the end: per value, runs passed and median [min..max] of each plotted metric.
std::string report_table(const Sweep& sweep, const std::vector<RunRow>& rows, const std::vector<std::vector<Stats>>& stats) {
  std::ostringstream out;
  size_t width = sweep.param.size();
  for (const std::string& v : sweep.values) width = std::max(width, v.size());
  out << std::string(sweep.param) << std::string(width - sweep.param.size() + 2, ' ') << "passed";
  for (size_t m : sweep.plot_metrics) out << "  " << kMetrics[m].name << " median [min..max] (n)";
  out << "\n";
  for (size_t v = 0; v < sweep.values.size(); ++v) {
    const auto runs = std::count_if(rows.begin(), rows.end(), [v](const RunRow& r) { return r.value_index == v; });
    const auto passed = std::count_if(rows.begin(), rows.end(), [v](const RunRow& r) { return r.value_index == v && r.exit_code == 0; });
    const std::string pass_text = std::to_string(passed) + "/" + std::to_string(runs);
    out << sweep.values[v] << std::string(width - sweep.values[v].size() + 2, ' ') << pass_text
        << std::string(pass_text.size() < 6 ? 6 - pass_text.size() : 0, ' ');
    for (size_t m : sweep.plot_metrics) {
      const Stats& s = stats[v][m];
      if (s.n == 0) out << "  -";
      else out << "  " << format_number(s.median) << " [" << format_number(s.min) << ".." << format_number(s.max) << "] (" << s.n << ")";
    }
    out << "\n";
  }
  return out.str();
}

// ---- the command ----------------------------------------------------------------------------------

int bad_input(const std::string& message, const char* command = "sweep") {
  std::cerr << "sim " << command << ": " << message << " (see sim " << command << " --help)\n";
  return kExitBadInput;
}

// Every check that needs no run: on failure, the message for bad_input; nothing has been written.
std::optional<std::string> build_sweep(const po::variables_map& vm, Sweep& sweep) {
  if (!vm.count("scenario")) return "--scenario FILE is required";
  if (!vm.count("param")) return "--param NAME is required: " + known_params_text();
  if (vm.count("values") == vm.count("range")) return "give exactly one of --values A,B,C and --range FROM:TO:STEP";
  auto loaded = sim::load_scenario_file(vm["scenario"].as<std::string>());
  if (auto* error = std::get_if<sim::ScenarioError>(&loaded)) return "--scenario: " + error->text();
  sim::Scenario base = std::get<sim::Scenario>(std::move(loaded));
  sweep.scenario_file = vm["scenario"].as<std::string>();
  sweep.scenario_name = base.name;
  sweep.param = vm["param"].as<std::string>();
  protocol::Config probe;
  if (!find_scenario_param(sweep.param) && !probe.get(sweep.param)) {
    return "--param: unknown parameter '" + sweep.param + "': expected " + known_params_text();
  }
  if (vm.count("set")) {
    for (const std::string& setting : vm["set"].as<std::vector<std::string>>()) {
      if (setting.substr(0, setting.find('=')) == sweep.param) return "--set " + setting + ": sets the swept --param";
      if (auto error = sim::apply_config_override(base, setting)) return *error;
      sweep.fixed.push_back(setting);
    }
  }
  if (vm.count("until")) {
    const std::string text = vm["until"].as<std::string>();
    if (sweep.param == "run-until-s") return "--until: sets the swept --param run-until-s";
    const auto d = sim::parse_duration(text);
    if (!d || d->us <= 0) return "--until: expected a duration like 60s, 1.5s or 200ms, got '" + text + "'";
    nlohmann::json file = sim::to_json(base);
    file["run_until"] = text;
    auto parsed = sim::parse_scenario(file.dump(), sweep.scenario_file);
    if (auto* error = std::get_if<sim::ScenarioError>(&parsed)) return "--until " + text + ": " + error->text();
    base = std::get<sim::Scenario>(std::move(parsed));
    sweep.fixed.push_back("run until " + text);
  }
  auto values = vm.count("values") ? parse_values(vm["values"].as<std::string>()) : parse_range(vm["range"].as<std::string>());
  if (auto* error = std::get_if<std::string>(&values)) return *error;
  sweep.values = std::get<std::vector<std::string>>(std::move(values));
  for (const std::string& value : sweep.values) {
    auto scenario = with_value(base, sweep.scenario_file, sweep.param, value);
    if (auto* error = std::get_if<std::string>(&scenario)) return *error;
    sweep.scenarios.push_back(std::get<sim::Scenario>(std::move(scenario)));
  }
  sweep.first_seed = vm["from"].as<uint64_t>();
  sweep.seed_count = vm["seeds"].as<uint64_t>();
  if (sweep.seed_count == 0) return "--seeds: expected at least 1 seed per value, got 0";
  if (sweep.seed_count > kMaxRuns / sweep.values.size()) return "--seeds: at most " + std::to_string(kMaxRuns) + " runs in all";
  std::stringstream metrics(vm["metric"].as<std::string>());
  for (std::string name; std::getline(metrics, name, ',');) {
    const auto m = metric_index(name);
    if (!m) return "--metric: unknown metric '" + name + "': expected one or more of " + join(sweep_metric_names());
    sweep.plot_metrics.push_back(*m);
  }
  if (sweep.plot_metrics.empty()) return "--metric: expected one or more of " + join(sweep_metric_names());
  if (vm["jobs"].as<unsigned>() == 0) return "--jobs: expected at least 1";
  return std::nullopt;
}

// Writes everything under `out_dir`; false (and a message) when a file cannot be written.
bool write_outputs(const Sweep& sweep, const std::vector<RunRow>& rows, const std::filesystem::path& out_dir, bool plot) {
  const auto stats = summarize(sweep, rows);
  bool ok = write_text(out_dir / "sweep.csv", sweep_csv(sweep, rows)) &&
            write_text(out_dir / "summary.csv", summary_csv(sweep, rows, stats)) &&
            write_text(out_dir / "sweep.gp", gnuplot_script(sweep));
  std::error_code ec;
  std::filesystem::create_directories(out_dir / "scenarios", ec);
  for (size_t v = 0; ok && v < sweep.values.size(); ++v) {
    ok = write_text(out_dir / "scenarios" / file_name_for(sweep.values[v]), sim::to_json(sweep.scenarios[v]).dump(2) + "\n");
  }
  if (!ok) {
    std::cerr << "sim sweep: could not write results under " << out_dir.string() << "\n";
    return false;
  }
  std::cout << report_table(sweep, rows, stats);
  std::cout << "wrote " << (out_dir / "sweep.csv").string() << ", summary.csv, sweep.gp, scenarios/\n";
  bool any_data = false;
  for (size_t v = 0; v < sweep.values.size(); ++v) {
    for (size_t m : sweep.plot_metrics) any_data = any_data || stats[v][m].n > 0;
  }
  const std::optional<std::filesystem::path> gnuplot = find_on_path("gnuplot");
  if (!plot) {
    std::cout << "plot: not rendered (--no-plot); render with: cd " << out_dir.string() << " && gnuplot sweep.gp\n";
  } else if (!any_data) {
    std::cout << "plot: not rendered: no run produced " << kMetrics[sweep.plot_metrics.front()].name
              << " (choose another with --metric; sweep.csv has every metric)\n";
  } else if (!gnuplot) {
    std::cout << "plot: gnuplot is not on PATH (Debian: apt-get install gnuplot-nox); render with: cd "
              << out_dir.string() << " && gnuplot sweep.gp\n";
  } else if (render(*gnuplot, out_dir)) {
    std::cout << "plot: " << (out_dir / "sweep.svg").string() << ", " << (out_dir / "sweep.png").string() << "\n";
  } else {
    std::cout << "plot: gnuplot failed on " << (out_dir / "sweep.gp").string() << " (the CSVs are complete)\n";
  }
  return true;
}

// ---- sim ab ---------------------------------------------------------------------------------------

// rows[side][seed index]: a sweep over two values has each value's rows in seed order.
std::array<std::vector<const RunRow*>, 2> ab_sides(const Sweep& sweep, const std::vector<RunRow>& rows) {
  assert(sweep.values.size() == 2);
  std::array<std::vector<const RunRow*>, 2> sides;
  for (const RunRow& row : rows) sides[row.value_index].push_back(&row);
  assert(sides[0].size() == sides[1].size());
  for (size_t i = 0; i < sides[0].size(); ++i) assert(sides[0][i]->seed == sides[1][i]->seed);
  return sides;
}

std::string ab_csv(const Sweep& sweep, const std::vector<RunRow>& rows) {
  const auto sides = ab_sides(sweep, rows);
  std::string out = "seed,a_exit,b_exit,a_invariants,b_invariants";
  for (const MetricDef& m : kMetrics) out += std::string(",") + m.name + "_a," + m.name + "_b," + m.name + "_b_minus_a";
  out += "\n";
  for (size_t i = 0; i < sides[0].size(); ++i) {
    const RunRow& a = *sides[0][i];
    const RunRow& b = *sides[1][i];
    out += std::to_string(a.seed) + "," + std::to_string(a.exit_code) + "," + std::to_string(b.exit_code) + "," +
           a.invariants + "," + b.invariants;
    for (size_t m = 0; m < kMetricCount; ++m) {
      const bool both = !a.cells[m].empty() && !b.cells[m].empty();
      out += "," + a.cells[m] + "," + b.cells[m] + "," +
             (both ? format_number(*parse_number(b.cells[m]) - *parse_number(a.cells[m])) : "");
    }
    out += "\n";
  }
  return out;
}

// Per metric: each side's median [p10..p90] (n), and the paired difference b - a over the seeds where
// both have it; then the invariants each side broke, with the number of seeds.
std::string ab_report(const Sweep& sweep, const std::vector<RunRow>& rows) {
  const auto sides = ab_sides(sweep, rows);
  auto spread = [](const Stats& s) {
    return s.n == 0 ? std::string("-")
                    : format_number(s.median) + " [" + format_number(s.p10) + ".." + format_number(s.p90) + "] (" +
                          std::to_string(s.n) + ")";
  };
  std::ostringstream out;
  out << "| metric | " << sweep.values[0] << " median [p10..p90] (n) | " << sweep.values[1]
      << " median [p10..p90] (n) | paired " << sweep.values[1] << " - " << sweep.values[0] << " median [p10..p90] (pairs) |\n"
      << "|---|---|---|---|\n";
  for (size_t m = 0; m < kMetricCount; ++m) {
    std::array<std::vector<double>, 2> values;
    std::vector<double> differences;
    for (size_t i = 0; i < sides[0].size(); ++i) {
      const std::string& a = sides[0][i]->cells[m];
      const std::string& b = sides[1][i]->cells[m];
      if (!a.empty()) values[0].push_back(*parse_number(a));
      if (!b.empty()) values[1].push_back(*parse_number(b));
      if (!a.empty() && !b.empty()) differences.push_back(*parse_number(b) - *parse_number(a));
    }
    if (values[0].empty() && values[1].empty()) continue;
    out << "| " << kMetrics[m].name << " | " << spread(stats_of(values[0])) << " | " << spread(stats_of(values[1])) << " | "
        << spread(stats_of(differences)) << " |\n";
  }
  out << "\n| profile | seeds | passed | broke an invariant | invariants broken (seeds) |\n|---|---|---|---|---|\n";
  for (size_t side = 0; side < 2; ++side) {
    std::map<std::string, int> broken;
    int passed = 0, breaking = 0;
    for (const RunRow* row : sides[side]) {
      passed += row->exit_code == 0;
      breaking += !row->invariants.empty();
      std::stringstream names(row->invariants);
      for (std::string name; std::getline(names, name, '+');) ++broken[name];
    }
    std::string list;
    for (const auto& [name, seeds] : broken) list += (list.empty() ? "" : ", ") + name + " (" + std::to_string(seeds) + ")";
    out << "| " << sweep.values[side] << " | " << sides[side].size() << " | " << passed << " | " << breaking << " | "
        << (list.empty() ? "none" : list) << " |\n";
  }
  return out.str();
}

// The options of a run over seeds that sim sweep and sim ab share.
void add_run_options(po::options_description& options, uint64_t default_seeds, const char* out_help) {
  options.add_options()
      ("seeds", po::value<uint64_t>()->default_value(default_seeds), "seeds per value")
      ("from", po::value<uint64_t>()->default_value(1), "first seed")
      ("jobs,j", po::value<unsigned>()->default_value(1), "parallel processes")
      ("metric", po::value<std::string>()->default_value("promoted_ms"), "metric(s) to plot, comma-separated")
      ("set", po::value<std::vector<std::string>>()->composing(), "fix a Redis setting for every run: NAME=VALUE (repeatable)")
      ("until", po::value<std::string>(), "override run_until for every run (e.g. 30s)")
      ("out", po::value<std::string>(), out_help)
      ("no-plot", "write sweep.gp but do not run gnuplot");
}

}  // namespace

std::vector<std::string> sweep_metric_names() {
  std::vector<std::string> names;
  for (const MetricDef& m : kMetrics) names.emplace_back(m.name);
  return names;
}

int sweep_main(int argc, char** argv) {
  po::options_description options("sweep options");
  options.add_options()
      ("help,h", "show this help")
      ("scenario", po::value<std::string>(), "scenario file (JSON)")
      ("param", po::value<std::string>(), "the parameter to vary (see above)")
      ("values", po::value<std::string>(), "comma-separated values, e.g. 1000,2000,5000")
      ("range", po::value<std::string>(), "FROM:TO:STEP, inclusive, e.g. 1000:15000:1000")
      ("list-metrics", "list the metrics and what they measure");
  add_run_options(options, 10, "results directory (default results/sweep/<scenario>-<param>)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(options).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return bad_input(e.what());
  }
  if (vm.count("help")) {
    std::cout << kSweepUsage << "\n" << options << "\n";
    return 0;
  }
  if (vm.count("list-metrics")) {
    for (const MetricDef& m : kMetrics) std::cout << m.name << "\n    " << m.meaning << " (" << m.unit << ")\n";
    return 0;
  }
  Sweep sweep;
  if (std::optional<std::string> error = build_sweep(vm, sweep)) return bad_input(*error);
  const std::filesystem::path out_dir = vm.count("out")
      ? std::filesystem::path(vm["out"].as<std::string>())
      : std::filesystem::path("results") / "sweep" / (sweep.scenario_name + "-" + sweep.param);
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return bad_input("--out: cannot create " + out_dir.string() + ": " + ec.message());

  const unsigned jobs = vm["jobs"].as<unsigned>();
  const auto start = std::chrono::steady_clock::now();
  std::cout << "sweep " << sweep.scenario_name << ": " << sweep.param << " over " << sweep.values.size() << " value(s) x "
            << sweep.seed_count << " seed(s) = " << sweep.values.size() * sweep.seed_count << " runs, " << jobs << " at a time\n";
  const std::optional<std::vector<RunRow>> rows = run_all(sweep, jobs);
  if (!rows) return 1;
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << rows->size() << " runs in " << format_number(std::round(wall_s * 10) / 10) << " s wall\n";
  if (!write_outputs(sweep, *rows, out_dir, vm.count("no-plot") == 0)) return 1;
  const size_t broken = static_cast<size_t>(std::count_if(rows->begin(), rows->end(), [](const RunRow& r) {
    return r.exit_code >= 128 || (!r.cells[*metric_index("violations")].empty() && r.cells[*metric_index("violations")] != "0");
  }));
  if (broken > 0) {
    std::cout << broken << " run(s) crashed or broke an invariant: see the exit and violations columns of sweep.csv\n";
    return 1;
  }
  return 0;
}

}  // namespace rcsim::tools

namespace rcsim::tools {
namespace {

const char* kAbUsage = R"(sim ab: one scenario under two server profiles, seed for seed

usage:
  sim ab --scenario FILE --a PROFILE --b PROFILE [--seeds N] [--from S] [--jobs J] [--metric M[,M...]]
         [--set NAME=VALUE ...] [--until T] [--out DIR] [--no-plot]

Seed s runs the scenario under --a and under --b with the same seed: the same fault schedule and the
same draws until the two protocols first decide differently. Printed per metric (sim sweep
--list-metrics): each profile's median [p10..p90] and the paired difference b - a over the seeds where
both have the metric; then the invariants each profile broke. Writes to DIR (default
results/ab/<scenario>-<a>-vs-<b>):
  ab.csv        one row per seed: both exit codes, both lists of broken invariants, per metric a, b, b - a
  ab.md         the printed tables
  sweep.csv, summary.csv, sweep.gp (.svg, .png), scenarios/   as `sim sweep --param version` writes them
Exit code: 0 every run ran and kept every invariant, 1 a run crashed or broke an invariant (the table
says which), 2 bad input (nothing is written).

example:
  sim ab --scenario scenarios/master_crash.json --a redis-7.0 --b redis-7.4 --seeds 200 --jobs 2
)";

}  // namespace

int ab_main(int argc, char** argv) {
  po::options_description options("ab options");
  options.add_options()
      ("help,h", "show this help")
      ("scenario", po::value<std::string>(), "scenario file (JSON)")
      ("a", po::value<std::string>(), "the first profile (the baseline)")
      ("b", po::value<std::string>(), "the second profile");
  add_run_options(options, 200, "results directory (default results/ab/<scenario>-<a>-vs-<b>)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(options).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return bad_input(e.what(), "ab");
  }
  if (vm.count("help")) {
    std::cout << kAbUsage << "\n" << options << "\n";
    return 0;
  }
  std::array<std::string, 2> profiles;
  for (size_t side = 0; side < 2; ++side) {
    const char* flag = side == 0 ? "a" : "b";
    if (!vm.count(flag)) return bad_input(std::string("--") + flag + " PROFILE is required (" + protocol::version_profile_names() + ")", "ab");
    profiles[side] = vm[flag].as<std::string>();
    if (protocol::find_version_profile(profiles[side]) == nullptr) {
      return bad_input(std::string("--") + flag + " " + profiles[side] + ": expected one of " + protocol::version_profile_names(), "ab");
    }
  }
  if (profiles[0] == profiles[1]) return bad_input("--a and --b name the same profile " + profiles[0], "ab");
  vm.insert({"param", po::variable_value(std::string("version"), false)});
  vm.insert({"values", po::variable_value(profiles[0] + "," + profiles[1], false)});
  Sweep sweep;
  if (std::optional<std::string> error = build_sweep(vm, sweep)) return bad_input(*error, "ab");
  const std::filesystem::path out_dir = vm.count("out")
      ? std::filesystem::path(vm["out"].as<std::string>())
      : std::filesystem::path("results") / "ab" / (sweep.scenario_name + "-" + profiles[0] + "-vs-" + profiles[1]);
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return bad_input("--out: cannot create " + out_dir.string() + ": " + ec.message(), "ab");
  const unsigned jobs = vm["jobs"].as<unsigned>();
  std::cout << "ab " << sweep.scenario_name << ": " << profiles[0] << " vs " << profiles[1] << ", " << sweep.seed_count
            << " seed(s) each, " << jobs << " at a time\n";
  const std::optional<std::vector<RunRow>> rows = run_all(sweep, jobs);
  if (!rows) return 1;
  if (!write_outputs(sweep, *rows, out_dir, vm.count("no-plot") == 0)) return 1;
  const std::string report = ab_report(sweep, *rows);
  if (!write_text(out_dir / "ab.csv", ab_csv(sweep, *rows)) || !write_text(out_dir / "ab.md", report)) {
    std::cerr << "sim ab: could not write results under " << out_dir.string() << "\n";
    return 1;
  }
  std::cout << "\n" << report << "wrote " << (out_dir / "ab.csv").string() << ", ab.md\n";
  const bool broken = std::any_of(rows->begin(), rows->end(), [](const RunRow& r) { return r.exit_code >= 128 || !r.invariants.empty(); });
  return broken ? 1 : 0;
}

}  // namespace rcsim::tools
