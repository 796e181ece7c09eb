#include "sim/run.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>

#include "sim/workload.hpp"

namespace rcsim::sim {
namespace {

uint32_t loss_ppm(double probability) { return static_cast<uint32_t>(std::llround(probability * 1'000'000)); }

LinkProfile base_profile(const NetworkSpec& network) {
  LinkProfile profile;
  profile.latency = network.latency;
  profile.jitter = network.jitter;
  profile.shape = network.shape;
  profile.loss_ppm = loss_ppm(network.loss);
  return profile;
}

template <typename Spec>
LinkProfile with_overrides(LinkProfile profile, const Spec& spec) {
  if (spec.latency) profile.latency = *spec.latency;
  if (spec.jitter) profile.jitter = *spec.jitter;
  if (spec.shape) profile.shape = *spec.shape;
  if (spec.loss) profile.loss_ppm = loss_ppm(*spec.loss);
  return profile;
}

protocol::FailoverMode protocol_mode(FailoverMode mode) {
  switch (mode) {
    case FailoverMode::Default: return protocol::FailoverMode::manual;
    case FailoverMode::Force: return protocol::FailoverMode::force;
    case FailoverMode::Takeover: return protocol::FailoverMode::takeover;
  }
  return protocol::FailoverMode::manual;
}

std::vector<int> expand(const std::vector<SlotRange>& ranges) {
  std::vector<int> slots;
  for (const SlotRange& r : ranges) {
    for (int s = r.first; s <= r.last; ++s) slots.push_back(s);
  }
  return slots;
}

bool in_bound(uint64_t value, const CountBound& bound, std::string& text) {
  text = std::to_string(value);
  if (bound.is && value != *bound.is) return false;
  if (bound.min && value < *bound.min) return false;
  if (bound.max && value > *bound.max) return false;
  return true;
}

// The nodes an expectation looks at: all, live (running and up), or a list.
std::vector<int> node_set(const World& world, const NodeSet& set) {
  std::vector<int> out;
  if (set.kind == NodeSet::Kind::List) {
    for (const NodeRef& ref : set.list) out.push_back(resolve(world, ref));
    return out;
  }
  for (int i = 0; i < world.node_count(); ++i) {
    const protocol::Node* n = world.node(i);
    const bool member = n != nullptr && n->node_list().size() > 1;
    if (set.kind == NodeSet::Kind::All ? world.node_count() > 0 && (member || !world.is_running(i)) : member && world.is_up(i)) {
      out.push_back(i);
    }
  }
  return out;
}

}  // namespace

int resolve(const World& world, const NodeRef& ref) {
  int index = -1;
  if (ref.master_of_slot) {
    // The node that serves the slot in its own view; in a split brain, the greatest configEpoch.
    uint64_t best_epoch = 0;
    for (int i = 0; i < world.node_count(); ++i) {
      const protocol::Node* n = world.node(i);
      if (n == nullptr || n->slot_owner(*ref.master_of_slot) != &n->myself()) continue;
      if (index < 0 || n->myself().config_epoch > best_epoch) {
        index = i;
        best_epoch = n->myself().config_epoch;
      }
    }
  } else {
    index = world.index_of(ref.alias).value_or(-1);
  }
  for (NodeRef::Step step : ref.steps) {
    if (index < 0) return -1;
    const protocol::Node* base = world.node(index);
    if (base == nullptr) return -1;
    if (step == NodeRef::Step::MasterOf) {
      if (base->myself().is_replica()) {
        index = base->myself().master ? world.index_of_name(base->myself().master->name).value_or(-1) : -1;
      }
      continue;
    }
    int replica = -1;
    for (int i = 0; i < world.node_count() && replica < 0; ++i) {
      const protocol::Node* n = world.node(i);
      if (n != nullptr && n->myself().is_replica() && n->myself().master != nullptr &&
          n->myself().master->name == base->name()) {
        replica = i;
      }
    }
    index = replica;
  }
  return index;
}

WorldOptions world_options(const Scenario& scenario, uint64_t seed) {
  WorldOptions options;
  options.seed = seed;
  options.masters = scenario.cluster.masters;
  options.replicas_per_master = scenario.cluster.replicas_per_master;
  if (scenario.cluster.imported) options.layout = scenario.cluster.imported->layout;
  options.spares = scenario.cluster.spares;
  options.staggered_timers = scenario.cluster.timer_phase == TimerPhase::Staggered;
  options.config = node_config(scenario.cluster);
  options.default_link = base_profile(scenario.network);
  for (const auto& link : scenario.network.links) {
    const int from = *scenario.cluster.index_of(link.from);
    const int to = *scenario.cluster.index_of(link.to);
    const LinkProfile profile = with_overrides(options.default_link, link);
    options.link_overrides.push_back({from, to, profile});
    if (link.both_ways) options.link_overrides.push_back({to, from, profile});
  }
  options.chaos.drop_ppm = loss_ppm(scenario.network.chaos.drop);
  options.chaos.duplicate_ppm = loss_ppm(scenario.network.chaos.duplicate);
  options.chaos.reorder_ppm = loss_ppm(scenario.network.chaos.reorder);
  options.syn_schedule.linear_timeouts = scenario.network.tcp_syn_linear_timeouts;
  options.shared_timer_wheel = scenario.network.timer_wheel == TimerWheel::shared;
  return options;
}

namespace {

class Runner {
 public:
  Runner(const Scenario& scenario, RunResult& result) : scenario_(scenario), result_(result) {}

  void fire(const Action& action);
  ExpectationResult check(const Expectation& expectation);

 private:
  World& world() { return *result_.world; }
  int node(const NodeRef& ref, const char* role);
  void fail_action(const std::string& text) { result_.action_errors.push_back(text); }

  const Scenario& scenario_;
  RunResult& result_;
};

int Runner::node(const NodeRef& ref, const char* role) {
  const int index = resolve(world(), ref);
  if (index < 0) fail_action(std::string(role) + " " + describe(ref) + " resolved to no node");
  return index;
}

void Runner::fire(const Action& action) {
  World& w = world();
  const std::string at = std::to_string(w.now().ms()) + " ms: ";
  std::visit(
      [&](const auto& a) {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, action::Partition>) {
          std::vector<std::vector<int>> groups;
          for (const auto& group : a.groups) {
            groups.emplace_back();
            for (const NodeRef& ref : group) {
              if (const int i = node(ref, "partition member"); i >= 0) groups.back().push_back(i);
            }
          }
          w.partition(groups);
        } else if constexpr (std::is_same_v<T, action::Block> || std::is_same_v<T, action::Unblock>) {
          const int from = node(a.from, "from");
          const int to = node(a.to, "to");
          if (from < 0 || to < 0) return;
          constexpr bool block = std::is_same_v<T, action::Block>;
          block ? w.block(from, to) : w.unblock(from, to);
          if (a.both_ways) block ? w.block(to, from) : w.unblock(to, from);
        } else if constexpr (std::is_same_v<T, action::Isolate>) {
          if (const int i = node(a.node, "isolate"); i >= 0) w.isolate(i);
        } else if constexpr (std::is_same_v<T, action::Heal>) {
          w.heal();
        } else if constexpr (std::is_same_v<T, action::Crash>) {
          if (const int i = node(a.node, "crash"); i >= 0) w.crash(i);
        } else if constexpr (std::is_same_v<T, action::PowerLoss>) {
          if (const int i = node(a.node, "power_loss"); i >= 0) w.power_loss(i);
        } else if constexpr (std::is_same_v<T, action::Restart>) {
          if (const int i = node(a.node, "restart"); i >= 0) w.restart(i);
        } else if constexpr (std::is_same_v<T, action::LoseDisk>) {
          if (const int i = node(a.node, "lose_disk"); i >= 0) w.lose_disk(i);
        } else if constexpr (std::is_same_v<T, action::Pause>) {
          if (const int i = node(a.node, "pause"); i >= 0) w.pause(i);
        } else if constexpr (std::is_same_v<T, action::Resume>) {
          if (const int i = node(a.node, "resume"); i >= 0) w.resume(i);
        } else if constexpr (std::is_same_v<T, action::ClockSkew>) {
          if (const int i = node(a.node, "clock_skew"); i >= 0) {
            w.set_clock(i, a.offset, static_cast<int64_t>(std::llround(a.drift_ppm)));
          }
        } else if constexpr (std::is_same_v<T, action::Failover>) {
          if (const int i = node(a.node, "failover"); i >= 0) {
            const auto r = w.failover(i, protocol_mode(a.mode));
            if (!r.ok) fail_action(at + "CLUSTER FAILOVER on " + w.alias(i) + ": " + r.reply);
          }
        } else if constexpr (std::is_same_v<T, action::BumpEpoch>) {
          if (const int i = node(a.node, "bump_epoch"); i >= 0) {
            if (const auto r = w.bump_epoch(i); !r.ok) fail_action(at + "CLUSTER BUMPEPOCH on " + w.alias(i) + ": " + r.reply);
          }
        } else if constexpr (std::is_same_v<T, action::Meet>) {
          const int i = node(a.node, "meet");
          const int t = node(a.target, "meet target");
          if (i >= 0 && t >= 0) {
            if (const auto r = w.meet(i, t); !r.ok) fail_action(at + "CLUSTER MEET: " + r.reply);
          }
        } else if constexpr (std::is_same_v<T, action::Forget>) {
          const int i = node(a.node, "forget");
          const int t = node(a.target, "forget target");
          if (i >= 0 && t >= 0) {
            if (const auto r = w.forget(i, t); !r.ok) fail_action(at + "CLUSTER FORGET: " + r.reply);
          }
        } else if constexpr (std::is_same_v<T, action::AddSlots>) {
          if (const int i = node(a.node, "addslots"); i >= 0) {
            if (const auto r = w.add_slots(i, expand(a.slots)); !r.ok) fail_action(at + "CLUSTER ADDSLOTS: " + r.reply);
          }
        } else if constexpr (std::is_same_v<T, action::MigrateSlots>) {
          const int from = node(a.from, "migrate from");
          const int to = node(a.to, "migrate to");
          if (from >= 0 && to >= 0) {
            if (const auto r = w.migrate_slots(expand(a.slots), from, to); !r.ok) fail_action(at + "SETSLOT: " + r.reply);
          }
        } else if constexpr (std::is_same_v<T, action::ConfigSet>) {
          for (int i = 0; i < w.node_count(); ++i) {
            if (a.node && resolve(w, *a.node) != i) continue;
            if (w.is_running(i)) w.config_set(i, a.name, a.value);
          }
        } else if constexpr (std::is_same_v<T, action::Link>) {
          const int from = node(a.from, "link from");
          const int to = node(a.to, "link to");
          if (from < 0 || to < 0) return;
          // Unset properties keep the link's current value (an earlier link action's, a network.links
          // entry's, or the network-wide one), as the scenario README says.
          auto apply = [&](int x, int y) { w.set_link(x, y, with_overrides(w.link_profile(x, y), a)); };
          apply(from, to);
          if (a.both_ways) apply(to, from);
        } else if constexpr (std::is_same_v<T, action::Flap>) {
          assert(false && "flaps are expanded when the timeline is scheduled");
        }
      },
      action);
}

}  // namespace

bool RunResult::passed() const {
  if (!cluster_created || !liveness_problems.empty()) return false;
  if (world && !world->violations().empty()) return false;
  return failed_expectations() == 0;
}

int RunResult::failed_expectations() const {
  return static_cast<int>(std::count_if(expectations.begin(), expectations.end(),
                                        [](const ExpectationResult& e) { return !e.passed; }));
}

}  // namespace rcsim::sim

namespace rcsim::sim {
namespace {

bool has_flag_named(const protocol::ClusterNode& entry, const std::string& flag) {
  static const std::pair<const char*, uint16_t> kNames[] = {
      {"myself", protocol::kFlagMyself},     {"master", protocol::kFlagMaster},   {"slave", protocol::kFlagSlave},
      {"replica", protocol::kFlagSlave},     {"fail?", protocol::kFlagPfail},     {"fail", protocol::kFlagFail},
      {"handshake", protocol::kFlagHandshake}, {"noaddr", protocol::kFlagNoaddr}, {"nofailover", protocol::kFlagNofailover}};
  for (const auto& [name, bit] : kNames) {
    if (flag == name) return entry.has(bit);
  }
  return false;
}

std::string mode_name(FailoverKind kind) {
  switch (kind) {
    case FailoverKind::Auto: return "auto";
    case FailoverKind::Manual: return "manual";
    case FailoverKind::Force: return "force";
    case FailoverKind::Takeover: return "takeover";
  }
  return "?";
}

}  // namespace

class ExpectationChecker {
 public:
  ExpectationChecker(World& world, const std::map<const Expectation*, int>& old_masters)
      : world_(world), old_masters_(old_masters) {}
  ExpectationResult check(const Expectation& expectation);

 private:
  std::string alias(int index) const { return index < 0 ? std::string("(none)") : world_.alias(index); }
  World& world_;
  const std::map<const Expectation*, int>& old_masters_;
};

ExpectationResult ExpectationChecker::check(const Expectation& expectation) {
  ExpectationResult out;
  out.label = expectation.label;
  out.check = std::string(check_name(expectation.check));
  out.at_ms = world_.now().ms();
  std::string& detail = out.detail;
  out.passed = std::visit(
      [&](const auto& c) -> bool {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, check::ClusterState>) {
          bool all = true;
          for (int i : node_set(world_, c.nodes)) {
            const protocol::Node* n = i >= 0 ? world_.node(i) : nullptr;
            const bool ok = n != nullptr && n->state_ok();
            if (n == nullptr || ok != c.ok) {
              all = false;
              detail += alias(i) + (n == nullptr ? " is down; " : (ok ? " ok; " : " fail; "));
            }
          }
          if (all) detail = std::string("every node ") + (c.ok ? "ok" : "fail");
          return all;
        } else if constexpr (std::is_same_v<T, check::RoleIs>) {
          const int i = resolve(world_, c.node);
          const protocol::Node* n = i >= 0 ? world_.node(i) : nullptr;
          if (n == nullptr) return (detail = describe(c.node) + " is not running"), false;
          const bool master = n->myself().is_master();
          detail = alias(i) + " is " + (master ? "master" : "replica");
          if (!master && n->myself().master) {
            detail += " of " + alias(world_.index_of_name(n->myself().master->name).value_or(-1));
          }
          if (master != (c.is == Role::Master)) return false;
          if (c.of) {
            const int of = resolve(world_, *c.of);
            const protocol::Node* m = of >= 0 ? world_.node(of) : nullptr;
            return m != nullptr && n->myself().master != nullptr && n->myself().master->name == m->name();
          }
          return true;
        } else if constexpr (std::is_same_v<T, check::SlotOwner>) {
          const int expected = resolve(world_, c.is);
          const protocol::Node* e = expected >= 0 ? world_.node(expected) : nullptr;
          std::vector<int> viewers = c.seen_by ? std::vector<int>{resolve(world_, *c.seen_by)}
                                               : node_set(world_, NodeSet{NodeSet::Kind::Live, {}});
          bool all = e != nullptr;
          std::string matching;  // with any_viewer: the viewers that map it so
          for (int v : viewers) {
            const protocol::Node* n = v >= 0 ? world_.node(v) : nullptr;
            const protocol::ClusterNode* owner = n ? n->slot_owner(c.slot) : nullptr;
            const bool is_expected = e != nullptr && owner != nullptr && owner->name == e->name();
            const std::optional<int> owner_index = owner ? world_.index_of_name(owner->name) : std::nullopt;
            const std::string seen = alias(v) + " sees " +
                                     (owner == nullptr ? "nobody"
                                      : owner_index    ? alias(*owner_index)
                                                       : owner->name.str().substr(0, 8) + " (no node's id now)") +
                                     "; ";
            if (e == nullptr || owner == nullptr || is_expected == c.is_not) {
              all = false;
              detail += seen;
            } else {
              matching += seen;
            }
          }
          const std::string served = std::string(c.is_not ? " served by another node than " : " served by ") + alias(expected);
          if (c.any_viewer) {
            detail = matching.empty() ? "slot " + std::to_string(c.slot) + " not" + served + " in any view" : matching;
            return !matching.empty();
          }
          if (all) detail = "slot " + std::to_string(c.slot) + served + " in every view";
          return all;
        } else if constexpr (std::is_same_v<T, check::CurrentEpoch>) {
          std::vector<int> nodes = c.node ? std::vector<int>{resolve(world_, *c.node)}
                                          : node_set(world_, NodeSet{NodeSet::Kind::Live, {}});
          bool all = !nodes.empty();
          for (int i : nodes) {
            const protocol::Node* n = i >= 0 ? world_.node(i) : nullptr;
            std::string text;
            if (n == nullptr || !in_bound(n->current_epoch(), c.bound, text)) all = false;
            detail += alias(i) + "=" + (n ? text : std::string("down")) + " ";
          }
          return all;
        } else if constexpr (std::is_same_v<T, check::ConfigEpoch>) {
          const int i = resolve(world_, c.node);
          const protocol::Node* n = i >= 0 ? world_.node(i) : nullptr;
          if (n == nullptr) return (detail = describe(c.node) + " is not running"), false;
          std::string text;
          const bool ok = in_bound(n->myself().config_epoch, c.bound, text);
          detail = alias(i) + " configEpoch " + text;
          return ok;
        } else if constexpr (std::is_same_v<T, check::Failover>) {
          const int old_master = old_masters_.at(&expectation);
          const int new_master = c.new_master ? resolve(world_, *c.new_master) : -1;
          for (const FailoverRecord& f : world_.failovers()) {
            if (f.old_master != old_master) continue;
            if (c.new_master && f.new_master != new_master) continue;
            if (c.mode && f.mode != mode_name(*c.mode)) continue;
            const int64_t took_ms = f.promoted_ms - f.fault_ms;
            detail = alias(f.new_master) + " replaced " + alias(old_master) + " (" + f.mode + ") " +
                     std::to_string(took_ms) + " ms after the fault, epoch " + std::to_string(f.epoch);
            if (c.within && (f.fault_ms < 0 || took_ms < c.within->min.ms() || took_ms > c.within->max.ms())) continue;
            if (c.epoch && static_cast<uint64_t>(f.epoch) != *c.epoch) continue;
            return true;
          }
          if (detail.empty()) detail = "no failover of " + alias(old_master);
          return false;
        } else if constexpr (std::is_same_v<T, check::NoFailover>) {
          const int of = old_masters_.at(&expectation);
          for (const FailoverRecord& f : world_.failovers()) {
            if (f.old_master == of) return (detail = alias(f.new_master) + " replaced " + alias(of)), false;
          }
          detail = "no failover of " + alias(of);
          return true;
        } else if constexpr (std::is_same_v<T, check::Flag>) {
          const int target = resolve(world_, c.node);
          std::vector<int> viewers;
          if (c.seen_by) viewers.push_back(resolve(world_, *c.seen_by));
          else for (int v : node_set(world_, NodeSet{NodeSet::Kind::Live, {}})) if (v != target) viewers.push_back(v);
          bool all = target >= 0 && !viewers.empty();
          for (int v : viewers) {
            const protocol::Node* n = v >= 0 ? world_.node(v) : nullptr;
            const protocol::ClusterNode* entry = (n && target >= 0) ? n->find(world_.name_of(target)) : nullptr;
            const bool has = entry != nullptr && has_flag_named(*entry, c.flag);
            if (has != c.has) {
              all = false;
              detail += alias(v) + (has ? " has " : " lacks ") + c.flag + "; ";
            }
          }
          if (all) detail = std::string("every viewer ") + (c.has ? "has " : "lacks ") + c.flag + " on " + alias(target);
          return all;
        } else if constexpr (std::is_same_v<T, check::LostWrites>) {
          // Checked once the writes were (after the run, the heal and the settling).
          const Workload* workload = world_.workload();
          const WritesReport* report = workload != nullptr && workload->report().checked ? &workload->report() : nullptr;
          const uint64_t lost = report != nullptr ? report->lost : 0;
          detail = report == nullptr ? "no workload: nothing written, nothing lost"
                                     : std::to_string(lost) + " of " + std::to_string(report->acked) +
                                           " acknowledged writes lost";
          return (!c.min || lost >= *c.min) && (!c.max || lost <= *c.max);
        } else if constexpr (std::is_same_v<T, check::Converged>) {
          const std::vector<std::string> problems = world_.convergence_problems();
          if (problems.empty()) return (detail = "every live node agrees, all slots served, cluster ok"), true;
          if (const auto exemption = world_.liveness_exemption()) {
            detail = "not converged (" + problems.front() + ") but not required: " + exemption->detail;
            out.excused_by = exemption->rule;
            return true;
          }
          for (const std::string& p : problems) detail += p + "; ";
          return false;
        } else if constexpr (std::is_same_v<T, check::FailoversCount>) {
          std::string text;
          const bool ok = in_bound(world_.failovers().size(), c.bound, text);
          detail = text + " failovers";
          return ok;
        }
        return false;
      },
      expectation.check);
  return out;
}

RunResult run_scenario(const Scenario& scenario, const RunOptions& options) {
  RunResult result;
  result.seed = options.seed.value_or(scenario.seed);
  WorldOptions world_opts = world_options(scenario, result.seed);
  world_opts.bugs = options.bugs;
  for (const std::string& name : scenario.known_bugs) protocol::enable_known_bug(world_opts.bugs, name);
  world_opts.trace_path = options.trace_path;
  world_opts.trace_messages = options.trace_messages;
  world_opts.keep_message_records = options.keep_message_records;
  // Loss and chaos start at scenario time 0: the cluster is created on a network without them, as an
  // operator runs redis-cli --cluster create on a healthy network. (Under loss a MEET's handshake can
  // time out at the receiver and leave the meeting node half-joined for good, in Redis as here.)
  WorldOptions formation = world_opts;
  formation.default_link.loss_ppm = 0;
  for (LinkProfileOverride& link : formation.link_overrides) link.profile.loss_ppm = 0;
  formation.chaos = ChaosOptions{};
  result.world = std::make_unique<World>(formation);
  World& world = *result.world;
  Scheduler& scheduler = world.scheduler();

  // Scenario time 0 is the moment the cluster is ready (create-cluster done).
  // As long as tools/redis-compare waits for the real cluster: a minute, and a second per node. (A node
  // learns that a peer is a replica only from the peer's own header, and gossip keeps pong times fresh,
  // so at 100 nodes the last pair to ping each other directly can take more than a minute.)
  const Duration creation_limit = Duration::seconds(60 + scenario.cluster.node_count());
  result.cluster_created = scenario.cluster.create == CreateMode::NodesConf
                               ? world.restart_as_created_cluster(creation_limit)
                               : world.create_cluster(creation_limit);
  // An operator's commands and real faults land anywhere in the nodes' 100 ms cron cycle and in their
  // 1 s cycle of pings (which gossip's whole-second pong times keep in step), not right after the tick
  // that finished the cluster's creation: start scenario time at a seeded phase of both. (With 0-100 ms,
  // the first PFAIL after a kill at node timeout 2000 came at a median 2.8 s over seeds 1-20, where
  // real Redis, its trials started at spread phases, gives 2.3-2.5 s.)
  world.run_for(Duration::micros(static_cast<int64_t>(Rng(result.seed).fork("scenario-origin").below(1'000'000))));
  result.create_done = world.now();
  result.bus_from = result.create_done;
  result.bus_at_from = world.bus_sent();
  world.set_network(world_opts.default_link, world_opts.link_overrides, world_opts.chaos);
  if (options.sample_shards && scenario.cluster.masters <= kShardSamplingMaxMasters) world.start_shard_sampling();
  const Instant origin = result.create_done;
  const Instant until = origin + Duration::micros(options.until.value_or(scenario.run_until).us);
  auto at = [&](Instant scenario_time) { return origin + Duration::micros(scenario_time.us); };
  if (scenario.workload && result.cluster_created) {
    world.attach_workload(std::make_unique<Workload>(world, *scenario.workload));
    world.workload()->start();
  }
  auto after_writes = [](const Expectation& e) { return std::holds_alternative<check::LostWrites>(e.check); };

  Runner runner(scenario, result);
  for (const TimelineEntry& entry : scenario.timeline) {
    if (at(entry.at) > until) break;
    if (const auto* flap = std::get_if<action::Flap>(&entry.action)) {
      for (const auto& transition : flap_transitions(entry.at, *flap)) {
        const Instant t = transition.first;
        const bool down = transition.second;  // (a structured binding: clang 14 cannot capture one)
        if (at(t) > until) break;
        const action::Block block{flap->between[0], flap->between[1], true};
        scheduler.at(at(t), [&runner, down, block] {
          if (down) runner.fire(block);
          else runner.fire(action::Unblock{block.from, block.to, true});
        });
      }
      continue;
    }
    scheduler.at(at(entry.at), [&runner, &entry] { runner.fire(entry.action); });
  }
  std::map<const Expectation*, int> old_masters;
  for (const Expectation& e : scenario.expect) {
    if (const auto* f = std::get_if<check::Failover>(&e.check)) old_masters[&e] = resolve(world, f->old_master);
    if (const auto* f = std::get_if<check::NoFailover>(&e.check)) old_masters[&e] = resolve(world, f->of);
  }
  ExpectationChecker checker(world, old_masters);
  for (const Expectation& e : scenario.expect) {
    if (e.at && at(*e.at) <= until && !after_writes(e)) {
      scheduler.at(at(*e.at), [&result, &checker, &e] { result.expectations.push_back(checker.check(e)); });
    }
  }
  if (options.bus_from && at(*options.bus_from) < until) {
    // Stopping the clock at a time changes nothing: the queue fires in (time, sequence) order whatever
    // the limits it is run to (tested).
    world.run_until(at(*options.bus_from));
    result.bus_from = world.now();
    result.bus_at_from = world.bus_sent();
  }
  world.run_until(until);
  for (const Expectation& e : scenario.expect) {
    if ((!e.at || at(*e.at) > until) && !after_writes(e)) result.expectations.push_back(checker.check(e));
  }
  if (Workload* workload = world.workload()) workload->stop();
  if (options.liveness_quiet.us > 0) {
    world.heal();
    for (int i = 0; i < world.node_count(); ++i) {
      if (world.host_state(i) == HostState::paused) world.resume(i);
      if (world.host_state(i) == HostState::crashed) world.restart(i);
    }
    world.run_for(options.liveness_quiet);
    result.liveness_problems = world.convergence_problems();
  }
  if (Workload* workload = world.workload()) {
    workload->settle(workload->default_settle());
    workload->check();
  }
  for (const Expectation& e : scenario.expect) {
    if (after_writes(e)) result.expectations.push_back(checker.check(e));
  }
  result.end = world.now();
  return result;
}

}  // namespace rcsim::sim
