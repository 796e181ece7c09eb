// `sim sweep` end to end: the swept parameter changes what it should, rows come in (value, seed)
// order and are the same for any --jobs, rows replay, the plot is written, bad flags exit 2.
#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/tools/run_sim.hpp"

namespace {

using rcsim::test::run_sim;
using rcsim::test::source;
using Result = rcsim::test::SimResult;

// A fresh path under /tmp (not created: the sweep creates it).
std::filesystem::path temp_path(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("rcsim-sweep-test-" + name);
  std::filesystem::remove_all(dir);
  return dir;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A CSV as rows of name → cell (first line = header).
std::vector<std::map<std::string, std::string>> read_csv(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> header;
  std::vector<std::map<std::string, std::string>> rows;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    std::stringstream fields(line);
    for (std::string cell; std::getline(fields, cell, ',');) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.emplace_back();
    if (header.empty()) {
      header = cells;
      continue;
    }
    REQUIRE(cells.size() == header.size());
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < cells.size(); ++i) row[header[i]] = cells[i];
    rows.push_back(row);
  }
  return rows;
}

double number(const std::string& cell) {
  REQUIRE_FALSE(cell.empty());
  return std::stod(cell);
}

const std::string kMasterCrash = "--scenario " + source("scenarios/master_crash.json");

}  // namespace

TEST_CASE("sweeping the node timeout on master_crash: promotion takes longer at 5000 than at 1000", "[sweep]") {
  const auto out = temp_path("timeout");
  const Result r = run_sim("sweep " + kMasterCrash + " --param cluster-node-timeout --values 1000,5000 --seeds 5 --jobs 2 --no-plot --out " + out.string());
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto summary = read_csv(out / "summary.csv");
  REQUIRE(summary.size() == 2);
  CHECK(summary[0].at("cluster-node-timeout") == "1000");
  CHECK(summary[1].at("cluster-node-timeout") == "5000");
  CHECK(summary[0].at("promoted_ms_n") == "5");
  const double at_1000 = number(summary[0].at("promoted_ms_median"));
  const double at_5000 = number(summary[1].at("promoted_ms_median"));
  // PFAIL needs a node timeout of silence and FAIL follows it: both scale with the timeout.
  CHECK(at_1000 > 1000);
  CHECK(at_1000 < 5000);
  CHECK(at_5000 > 5000);
  CHECK(at_5000 > at_1000 + 3000);
  CHECK(number(summary[1].at("fail_ms_min")) >= 5000);
  CHECK(number(summary[0].at("promoted_ms_min")) <= at_1000);
  CHECK(number(summary[0].at("promoted_ms_max")) >= at_1000);
}

TEST_CASE("sweep.csv has one row per value and seed in that order", "[sweep]") {
  const auto out = temp_path("rows");
  const Result r = run_sim("sweep " + kMasterCrash + " --param cluster-node-timeout --range 1000:3000:1000 --seeds 3 --from 7 --jobs 2 --no-plot --out " + out.string());
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto rows = read_csv(out / "sweep.csv");
  REQUIRE(rows.size() == 9);
  size_t i = 0;
  for (const char* value : {"1000", "2000", "3000"}) {
    for (const char* seed : {"7", "8", "9"}) {
      CHECK(rows[i].at("cluster-node-timeout") == value);
      CHECK(rows[i].at("seed") == seed);
      CHECK((rows[i].at("exit") == "0" || rows[i].at("exit") == "1"));
      CHECK(rows[i].at("violations") == "0");
      CHECK(rows[i].at("failovers") == "1");
      CHECK(rows[i].at("trace_sha256").size() == 64);
      ++i;
    }
  }
  // master_crash expects promotion within 3-5.5 s: node timeout 1000 is faster than that.
  CHECK(rows[0].at("exit") == "1");
  CHECK(rows[0].at("expect_failed") == "1");
  for (const char* value : {"1000", "2000", "3000"}) CHECK(std::filesystem::exists(out / "scenarios" / (std::string(value) + ".json")));
}

TEST_CASE("jobs 1 and jobs 2 write byte-identical CSVs", "[sweep]") {
  const auto one = temp_path("jobs1"), two = temp_path("jobs2");
  const std::string args = "sweep " + kMasterCrash + " --param cluster-node-timeout --values 1000,2000,4000 --seeds 3 --no-plot";
  const Result a = run_sim(args + " --jobs 1 --out " + one.string());
  const Result b = run_sim(args + " --jobs 2 --out " + two.string());
  INFO(a.output << b.output);
  REQUIRE(a.exit_code == 0);
  REQUIRE(b.exit_code == 0);
  CHECK(read_text(one / "sweep.csv") == read_text(two / "sweep.csv"));
  CHECK(read_text(one / "summary.csv") == read_text(two / "summary.csv"));
  CHECK(read_text(one / "sweep.gp") == read_text(two / "sweep.gp"));
  CHECK(read_csv(one / "sweep.csv").size() == 9);
}

TEST_CASE("a sweep row replays with sim on the value's scenario to the same trace hash", "[sweep]") {
  const auto out = temp_path("replay");
  const Result r = run_sim("sweep " + kMasterCrash + " --param network-latency-ms --values 0.05,2 --seeds 2 --no-plot --out " + out.string());
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto rows = read_csv(out / "sweep.csv");
  REQUIRE(rows.size() == 4);
  const auto& row = rows[3];  // latency 2 ms, seed 2
  REQUIRE(row.at("network-latency-ms") == "2");
  const Result replay = run_sim("--scenario " + (out / "scenarios" / "2.json").string() + " --seed 2 --json --out " + (out / "replay").string());
  REQUIRE(replay.exit_code == std::stoi(row.at("exit")));
  std::ifstream in(out / "replay" / "summary.json");
  const nlohmann::json summary = nlohmann::json::parse(in);
  CHECK(summary["trace_sha256"] == row.at("trace_sha256"));
  std::ifstream scenario_in(out / "scenarios" / "2.json");
  CHECK(nlohmann::json::parse(scenario_in)["network"]["latency"] == "2ms");
}

TEST_CASE("sweeping the cluster size: bus bytes per node grow with the number of nodes", "[sweep]") {
  const auto out = temp_path("size");
  const Result r = run_sim("sweep --scenario " + source("scenarios/idle_cluster.json") +
                           " --param masters --values 3,20 --until 10s --seeds 2 --metric bytes_per_node_per_s --no-plot --out " + out.string());
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto summary = read_csv(out / "summary.csv");
  REQUIRE(summary.size() == 2);
  const double small = number(summary[0].at("bytes_per_node_per_s_median"));
  const double large = number(summary[1].at("bytes_per_node_per_s_median"));
  // Every PING/PONG carries the 16384-slot bitmap (2 KiB header): at least ~2 KB per message.
  CHECK(number(summary[0].at("bytes_per_message_median")) > 2000);
  CHECK(small > 2000);
  CHECK(large > small);
  std::ifstream in(out / "scenarios" / "20.json");
  const nlohmann::json scenario = nlohmann::json::parse(in);
  CHECK(scenario["cluster"]["masters"] == 20);
  CHECK(scenario["run_until"] == "10s");
}

TEST_CASE("the plot: sweep.gp always - SVG and PNG when gnuplot is on PATH", "[sweep]") {
  const auto out = temp_path("plot");
  const std::string args = "sweep " + kMasterCrash + " --param cluster-node-timeout --values 1000,2000 --seeds 2 --metric promoted_ms,fail_ms";
  const Result without = run_sim(args + " --out " + out.string(), "PATH=/nonexistent");
  INFO(without.output);
  REQUIRE(without.exit_code == 0);
  CHECK(without.output.find("gnuplot is not on PATH") != std::string::npos);
  const std::string script = read_text(out / "sweep.gp");
  CHECK(script.find("'summary.csv'") != std::string::npos);
  CHECK(script.find("yerrorlines") != std::string::npos);
  CHECK(script.find("title 'fail_ms'") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(out / "sweep.png"));
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    WARN("gnuplot is not installed: SVG/PNG rendering not checked (apt-get install gnuplot-nox)");
    return;
  }
  const Result with = run_sim(args + " --out " + out.string());
  INFO(with.output);
  REQUIRE(with.exit_code == 0);
  CHECK(read_text(out / "sweep.png").substr(1, 3) == "PNG");
  CHECK(read_text(out / "sweep.svg").find("<svg") != std::string::npos);
}

TEST_CASE("bad sweep flags exit 2 - name the flag - and write nothing", "[sweep]") {
  const auto out = temp_path("bad");
  const std::string base = "sweep " + kMasterCrash + " --out " + out.string() + " ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--param no-such-setting --values 1", "--param"},
      {"--param cluster-node-timeout --values ''", "--values"},
      {"--param cluster-node-timeout --values 1000,,2000", "--values"},
      {"--param cluster-node-timeout --values abc", "--values"},
      {"--param cluster-node-timeout --range 5000:1000:1000", "--range"},
      {"--param cluster-node-timeout --range 1000:5000:0", "--range"},
      {"--param cluster-node-timeout --range 1000:5000", "--range"},
      {"--param cluster-node-timeout --values 1000 --seeds 0", "--seeds"},
      {"--param cluster-node-timeout --values 1000 --metric no_such_metric", "--metric"},
      {"--param masters --values 0", "/cluster/masters"},
      {"--param writes-per-s --values 10", "no workload"},
      {"--param cluster-node-timeout", "--values"},
      {"--param cluster-node-timeout --values 1000 --no-such-flag", "no-such-flag"},
  };
  for (const auto& [flags, expected] : cases) {
    const Result r = run_sim(base + flags);
    INFO(flags << "\n" << r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find(expected) != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(out));
  }
}

TEST_CASE("sim ab: the same seeds under two profiles, paired; 7.2's heartbeats 48 bytes larger", "[sweep][ab]") {
  const auto out = temp_path("ab");
  const Result r = run_sim("ab " + kMasterCrash + " --a redis-7.0 --b redis-7.2 --seeds 4 --jobs 2 --no-plot --out " + out.string());
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto rows = read_csv(out / "ab.csv");
  REQUIRE(rows.size() == 4);
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    CHECK(row.at("seed") == std::to_string(i + 1));
    CHECK(row.at("a_exit") == "0");
    CHECK(row.at("b_exit") == "0");
    CHECK(row.at("a_invariants").empty());
    // The extension changes no decision: the same run, each heartbeat 48 bytes larger.
    CHECK(row.at("promoted_ms_b_minus_a") == "0");
    CHECK(number(row.at("messages_per_node_per_s_b_minus_a")) == 0);
    CHECK(number(row.at("bytes_per_message_b_minus_a")) > 40);
    CHECK(number(row.at("bytes_per_message_b_minus_a")) < 48);  // FAIL and AUTH messages carry none
  }
  CHECK_THAT(r.output, Catch::Contains("| promoted_ms |"));
  CHECK_THAT(read_text(out / "ab.md"), Catch::Contains("| redis-7.2 | 4 | 4 | 0 | none |"));
  CHECK(std::filesystem::exists(out / "sweep.csv"));
  CHECK(std::filesystem::exists(out / "scenarios" / "redis-7.2.json"));

  const Result same = run_sim("ab " + kMasterCrash + " --a redis-7.2 --b redis-7.2 --out " + out.string());
  CHECK(same.exit_code == 2);
  CHECK_THAT(same.output, Catch::Contains("--a and --b name the same profile redis-7.2"));
  const Result unknown = run_sim("ab " + kMasterCrash + " --a redis-7.0 --b redis-6.2 --out " + out.string());
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.output, Catch::Contains("--b redis-6.2: expected one of redis-7.0"));
}
