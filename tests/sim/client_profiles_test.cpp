// Client library profiles (sim/client_profiles.hpp): each library's defaults, as its source has them, give
// its own outcome when a master crashes under a workload. Each test fails if its profile's defaults change.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "sim/run.hpp"
#include "sim/workload.hpp"
#include "tests/sim/scenario_from.hpp"

using namespace rcsim;
using namespace rcsim::sim;

namespace {

// kill -9 of m1 at 10 s (node timeout 2000), 4 clients writing 200/s over 1000 keys with `client`, run to 90 s.
RunResult master_crash_with(const std::string& client) {
  return run_scenario(scenario_from(R"({"name": "clients", "seed": 1, "run_until": "90s",
      "cluster": {"masters": 3, "replicas_per_master": 1, "config": {"cluster-node-timeout": 2000}},
      "workload": {"clients": 4, "writes_per_s": 200, "keys": 1000, "client": ")" + client + R"("},
      "timeline": [{"at": "10s", "crash": "m1"}]})"),
                      RunOptions{});
}

const ClientsReport::Recovery& recovery(const RunResult& r) {
  const ClientsReport& c = r.world->workload()->report().clients;
  REQUIRE(c.recoveries.size() == 1);
  CHECK(r.world->alias(c.recoveries[0].new_master) == "r1");
  return c.recoveries[0];
}

// The longest any write took, from its first attempt to its end (acknowledged or failed).
int64_t longest_write_ms(const RunResult& r) {
  int64_t longest = 0;
  for (const WriteRecord& w : r.world->workload()->writes()) {
    if (w.done_us >= 0) longest = std::max(longest, (w.done_us - w.sent_us) / 1000);
  }
  return longest;
}

}  // namespace

TEST_CASE("clients: every profile is listed, named and sourced", "[clients]") {
  REQUIRE(client_profiles().size() == 7);
  CHECK(client_profiles().front().name == "generic");
  CHECK(client_profile_names() == "generic, lettuce, lettuce_adaptive, jedis, redis_py, go_redis, ioredis");
  for (const ClientProfile& p : client_profiles()) {
    INFO(p.name);
    CHECK_FALSE(p.library.empty());
    CHECK_FALSE(p.sources.empty());
    CHECK(p.max_attempts >= 1);
  }
  CHECK(find_client_profile("hiredis") == nullptr);
}

TEST_CASE("clients: generic reloads its map on the connection errors and is back within the failover", "[clients]") {
  const RunResult r = master_crash_with("generic");
  const auto& back = recovery(r);
  CHECK(back.all_clients_back_ms >= 3500);
  CHECK(back.all_clients_back_ms <= 6000);
}

TEST_CASE("clients: Lettuce's defaults never refresh the topology: a crashed master's slots stay dead", "[clients]") {
  const RunResult r = master_crash_with("lettuce");
  CHECK(recovery(r).first_client_back_ms == -1);
  // A command to the dead node waits for its reconnect until the 60 s command timeout.
  CHECK(longest_write_ms(r) == 60000);
  CHECK(r.world->workload()->report().clients.longest_without_write_ms >= 60000);
}

TEST_CASE("clients: Lettuce with adaptive and periodic refresh is back once the stuck command's 60 s are over",
          "[clients]") {
  const RunResult r = master_crash_with("lettuce_adaptive");
  const auto& back = recovery(r);
  // The reconnect trigger refreshed at once (before the failover) and then waits out its 30 s; the periodic
  // refresh comes at 60 s; the commands queued on the dead connection end at their 60 s timeout.
  CHECK(back.first_client_back_ms >= 59000);
  CHECK(back.first_client_back_ms <= 61000);
}

TEST_CASE("clients: Jedis gives a command 5 attempts within 10 s, renewing the slots after 2 connection failures",
          "[clients]") {
  const RunResult r = master_crash_with("jedis");
  const auto& back = recovery(r);
  CHECK(back.first_client_back_ms >= 4000);
  CHECK(back.first_client_back_ms <= 7000);
  CHECK(longest_write_ms(r) <= 10000);  // maxTotalRetriesDuration
  CHECK(longest_write_ms(r) >= 2000);   // the back-off before the last attempt may take what is left
  const auto& failed = r.world->workload()->report().failed_by_reason;
  CHECK(failed.count("connection") == 1);
}

TEST_CASE("clients: redis-py reloads before each of its 3 retries, with no sleep: fast failures, fast recovery",
          "[clients]") {
  const RunResult r = master_crash_with("redis_py");
  CHECK(recovery(r).all_clients_back_ms <= 5000);
  CHECK(r.world->workload()->report().failed >= 100);  // refused 4 times in a row, within milliseconds
  CHECK(longest_write_ms(r) < 1000);
}

TEST_CASE("clients: go-redis does not reload on connection refused: back when the map is 60 s old", "[clients]") {
  const RunResult r = master_crash_with("go_redis");
  const auto& back = recovery(r);
  // The map was loaded when the workload started, 10 s before the crash: ClusterStateReloadInterval 60 s.
  CHECK(back.first_client_back_ms >= 49000);
  CHECK(back.first_client_back_ms <= 51000);
  CHECK(r.world->workload()->report().failed >= 1000);
}

TEST_CASE("clients: ioredis refreshes on a closed connection: without a timeout a silent cut holds its writes",
          "[clients]") {
  const RunResult r = master_crash_with("ioredis");
  CHECK(recovery(r).all_clients_back_ms <= 5000);
  // minority_partition_writes' client beside m1, on the minority side: ioredis retries CLUSTERDOWN on random
  // nodes, which the cut never answers; nothing times out, so writes wait for the heal instead of failing.
  const RunResult cut = run_scenario(scenario_from(R"({"name": "cut", "seed": 1, "run_until": "30s",
      "cluster": {"masters": 3, "replicas_per_master": 1, "config": {"cluster-node-timeout": 2000}},
      "workload": {"clients": 1, "writes_per_s": 200, "keys": 1000, "client": "ioredis", "placement": ["m1"]},
      "timeline": [{"at": "10.5s", "partition": [["m1"], ["m2", "m3", "r1", "r2", "r3"]]}, {"at": "18.5s", "heal": true}]})"),
                                     RunOptions{});
  CHECK(cut.world->workload()->report().failed == 0);
  CHECK(cut.world->workload()->report().clients.longest_without_write_ms >= 5000);
}

TEST_CASE("clients: how often a write to a dead master reloads the slot map, per library", "[clients]") {
  // m1 crashes and nobody fails it over (node timeout 60 s): one client writing m1's keys once a second
  // fails every write; each failed write began this many reloads of the (still stale) map.
  for (const auto& [client, reloads_per_write] : {std::pair{"generic", 5}, {"jedis", 2}, {"redis_py", 4}, {"go_redis", 0}}) {
    INFO(client);
    const RunResult r = run_scenario(scenario_from(std::string(R"({"name": "dead", "seed": 1, "run_until": "41s",
        "cluster": {"masters": 3, "replicas_per_master": 1, "config": {"cluster-node-timeout": 60000}},
        "workload": {"clients": 1, "writes_per_s": 1, "keys": 1000, "placement": ["m1"], "client": ")") + client + R"("},
        "timeline": [{"at": "1s", "crash": "m1"}]})"),
                                     RunOptions{});
    const Workload& w = *r.world->workload();
    REQUIRE(w.report().failed >= 5);
    CHECK(w.report().acked <= 2);
    // A reload asked while another is under way joins it (the generic client's random node can be the
    // dead m1 itself, whose refused connection ends both at once): a few fewer.
    const uint64_t reloads_after_first = w.client(0).reloads() - 1;
    const uint64_t expected = w.report().failed * static_cast<uint64_t>(reloads_per_write);
    CHECK(reloads_after_first <= expected);
    CHECK(reloads_after_first + 3 >= expected);
  }
}

TEST_CASE("clients: an unknown client is refused with the list", "[clients]") {
  auto bad = parse_scenario(R"({"name": "x", "run_until": "1s", "cluster": {"masters": 3},
      "workload": {"client": "hiredis"}})", "s.json");
  REQUIRE(std::holds_alternative<ScenarioError>(bad));
  CHECK(std::get<ScenarioError>(bad).text() ==
        "s.json: /workload/client: unknown client \"hiredis\" (expected one of generic, lettuce, lettuce_adaptive, "
        "jedis, redis_py, go_redis, ioredis)");
}
