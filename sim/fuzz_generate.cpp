// The fuzz generator: a seed draws a swarm (which fault kinds are on, how often, on which nodes, how
// close together), then a cluster, a Redis config, a network and a fault schedule from that swarm.
#include <algorithm>
#include <array>
#include <cassert>
#include <optional>
#include <span>

#include "protocol/rng.hpp"
#include "sim/fuzz.hpp"

namespace rcsim::sim {
namespace {

constexpr const char* kFaultKindNames[] = {
    "partition", "partition3", "isolate", "one_way_cut", "flap", "kill", "power_loss", "lose_disk", "pause",
    "masters_together", "failover", "failover_force", "failover_takeover", "failovers_together", "clock_skew",
    "lossy_link", "slow_link", "config_set", "rolling_restart"};
static_assert(std::size(kFaultKindNames) == kFaultKindCount);

Instant at_ms(int64_t ms) { return Instant::from_millis(ms); }

// Weighted pick among small integers: weights[i] is the weight of value i.
int pick_weighted(Rng& rng, std::span<const int> weights) {
  int total = 0;
  for (int w : weights) total += w;
  assert(total > 0);
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
  FuzzCase generate();

 private:
  void draw_swarm();
  void add_config();
  void add_network();
  struct Start {
    int64_t ms = 0;
    bool in_election_window = false;  // while the last fault's elections run (its FAIL, then retries)
  };
  Start next_start(int64_t previous_start_ms, int64_t previous_end_ms, int64_t horizon_ms);
  int64_t draw_span_ms();
  void add_fault(FaultKind kind, int64_t start_ms, int64_t span_ms);

  NodeRef alias_ref(int index) const { return NodeRef::of_alias(scenario_.cluster.alias(index)); }
  // Node faults fall on the swarm's victim masters half the time, else on a voter in their elections
  // (a master outside the victims: restarted, it must remember its vote) or any node.
  NodeRef victim_node() {
    if (in_election_window_) {
      // While the last fault's elections run: a voter (restarted, it must remember its vote) or a
      // replica of a victim, the candidate (its voters' votes are then spent on an election lost).
      switch (rng_.below(3)) {
        case 0: return alias_ref(voter_master_index());
        case 1:
          if (const auto candidate = candidate_index()) return alias_ref(*candidate);
          break;
        default: break;
      }
    }
    if (rng_.chance(1, 2)) return alias_ref(victim_master_index());
    if (rng_.chance(1, 2)) return alias_ref(voter_master_index());
    return alias_ref(static_cast<int>(rng_.below(node_count_)));
  }
  // A replica that started out replicating one of the victims; none when the cluster has no replicas.
  std::optional<int> candidate_index() {
    const int replicas = scenario_.cluster.replicas_per_master;
    if (replicas == 0) return std::nullopt;
    const int victim = victim_master_index();
    std::vector<int> candidates;
    for (int i = scenario_.cluster.masters; i < static_cast<int>(node_count_); ++i) {
      if (scenario_.cluster.initial_master_of(i) == victim) candidates.push_back(i);
    }
    assert(!candidates.empty());
    return candidates[rng_.below(candidates.size())];
  }
  int voter_master_index() {
    const uint64_t masters = static_cast<uint64_t>(scenario_.cluster.masters);
    if (victims_.size() >= masters) return static_cast<int>(rng_.below(masters));
    return voters_[rng_.below(voters_.size())];
  }
  int victim_master_index() { return victims_[rng_.below(victims_.size())]; }
  // Whoever serves the middle slot of master i's first range now (it may have failed over).
  NodeRef serving_slots_of(int master_index) const {
    NodeRef ref;
    ref.master_of_slot = static_cast<int>((2 * master_index + 1) * 16384LL / (2 * scenario_.cluster.masters));
    return ref;
  }
  void add(int64_t ms, Action action) { case_.scenario.timeline.push_back(TimelineEntry{at_ms(ms), std::move(action), {}}); }
  std::string swarm_text() const;

  Rng rng_;
  uint64_t seed_;
  const FuzzOptions& options_;
  FuzzCase case_;
  Scenario& scenario_ = case_.scenario;
  Swarm& swarm_ = case_.swarm;
  std::vector<int> victims_;  // master indexes
  std::vector<int> voters_;   // the other masters
  bool in_election_window_ = false;  // the fault being drawn starts so (Start::in_election_window)
  uint64_t node_count_ = 0;
  int64_t timeout_ms_ = 0;
};

void Generator::draw_swarm() {
  // Each kind is on with probability 1/2 and then weighs 1-4 (swarm testing: a seed that leaves most
  // kinds out reaches the deep states those kinds would interrupt).
  do {
    for (int& weight : swarm_.weight) weight = rng_.chance(1, 2) ? static_cast<int>(rng_.between(1, 4)) : 0;
  } while (std::all_of(swarm_.weight.begin(), swarm_.weight.end(), [](int w) { return w == 0; }));
  swarm_.faults = static_cast<int>(rng_.between(1, 10));
  swarm_.clustered = rng_.chance(2, 3);
}

void Generator::add_config() {
  ClusterSpec& cluster = scenario_.cluster;
  cluster.masters = static_cast<int>(rng_.between(3, 9));
  cluster.replicas_per_master = pick_weighted(rng_, std::array{15, 55, 30});
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
  // Faults concentrated on 1 or 2 masters come back to the same shard (old failure reports, a
  // restarted voter, a second election), or spread over every master.
  std::vector<int> masters(static_cast<size_t>(cluster.masters));
  for (int i = 0; i < cluster.masters; ++i) masters[static_cast<size_t>(i)] = i;
  for (size_t i = masters.size(); i > 1; --i) std::swap(masters[i - 1], masters[rng_.below(i)]);
  const int pool = pick_weighted(rng_, std::array{0, 1, 1, 2});
  swarm_.victim_masters = pool == 3 ? cluster.masters : pool;
  victims_.assign(masters.begin(), masters.begin() + swarm_.victim_masters);
  voters_.assign(masters.begin() + swarm_.victim_masters, masters.end());
}

void Generator::add_network() {
  NetworkSpec& network = scenario_.network;
  network.latency = Duration::micros(rng_.between(30, 1000));
  network.jitter = Duration::micros(rng_.between(0, network.latency.us));
  static constexpr LatencyShape kShapes[] = {LatencyShape::fixed, LatencyShape::uniform, LatencyShape::long_tail};
  network.shape = kShapes[rng_.below(3)];
  network.loss = rng_.chance(2, 5) ? static_cast<double>(rng_.between(1, 50)) / 1000.0 : 0.0;
  // Hosts on a kernel before 6.5 (most servers still: Debian 12, RHEL 9, Ubuntu 22.04) retransmit SYNs
  // 1, 3, 7... s after connect(), not 1, 2, 3...: links cut by a partition reconnect later after a heal.
  // Its own stream: the rest of the case is drawn as before the kernels were told apart.
  Rng kernel_rng = Rng(seed_).fork("kernel");
  network.tcp_syn_linear_timeouts = kernel_rng.chance(1, 3) ? 0 : NetworkSpec{}.tcp_syn_linear_timeouts;
}

// Clustered swarms put each fault where the previous one is most fragile: at once (several masters
// down together), as the first PFAIL flags appear, while replicas run their election, when an
// election that found no majority retries (twice the auth timeout after it started), just before the
// previous fault ends (a master lost while its replica is still cut off), or just after (elections
// running into the heal).
Generator::Start Generator::next_start(int64_t previous_start_ms, int64_t previous_end_ms, int64_t horizon_ms) {
  if (!swarm_.clustered || previous_start_ms < 0) return {rng_.between(1000, horizon_ms)};
  const int64_t auth_timeout_ms = std::max<int64_t>(timeout_ms_ * 2, 2000);
  switch (pick_weighted(rng_, std::array{2, 2, 3, 1, 1, 2})) {
    case 0: return {previous_start_ms + (rng_.chance(1, 2) ? 0 : rng_.between(1, 100))};  // same instant: one script
    case 1: return {previous_start_ms + rng_.between(timeout_ms_ * 9 / 10, timeout_ms_ * 11 / 10)};
    case 2: return {previous_start_ms + timeout_ms_ + rng_.between(500, 2500), true};
    case 3: return {previous_start_ms + auth_timeout_ms + rng_.between(0, 1000), true};
    case 4: return {std::max(previous_start_ms, previous_end_ms - rng_.between(0, timeout_ms_))};
    default: return {previous_end_ms + rng_.between(0, 1000)};
  }
}

// A fault lasts half a node timeout to four (long enough to be failed over or not), ends while the
// replicas of a failed master are electing (FAIL, then 500-1000 ms and 1 s per rank), or lasts long.
int64_t Generator::draw_span_ms() {
  if (rng_.chance(1, 3)) return timeout_ms_ + rng_.between(500, 2500);
  // Long enough for a cut-off replica's data to age past the validity window (10 s of
  // repl-ping-replica-period plus node timeout x factor) before its master fails.
  if (rng_.chance(1, 6)) return 10'000 + timeout_ms_ * rng_.between(1, 4);
  return rng_.between(timeout_ms_ / 2, timeout_ms_ * 4);
}

// One fault and, where it has one, its end: every fault is undone before the quiet period.
void Generator::add_fault(FaultKind kind, int64_t start_ms, int64_t span_ms) {
  const int64_t end_ms = start_ms + span_ms;
  ++case_.faults_drawn[static_cast<size_t>(kind)];
  switch (kind) {
    case FaultKind::partition:
    case FaultKind::partition3: {  // a random split in two or three, the victims apart from the rest
      const int groups_count = kind == FaultKind::partition ? 2 : 3;
      std::vector<std::vector<NodeRef>> groups(static_cast<size_t>(groups_count));
      for (uint64_t i = 0; i < node_count_; ++i) {
        const bool victim = std::find(victims_.begin(), victims_.end(), static_cast<int>(i)) != victims_.end();
        const size_t group = victim && rng_.chance(3, 4) ? 0 : 1 + rng_.below(static_cast<uint64_t>(groups_count - 1));
        groups[rng_.chance(1, 5) ? rng_.below(groups.size()) : group].push_back(alias_ref(static_cast<int>(i)));
      }
      std::erase_if(groups, [](const std::vector<NodeRef>& g) { return g.empty(); });
      if (groups.size() < 2) return;
      add(start_ms, action::Partition{groups});
      add(end_ms, action::Heal{});
      return;
    }
    case FaultKind::isolate:
      add(start_ms, action::Isolate{serving_slots_of(victim_master_index())});
      add(end_ms, action::Heal{});
      return;
    case FaultKind::one_way_cut: {
      const NodeRef from = victim_node(), to = alias_ref(static_cast<int>(rng_.below(node_count_)));
      if (from == to) return;
      const bool outgoing = rng_.chance(1, 2);
      add(start_ms, action::Block{outgoing ? from : to, outgoing ? to : from, false});
      add(end_ms, action::Unblock{outgoing ? from : to, outgoing ? to : from, false});
      return;
    }
    case FaultKind::flap: {
      const NodeRef a = victim_node(), b = alias_ref(static_cast<int>(rng_.below(node_count_)));
      if (a == b) return;
      add(start_ms, action::Flap{{a, b}, Duration::millis(rng_.between(timeout_ms_ / 10 + 1, timeout_ms_)), at_ms(end_ms)});
      return;
    }
    case FaultKind::kill:
    case FaultKind::power_loss:
    case FaultKind::lose_disk: {  // kill -9 or a power loss (nodes.conf as last fsynced), then restart
      const NodeRef victim = victim_node();
      if (kind == FaultKind::power_loss) add(start_ms, action::PowerLoss{victim});
      else add(start_ms, action::Crash{victim});
      if (kind == FaultKind::lose_disk) add(end_ms, action::LoseDisk{victim});
      add(end_ms, action::Restart{victim});
      return;
    }
    case FaultKind::pause: {
      const NodeRef victim = victim_node();
      add(start_ms, action::Pause{victim});
      add(end_ms, action::Resume{victim});
      return;
    }
    case FaultKind::masters_together: {  // 2-3 masters killed or paused within 100 ms, back apart
      const bool kill = rng_.chance(1, 2);
      const int count = static_cast<int>(rng_.between(2, 3));
      std::vector<int> chosen;
      for (int i = 0; i < scenario_.cluster.masters && static_cast<int>(chosen.size()) < count; ++i) {
        const int candidate = i < static_cast<int>(victims_.size()) ? victims_[static_cast<size_t>(i)]
                                                                    : static_cast<int>(rng_.below(static_cast<uint64_t>(scenario_.cluster.masters)));
        if (std::find(chosen.begin(), chosen.end(), candidate) == chosen.end()) chosen.push_back(candidate);
      }
      for (int master : chosen) {
        const NodeRef victim = alias_ref(master);
        const int64_t down_ms = start_ms + rng_.between(0, 100);
        const int64_t up_ms = end_ms + rng_.between(0, timeout_ms_);
        if (kill) {
          add(down_ms, action::Crash{victim});
          add(up_ms, action::Restart{victim});
        } else {
          add(down_ms, action::Pause{victim});
          add(up_ms, action::Resume{victim});
        }
      }
      return;
    }
    case FaultKind::failover:
    case FaultKind::failover_force:
    case FaultKind::failover_takeover: {
      NodeRef replica = serving_slots_of(victim_master_index());
      replica.steps.push_back(NodeRef::Step::ReplicaOf);
      const FailoverMode mode = kind == FaultKind::failover         ? FailoverMode::Default
                                : kind == FaultKind::failover_force ? FailoverMode::Force
                                                                    : FailoverMode::Takeover;
      add(start_ms, action::Failover{replica, mode});
      return;
    }
    case FaultKind::failovers_together: {  // a zone evacuated by a script: 2-3 shards failed over at once
      static constexpr FailoverMode kModes[] = {FailoverMode::Default, FailoverMode::Force, FailoverMode::Takeover};
      const FailoverMode mode = kModes[rng_.below(3)];
      const uint64_t masters = static_cast<uint64_t>(scenario_.cluster.masters);
      const uint64_t first = rng_.below(masters);
      const int count = static_cast<int>(rng_.between(2, 3));
      for (int k = 0; k < count; ++k) {
        NodeRef replica = serving_slots_of(static_cast<int>((first + static_cast<uint64_t>(k)) % masters));
        replica.steps.push_back(NodeRef::Step::ReplicaOf);
        add(start_ms, action::Failover{replica, mode});
      }
      return;
    }
    case FaultKind::clock_skew:
      add(start_ms, action::ClockSkew{victim_node(), Duration::millis(rng_.between(-2000, 2000)),
                                      static_cast<double>(rng_.between(-1000, 1000))});
      return;
    case FaultKind::lossy_link:
    case FaultKind::slow_link: {  // a link loses messages, or slows to a tenth of a node timeout, for a while
      const NodeRef a = victim_node(), b = alias_ref(static_cast<int>(rng_.below(node_count_)));
      if (a == b) return;
      action::Link link{a, b, std::nullopt, std::nullopt, std::nullopt, std::nullopt, true};
      if (kind == FaultKind::lossy_link) link.loss = static_cast<double>(rng_.between(50, 300)) / 1000.0;
      else link.latency = Duration::millis(rng_.between(5, std::max<int64_t>(6, timeout_ms_ / 10)));
      add(start_ms, link);
      link.loss = kind == FaultKind::lossy_link ? std::optional<double>(scenario_.network.loss) : std::nullopt;
      link.latency = kind == FaultKind::slow_link ? std::optional<Duration>(scenario_.network.latency) : std::nullopt;
      add(end_ms, link);
      return;
    }
    case FaultKind::rolling_restart: {
      // An operator restarts every master in turn (an upgrade, a config file change), each down for
      // a moment or for longer than its replicas wait, and each back before the next goes: every
      // node must come back with what it has promised in nodes.conf (its votes, its epoch).
      const int64_t down_ms = rng_.chance(1, 2) ? rng_.between(100, timeout_ms_ / 2) : rng_.between(timeout_ms_, timeout_ms_ * 3);
      const int64_t gap_ms = down_ms + rng_.between(500, 2 * timeout_ms_);
      for (int i = 0; i < scenario_.cluster.masters; ++i) {
        const NodeRef master = alias_ref(i);
        add(start_ms + i * gap_ms, action::Crash{master});
        add(start_ms + i * gap_ms + down_ms, action::Restart{master});
      }
      return;
    }
    case FaultKind::config_set: {  // one node's node timeout changed for a while (a rolling change)
      const NodeRef node = victim_node();
      add(start_ms, action::ConfigSet{node, "cluster-node-timeout", std::to_string(rng_.between(timeout_ms_ / 2, timeout_ms_ * 2))});
      add(end_ms, action::ConfigSet{node, "cluster-node-timeout", std::to_string(timeout_ms_)});
      return;
    }
  }
}

std::string Generator::swarm_text() const {
  std::string text;
  for (int k = 0; k < kFaultKindCount; ++k) {
    if (swarm_.weight[static_cast<size_t>(k)] == 0) continue;
    text += (text.empty() ? "" : ", ") + std::string(kFaultKindNames[k]) + " x" + std::to_string(swarm_.weight[static_cast<size_t>(k)]);
  }
  text += "; " + std::to_string(swarm_.faults) + " faults on ";
  text += swarm_.victim_masters == scenario_.cluster.masters ? std::string("any master") : std::to_string(swarm_.victim_masters) + " master(s)";
  if (swarm_.clustered) text += ", clustered around detection and elections";
  return text;
}

FuzzCase Generator::generate() {
  scenario_.name = "fuzz-" + std::to_string(seed_);
  scenario_.seed = seed_;
  draw_swarm();
  add_config();
  add_network();
  scenario_.description = "generated by `sim fuzz` from seed " + std::to_string(seed_) + "; swarm: " + swarm_text();
  const int64_t horizon_ms = std::max<int64_t>(20'000, timeout_ms_ * 10);
  int64_t start_ms = -1, end_ms = -1;
  FaultKind kind = FaultKind::partition;
  for (int i = 0; i < swarm_.faults; ++i) {
    const int64_t previous_start_ms = start_ms;
    const Start start = next_start(start_ms, end_ms, horizon_ms);
    start_ms = start.ms;
    in_election_window_ = start.in_election_window;
    // A fault at the same moment as the last one is, half the time, the same fault on another shard:
    // two takeovers at once, two masters killed together.
    // A fault right after the last one ended is, half the time, the same kind again: a cut that
    // re-forms along other lines, a node that fails again (failure reports of the first still held).
    const bool burst = start_ms - previous_start_ms <= 100 && previous_start_ms >= 0 && rng_.chance(1, 2);
    const bool again = start_ms >= end_ms && start_ms - end_ms <= 1000 && previous_start_ms >= 0 && rng_.chance(1, 2);
    if (!burst && !again) kind = static_cast<FaultKind>(pick_weighted(rng_, swarm_.weight));
    const int64_t span_ms = draw_span_ms();
    end_ms = start_ms + span_ms;
    add_fault(kind, start_ms, span_ms);
  }
  std::stable_sort(scenario_.timeline.begin(), scenario_.timeline.end(),
                   [](const TimelineEntry& a, const TimelineEntry& b) { return a.at < b.at; });
  // Heal everything, then leave time for detection, elections (with retries) and convergence.
  end_ms = horizon_ms + timeout_ms_ * 4 + 1000;
  for (const TimelineEntry& e : scenario_.timeline) {
    end_ms = std::max(end_ms, e.at.ms() + 1);
    if (const auto* flap = std::get_if<action::Flap>(&e.action)) end_ms = std::max(end_ms, flap->until.ms() + 1);
  }
  // Every crash already has its restart; resuming a node that is not paused does nothing.
  add(end_ms, action::Heal{});
  for (uint64_t i = 0; i < node_count_; ++i) add(end_ms, action::Resume{alias_ref(static_cast<int>(i))});
  const int64_t auth_timeout_ms = std::max<int64_t>(timeout_ms_ * 2, 2000);
  scenario_.run_until = at_ms(end_ms + auth_timeout_ms * 6 + timeout_ms_ * 3 + 10'000);
  scenario_.expect.push_back(Expectation{std::nullopt, "liveness", check::Converged{}});
  scenario_.known_bugs = options_.known_bugs;
  scenario_.cluster.version = options_.version;  // drawn from nothing: a seed's case is the same under every profile
  return std::move(case_);
}

}  // namespace

std::string_view fault_kind_name(FaultKind kind) { return kFaultKindNames[static_cast<size_t>(kind)]; }

FuzzCase generate_fuzz_case(uint64_t seed, const FuzzOptions& options) { return Generator(seed, options).generate(); }

Scenario generate_fuzz_scenario(uint64_t seed, const FuzzOptions& options) { return generate_fuzz_case(seed, options).scenario; }

}  // namespace rcsim::sim
