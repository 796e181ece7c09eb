// Shrinking a failing scenario until every part left is needed: delta debugging (Zeller and
// Hildebrandt, "Simplifying and isolating failure-inducing input", 2002) over faults, then nodes, then
// time, then values, re-running the failing case each time and keeping a step while the same
// invariant still fails.
#include <algorithm>
#include <cassert>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "sim/cluster_layout.hpp"
#include "sim/fuzz.hpp"
#include "sim/sha256.hpp"

namespace rcsim::sim {
namespace {

// ---- faults as units ------------------------------------------------------------------------------

// Does `later` end the fault `earlier` started? Links and config changes are undone by the same
// action on the same nodes (the generator restores the old value).
bool undoes(const Action& earlier, const Action& later) {
  if (const auto* crash = std::get_if<action::Crash>(&earlier)) {
    if (const auto* r = std::get_if<action::Restart>(&later)) return r->node == crash->node;
    if (const auto* d = std::get_if<action::LoseDisk>(&later)) return d->node == crash->node;
  }
  if (const auto* loss = std::get_if<action::PowerLoss>(&earlier)) {
    if (const auto* r = std::get_if<action::Restart>(&later)) return r->node == loss->node;
    if (const auto* d = std::get_if<action::LoseDisk>(&later)) return d->node == loss->node;
  }
  if (const auto* pause = std::get_if<action::Pause>(&earlier)) {
    if (const auto* r = std::get_if<action::Resume>(&later)) return r->node == pause->node;
  }
  if (std::holds_alternative<action::Partition>(earlier) || std::holds_alternative<action::Isolate>(earlier)) {
    return std::holds_alternative<action::Heal>(later);
  }
  if (const auto* block = std::get_if<action::Block>(&earlier)) {
    if (const auto* u = std::get_if<action::Unblock>(&later)) return u->from == block->from && u->to == block->to;
  }
  if (const auto* link = std::get_if<action::Link>(&earlier)) {
    if (const auto* l = std::get_if<action::Link>(&later)) return l->from == link->from && l->to == link->to;
  }
  if (const auto* set = std::get_if<action::ConfigSet>(&earlier)) {
    if (const auto* s = std::get_if<action::ConfigSet>(&later)) return s->node == set->node && s->name == set->name;
  }
  return false;
}

// The quiet period's restore: the heal and resumes at the timeline's last instant. It stays, so that
// a shrunk case fails with its faults undone, not because a fault was left on.
std::vector<bool> restoring_tail(const Scenario& s) {
  std::vector<bool> tail(s.timeline.size(), false);
  if (s.timeline.empty()) return tail;
  const Instant last = s.timeline.back().at;
  for (size_t i = s.timeline.size(); i-- > 0 && s.timeline[i].at == last;) {
    const Action& a = s.timeline[i].action;
    tail[i] = std::holds_alternative<action::Heal>(a) || std::holds_alternative<action::Resume>(a);
  }
  return tail;
}

// A fault and the actions that undo it, as timeline indexes (the fault first).
using Unit = std::vector<size_t>;

std::vector<Unit> fault_units(const Scenario& s) {
  const std::vector<bool> tail = restoring_tail(s);
  std::vector<bool> taken = tail;
  std::vector<Unit> units;
  for (size_t i = 0; i < s.timeline.size(); ++i) {
    if (taken[i]) continue;
    taken[i] = true;
    Unit unit{i};
    const Action& fault = s.timeline[i].action;
    for (size_t j = i + 1; j < s.timeline.size(); ++j) {
      if (taken[j] || !undoes(fault, s.timeline[j].action)) continue;
      taken[j] = true;
      unit.push_back(j);
      // A crash ends at its restart (a lost disk comes just before); other faults at their first undo.
      if (!std::holds_alternative<action::LoseDisk>(s.timeline[j].action)) break;
    }
    units.push_back(std::move(unit));
  }
  return units;
}

Scenario without_entries(const Scenario& s, const std::set<size_t>& drop) {
  Scenario out = s;
  out.timeline.clear();
  for (size_t i = 0; i < s.timeline.size(); ++i) {
    if (!drop.contains(i)) out.timeline.push_back(s.timeline[i]);
  }
  return out;
}

Scenario without_units(const Scenario& s, const std::vector<Unit>& units, const std::vector<size_t>& which) {
  std::set<size_t> drop;
  for (size_t u : which) drop.insert(units[u].begin(), units[u].end());
  return without_entries(s, drop);
}

// ---- nodes ------------------------------------------------------------------------------------------

// Every node reference of an action, for renaming. `keep` false for a reference to a removed node.
template <typename F>
void for_each_ref(Action& action, F&& f) {
  std::visit(
      [&](auto& a) {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, action::Partition>) {
          for (auto& group : a.groups) for (NodeRef& ref : group) f(ref);
        } else if constexpr (std::is_same_v<T, action::Block> || std::is_same_v<T, action::Unblock> ||
                             std::is_same_v<T, action::Link> || std::is_same_v<T, action::MigrateSlots>) {
          f(a.from);
          f(a.to);
        } else if constexpr (std::is_same_v<T, action::Meet> || std::is_same_v<T, action::Forget>) {
          f(a.node);
          f(a.target);
        } else if constexpr (std::is_same_v<T, action::Flap>) {
          f(a.between[0]);
          f(a.between[1]);
        } else if constexpr (std::is_same_v<T, action::ConfigSet>) {
          if (a.node) f(*a.node);
        } else if constexpr (std::is_same_v<T, action::Heal>) {
        } else {
          f(a.node);
        }
      },
      action);
}

constexpr const char* kRemoved = "";

// The scenario with its nodes renamed by `rename` (old alias → new alias, kRemoved for a node that
// goes) and its master_of_slot references moved by `move_slot` (nullopt: the master goes): an action
// on a removed node goes, a partition loses the member.
Scenario renamed(const Scenario& s, const std::map<std::string, std::string>& rename,
                 const std::function<std::optional<int>(int)>& move_slot) {
  Scenario out = s;
  out.timeline.clear();
  for (TimelineEntry e : s.timeline) {
    bool lost_node = false;
    if (auto* partition = std::get_if<action::Partition>(&e.action)) {
      for (auto& group : partition->groups) {
        std::erase_if(group, [&](const NodeRef& ref) { return ref.is_alias() && rename.at(ref.alias) == kRemoved; });
      }
      std::erase_if(partition->groups, [](const auto& group) { return group.empty(); });
      if (partition->groups.size() < 2) continue;
    }
    for_each_ref(e.action, [&](NodeRef& ref) {
      if (ref.master_of_slot) {
        const std::optional<int> slot = move_slot(*ref.master_of_slot);
        if (slot) ref.master_of_slot = *slot;
        else lost_node = true;
        return;
      }
      const std::string& to = rename.at(ref.alias);
      if (to == kRemoved) lost_node = true;
      ref.alias = to;
    });
    if (!lost_node) out.timeline.push_back(std::move(e));
  }
  return out;
}

// The master (index) whose range of redis-cli's split (a layout of masters only) holds `slot`.
std::optional<int> split_master_of_slot(const ClusterLayout& split, int slot) {
  for (size_t m = 0; m < split.members.size(); ++m) {
    const SlotRange range = split.members[m].slots.front();
    if (slot >= range.first && slot <= range.last) return static_cast<int>(m);
  }
  return std::nullopt;
}

// A reference by slot keeps naming the same master when masters are renumbered (`new_index`: a
// master's index among `after` masters, nullopt when it goes): the slot at the same offset in its new
// range of redis-cli's split; nullopt for a master that goes.
std::function<std::optional<int>(int)> slot_mover(int masters_before, int masters_after,
                                                 std::function<std::optional<int>(int)> new_index) {
  return [before = layout_by_rule(masters_before, 0), after = layout_by_rule(masters_after, 0),
          new_index = std::move(new_index)](int slot) -> std::optional<int> {
    const std::optional<int> m = split_master_of_slot(before, slot);
    if (!m) return slot;
    const std::optional<int> to = new_index(*m);
    if (!to) return std::nullopt;
    const SlotRange range = before.members[static_cast<size_t>(*m)].slots.front();
    const SlotRange moved_to = after.members[static_cast<size_t>(*to)].slots.front();
    return std::min(moved_to.first + (slot - range.first), moved_to.last);
  };
}

// The cluster without master `drop_master` and its replicas, or without each master's replica at
// `drop_place` (0 = its first); -1 drops none. The others keep their master and their order among its
// replicas, renumbered (replica i follows master i % masters, at place i / masters).
Scenario without_nodes(const Scenario& s, int drop_master, int drop_place) {
  const ClusterSpec& c = s.cluster;
  ClusterSpec smaller = c;
  if (drop_master >= 0) --smaller.masters;
  if (drop_place >= 0) --smaller.replicas_per_master;
  const auto moved = [](int v, int dropped) { return dropped >= 0 && v > dropped ? v - 1 : v; };
  std::map<std::string, std::string> rename;
  for (int i = 0; i < c.masters; ++i) rename[c.alias(i)] = i == drop_master ? kRemoved : smaller.alias(moved(i, drop_master));
  for (int i = 0; i < c.replicas(); ++i) {
    const int master = i % c.masters, place = i / c.masters;
    rename[c.alias(c.masters + i)] =
        master == drop_master || place == drop_place
            ? kRemoved
            : smaller.alias(smaller.masters + moved(place, drop_place) * smaller.masters + moved(master, drop_master));
  }
  for (int i = 0; i < c.spares; ++i) rename[c.alias(c.masters + c.replicas() + i)] = smaller.alias(smaller.masters + smaller.replicas() + i);
  Scenario out = renamed(s, rename, slot_mover(c.masters, smaller.masters, [&](int m) -> std::optional<int> {
    if (m == drop_master) return std::nullopt;
    return moved(m, drop_master);
  }));
  out.cluster = smaller;
  return out;
}

// The cluster without the one replica at node index `replica`, written as an imported cluster (its
// CLUSTER NODES text): a rule's layout gives every master the same number of replicas, so a case that
// needs 4 masters and 2 replicas kept 8 nodes. Every other node keeps its place, role, slots, epochs and
// address; a rule layout's nodes get ids fixed by their alias (a repro reads the same every time); the
// replicas after the removed one move up an alias.
Scenario without_replica(const Scenario& s, int replica) {
  const ClusterSpec& c = s.cluster;
  assert(replica >= c.masters && replica < c.masters + c.replicas());
  const ClusterLayout layout = c.imported ? c.imported->layout : layout_by_rule(c.masters, c.replicas_per_master);
  std::vector<std::string> ids, addresses;
  for (int i = 0; i < layout.size(); ++i) {
    const MemberLayout& member = layout.members[static_cast<size_t>(i)];
    Sha256 id;
    id.update("rcsim shrink " + c.alias(i));
    ids.push_back(!member.name.empty() ? member.name : id.hex().substr(0, 40));
    addresses.push_back(c.imported ? c.imported->addresses[static_cast<size_t>(i)]
                                   : "127.0.0.1:" + std::to_string(c.port(i)) + "@" + std::to_string(c.port(i) + kBusPortIncrement));
  }
  std::string text;
  for (int i = 0; i < layout.size(); ++i) {
    if (i != replica) text += ids[static_cast<size_t>(i)] + " " + addresses[static_cast<size_t>(i)] + " " + member_line_tail(layout, i, ids, 0);
  }
  text += vars_line(layout);
  ImportedCluster imported;
  [[maybe_unused]] const std::optional<ImportError> error = parse_cluster_nodes(text, imported);
  assert(!error && "a layout the scenario booted writes back as a valid CLUSTER NODES text");
  std::map<std::string, std::string> rename;
  for (int i = 0; i < c.node_count(); ++i) {
    rename[c.alias(i)] = i == replica ? kRemoved : i < replica || i >= c.masters + c.replicas() ? c.alias(i) : c.alias(i - 1);
  }
  Scenario out = renamed(s, rename, [](int slot) -> std::optional<int> { return slot; });
  out.cluster.imported = std::move(imported);
  out.cluster.create = CreateMode::NodesConf;
  out.cluster.replicas_per_master = 0;
  return out;
}

// Which masters the timeline names: directly, through one of their replicas, or by a slot of theirs.
std::vector<bool> named_masters(const Scenario& s) {
  const ClusterSpec& c = s.cluster;
  std::vector<bool> named(static_cast<size_t>(c.masters), false);
  const ClusterLayout split = layout_by_rule(c.masters, 0);
  for (TimelineEntry e : s.timeline) {  // a copy: for_each_ref hands out references to change
    for_each_ref(e.action, [&](NodeRef& ref) {
      if (ref.master_of_slot) {
        if (const auto m = split_master_of_slot(split, *ref.master_of_slot)) named[static_cast<size_t>(*m)] = true;
        return;
      }
      const std::optional<int> index = c.index_of(ref.alias);
      if (!index) return;
      if (*index < c.masters) named[static_cast<size_t>(*index)] = true;
      else if (const auto master = c.initial_master_of(*index)) named[static_cast<size_t>(*master)] = true;
    });
  }
  return named;
}

// The cluster with masters a and b trading places (and their replicas, place by place): every
// reference follows its node, a slot reference the same offset in its master's new range. Nodes are
// not quite symmetric (redis-cli gives configEpochs and slot ranges in alias order), so a case that
// needs one shard's replicas may, after a swap, need another's, which a removal can then reach.
Scenario swapped_shards(const Scenario& s, int a, int b) {
  const ClusterSpec& c = s.cluster;
  assert(a != b && a < c.masters && b < c.masters);
  const auto other = [&](int m) { return m == a ? b : m == b ? a : m; };
  std::map<std::string, std::string> rename;
  for (int i = 0; i < c.masters; ++i) rename[c.alias(i)] = c.alias(other(i));
  for (int i = 0; i < c.replicas(); ++i) {
    const int master = i % c.masters, place = i / c.masters;
    rename[c.alias(c.masters + i)] = c.alias(c.masters + place * c.masters + other(master));
  }
  for (int i = c.masters + c.replicas(); i < c.node_count(); ++i) rename[c.alias(i)] = c.alias(i);
  return renamed(s, rename, slot_mover(c.masters, c.masters, [&](int m) -> std::optional<int> { return other(m); }));
}

// ---- the search -------------------------------------------------------------------------------------

class Shrinker {
 public:
  Shrinker(const Scenario& failing, const FuzzVerdict& failure, const FuzzRunner& run, int max_runs)
      : best_(failing), failure_(failure), run_(run), max_runs_(max_runs) {}

  ShrinkResult shrink() {
    // A fifth of the budget is kept for the single replicas at the end.
    limit_ = max_runs_ - max_runs_ / 5;
    with_more_seeds([this] {
      bool improved = false;
      improved |= cut_after_violation();
      // Nodes before faults: a smaller cluster makes every later run cheaper and every step likelier.
      improved |= remove_nodes();
      improved |= remove_faults();
      improved |= shorten_time();
      improved |= default_values();
      return improved;
    });
    // Last, single replicas: the cluster is written as an imported one (without_replica), which boots
    // from nodes.conf and so shifts every later run's timing; done once the faults are as few as they
    // get, it can only take nodes away.
    limit_ = max_runs_;
    with_more_seeds([this] { return remove_one_replica(); });
    drop_idle_resumes();
    explain();
    best_.name = best_.name + "-min";
    return ShrinkResult{best_, runs_};
  }

 private:
  // Repeats `round` while it improves and the budget lasts; when a round finds nothing, the structural
  // steps are tried again under 4x the seeds (8, 32, 128): a failure that hangs on timing can come back
  // under a few seeds of many. Candidates run before are not run again (tried_), so a wider round costs
  // only its new seeds.
  void with_more_seeds(const std::function<bool()>& round) {
    for (seeds_per_step_ = kFirstSeedsPerStep;; seeds_per_step_ *= 4) {
      while (runs_ < limit_ && round()) {
      }
      if (runs_ >= limit_ || seeds_per_step_ >= kMaxSeedsPerStep) return;
    }
  }

  // Runs a candidate if the budget allows and it was not run before; keeps it when it fails the same way.
  bool try_candidate(const Scenario& candidate) {
    if (runs_ >= limit_ || candidate == best_) return false;
    const std::string text = to_json(candidate).dump();
    Sha256 digest;
    digest.update(text);
    if (!tried_.insert(digest.hex()).second) return false;
    if (!std::holds_alternative<Scenario>(parse_scenario(text, "candidate"))) return false;
    ++runs_;
    const FuzzVerdict verdict = run_(candidate);
    if (verdict.signature != failure_.signature) return false;
    best_ = candidate;
    failure_ = verdict;
    return true;
  }

  // A failure that hangs on timing can vanish when a smaller case shifts every random draw, though the
  // smaller case can fail the same way: the candidate is tried under its own seed, then under up to
  // `seeds - 1` others (a repro carries its seed, so any failing one will do).
  bool try_seeds(const Scenario& candidate) {
    if (candidate == best_) return false;  // only another seed would differ: not a smaller case
    for (int k = 0; k < seeds_per_step_; ++k) {
      Scenario reseeded = candidate;
      reseeded.seed = candidate.seed + static_cast<uint64_t>(k) * kSeedStride;
      if (try_candidate(reseeded)) return true;
    }
    return false;
  }
  static constexpr uint64_t kSeedStride = 7919;  // a prime: the seeds tried stay apart from one case to the next
  static constexpr int kFirstSeedsPerStep = 8, kMaxSeedsPerStep = 128;

  // A safety violation needs nothing after it: the run can stop a second later.
  bool cut_after_violation() {
    if (failure_.violation_at_us < 0) return false;
    Scenario candidate = best_;
    candidate.run_until = Instant::from_micros(failure_.violation_at_us) + Duration::seconds(1);
    std::erase_if(candidate.timeline, [&](const TimelineEntry& e) { return e.at >= candidate.run_until; });
    std::erase_if(candidate.expect, [&](const Expectation& e) { return e.at && *e.at > candidate.run_until; });
    for (TimelineEntry& e : candidate.timeline) {
      if (auto* flap = std::get_if<action::Flap>(&e.action)) flap->until = std::min(flap->until, candidate.run_until - Duration::millis(1));
    }
    return try_candidate(candidate);
  }

  // ddmin over the faults: remove halves, quarters, ... down to single faults.
  bool remove_faults() {
    bool any = false;
    size_t chunks = 2;
    for (;;) {
      const std::vector<Unit> units = fault_units(best_);
      if (units.empty()) break;
      chunks = std::min(chunks, units.size());
      bool removed = false;
      for (size_t c = 0; c < chunks && !removed; ++c) {
        std::vector<size_t> chunk;
        for (size_t u = units.size() * c / chunks; u < units.size() * (c + 1) / chunks; ++u) chunk.push_back(u);
        // Single faults get other seeds too: the ddmin rounds before them are cheap coarse cuts.
        const Scenario candidate = without_units(best_, units, chunk);
        removed = chunk.size() == 1 ? try_seeds(candidate) : try_candidate(candidate);
      }
      if (removed) {
        any = true;
        chunks = std::max<size_t>(chunks - 1, 2);
      } else if (chunks >= units.size() || runs_ >= limit_) {
        break;
      } else {
        chunks = std::min(chunks * 2, units.size());
      }
    }
    return any;
  }

  bool remove_one_replica() {
    const ClusterSpec& c = best_.cluster;
    for (int r = c.masters + c.replicas() - 1; r >= c.masters && runs_ < limit_; --r) {
      if (try_seeds(without_replica(best_, r))) return true;
    }
    return false;
  }

  bool remove_nodes() {
    bool any = false;
    for (bool removed = true; removed;) {
      removed = false;
      if (best_.cluster.imported) break;
      for (int place = best_.cluster.replicas_per_master - 1; !removed && place >= 0; --place) {
        removed = try_seeds(without_nodes(best_, -1, place));
      }
      // Many masters go at once first: those no action names (bystanders, though they vote), then
      // every one above 3, then half of those; then one at a time.
      if (!removed && best_.cluster.masters > 3) {
        Scenario candidate = best_;
        const std::vector<bool> named = named_masters(best_);
        for (int m = best_.cluster.masters - 1; m >= 0 && candidate.cluster.masters > 3; --m) {
          if (!named[static_cast<size_t>(m)]) candidate = without_nodes(candidate, m, -1);
        }
        removed = try_seeds(candidate);
      }
      for (int extra = best_.cluster.masters - 3; !removed && extra > 1; extra /= 2) {
        Scenario candidate = best_;
        for (int k = 0; k < extra; ++k) candidate = without_nodes(candidate, candidate.cluster.masters - 1, -1);
        removed = try_seeds(candidate);
      }
      for (int m = best_.cluster.masters - 1; !removed && m >= 0 && best_.cluster.masters > 3; --m) {
        removed = try_seeds(without_nodes(best_, m, -1));
      }
      if (!removed && best_.cluster.spares > 0) {
        Scenario candidate = best_;
        --candidate.cluster.spares;
        removed = try_candidate(candidate);
      }
      // A replica place again, with two shards swapped first: many runs, so last (and only together
      // with a removal, so the search ends).
      for (int place = best_.cluster.replicas_per_master - 1; !removed && place >= 0; --place) {
        for (int a = 0; !removed && a < best_.cluster.masters; ++a) {
          for (int b = a + 1; !removed && b < best_.cluster.masters; ++b) {
            removed = try_candidate(without_nodes(swapped_shards(best_, a, b), -1, place));
          }
        }
      }
      any |= removed;
    }
    return any;
  }

  // Faults shorter (their undo halfway closer), earlier (the gap before them halved), and a shorter
  // quiet period when the failure is not a liveness one.
  bool shorten_time() {
    bool any = false;
    for (const Unit& unit : fault_units(best_)) {
      if (unit.size() < 2) continue;
      Scenario candidate = best_;
      const Instant start = candidate.timeline[unit.front()].at;
      for (size_t k = 1; k < unit.size(); ++k) {
        TimelineEntry& undo = candidate.timeline[unit[k]];
        undo.at = start + (undo.at - start) / 2;
      }
      std::stable_sort(candidate.timeline.begin(), candidate.timeline.end(),
                       [](const TimelineEntry& a, const TimelineEntry& b) { return a.at < b.at; });
      if (try_candidate(candidate)) {
        any = true;
        break;  // the units moved: start again on the next round
      }
    }
    for (size_t i = 0; i < best_.timeline.size(); ++i) {
      const Instant before = i == 0 ? Instant::from_millis(1000) : best_.timeline[i - 1].at;
      const Duration gap = best_.timeline[i].at - before;
      if (gap < Duration::millis(200)) continue;
      Scenario candidate = best_;
      for (size_t j = i; j < candidate.timeline.size(); ++j) {
        candidate.timeline[j].at = candidate.timeline[j].at - gap / 2;
        if (auto* flap = std::get_if<action::Flap>(&candidate.timeline[j].action)) flap->until = flap->until - gap / 2;
      }
      candidate.run_until = candidate.run_until - gap / 2;
      any |= try_candidate(candidate);
    }
    return any;
  }

  // Settings back to Redis's and the network's defaults, one at a time.
  bool default_values() {
    bool any = false;
    for (size_t i = best_.cluster.config.size(); i-- > 0;) {
      if (best_.cluster.config[i].name == "cluster-node-timeout") continue;  // every time in the case hangs on it
      Scenario candidate = best_;
      candidate.cluster.config.erase(candidate.cluster.config.begin() + static_cast<std::ptrdiff_t>(i));
      any |= try_candidate(candidate);
    }
    const NetworkSpec defaults;
    auto try_network = [&](auto change) {
      Scenario candidate = best_;
      change(candidate.network);
      any |= try_candidate(candidate);
    };
    if (best_.network.loss != defaults.loss) try_network([&](NetworkSpec& n) { n.loss = defaults.loss; });
    if (best_.network.jitter != defaults.jitter) try_network([&](NetworkSpec& n) { n.jitter = defaults.jitter; });
    if (best_.network.latency != defaults.latency) try_network([&](NetworkSpec& n) { n.latency = defaults.latency; });
    if (best_.network.shape != defaults.shape) try_network([&](NetworkSpec& n) { n.shape = defaults.shape; });
    if (best_.network.tcp_syn_linear_timeouts != defaults.tcp_syn_linear_timeouts) {
      try_network([&](NetworkSpec& n) { n.tcp_syn_linear_timeouts = defaults.tcp_syn_linear_timeouts; });
    }
    if (best_.cluster.timer_phase != TimerPhase::InPhase) {
      Scenario candidate = best_;
      candidate.cluster.timer_phase = TimerPhase::InPhase;
      any |= try_candidate(candidate);
    }
    return any;
  }

  // The quiet period resumes every node; resuming a node that was never paused does nothing, so
  // those go without a run.
  void drop_idle_resumes() {
    std::set<std::string> paused;
    std::erase_if(best_.timeline, [&](const TimelineEntry& e) {
      if (const auto* pause = std::get_if<action::Pause>(&e.action)) paused.insert(describe(pause->node));
      const auto* resume = std::get_if<action::Resume>(&e.action);
      return resume != nullptr && !paused.contains(describe(resume->node));
    });
  }

  // Each fault left says why it stays: what the run does without it (one more run per fault, outside
  // the budget: the note is the point of the repro). A fault the run fails the same way without goes
  // (the budget ran out before ddmin reached it), and the others are explained again.
  void explain() {
    std::vector<Unit> units = fault_units(best_);
    std::vector<std::string> why(units.size());
    for (size_t u = 0; u < units.size();) {
      const Scenario candidate = without_units(best_, units, {u});
      const FuzzVerdict without = run_(candidate);
      ++runs_;
      if (without.signature == failure_.signature) {
        best_ = candidate;
        failure_ = without;
        units = fault_units(best_);
        why.assign(units.size(), "");
        u = 0;  // every fault again: one fewer can make another unneeded
        continue;
      }
      why[u++] = without.signature.empty() ? "needed: without it the run passes"
                                           : "needed: without it the run fails otherwise (" + without.signature + ")";
    }
    for (size_t u = 0; u < units.size(); ++u) {
      TimelineEntry& fault = best_.timeline[units[u].front()];
      fault.why = why[u];
      for (size_t k = 1; k < units[u].size(); ++k) {
        best_.timeline[units[u][k]].why = "ends the " + std::string(action_name(fault.action)) + " at " +
                                           std::to_string(fault.at.ms()) + " ms";
      }
    }
    const std::vector<bool> tail = restoring_tail(best_);
    for (size_t i = 0; i < tail.size(); ++i) {
      if (tail[i]) best_.timeline[i].why = "restores every cut and paused node (the quiet period begins)";
    }
  }

  Scenario best_;
  FuzzVerdict failure_;
  const FuzzRunner& run_;
  int max_runs_;
  int limit_ = 0;  // no run past it: the main loop's share of max_runs_, then all of it
  int runs_ = 0;
  int seeds_per_step_ = kFirstSeedsPerStep;  // seeds a structural step is tried under (with_more_seeds)
  std::set<std::string> tried_;  // sha256 of every candidate run, so none runs twice
};

}  // namespace

int scenario_size(const Scenario& scenario) {
  return static_cast<int>(scenario.timeline.size()) + scenario.cluster.node_count();
}

int fault_count(const Scenario& scenario) { return static_cast<int>(fault_units(scenario).size()); }

ShrinkResult shrink(const Scenario& failing, const FuzzVerdict& failure, const FuzzRunner& run, int max_runs) {
  assert(!failure.signature.empty());
  return Shrinker(failing, failure, run, max_runs).shrink();
}

}  // namespace rcsim::sim
