// The `sim` command end to end: shipped scenarios pass, their expectations can fail, bad input
// exits 2 naming the JSON path, and runs are deterministic.
#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/tools/run_sim.hpp"

namespace {

using rcsim::test::run_sim;
using rcsim::test::source;
using Result = rcsim::test::SimResult;

std::filesystem::path temp_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("rcsim-cli-test-" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

nlohmann::json summary(const std::filesystem::path& dir) {
  std::ifstream in(dir / "summary.json");
  return nlohmann::json::parse(in);
}

}  // namespace

TEST_CASE("every shipped scenario passes", "[cli]") {
  int scenarios = 0;
  // scenarios/large/ is left to `make bench` and compare-all: minutes of 100-2000 nodes.
  for (const char* dir : {"scenarios", "scenarios/errata"}) {
    for (const auto& entry : std::filesystem::directory_iterator(source(dir))) {
      if (entry.path().extension() != ".json") continue;
      ++scenarios;
      const auto out = temp_dir("shipped-" + entry.path().stem().string());
      const Result r = run_sim("--scenario " + entry.path().string() + " --out " + out.string() + " --quiet");
      INFO(entry.path() << "\n" << r.output);
      CHECK(r.exit_code == 0);
      CHECK(summary(out)["verdict"] == "pass");
    }
  }
  CHECK(scenarios >= 20);
}

TEST_CASE("a changed expectation makes the scenario fail", "[cli]") {
  // master_crash ends at epoch 7 with r1 master: claim 8 and m2 instead.
  std::ifstream in(source("scenarios/master_crash.json"));
  nlohmann::json scenario = nlohmann::json::parse(in);
  for (auto& e : scenario["expect"]) {
    if (e.contains("current_epoch")) e["current_epoch"]["is"] = 8;
    if (e.contains("failover")) e["failover"]["new_master"] = "m2";
  }
  const auto dir = temp_dir("changed");
  std::ofstream(dir / "changed.json") << scenario.dump();
  const Result r = run_sim("--scenario " + (dir / "changed.json").string() + " --out " + (dir / "out").string());
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("[FAIL] current_epoch") != std::string::npos);
  CHECK(r.output.find("[FAIL] failover") != std::string::npos);
  CHECK(summary(dir / "out")["verdict"] == "fail");
}

TEST_CASE("the same scenario and seed give the same trace hash - another seed another", "[cli]") {
  const auto a = temp_dir("det-a"), b = temp_dir("det-b"), c = temp_dir("det-c");
  const std::string scenario = source("scenarios/split_brain.json");
  REQUIRE(run_sim("--scenario " + scenario + " --seed 7 --out " + a.string() + " --quiet").exit_code == 0);
  REQUIRE(run_sim("--scenario " + scenario + " --seed 7 --out " + b.string() + " --quiet").exit_code == 0);
  REQUIRE(run_sim("--scenario " + scenario + " --seed 8 --out " + c.string() + " --quiet").exit_code == 0);
  CHECK(summary(a)["trace_sha256"] == summary(b)["trace_sha256"]);
  CHECK(summary(a)["trace_sha256"] != summary(c)["trace_sha256"]);
  std::ifstream ta(a / "trace.jsonl"), tb(b / "trace.jsonl");
  std::stringstream sa, sb;
  sa << ta.rdbuf();
  sb << tb.rdbuf();
  CHECK(sa.str() == sb.str());
}

TEST_CASE("sim with no message trace: the same run, the trace without its per-message records", "[cli]") {
  const auto full = temp_dir("trace-full"), short_trace = temp_dir("trace-short");
  const std::string scenario = source("scenarios/master_crash.json");
  REQUIRE(run_sim("--scenario " + scenario + " --out " + full.string() + " --quiet").exit_code == 0);
  REQUIRE(run_sim("--scenario " + scenario + " --no-message-trace --out " + short_trace.string() + " --quiet").exit_code == 0);
  CHECK(summary(full)["trace_messages"] == true);
  CHECK(summary(short_trace)["trace_messages"] == false);
  CHECK(summary(short_trace)["failovers"] == summary(full)["failovers"]);
  CHECK(summary(short_trace)["trace_sha256"] != summary(full)["trace_sha256"]);
  std::ifstream in_full(full / "trace.jsonl"), in_short(short_trace / "trace.jsonl");
  std::string kept, line;
  int messages = 0;
  while (std::getline(in_full, line)) {
    if (line.find("\"ev\":\"recv\"") != std::string::npos) ++messages;
    else kept += line + "\n";
  }
  std::stringstream shorter;
  shorter << in_short.rdbuf();
  CHECK(messages > 1000);
  CHECK(shorter.str() == kept);
  CHECK(run_sim("--scenario " + scenario + " --no-message-trace --messages-from 1s --messages-to 2s").exit_code == 2);
}

TEST_CASE("bad input exits 2 and names the file and the JSON path", "[cli]") {
  std::ifstream expected(source("tests/scenarios/bad/expected.txt"));
  std::string line;
  int cases = 0;
  while (std::getline(expected, line)) {
    std::istringstream fields(line);
    std::string file, path;
    std::getline(fields, file, '\t');
    std::getline(fields, path, '\t');
    if (file.empty() || file[0] == '#' || ++cases > 12) continue;  // the parser test covers all; a sample here
    const Result r = run_sim("--scenario " + source("tests/scenarios/bad/" + file) + " --out " + temp_dir("bad").string());
    INFO(file << ": " << r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find(file) != std::string::npos);
    if (path != "-") CHECK(r.output.find(": " + path + ": ") != std::string::npos);
  }
  CHECK(run_sim("--scenario /no/such/file.json").exit_code == 2);
  CHECK(run_sim("--scenario " + source("scenarios/split_brain.json") + " --set cluster-node-timeout=abc").exit_code == 2);
  CHECK(run_sim("--scenario " + source("scenarios/split_brain.json") + " --until 5parsecs").exit_code == 2);
  CHECK(run_sim("--frobnicate").exit_code == 2);
  CHECK(run_sim("fuzz --mutation no_such_bug").exit_code == 2);
}

TEST_CASE("the set overrides a Redis setting by its real name", "[cli]") {
  const auto out = temp_dir("set");
  const Result r = run_sim("--scenario " + source("scenarios/master_crash.json") +
                           " --set cluster-node-timeout=5000 --out " + out.string() + " --quiet");
  // The expected window is for 2000 ms; at 5000 ms the failover takes longer and that check fails.
  CHECK(r.exit_code == 1);
  const auto failovers = summary(out)["failovers"];
  REQUIRE(failovers.size() == 1);
  const int64_t took_ms = failovers[0]["promoted_ms"].get<int64_t>() - failovers[0]["fault_ms"].get<int64_t>();
  CHECK(took_ms > 5000);
}

TEST_CASE("sim fuzz trace hashes: one line per seed in seed order, the same for any number of jobs", "[cli][fuzz]") {
  const auto dir = temp_dir("fuzz-hashes");
  const std::string one = (dir / "jobs1.txt").string(), two = (dir / "jobs2.txt").string();
  const std::string common = "fuzz --seeds 4 --from 11 --no-shrink --out " + (dir / "out").string();
  REQUIRE(run_sim(common + " --jobs 1 --trace-hashes " + one).exit_code == 0);
  REQUIRE(run_sim(common + " --jobs 2 --trace-hashes " + two).exit_code == 0);
  std::ifstream a(one), b(two);
  std::stringstream text_a, text_b;
  text_a << a.rdbuf();
  text_b << b.rdbuf();
  CHECK(text_a.str() == text_b.str());
  std::istringstream lines(text_a.str());
  std::vector<std::string> seeds;
  for (std::string seed, hash, verdict; lines >> seed >> hash >> verdict;) {
    seeds.push_back(seed);
    CHECK(hash.size() == 64);
    CHECK(verdict == "pass");
  }
  CHECK(seeds == std::vector<std::string>{"11", "12", "13", "14"});
  CHECK(run_sim("fuzz --seeds 1 --trace-hashes /no/such/dir/h.txt").exit_code == 2);
}

TEST_CASE("sim fuzz --merge adds the shards' seeds and coverage", "[cli][fuzz]") {
  const auto dir = temp_dir("fuzz-merge");
  const auto a = dir / "a", b = dir / "b";
  REQUIRE(run_sim("fuzz --seeds 4 --shard 0/2 --no-shrink --out " + a.string()).exit_code == 0);
  REQUIRE(run_sim("fuzz --seeds 4 --shard 1/2 --no-shrink --out " + b.string()).exit_code == 0);
  const auto shard = [](const std::filesystem::path& d) {
    std::ifstream in(d / "fuzz-summary.json");
    return nlohmann::json::parse(in);
  };
  const nlohmann::json sa = shard(a), sb = shard(b);
  const Result merged = run_sim("fuzz --merge " + a.string() + " " + b.string());
  REQUIRE(merged.exit_code == 0);
  const nlohmann::json m = nlohmann::json::parse(merged.output.substr(merged.output.find('{')));
  CHECK(m["seeds_run"] == sa["seeds_run"].get<int>() + sb["seeds_run"].get<int>());
  const auto created = [](const nlohmann::json& s) {
    return s.value(nlohmann::json::json_pointer("/coverage/protocol_events/action_cluster_created/seeds"), 0);
  };
  CHECK(created(m) == created(sa) + created(sb));
  CHECK(created(m) == m["seeds_run"].get<int>());
}

TEST_CASE("zones: the summary gives each node's place, the layout's risks and each shard's outcome", "[cli][placement]") {
  const auto lost = temp_dir("zone-majority");
  REQUIRE(run_sim("--scenario " + source("scenarios/zone_majority_lost.json") + " --out " + lost.string() + " --quiet").exit_code == 0);
  const auto s = summary(lost);
  CHECK(s["placement"]["m3"]["zone"] == "a");
  CHECK(s["placement"]["r1"]["zone"] == "b");
  REQUIRE(s["placement_risks"].size() == 1);
  CHECK(s["placement_risks"][0] == "zone a holds 2 of 3 masters: losing it leaves no majority to fail over");
  for (const auto& shard : s["shards"]) CHECK(shard["outcome"] == "kept");  // the zone came back; no failover

  const auto outage = temp_dir("zone-outage");
  const Result r = run_sim("--scenario " + source("scenarios/zone_outage.json") + " --out " + outage.string());
  REQUIRE(r.exit_code == 0);
  const auto shards = summary(outage)["shards"];
  REQUIRE(shards.size() == 3);
  CHECK(shards[0]["master"] == "m1");
  CHECK(shards[0]["outcome"] == "failed_over");
  CHECK((shards[0]["served_by"] == "r1" || shards[0]["served_by"] == "r4"));  // m1's replicas, in zones b and c
  CHECK(shards[1]["outcome"] == "kept");
  CHECK(summary(outage)["placement_risks"].empty());
  CHECK_THAT(r.output, Catch::Contains("m2's slots 5461-10922: kept its master"));
  CHECK_THAT(r.output, Catch::Contains("zone a: m1 r3 r5"));

  // The real side reads the resolved form: zone actions as per-node ones, zone latencies as links.
  const Result printed = run_sim("--scenario " + source("scenarios/zone_outage.json") + " --print-scenario");
  REQUIRE(printed.exit_code == 0);
  const auto doc = nlohmann::json::parse(printed.output);
  CHECK(doc["timeline"].size() == 3);
  CHECK(doc["timeline"][0]["crash"] == "m1");
  CHECK(doc["network"]["links"].size() == 9 * 8);
  CHECK(doc["cluster"]["zones"]["a"] == nlohmann::json({"m1", "r3", "r5"}));
}
