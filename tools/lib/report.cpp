#include "tools/lib/report.hpp"

#include <map>
#include <set>
#include <sstream>

#include "sim/workload.hpp"
#include "tools/lib/event_kinds.hpp"

namespace rcsim::tools {
namespace {

using nlohmann::json;

// Times users read are relative to the moment the cluster was created (scenario time 0).
int64_t rel_ms(const sim::RunResult& result, int64_t absolute_ms) {
  return absolute_ms < 0 ? -1 : absolute_ms - result.create_done.ms();
}

std::string alias_or(const sim::World& world, int index) { return index < 0 ? "?" : world.alias(index); }

json failover_json(const sim::RunResult& result, const sim::FailoverRecord& f) {
  const sim::World& world = *result.world;
  return json{{"old_master", alias_or(world, f.old_master)},
              {"new_master", alias_or(world, f.new_master)},
              {"epoch", f.epoch},
              {"mode", f.mode},
              {"fault_ms", rel_ms(result, f.fault_ms)},
              {"first_pfail_ms", rel_ms(result, f.first_pfail_ms)},
              {"fail_ms", rel_ms(result, f.fail_ms)},
              {"election_ms", rel_ms(result, f.election_ms)},
              {"promoted_ms", rel_ms(result, f.promoted_ms)},
              {"converged_ms", rel_ms(result, f.converged_ms)}};
}

json counters_json(const protocol::Node& node) {
  json counters = json::object();
  for (const bool sent : {true, false}) {
    int64_t total = 0;
    for (int type = 0; type < protocol::kMessageTypeCount; ++type) {
      const auto t = static_cast<protocol::MessageType>(type);
      const int64_t count = node.message_count(t, sent);
      total += count;
      counters[std::string("cluster_stats_messages_") + protocol::stats_name(t) + (sent ? "_sent" : "_received")] = count;
    }
    counters[sent ? "cluster_stats_messages_sent" : "cluster_stats_messages_received"] = total;
    counters[sent ? "bytes_sent" : "bytes_received"] = node.message_bytes(sent);
  }
  return counters;
}

// The writes checker's result (sim/workload.hpp); times in scenario time.
json clients_json(const sim::RunResult& result, const sim::ClientsReport& c) {
  const sim::World& world = *result.world;
  json recoveries = json::array();
  for (const auto& r : c.recoveries) {
    const auto ms_or_null = [](int64_t ms) { return ms < 0 ? json(nullptr) : json(ms); };
    recoveries.push_back({{"old_master", alias_or(world, r.old_master)},
                          {"new_master", alias_or(world, r.new_master)},
                          {"fault_ms", rel_ms(result, r.fault_us / 1000)},
                          {"first_client_back_ms", ms_or_null(r.first_client_back_ms)},
                          {"all_clients_back_ms", ms_or_null(r.all_clients_back_ms)}});
  }
  return json{{"client", c.client},
              {"error_ms_per_client", c.error_ms_per_client},
              {"longest_without_write_ms", c.longest_without_write_ms},
              {"recoveries", recoveries},
              {"acked_by_replaced_master", c.acked_by_replaced}};
}

json writes_json(const sim::RunResult& result, const sim::WritesReport& r) {
  const sim::World& world = *result.world;
  json by_reason = json::object();
  for (const auto& [reason, count] : r.lost_by_reason) by_reason[reason] = count;
  json failed_by = json::object();
  for (const auto& [reason, count] : r.failed_by_reason) failed_by[reason] = count;
  int64_t first_lost_ack = -1, last_lost_ack = -1;
  std::map<std::string, uint64_t> by_node;
  for (const sim::LostWrite& w : r.lost_writes) {
    if (first_lost_ack < 0) first_lost_ack = w.ack_us;
    first_lost_ack = std::min(first_lost_ack, w.ack_us);
    last_lost_ack = std::max(last_lost_ack, w.ack_us);
    ++by_node[alias_or(world, w.acked_by)];
  }
  json lost_by_node = json::object();
  for (const auto& [alias, count] : by_node) lost_by_node[alias] = count;
  return json{{"attempted", r.attempted},
              {"acked", r.acked},
              {"failed", r.failed},
              {"lost", r.lost},
              {"lost_by_reason", by_reason},
              {"lost_by_node", lost_by_node},
              {"max_loss_window_ms", r.max_loss_window_ms},
              {"loss_bound_ms", r.bound_ms},
              {"first_lost_ack_ms", first_lost_ack < 0 ? -1 : rel_ms(result, first_lost_ack / 1000)},
              {"last_lost_ack_ms", last_lost_ack < 0 ? -1 : rel_ms(result, last_lost_ack / 1000)},
              {"failed_by_reason", failed_by},
              {"reads", {{"attempted", r.reads_attempted}, {"ok", r.reads_ok}, {"failed", r.reads_failed}}},
              {"clients", clients_json(result, r.clients)}};
}

}  // namespace

std::string lost_writes_jsonl(const sim::RunResult& result) {
  const sim::World& world = *result.world;
  const sim::Workload* workload = world.workload();
  if (workload == nullptr) return {};
  std::string out;
  for (const sim::LostWrite& w : workload->report().lost_writes) {
    json line{{"write", w.value},
              {"key", w.key},
              {"client", w.client},
              {"acked_by", alias_or(world, w.acked_by)},
              {"sent_ms", static_cast<double>(w.sent_us - result.create_done.us) / 1000.0},
              {"ack_ms", static_cast<double>(w.ack_us - result.create_done.us) / 1000.0},
              {"reason", w.reason},
              {"cut_ms", w.cut_us < 0 ? json(nullptr) : json(static_cast<double>(w.cut_us - result.create_done.us) / 1000.0)},
              {"window_ms", w.cut_us < 0 ? json(nullptr) : json(static_cast<double>(w.ack_us - w.cut_us) / 1000.0)},
              {"cut_both_ways", w.cut_both_ways},
              {"final_value", w.final_value ? json(*w.final_value) : json(nullptr)},
              {"read_from", alias_or(world, w.final_owner)}};
    out += line.dump() + "\n";
  }
  return out;
}

namespace {

// Per shard (an initial master's slots and its replicas): who serves its first slot at the end. A master
// that boots without slots has no shard.
struct ShardOutcome {
  int master = 0;
  std::vector<sim::SlotRange> slots;
  std::vector<int> replicas;
  int served_by = -1;   // -1: no live node serves the slots
  bool all_down = false;  // every node of the shard is down
  std::string outcome() const { return served_by < 0 ? "no_master" : served_by == master ? "kept" : "failed_over"; }
};

std::vector<ShardOutcome> shard_outcomes(const sim::World& world) {
  std::vector<ShardOutcome> out;
  for (int m = 0; m < world.masters(); ++m) {
    if (world.initial_slots(m).empty()) continue;
    ShardOutcome shard;
    shard.master = m;
    shard.slots = world.initial_slots(m);
    for (int r = world.masters(); r < world.members(); ++r) {
      if (world.initial_master_of(r) == m) shard.replicas.push_back(r);
    }
    shard.served_by = world.current_master_of_slot(shard.slots.front().first);
    shard.all_down = world.node(m) == nullptr;
    for (const int r : shard.replicas) shard.all_down = shard.all_down && world.node(r) == nullptr;
    out.push_back(std::move(shard));
  }
  return out;
}

std::string shard_text(const sim::World& world, const ShardOutcome& shard) {
  std::string text = world.alias(shard.master) + "'s slots " + sim::slot_ranges_text(shard.slots) + ": ";
  if (shard.served_by == shard.master) return text + "kept its master";
  if (shard.served_by >= 0) return text + "failed over, served by " + world.alias(shard.served_by);
  text += "no master";
  if (shard.all_down) {
    text += " (" + world.alias(shard.master);
    for (const int r : shard.replicas) text += ", " + world.alias(r);
    text += " all down: the shard's data is gone with them)";
  }
  return text;
}

}  // namespace

nlohmann::json summary_json(const sim::RunResult& result, const RunContext& context) {
  const sim::World& world = *result.world;
  json summary;
  summary["scenario"] = context.scenario->name;
  summary["scenario_file"] = context.scenario_file;
  summary["seed"] = result.seed;
  summary["verdict"] = result.passed() ? "pass" : "fail";
  summary["trace_sha256"] = const_cast<sim::World&>(world).trace().sha256();
  summary["trace_records"] = const_cast<sim::World&>(world).trace().records();
  summary["trace_messages"] = world.options().trace_messages;  // false: --no-message-trace
  summary["events"] = const_cast<sim::World&>(world).scheduler().events_fired();
  summary["simulated_ms"] = result.end.ms();
  summary["cluster_created_at_ms"] = result.create_done.ms();
  // The bus from scenario time 0 (the cluster's creation) or sim --bus-from, every node together: for
  // cost per node per second.
  const sim::BusTotals bus = world.bus_sent();
  const sim::BusTotals& from = result.bus_at_from;
  summary["bus_sent"] = {{"from_ms", rel_ms(result, result.bus_from.ms())},
                         {"seconds", static_cast<double>((result.end - result.bus_from).us) / 1e6},
                         {"messages", bus.messages - from.messages},
                         {"bytes", bus.bytes - from.bytes},
                         {"gossip_entries", bus.gossip_entries - from.gossip_entries},
                         {"connects", bus.connects - from.connects}};
  summary["wall_ms"] = context.wall_ms;
  json expectations = json::array();
  for (const auto& e : result.expectations) {
    expectations.push_back({{"check", e.check}, {"label", e.label}, {"at_ms", rel_ms(result, e.at_ms)},
                            {"passed", e.passed}, {"detail", e.detail}});
  }
  summary["expectations"] = expectations;
  json invariants = json::array();
  std::set<std::string> violated;
  for (const auto& v : world.violations()) {
    violated.insert(v.invariant);
    invariants.push_back({{"invariant", v.invariant}, {"t_ms", rel_ms(result, v.t_us / 1000)}, {"detail", v.detail}});
  }
  json checked = json::object();
  for (const char* name : sim::kInvariantNames) {
    checked[name] = violated.contains(name) ? "violated" : "held";
  }
  summary["invariants"] = checked;
  summary["violations"] = invariants;
  summary["cluster_created"] = result.cluster_created;
  summary["action_errors"] = result.action_errors;
  summary["liveness_problems"] = result.liveness_problems;
  json failovers = json::array();
  for (const auto& f : world.failovers()) failovers.push_back(failover_json(result, f));
  summary["failovers"] = failovers;
  if (const sim::Workload* workload = world.workload(); workload != nullptr && workload->report().checked) {
    summary["writes"] = writes_json(result, workload->report());
  }
  json nodes = json::object();
  for (int i = 0; i < world.node_count(); ++i) {
    const protocol::Node* n = world.node(i);
    json entry{{"state", n == nullptr ? "crashed" : (world.is_up(i) ? "up" : "paused")}};
    if (n != nullptr) {
      entry["name"] = n->name().str();
      entry["role"] = n->myself().is_master() ? "master" : "replica";
      entry["current_epoch"] = n->current_epoch();
      entry["config_epoch"] = n->myself().config_epoch;
      entry["cluster_state"] = n->state_ok() ? "ok" : "fail";
      entry["slots"] = n->myself().numslots;
      entry["counters"] = counters_json(*n);
    }
    if (const auto& imported = context.scenario->cluster.imported; imported && i < imported->layout.size()) {
      entry["imported_address"] = imported->addresses[i];
    }
    nodes[world.alias(i)] = entry;
  }
  summary["nodes"] = nodes;
  json shards = json::array();
  for (const ShardOutcome& shard : shard_outcomes(world)) {
    shards.push_back({{"master", world.alias(shard.master)},
                      {"slots", sim::slot_ranges_text(shard.slots)},
                      {"outcome", shard.outcome()},
                      {"served_by", shard.served_by < 0 ? json(nullptr) : json(world.alias(shard.served_by))},
                      {"all_down", shard.all_down}});
  }
  summary["shards"] = shards;
  const sim::ClusterSpec& cluster = context.scenario->cluster;
  if (cluster.placement.has_zones() || cluster.placement.has_hosts()) {
    json placement = json::object();
    for (int i = 0; i < cluster.node_count(); ++i) {
      json where = json::object();
      if (cluster.placement.has_zones()) where["zone"] = cluster.placement.zones[cluster.placement.zone_of[i]];
      if (cluster.placement.has_hosts()) where["host"] = cluster.placement.hosts[cluster.placement.host_of[i]];
      placement[cluster.alias(i)] = where;
    }
    summary["placement"] = placement;
    summary["placement_risks"] = cluster.placement_risks();
  }
  return summary;
}

std::string nodes_txt(const sim::World& world) {
  std::string out;
  for (int i = 0; i < world.node_count(); ++i) {
    out += "# " + world.alias(i) + " (" + world.address(i).ip.str() + ":" + std::to_string(world.address(i).port) + ")";
    if (world.node(i) == nullptr) {
      out += ": crashed\n\n";
      continue;
    }
    out += world.is_up(i) ? "\n" : ": paused\n";
    out += world.cluster_nodes(i) + "\n";
  }
  return out;
}

namespace {

// Events worth a line in the human summary, with how to say them.
std::string describe_event(const sim::World& world, const sim::ObservedEvent& e) {
  const std::string who = e.node >= 0 ? world.alias(e.node) : "";
  const std::string about = e.about >= 0 ? world.alias(e.about) : "?";
  const std::string epoch = std::to_string(e.epoch);
  if (e.kind == "pfail") return who + " flags " + about + " PFAIL (no pong for " + std::to_string(e.value) + " ms)";
  if (e.kind == "fail") return who + " marks " + about + " FAIL (" + e.detail + ") and broadcasts FAIL";
  if (e.kind == "election_scheduled") return who + " schedules an election in " + std::to_string(e.value) + " ms (" + e.detail + ")";
  if (e.kind == "election_started") return who + " starts election epoch " + epoch + ", asks for votes";
  if (e.kind == "vote_granted") return who + " votes for " + about + " in epoch " + epoch;
  if (e.kind == "vote_refused") return who + " refuses " + about + " in epoch " + epoch + ": " + e.detail;
  if (e.kind == "election_won") return who + " wins epoch " + epoch + " with " + std::to_string(e.value) + " votes";
  if (e.kind == "promoted") return who + " is master now, replacing " + about + " (configEpoch " + epoch + ", " + e.detail + ")";
  if (e.kind == "election_expired") return who + " election epoch " + epoch + " expired with " + std::to_string(e.value) + " votes";
  if (e.kind == "cant_failover") return who + " can't fail over: " + e.detail;
  if (e.kind == "state_fail") return who + " cluster_state fail (" + e.detail + ")";
  if (e.kind == "state_ok") return who + " cluster_state ok";
  if (e.kind == "update_received") return who + " learns by UPDATE that " + about + " has configEpoch " + epoch;
  if (e.kind == "replicating") return who + " becomes a replica of " + about;
  if (e.kind == "config_epoch_collision") return who + " resolves a configEpoch collision with " + about + " -> " + epoch;
  if (e.kind == "config_epoch_bumped") return who + " bumps its configEpoch to " + epoch + " without consensus";
  if (e.kind == "manual_failover_requested") return who + " CLUSTER FAILOVER " + e.detail;
  if (e.kind == "manual_failover_timeout") return who + " manual failover timed out";
  if (e.kind == "replica_migration") return who + " migrates to orphaned master " + about;
  if (e.kind.rfind("action_", 0) == 0) return "** " + e.kind.substr(7) + (who.empty() ? "" : " " + who) + (e.detail.empty() ? "" : " " + e.detail);
  return {};
}

}  // namespace

namespace {

// An imported cluster's aliases with the file's ids and addresses; "" for any other.
std::string imported_text(const sim::Scenario& scenario) {
  const sim::ClusterSpec& cluster = scenario.cluster;
  if (!cluster.imported) return "";
  const sim::ImportedCluster& imported = *cluster.imported;
  std::ostringstream out;
  out << "imported cluster (" << imported.layout.size() << " nodes, currentEpoch " << imported.layout.current_epoch << "):\n";
  for (int i = 0; i < imported.layout.size(); ++i) {
    const sim::MemberLayout& member = imported.layout.members[i];
    out << "  " << cluster.alias(i) << " = " << member.name << " " << imported.addresses[i] << ": ";
    if (member.master < 0) out << "master, epoch " << member.config_epoch << ", slots " << (member.slots.empty() ? "none" : sim::slot_ranges_text(member.slots));
    else out << "replica of " << cluster.alias(member.master);
    out << (member.no_failover ? ", nofailover" : "")
        << (member.down_flag.empty() ? "" : ", down (flagged " + member.down_flag + " in the file)") << "\n";
  }
  return out.str();
}

}  // namespace

std::string human_summary(const sim::RunResult& result, const RunContext& context) {
  const sim::World& world = *result.world;
  std::ostringstream out;
  out << context.scenario->name << " (seed " << result.seed << "): " << context.scenario->description << "\n";
  out << "cluster created in " << result.create_done.ms() << " ms; times below are from then\n";
  out << imported_text(*context.scenario) << "\n";
  // First occurrence per (kind, node, about) keeps PFAIL noise down: 5 nodes flag the same master.
  std::set<std::tuple<std::string, int, int, int64_t>> seen;
  // In a large cluster the crowd's events (event_kinds.hpp) get the first few lines of each kind
  // (about the same node, in the same epoch) and a count.
  constexpr int kCrowdLinesShown = 3;
  const bool large = world.node_count() > kEveryNodeShownUpTo;
  std::map<std::tuple<std::string, int, int64_t>, int> crowd_lines;  // (kind, about, epoch) -> lines so far
  int crowd_lines_left_out = 0;
  for (const sim::ObservedEvent& e : world.events()) {
    if (e.t_us < result.create_done.us && e.kind.rfind("action_", 0) != 0) continue;
    if (e.kind == "action_cluster_created") continue;
    if (!seen.insert({e.kind, e.node, e.about, e.kind == "pfail" ? 0 : e.epoch}).second && e.kind != "vote_granted") continue;
    const std::string text = describe_event(world, e);
    if (text.empty()) continue;
    if (large && crowd_event_kind(e.kind) && ++crowd_lines[{e.kind, e.about, e.epoch}] > kCrowdLinesShown) {
      ++crowd_lines_left_out;
      continue;
    }
    char time[32];
    std::snprintf(time, sizeof time, "%9.3fs  ", static_cast<double>(rel_ms(result, e.t_us / 1000)) / 1000.0);
    out << time << text << "\n";
  }
  if (crowd_lines_left_out > 0) {
    out << "  (" << crowd_lines_left_out << " more lines like those above, by other nodes of the " << world.node_count()
        << ": PFAIL/FAIL marks, votes, cluster_state changes; trace.jsonl has every event)\n";
  }
  if (!world.failovers().empty()) out << "\nfailovers:\n";
  for (const auto& f : world.failovers()) {
    out << "  " << alias_or(world, f.new_master) << " replaced " << alias_or(world, f.old_master) << " at epoch "
        << f.epoch << " (" << f.mode << "): fault " << rel_ms(result, f.fault_ms) << " ms, pfail +"
        << (f.first_pfail_ms < 0 ? -1 : f.first_pfail_ms - f.fault_ms) << ", fail +"
        << (f.fail_ms < 0 ? -1 : f.fail_ms - f.fault_ms) << ", promoted +" << f.promoted_ms - f.fault_ms
        << ", all agree +" << (f.converged_ms < 0 ? -1 : f.converged_ms - f.fault_ms) << " ms\n";
  }
  out << "\nfinal roles:";
  // A large cluster lists only the nodes that are down, not ok, or no longer in their first role
  // (masters, then replicas, then spares, which start as masters without slots).
  int as_created = 0;
  for (int i = 0; i < world.node_count(); ++i) {
    const protocol::Node* n = world.node(i);
    const bool first_role_master = i < world.masters() || i >= world.members();
    if (large && n != nullptr && n->state_ok() && n->myself().is_master() == first_role_master) {
      ++as_created;
      continue;
    }
    out << " " << world.alias(i) << "=";
    if (n == nullptr) out << "down";
    else out << (n->myself().is_master() ? "master" : "replica") << "(e" << n->myself().config_epoch << ","
             << (n->state_ok() ? "ok" : "fail") << ")";
  }
  if (as_created > 0) out << (as_created < world.node_count() ? "; " : " ") << as_created << " other nodes in their first role, ok";
  out << "\n";
  // Shards: every one in a small cluster; in a large one those that did not keep their master.
  std::vector<std::string> shard_lines;
  int shards_kept = 0;
  for (const ShardOutcome& shard : shard_outcomes(world)) {
    if (large && shard.served_by == shard.master) {
      ++shards_kept;
      continue;
    }
    shard_lines.push_back(shard_text(world, shard));
  }
  out << "\nshards:";
  for (const std::string& line : shard_lines) out << "\n  " << line;
  if (shards_kept > 0) out << "\n  " << shards_kept << " other shards kept their master";
  out << "\n";
  const sim::ClusterSpec& cluster = context.scenario->cluster;
  if (cluster.placement.has_zones() || cluster.placement.has_hosts()) {
    out << "\nplacement:";
    const sim::Placement& p = cluster.placement;
    const std::vector<std::string>& names = p.has_zones() ? p.zones : p.hosts;
    for (int d = 0; d < static_cast<int>(names.size()); ++d) {
      out << "\n  " << (p.has_zones() ? "zone " : "host ") << names[d] << ":";
      for (int i : p.has_zones() ? p.nodes_in_zone(d) : p.nodes_on_host(d)) {
        out << " " << cluster.alias(i) << (p.has_zones() && p.has_hosts() ? "@" + p.hosts[p.host_of[i]] : "");
      }
    }
    const std::vector<std::string> risks = cluster.placement_risks();
    for (const std::string& risk : risks) out << "\n  RISK: " << risk;
    if (risks.empty()) out << "\n  no zone or host holds a majority of the masters, or a master with all its replicas";
    out << "\n";
  }
  for (const auto& error : result.action_errors) out << "action error: " << error << "\n";
  for (const auto& v : world.violations()) out << "INVARIANT VIOLATED " << v.invariant << ": " << v.detail << "\n";
  for (const auto& p : result.liveness_problems) out << "not converged: " << p << "\n";
  out << "\nexpectations:\n";
  for (const auto& e : result.expectations) {
    out << "  [" << (e.passed ? "pass" : "FAIL") << "] " << e.check << (e.label.empty() ? "" : " (" + e.label + ")")
        << " at " << rel_ms(result, e.at_ms) << " ms: " << e.detail << "\n";
  }
  if (const sim::Workload* workload = world.workload(); workload != nullptr && workload->report().checked) {
    const sim::WritesReport& r = workload->report();
    out << "\nwrites: " << r.attempted << " attempted, " << r.acked << " acknowledged, " << r.failed << " failed, "
        << r.lost << " acknowledged and lost";
    for (const auto& [reason, count] : r.lost_by_reason) out << "; " << count << " " << reason;
    if (r.max_loss_window_ms >= 0) out << "; loss window up to " << r.max_loss_window_ms << " ms after the cut";
    out << "\n";
    const sim::ClientsReport& c = r.clients;
    out << "clients (" << c.client << "): " << c.error_ms_per_client << " ms per client in failed or unfinished writes, "
        << "longest without a write " << c.longest_without_write_ms << " ms, " << c.acked_by_replaced
        << " writes acknowledged by a replaced master\n";
    for (const auto& rec : c.recoveries) {
      out << "  after " << alias_or(world, rec.old_master) << "'s fault: first write on " << alias_or(world, rec.new_master)
          << (rec.first_client_back_ms < 0 ? std::string(" never") : " +" + std::to_string(rec.first_client_back_ms) + " ms")
          << ", every client "
          << (rec.all_clients_back_ms < 0 ? std::string("not by the end") : "+" + std::to_string(rec.all_clients_back_ms) + " ms") << "\n";
    }
  }
  if (!result.cluster_created) out << "the cluster never reached cluster_state ok everywhere\n";
  out << "\nverdict: " << (result.passed() ? "PASS" : "FAIL") << "  trace sha256 "
      << const_cast<sim::World&>(world).trace().sha256() << "\n";
  return out.str();
}

}  // namespace rcsim::tools
