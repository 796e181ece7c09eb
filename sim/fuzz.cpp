#include "sim/fuzz.hpp"

#include <algorithm>
#include <cassert>

#include "protocol/rng.hpp"
#include "sim/run.hpp"

namespace rcsim::sim {
namespace {

Instant at_ms(int64_t ms) { return Instant::from_millis(ms); }

// Weighted pick among small integers: weights[i] is the weight of value i.
int pick_weighted(Rng& rng, std::initializer_list<int> weights) {
  int total = 0;
  for (int w : weights) total += w;
  int r = static_cast<int>(rng.below(static_cast<uint64_t>(total)));
  int value = 0;
  for (int w : weights) {
    if (r < w) return value;
    r -= w;
    ++value;
  }
  return value - 1;
}

class Generator {
 public:
  Generator(uint64_t seed, const FuzzOptions& options) : rng_(Rng(seed).fork("fuzz")), seed_(seed), options_(options) {}
  Scenario generate();

 private:
  NodeRef any_node() { return NodeRef::of_alias(scenario_.cluster.alias(static_cast<int>(rng_.below(node_count_)))); }
  NodeRef any_master() {
    return NodeRef::of_alias(scenario_.cluster.alias(static_cast<int>(rng_.below(static_cast<uint64_t>(scenario_.cluster.masters)))));
  }
  NodeRef master_of_random_slot() {
    NodeRef ref;
    ref.master_of_slot = static_cast<int>(rng_.below(16384));
    return ref;
  }
  void add(int64_t ms, Action action) { scenario_.timeline.push_back(TimelineEntry{at_ms(ms), std::move(action)}); }
  void add_fault(int64_t start_ms, int64_t span_ms);
  void add_config();
  void add_network();

  Rng rng_;
  uint64_t seed_;
  const FuzzOptions& options_;
  Scenario scenario_;
  uint64_t node_count_ = 0;
  int64_t timeout_ms_ = 0;
};

void Generator::add_config() {
  ClusterSpec& cluster = scenario_.cluster;
  cluster.masters = static_cast<int>(rng_.between(3, 9));
  cluster.replicas_per_master = pick_weighted(rng_, {15, 55, 30});
  cluster.timer_phase = rng_.chance(1, 2) ? TimerPhase::Staggered : TimerPhase::InPhase;
  static constexpr int64_t kTimeouts[] = {500, 1000, 2000, 2000, 5000, 15000};
  timeout_ms_ = kTimeouts[rng_.below(std::size(kTimeouts))];
  static constexpr int64_t kValidity[] = {0, 1, 2, 10};
  // Sorted by name, as the parser keeps them.
  cluster.config = {
      {"cluster-allow-replica-migration", rng_.chance(4, 5) ? "yes" : "no"},
      {"cluster-migration-barrier", std::to_string(rng_.between(0, 2))},
      {"cluster-node-timeout", std::to_string(timeout_ms_)},
      {"cluster-replica-validity-factor", std::to_string(kValidity[rng_.below(std::size(kValidity))])},
      {"cluster-require-full-coverage", rng_.chance(9, 10) ? "yes" : "no"},
  };
  node_count_ = static_cast<uint64_t>(cluster.node_count());
}

void Generator::add_network() {
  NetworkSpec& network = scenario_.network;
  network.latency = Duration::micros(rng_.between(30, 1000));
  network.jitter = Duration::micros(rng_.between(0, network.latency.us));
  static constexpr LatencyShape kShapes[] = {LatencyShape::fixed, LatencyShape::uniform, LatencyShape::long_tail};
  network.shape = kShapes[rng_.below(3)];
  network.loss = rng_.chance(2, 5) ? static_cast<double>(rng_.between(1, 50)) / 1000.0 : 0.0;
}

// One fault and, where it has one, its end: every fault is undone before the quiet period.
void Generator::add_fault(int64_t start_ms, int64_t span_ms) {
  const int64_t end_ms = start_ms + span_ms;
  switch (pick_weighted(rng_, {4, 2, 2, 1, 3, 1, 2, 1, 2, 1})) {
    case 0: {  // partition: a random split in two
      std::vector<NodeRef> a, b;
      for (uint64_t i = 0; i < node_count_; ++i) {
        (rng_.chance(1, 3) ? a : b).push_back(NodeRef::of_alias(scenario_.cluster.alias(static_cast<int>(i))));
      }
      if (a.empty() || b.empty()) return;
      add(start_ms, action::Partition{{a, b}});
      add(end_ms, action::Heal{});
      return;
    }
    case 1:
      add(start_ms, action::Isolate{master_of_random_slot()});
      add(end_ms, action::Heal{});
      return;
    case 2: {  // one-way cut
      const NodeRef from = any_node(), to = any_node();
      if (from == to) return;
      add(start_ms, action::Block{from, to, false});
      add(end_ms, action::Unblock{from, to, false});
      return;
    }
    case 3: {
      const NodeRef a = any_node(), b = any_node();
      if (a == b) return;
      add(start_ms, action::Flap{{a, b}, Duration::millis(rng_.between(timeout_ms_ / 10 + 1, timeout_ms_)), at_ms(end_ms)});
      return;
    }
    case 4: {  // kill -9 or a power loss (nodes.conf as last fsynced), sometimes losing the disk, then restart
      const NodeRef victim = rng_.chance(2, 3) ? any_master() : any_node();
      if (rng_.chance(1, 4)) add(start_ms, action::PowerLoss{victim});
      else add(start_ms, action::Crash{victim});
      if (rng_.chance(1, 8)) add(end_ms, action::LoseDisk{victim});
      add(end_ms, action::Restart{victim});
      return;
    }
    case 5: {
      const NodeRef victim = any_master();
      add(start_ms, action::Pause{victim});
      add(end_ms, action::Resume{victim});
      return;
    }
    case 6: {
      NodeRef replica = master_of_random_slot();
      replica.steps.push_back(NodeRef::Step::ReplicaOf);
      static constexpr FailoverMode kModes[] = {FailoverMode::Default, FailoverMode::Force, FailoverMode::Takeover};
      add(start_ms, action::Failover{replica, kModes[rng_.below(3)]});
      return;
    }
    case 7:
      add(start_ms, action::ClockSkew{any_node(), Duration::millis(rng_.between(-2000, 2000)),
                                      static_cast<double>(rng_.between(-1000, 1000))});
      return;
    case 8: {  // a lossy link for a while
      const NodeRef a = any_node(), b = any_node();
      if (a == b) return;
      action::Link lossy{a, b, std::nullopt, std::nullopt, std::nullopt, static_cast<double>(rng_.between(50, 300)) / 1000.0, true};
      add(start_ms, lossy);
      lossy.loss = scenario_.network.loss;
      add(end_ms, lossy);
      return;
    }
    default: {  // a paused replica or master, by alias
      const NodeRef victim = any_node();
      add(start_ms, action::Pause{victim});
      add(end_ms, action::Resume{victim});
      return;
    }
  }
}

Scenario Generator::generate() {
  scenario_.name = "fuzz-" + std::to_string(seed_);
  scenario_.description = "generated by `sim fuzz` from seed " + std::to_string(seed_);
  scenario_.seed = seed_;
  add_config();
  add_network();
  const int64_t horizon_ms = std::max<int64_t>(20'000, timeout_ms_ * 10);
  const int faults = static_cast<int>(rng_.between(1, 6));
  for (int i = 0; i < faults; ++i) {
    const int64_t start_ms = rng_.between(1000, horizon_ms);
    const int64_t span_ms = rng_.between(timeout_ms_ / 2, timeout_ms_ * 4);
    add_fault(start_ms, span_ms);
  }
  std::stable_sort(scenario_.timeline.begin(), scenario_.timeline.end(),
                   [](const TimelineEntry& a, const TimelineEntry& b) { return a.at < b.at; });
  // Heal everything, then leave time for detection, elections (with retries) and convergence.
  int64_t end_ms = horizon_ms + timeout_ms_ * 4 + 1000;
  for (const TimelineEntry& e : scenario_.timeline) {
    end_ms = std::max(end_ms, e.at.ms() + 1);
    if (const auto* flap = std::get_if<action::Flap>(&e.action)) end_ms = std::max(end_ms, flap->until.ms() + 1);
  }
  // Every crash already has its restart; resuming a node that is not paused does nothing.
  add(end_ms, action::Heal{});
  for (uint64_t i = 0; i < node_count_; ++i) {
    add(end_ms, action::Resume{NodeRef::of_alias(scenario_.cluster.alias(static_cast<int>(i)))});
  }
  const int64_t auth_timeout_ms = std::max<int64_t>(timeout_ms_ * 2, 2000);
  scenario_.run_until = at_ms(end_ms + auth_timeout_ms * 6 + timeout_ms_ * 3 + 10'000);
  scenario_.expect.push_back(Expectation{std::nullopt, "liveness", check::Converged{}});
  scenario_.known_bugs = options_.known_bugs;
  return scenario_;
}

}  // namespace

Scenario generate_fuzz_scenario(uint64_t seed, const FuzzOptions& options) { return Generator(seed, options).generate(); }

FuzzVerdict run_fuzz_case(const Scenario& scenario) {
  RunOptions options;
  RunResult result = run_scenario(scenario, options);
  FuzzVerdict verdict;
  verdict.trace_sha256 = result.world->trace().sha256();
  if (!result.cluster_created) {
    verdict.signature = "cluster_not_created";
  } else if (!result.world->violations().empty()) {
    verdict.signature = result.world->violations().front().invariant;
    verdict.detail = result.world->violations().front().detail;
  } else if (result.failed_expectations() > 0) {
    for (const ExpectationResult& e : result.expectations) {
      if (e.passed) continue;
      verdict.signature = e.label == "liveness" ? "liveness" : "expectation";
      verdict.detail = e.detail;
      break;
    }
  }
  return verdict;
}

int scenario_size(const Scenario& scenario) {
  return static_cast<int>(scenario.timeline.size()) + scenario.cluster.node_count();
}

std::vector<Scenario> shrink_candidates(const Scenario& scenario) {
  std::vector<Scenario> out;
  auto keep_if_valid = [&](Scenario candidate) {
    if (std::holds_alternative<Scenario>(parse_scenario(to_json(candidate).dump(), "candidate"))) {
      out.push_back(std::move(candidate));
    }
  };
  // Fewer actions: drop one at a time, latest first (the restoring tail is often not needed).
  for (size_t i = scenario.timeline.size(); i-- > 0;) {
    Scenario candidate = scenario;
    candidate.timeline.erase(candidate.timeline.begin() + static_cast<std::ptrdiff_t>(i));
    keep_if_valid(std::move(candidate));
  }
  // Fewer nodes.
  if (scenario.cluster.replicas_per_master > 0) {
    Scenario candidate = scenario;
    --candidate.cluster.replicas_per_master;
    keep_if_valid(std::move(candidate));
  }
  if (scenario.cluster.masters > 3) {
    Scenario candidate = scenario;
    --candidate.cluster.masters;
    keep_if_valid(std::move(candidate));
  }
  // Shorter spans: pull every action after a gap halfway towards the one before it.
  for (size_t i = 1; i < scenario.timeline.size(); ++i) {
    const Duration gap = scenario.timeline[i].at - scenario.timeline[i - 1].at;
    if (gap < Duration::millis(200)) continue;
    Scenario candidate = scenario;
    for (size_t j = i; j < candidate.timeline.size(); ++j) candidate.timeline[j].at = candidate.timeline[j].at - gap / 2;
    candidate.run_until = candidate.run_until - gap / 2;
    keep_if_valid(std::move(candidate));
  }
  return out;
}

Scenario shrink(const Scenario& failing, const std::function<bool(const Scenario&)>& still_fails, int max_attempts) {
  Scenario best = failing;
  int attempts = 0;
  bool improved = true;
  while (improved && attempts < max_attempts) {
    improved = false;
    for (Scenario& candidate : shrink_candidates(best)) {
      if (attempts++ >= max_attempts) break;
      if (!still_fails(candidate)) continue;
      best = std::move(candidate);
      improved = true;
      break;
    }
  }
  best.name = failing.name + "-min";
  return best;
}

}  // namespace rcsim::sim
