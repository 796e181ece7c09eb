#include "sim/world.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdlib>

#include "sim/workload.hpp"

namespace rcsim::sim {
namespace {

constexpr uint16_t kFirstPort = 30001;  // create-cluster's PORT=30000, first node 30001

}  // namespace

World::World(const WorldOptions& options)
    : options_(options),
      layout_(options.layout ? *options.layout : layout_by_rule(options.masters, options.replicas_per_master)),
      rng_(options.seed),
      node_rng_(rng_.fork("nodes")) {
  assert(layout_.masters >= 1 && layout_.masters <= layout_.size() && options_.spares >= 0);
  if (!options_.trace_path.empty()) trace_.open_file(options_.trace_path);
  network_ = std::make_unique<Network>(scheduler_, rng_);
  network_->set_syn_schedule(options_.syn_schedule);
  network_->set_shared_timer_wheel(options_.shared_timer_wheel);
  Rng setup = rng_.fork("setup");
  // Redis's mstime() is Unix time; starting somewhere inside a second shifts the truncation of the
  // seconds-resolution times in gossip, as on a real machine.
  clock_base_ms_ = 1'700'000'000'000 + static_cast<int64_t>(setup.below(1000));
  const int total = members() + options_.spares;
  for (int i = 0; i < total; ++i) {
    std::string alias;
    if (i < masters()) alias = "m" + std::to_string(i + 1);
    else if (i < members()) alias = "r" + std::to_string(i - masters() + 1);
    else alias = "s" + std::to_string(i - members() + 1);
    aliases_.push_back(alias);
    protocol::Address address{"127.0.0.1", client_port(i), static_cast<uint16_t>(client_port(i) + kBusPortIncrement)};
    if (i < members() && !layout_.members[i].ip.empty()) {
      const MemberLayout& member = layout_.members[i];
      address = protocol::Address{member.ip, member.port, member.cport};
    }
    // A spare beside an imported cluster on 127.0.0.1 takes the next free ports.
    while (index_by_client_.count({address.ip, address.port}) || index_by_bus_.count({address.ip, address.cport}) ||
           index_by_client_.count({address.ip, address.cport}) || index_by_bus_.count({address.ip, address.port})) {
      assert(i >= members() && "imported addresses were checked unique at load");
      ++address.port;
      ++address.cport;
    }
    addresses_.push_back(address);
    index_by_client_[{address.ip, address.port}] = i;
    index_by_bus_[{address.ip, address.cport}] = i;
    hosts_.push_back(std::make_unique<Host>(scheduler_, *network_, address.ip.str()));
    index_by_host_[hosts_.back()->id()] = i;
    // Nodes started together run their crons nearly in phase (redis-reference: within a few ms).
    const int64_t phase_us = options_.staggered_timers ? static_cast<int64_t>(setup.below(100'000))
                                                       : static_cast<int64_t>(setup.below(5'000));
    cron_phase_.push_back(Duration::micros(phase_us));
  }
  set_network(options_.default_link, options_.link_overrides, options_.chaos);
  touched_flag_.assign(total, 0);
  heard_.resize(total);
  carried_acks_.assign(total, 0);
  electing_.assign(total, false);
  fault_ms_.assign(total, -1);
  fault_history_.assign(total, {});
  unreachable_since_us_.assign(total, {});
  config_set_at_resume_.assign(total, {});
  minority_reported_.assign(total, false);
  last_numslots_.assign(total, 0);
  last_master_us_.assign(total, -1);
  clock_offset_us_.assign(total, 0);
  clock_step_us_.assign(total, 0);
  clock_step_at_us_.assign(total, -1'000'000'000'000);
  names_.assign(total, protocol::NodeName{});
  former_names_.assign(total, {});
  max_current_epoch_.assign(total, 0);
  for (int i = 0; i < total; ++i) start_process(i, cron_phase_[i]);
  if (options_.check_minority_bound) {
    // Sampled on the cron period: the bound is in hundreds of milliseconds.
    scheduler_.after(Duration::millis(100), [this] { check_minority_masters(); });
  }
}

World::~World() { trace_.flush(); }

void World::start_process(int index, Duration first_cron) {
  RedisProcessOptions process_options;
  process_options.config = options_.config;
  process_options.address = addresses_[index];
  process_options.bugs = options_.bugs;
  process_options.cron_phase = first_cron;
  process_options.clock_base_ms = clock_base_ms_;
  RedisProcess::Callbacks callbacks;
  callbacks.resolve = [this](const protocol::Address& address) -> std::optional<HostId> {
    const auto by_bus = index_by_bus_.find({address.ip, address.cport});
    if (by_bus != index_by_bus_.end() && addresses_[by_bus->second].port == address.port) return hosts_[by_bus->second]->id();
    const auto by_client = index_by_client_.find({address.ip, address.port});
    if (by_client != index_by_client_.end()) return hosts_[by_client->second]->id();
    return std::nullopt;
  };
  callbacks.client_port_of = [this](const protocol::Address& address) { return client_port_of(address); };
  callbacks.on_event = [this, index](const protocol::NodeEvent& event) { on_node_event(index, event); };
  callbacks.on_message = [this, index](const protocol::Message& message, HostId) { on_message(index, message); };
  callbacks.on_send = [this, index](const protocol::Message& message, HostId to) { on_send(index, message, to); };
  callbacks.after_input = [this, index] { check_after_input(index); };
  hosts_[index]->start(std::make_unique<RedisProcess>(*hosts_[index], node_rng_, interner_, process_options, callbacks));
  set_name(index, node(index)->name());
}

void World::set_name(int index, const protocol::NodeName& name) {
  const protocol::NodeName old_name = names_[index];
  if (old_name == name) return;
  names_[index] = name;
  if (!old_name.empty()) former_names_[index].push_back(old_name);
  reindex_name(old_name);
  reindex_name(name);
}

// index_by_name_[name] = the lowest index whose last known name it is, as a walk over names_ finds.
void World::reindex_name(const protocol::NodeName& name) {
  if (name.empty()) return;  // a node not started yet has no name
  for (int i = 0; i < node_count(); ++i) {
    if (names_[i] == name) {
      index_by_name_[name] = i;
      return;
    }
  }
  index_by_name_.erase(name);
}

uint64_t World::in_flight_key(const protocol::Message& message, int to) {
  // User-space addresses fit in 48 bits; node indexes in the 16 above.
  const auto address = reinterpret_cast<uintptr_t>(&message);
  assert(address < (uint64_t{1} << 48) && to >= 0 && to < (1 << 16));
  return static_cast<uint64_t>(address) | (static_cast<uint64_t>(to) << 48);
}

std::optional<int> World::index_of(const std::string& alias) const {
  for (int i = 0; i < node_count(); ++i) {
    if (aliases_[i] == alias) return i;
  }
  return std::nullopt;
}

std::optional<int> World::index_of_name(const protocol::NodeName& name) const {
  // Last known names: a crashed node is still named by what it was called.
  const int* index = index_by_name_.find(name);
  if (index == nullptr) return std::nullopt;
  return *index;
}

bool World::is_running(int index) const { return hosts_.at(index)->state() != HostState::crashed; }
bool World::is_up(int index) const { return hosts_.at(index)->state() == HostState::up; }

RedisProcess* World::process(int index) {
  if (!is_running(index)) return nullptr;
  return static_cast<RedisProcess*>(hosts_.at(index)->process());
}

const protocol::Node* World::node(int index) const {
  return const_cast<World*>(this)->node(index);
}

protocol::Node* World::node(int index) {
  RedisProcess* p = process(index);
  return p == nullptr ? nullptr : &p->node();
}

int World::initial_master_of(int replica_index) const {
  assert(replica_index >= masters() && replica_index < members());
  return layout_.members[replica_index].master;
}

const std::vector<SlotRange>& World::initial_slots(int master_index) const {
  assert(master_index >= 0 && master_index < masters());
  return layout_.members[master_index].slots;
}

bool World::create_cluster(Duration limit) {
  // redis-cli --cluster create: slots, config epochs, MEET with the first node, then REPLICATE.
  assert(std::all_of(layout_.members.begin(), layout_.members.end(),
                     [](const MemberLayout& m) { return m.name.empty() && m.down_flag.empty(); }) &&
         "an imported layout boots from nodes.conf");
  const int masters = this->masters();
  const int cluster_nodes = members();
  run_for(Duration::millis(10));
  for (int m = 0; m < masters; ++m) {
    std::vector<int> slots;
    for (const SlotRange& range : initial_slots(m)) {
      for (int s = range.first; s <= range.last; ++s) slots.push_back(s);
    }
    const auto result = add_slots(m, slots);
    assert(result.ok);
  }
  for (int i = 0; i < cluster_nodes; ++i) {
    const uint64_t epoch = layout_.members[i].config_epoch;
    process(i)->command([epoch](protocol::Node& n, int64_t now) { return n.set_config_epoch(epoch, now); });
  }
  for (int i = 1; i < cluster_nodes; ++i) meet(i, 0);
  const Instant deadline = now() + limit;
  auto knows_everyone = [&](int i) {
    const protocol::Node* n = node(i);
    return static_cast<int>(n->node_list().size()) - n->handshake_nodes() >= cluster_nodes;
  };
  if (!run_until_every_member(knows_everyone, deadline)) return false;
  for (int r = masters; r < cluster_nodes; ++r) {
    const protocol::NodeName master = node(initial_master_of(r))->name();
    const auto result = process(r)->command([&](protocol::Node& n, int64_t now) { return n.replicate(master, now); });
    assert(result.ok);
  }
  // Then every member lists every replica under its master, as the operator's CLUSTER NODES would.
  auto roles_known = [&](int i) {
    const protocol::Node* n = node(i);
    for (int r = masters; r < cluster_nodes; ++r) {
      const protocol::ClusterNode* replica = n->find(names_[r]);
      if (replica == nullptr || !replica->is_replica() || replica->master == nullptr ||
          !(replica->master->name == names_[initial_master_of(r)])) {
        return false;
      }
    }
    return true;
  };
  const bool ok = run_until_cluster_ok(deadline) && run_until_every_member(roles_known, deadline);
  trace_action("cluster_created", -1, ok ? "ok" : "not converged");
  return ok;
}

bool World::restart_as_created_cluster(Duration limit) {
  // What create_cluster leaves on every disk (the layout's slots, configEpochs, replicas and
  // currentEpoch), written directly: the MEET/handshake phase costs O(N^2) messages of O(N) gossip,
  // minutes of wall time at 1000 nodes. An imported layout names its nodes; the rule's keep the names
  // they drew at first boot.
  const int cluster_nodes = members();
  std::vector<protocol::NodeName> names(cluster_nodes);
  for (int j = 0; j < cluster_nodes; ++j) {
    const std::string& name = layout_.members[j].name;
    names[j] = names_[j];
    if (!name.empty()) {
      [[maybe_unused]] const bool parsed = protocol::NodeName::parse(name, names[j]);
      assert(parsed && "imported names were validated at load");
    }
  }
  // Per member: "<name> <address> " and what follows its flags. Any non-zero pong time loads as "now"
  // (clusterLoadConfig).
  std::vector<std::string> ids(cluster_nodes);
  for (int j = 0; j < cluster_nodes; ++j) ids[j] = names[j].str();
  std::vector<std::string> heads(cluster_nodes);
  std::vector<std::string> tails(cluster_nodes);
  for (int j = 0; j < cluster_nodes; ++j) {
    const protocol::Address& address = addresses_[j];
    heads[j] = ids[j] + " " + address.ip.str() + ":" + std::to_string(address.port) + "@" + std::to_string(address.cport) + " ";
    tails[j] = member_line_tail(layout_, j, ids, clock_base_ms_);
  }
  const std::string vars = vars_line(layout_);
  for (int i = 0; i < cluster_nodes; ++i) {
    std::string conf;
    for (int j = 0; j < cluster_nodes; ++j) conf += heads[j] + (j == i ? "myself," : "") + tails[j];
    conf += vars;
    hosts_[i]->crash();
    hosts_[i]->disk().write("nodes.conf", std::move(conf), /*fsync=*/true);
    if (!layout_.members[i].down_flag.empty()) {  // down, as the imported file says: its disk waits for a restart
      set_name(i, names[i]);
      continue;
    }
    start_process(i, cron_phase_[i]);
    assert(names_[i] == node(i)->name() && names_[i] == names[i]);
  }
  const bool ok = run_until_cluster_ok(now() + limit);
  trace_action("cluster_created", -1, ok ? "ok (restarted from nodes.conf)" : "not converged");
  return ok;
}

bool World::run_until_cluster_ok(Instant deadline) {
  // cluster_state ok everywhere, and every replica has finished its first sync.
  const int masters = this->masters();
  auto node_ok = [&](int i) { return node(i)->state_ok() && (i < masters || process(i)->replication_ok()); };
  return run_until_every_member(node_ok, deadline);
}

template <typename Predicate>
bool World::run_until_every_member(const Predicate& ok, Instant deadline) {
  // Asked after every event: a node's view changes only while it handles an input (which ends in
  // check_after_input), so only the nodes touched since are asked again. A member that is down (an
  // imported cluster's node the file flags failing) is not asked.
  const int cluster_nodes = members();
  for (const int i : touched_) touched_flag_[i] = 0;
  touched_.clear();
  std::vector<uint8_t> good(cluster_nodes, 0);
  int failing = 0;
  for (int i = 0; i < cluster_nodes; ++i) {
    good[i] = !is_running(i) || ok(i) ? 1 : 0;
    failing += good[i] ? 0 : 1;
  }
  return scheduler_.run_until(
      [&] {
        for (const int i : touched_) {
          touched_flag_[i] = 0;
          if (i >= cluster_nodes) continue;
          const uint8_t now_good = !is_running(i) || ok(i) ? 1 : 0;
          failing += static_cast<int>(good[i]) - static_cast<int>(now_good);
          good[i] = now_good;
        }
        touched_.clear();
        return failing == 0;
      },
      deadline);
}

void World::trace_action(const char* kind, int index, const std::string& detail) {
  TraceRecord record(now(), kind);
  if (index >= 0) record.add("node", aliases_[index]);
  if (!detail.empty()) record.add("detail", detail);
  trace_.record(record);
  ObservedEvent e;
  e.t_us = now().us;
  e.node = index;
  e.kind = std::string("action_") + kind;
  e.detail = detail;
  events_.push_back(std::move(e));
}

void World::note_fault(int index, const char* kind) {
  fault_ms_.at(index) = now().ms();
  fault_history_.at(index).push_back(FaultRecord{now().us, kind});
}

uint16_t World::client_port(int index) { return static_cast<uint16_t>(kFirstPort + index); }

std::optional<int> World::index_of_port(uint16_t port) const {
  if (port < kFirstPort || port - kFirstPort >= node_count()) return std::nullopt;
  return port - kFirstPort;
}

std::optional<std::pair<HostId, uint16_t>> World::client_endpoint(uint16_t port) const {
  const std::optional<int> index = index_of_port(port);
  if (!index) return std::nullopt;
  return std::pair{host_id(*index), addresses_[*index].port};
}

uint16_t World::client_port_of(const protocol::Address& address) const {
  const auto it = index_by_client_.find({address.ip, address.port});
  return it == index_by_client_.end() ? 0 : client_port(it->second);
}

void World::attach_workload(std::unique_ptr<Workload> workload) { workload_ = std::move(workload); }

void World::crash(int index) { go_down(index, /*power_loss=*/false); }

void World::power_loss(int index) { go_down(index, /*power_loss=*/true); }

void World::go_down(int index, bool power_loss) {
  if (!is_running(index)) return;  // already down: kill -9 finds no process
  const char* kind = power_loss ? "power_loss" : "crash";
  note_fault(index, kind);
  trace_action(kind, index);
  on_process_end(index);
  power_loss ? hosts_.at(index)->power_loss() : hosts_.at(index)->crash();
}

void World::on_process_end(int index) {
  config_set_at_resume_.at(index).clear();  // a stopped process killed never read them
  if (const protocol::Node* n = node(index)) {
    for (const protocol::ClusterNode* entry : n->node_list()) {
      if (entry->failed_or_pfail()) flag_cleared_us_[{index, entry->name}] = now().us;  // its reports age from now
    }
  }
}

void World::restart(int index) {
  if (is_running(index)) {  // a running node is killed first
    on_process_end(index);
    hosts_.at(index)->crash();
  }
  trace_action("restart", index);
  fault_history_.at(index).push_back(FaultRecord{now().us, "restart"});
  // currentEpoch learned from peers is not fsynced by Redis (PROTOCOL-LONG §2), so a restarted node
  // may come back with a smaller one: monotonicity is checked per process lifetime.
  max_current_epoch_.at(index) = 0;
  // A node booting from nodes.conf takes its load time as every peer's pong time and gossips it:
  // peers adopt those fresh times, so a minority master's clock for the bound starts again.
  for (std::vector<int64_t>& row : unreachable_since_us_) {
    for (int64_t& since : row) {
      if (since >= 0) since = now().us;
    }
  }
  // A process started on its own runs its first serverCron 1 ms after it starts (initServer:
  // aeCreateTimeEvent(serverCron, 1 ms)), whatever phase the cluster's first boot had.
  start_process(index, Duration::millis(1));
}

void World::lose_disk(int index) {
  trace_action("lose_disk", index);
  // A master that lost its nodes.conf comes back as a stranger; Redis needs an operator for slots
  // nobody can take over.
  if (last_numslots_.at(index) > 0) slot_owner_lost_disk_ = true;
  hosts_.at(index)->disk().wipe();
  max_current_epoch_.at(index) = 0;  // a node without its nodes.conf legitimately starts over
}

void World::pause(int index) {
  if (!is_up(index)) return;  // SIGSTOP of a stopped or dead process changes nothing
  note_fault(index, "pause");
  trace_action("pause", index);
  hosts_.at(index)->pause();
}

void World::resume(int index) {
  if (host_state(index) != HostState::paused) return;
  trace_action("resume", index);
  fault_history_.at(index).push_back(FaultRecord{now().us, "resume"});
  // A resumed node answers the pings queued for it at once: its peers' clocks for the minority bound
  // start again, however soon it goes away (the 100 ms check would miss a short resume).
  for (std::vector<int64_t>& row : unreachable_since_us_) {
    if (!row.empty() && row[static_cast<size_t>(index)] >= 0) row[static_cast<size_t>(index)] = now().us;
  }
  hosts_.at(index)->resume();
  std::vector<std::pair<std::string, std::string>> waiting;
  waiting.swap(config_set_at_resume_.at(index));
  for (const auto& [name, value] : waiting) config_set(index, name, value);
}

void World::set_clock(int index, Duration offset, int64_t drift_ppm) {
  trace_action("clock", index, std::to_string(offset.us) + "us " + std::to_string(drift_ppm) + "ppm");
  hosts_.at(index)->set_clock(offset, drift_ppm);
  // Redis times the cluster with the wall clock (mstime): a step back delays its timeouts by as much.
  const int64_t step_us = std::abs(offset.us - clock_offset_us_.at(index));
  // Forward steps within a node timeout of each other add up for the PFAIL check (fuzz seed 10404: two
  // steps at one instant, 324 ms then 55 ms more).
  const bool recent = now().us - clock_step_at_us_.at(index) <= timeout_us(index);
  clock_step_us_.at(index) = (recent ? clock_step_us_.at(index) : 0) + std::max<int64_t>(0, offset.us - clock_offset_us_.at(index));
  clock_step_at_us_.at(index) = now().us;
  clock_offset_us_.at(index) = offset.us;
  for (int64_t& since : unreachable_since_us_.at(index)) {
    if (since >= 0) since += step_us;
  }
}

void World::partition(const std::vector<std::vector<int>>& groups) {
  std::vector<std::vector<HostId>> host_groups;
  std::string detail;
  for (const auto& group : groups) {
    host_groups.emplace_back();
    detail += detail.empty() ? "" : " | ";
    for (int index : group) {
      const std::vector<HostId> hosts = hosts_with_beside(index);
      host_groups.back().insert(host_groups.back().end(), hosts.begin(), hosts.end());
      detail += aliases_[index] + " ";
    }
  }
  // Every node cut off from some other is "touched" by the fault.
  for (const auto& group : groups) {
    for (int index : group) note_fault(index, "partition");
  }
  trace_action("partition", -1, detail);
  network_->partition(host_groups);
}

// A node's host and the client hosts placed beside it.
std::vector<HostId> World::hosts_with_beside(int index) const {
  std::vector<HostId> out{hosts_.at(index)->id()};
  if (const auto beside = beside_.find(index); beside != beside_.end()) {
    out.insert(out.end(), beside->second.begin(), beside->second.end());
  }
  return out;
}

void World::block(int from, int to) {
  note_fault(from, "block");
  note_fault(to, "block");
  trace_action("block", from, "to " + aliases_.at(to));
  for (const HostId a : hosts_with_beside(from)) {
    for (const HostId b : hosts_with_beside(to)) network_->block(a, b);
  }
}

void World::unblock(int from, int to) {
  trace_action("unblock", from, "to " + aliases_.at(to));
  fault_history_.at(from).push_back(FaultRecord{now().us, "unblock"});
  fault_history_.at(to).push_back(FaultRecord{now().us, "unblock"});
  for (const HostId a : hosts_with_beside(from)) {
    for (const HostId b : hosts_with_beside(to)) network_->unblock(a, b);
  }
}

void World::isolate(int index) {
  note_fault(index, "isolate");
  trace_action("isolate", index);
  // The node and the clients beside it, cut from everything else but not from each other.
  const std::vector<HostId> group = hosts_with_beside(index);
  for (const HostId h : group) network_->isolate(h);
  for (const HostId a : group) {
    for (const HostId b : group) {
      if (a != b) network_->unblock(a, b);
    }
  }
}

void World::heal() {
  trace_action("heal", -1);
  for (auto& history : fault_history_) history.push_back(FaultRecord{now().us, "heal"});
  network_->heal();
}

void World::set_network(const LinkProfile& default_link, const std::vector<LinkProfileOverride>& links,
                        const ChaosOptions& chaos) {
  network_->set_default_profile(default_link);
  for (const LinkProfileOverride& link : links) {
    network_->set_link_profile(hosts_.at(link.from)->id(), hosts_.at(link.to)->id(), link.profile);
  }
  network_->set_chaos(chaos);
}

const LinkProfile& World::link_profile(int from, int to) const {
  return network_->profile(hosts_.at(from)->id(), hosts_.at(to)->id());
}

void World::set_link(int from, int to, const LinkProfile& profile) {
  trace_action("link", from, "to " + aliases_.at(to));
  network_->set_link_profile(hosts_.at(from)->id(), hosts_.at(to)->id(), profile);
}

namespace {
protocol::CommandResult not_running() { return {false, "ERR node is not running"}; }
constexpr std::string_view kSetSlotOnlyWithMasters = "ERR Please use SETSLOT only with masters.";
}  // namespace

protocol::CommandResult World::failover(int index, protocol::FailoverMode mode) {
  RedisProcess* p = process(index);
  if (p == nullptr || !is_up(index)) return not_running();
  if (const protocol::Node* n = node(index); n->myself().master != nullptr) {
    if (auto old = index_of_name(n->myself().master->name)) note_fault(*old, "failover");
  }
  trace_action("failover", index, protocol::describe(mode));
  return p->command([mode](protocol::Node& n, int64_t now) { return n.failover(mode, now); });
}

protocol::CommandResult World::meet(int index, int target) {
  RedisProcess* p = process(index);
  if (p == nullptr || !is_up(index)) return not_running();
  const protocol::Address address = addresses_.at(target);
  return p->command([&](protocol::Node& n, int64_t now) { return n.meet(address, now); });
}

protocol::CommandResult World::bump_epoch(int index) {
  RedisProcess* p = process(index);
  if (p == nullptr || !is_up(index)) return not_running();
  trace_action("bump_epoch", index, "");
  return p->command([](protocol::Node& n, int64_t now) { return n.bump_epoch(now); });
}

protocol::CommandResult World::forget(int index, int target) {
  RedisProcess* p = process(index);
  const protocol::Node* t = node(target);
  if (p == nullptr || !is_up(index) || t == nullptr) return not_running();
  const protocol::NodeName name = t->name();
  trace_action("forget", index, aliases_.at(target));
  return p->command([&](protocol::Node& n, int64_t now) { return n.forget(name, now); });
}

protocol::CommandResult World::add_slots(int index, const std::vector<int>& slots) {
  RedisProcess* p = process(index);
  if (p == nullptr || !is_up(index)) return not_running();
  return p->command([&](protocol::Node& n, int64_t now) { return n.add_slots(slots, now); });
}

protocol::CommandResult World::migrate_slots(const std::vector<int>& slots, int from, int to) {
  // What redis-cli --cluster reshard sends, slot after slot (clusterManagerMoveSlot, 7.0.15): SETSLOT
  // IMPORTING on the target, MIGRATING on the source, MIGRATE of the slot's keys, then SETSLOT NODE on
  // the target (closing the import bumps its configEpoch and broadcasts it), on the source and on every
  // other master the source knows that answers. It stops at the first refusal, as redis-cli does; a node
  // that is paused is refused (redis-cli would wait for it). All of it at one instant.
  if (!is_up(from) || !is_up(to)) return not_running();
  RedisProcess* source = process(from);
  RedisProcess* target = process(to);
  const protocol::NodeName source_name = source->node().name();
  const protocol::NodeName target_name = target->node().name();
  trace_action("migrate_slots", from, "to " + aliases_.at(to) + " " + std::to_string(slots.size()) + " slots");
  std::vector<RedisProcess*> other_masters;
  for (int i = 0; i < node_count(); ++i) {
    const protocol::Node* n = i == from || i == to || !is_up(i) ? nullptr : node(i);
    if (n != nullptr && n->myself().is_master() && source->node().find(n->name()) != nullptr) {
      other_masters.push_back(process(i));
    }
  }
  std::map<int, std::vector<std::string>> keys = source->keys_in_slots(slots);
  for (int slot : slots) {
    auto result = target->command([&](protocol::Node& n, int64_t now) { return n.set_slot_moving(slot, source_name, protocol::Node::SlotMove::importing, now); });
    if (result.ok) {
      result = source->command([&](protocol::Node& n, int64_t now) { return n.set_slot_moving(slot, target_name, protocol::Node::SlotMove::migrating, now); });
    }
    if (!result.ok) return result;
    source->migrate_keys(keys[slot], *target);
    const auto give_to_target = [&](protocol::Node& n, int64_t now) { return n.set_slot_node(slot, target_name, now); };
    if (result = target->command(give_to_target); !result.ok) return result;
    // The source gave its last slot away and now follows the target: redis-cli accepts that (#9223).
    if (result = source->command(give_to_target); !result.ok && result.reply != kSetSlotOnlyWithMasters) return result;
    for (RedisProcess* other : other_masters) {
      if (result = other->command(give_to_target); !result.ok) return result;
    }
  }
  return {true, "OK"};
}

protocol::CommandResult World::config_set(int index, const std::string& name, const std::string& value) {
  RedisProcess* p = process(index);
  if (p == nullptr) return not_running();
  // A stopped process reads the command when it is resumed (redis-cli waits for the reply).
  if (!is_up(index)) {
    trace_action("config_set", index, name + "=" + value + " (waits for resume)");
    config_set_at_resume_.at(index).emplace_back(name, value);
    return {true, "OK"};
  }
  trace_action("config_set", index, name + "=" + value);
  // The minority bound is a multiple of the node timeout: a new one starts the node's clocks again.
  if (name == "cluster-node-timeout") {
    for (int64_t& since : unreachable_since_us_.at(index)) {
      if (since >= 0) since = now().us;
    }
  }
  return p->command([&](protocol::Node& n, int64_t) { return n.config_set(name, value); });
}

void World::on_send(int from, const protocol::Message& message, HostId to_host) {
  ++bus_sent_.messages;
  bus_sent_.bytes += message.wire_size_bytes();
  bus_sent_.gossip_entries += message.gossip.size();
  const auto to = index_by_host_.find(to_host);
  if (to == index_by_host_.end()) return;
  InFlight& flight = in_flight_[in_flight_key(message, to->second)];
  flight.sent_us = now().us;
  flight.record = SIZE_MAX;
  if (!options_.trace_messages || !options_.keep_message_records) return;
  MessageRecord record;
  record.from = from;
  record.to = to->second;
  record.type = message.type;
  record.sent_us = now().us;
  record.epoch = message.current_epoch;
  record.bytes = message.wire_size_bytes();
  record.summary = message.summary();
  flight.record = messages_.size();
  messages_.push_back(std::move(record));
}

BusTotals World::bus_sent() const {
  BusTotals totals = bus_sent_;
  totals.connects = network_->connects();
  return totals;
}

World::HeardFrom& World::heard_by(int receiver, const protocol::NodeName& sender) {
  const uint32_t id = interner_.names.find(sender);
  assert(id != protocol::InternTable<protocol::NodeName>::kAbsent && id != 0);
  std::vector<HeardFrom>& table = heard_.at(static_cast<size_t>(receiver));
  if (id >= table.size()) table.resize(interner_.names.size());
  return table[id];
}

const World::HeardFrom* World::find_heard(int receiver, const protocol::NodeName& sender) const {
  const uint32_t id = interner_.names.find(sender);
  const std::vector<HeardFrom>& table = heard_.at(static_cast<size_t>(receiver));
  if (id >= table.size() || table[id].last_us < 0) return nullptr;  // kAbsent is past every table
  return &table[id];
}

void World::on_message(int to, const protocol::Message& message) {
  HeardFrom& heard = heard_by(to, message.sender);
  heard.last_us = now().us;
  const uint64_t key = in_flight_key(message, to);
  if (const InFlight* flight = in_flight_.find(key)) {
    const auto transit_us = static_cast<int32_t>(std::min<int64_t>(now().us - flight->sent_us, INT32_MAX));
    const auto window = static_cast<int32_t>(now().us / (2 * timeout_us(to)));
    if (window != heard.window) {
      heard.previous_window_max_transit_us = window == heard.window + 1 ? heard.window_max_transit_us : 0;
      heard.window = window;
      heard.window_max_transit_us = 0;
    }
    heard.window_max_transit_us = std::max(heard.window_max_transit_us, transit_us);
    if (flight->record != SIZE_MAX) messages_[flight->record].received_us = now().us;
    in_flight_.erase(key);
  }
  if (!options_.trace_messages) return;
  const auto from = index_by_bus_.find({message.sender_address.ip, message.sender_address.cport});
  TraceRecord record(now(), "recv");
  record.add("node", aliases_[to]);
  record.add("from", from != index_by_bus_.end() ? aliases_[from->second] : std::string("?"));
  record.add("type", protocol::stats_name(message.type));
  record.add("bytes", static_cast<int64_t>(message.wire_size_bytes()));
  record.add("epoch", static_cast<int64_t>(message.current_epoch));
  trace_.record(record);
}

void World::on_node_event(int index, const protocol::NodeEvent& event) {
  ObservedEvent e;
  e.t_us = now().us;
  e.node = index;
  e.kind = event.kind;
  e.epoch = event.epoch;
  e.value = event.value;
  e.detail = event.detail;
  e.cluster_size = event.cluster_size;
  if (!event.about.empty()) e.about = index_of_name(event.about).value_or(-1);
  TraceRecord record(now(), event.kind);
  record.add("node", aliases_[index]);
  if (!event.about.empty()) record.add("about", e.about >= 0 ? aliases_[e.about] : event.about.str().substr(0, 8));
  if (event.epoch >= 0) record.add("epoch", event.epoch);
  if (event.value >= 0) record.add("value", event.value);
  if (!event.detail.empty()) record.add("detail", event.detail);
  trace_.record(record);

  if (e.kind == "vote_granted") {
    check_vote(index, e);
  } else if (e.kind == "fail") {
    check_fail_quorum(index, e);
  } else if (e.kind == "pfail") {
    check_pfail(index, e, event.about);
  } else if (e.kind == "pfail_cleared" || e.kind == "fail_cleared") {
    flag_cleared_us_[{index, event.about}] = now().us;
  } else if (e.kind == "election_scheduled") {
    carried_acks_.at(index) = 0;
    electing_.at(index) = false;
  } else if (e.kind == "vote_received") {
    if (!electing_.at(index)) ++carried_acks_.at(index);
  } else if (e.kind == "election_started") {
    electing_.at(index) = true;
    check_election_start(index, e);
  } else if (e.kind == "election_won") {
    check_election_won(index, e);
  } else if (e.kind == "slots_rebound" && e.value >= e.epoch) {
    violation("slot_claims_need_greater_config_epoch",
              aliases_[index] + " gave slots to " + (e.about >= 0 ? aliases_[e.about] : "?") + " at configEpoch " +
                  std::to_string(e.epoch) + ", taking them from an owner at configEpoch " + std::to_string(e.value));
  } else if (e.kind == "replicating") {
    last_replica_of_[names_[index]] = event.about;
  } else if (e.kind == "promoted") {
    last_replica_of_.erase(names_[index]);
    check_promotion(index, e);
    FailoverRecord f;
    f.old_master = e.about;
    f.new_master = index;
    f.epoch = e.epoch;
    f.mode = e.detail;
    f.promoted_ms = now().ms();
    if (f.old_master >= 0) f.fault_ms = fault_ms_[f.old_master];
    for (const ObservedEvent& past : events_) {
      if (f.fault_ms >= 0 && past.t_us < f.fault_ms * 1000) continue;
      if (past.about != f.old_master || f.old_master < 0) {
        if (past.kind == "election_started" && past.node == index) f.election_ms = past.t_us / 1000;
        continue;
      }
      if (past.kind == "pfail" && f.first_pfail_ms < 0) f.first_pfail_ms = past.t_us / 1000;
      if ((past.kind == "fail" || past.kind == "fail_received") && f.fail_ms < 0) f.fail_ms = past.t_us / 1000;
      if (past.kind == "election_started" && past.node == index) f.election_ms = past.t_us / 1000;
    }
    failovers_.push_back(f);
  }
  events_.push_back(std::move(e));
}

void World::start_shard_sampling() {
  assert(shard_availability_.empty() && "sampling starts once");
  shard_availability_.resize(masters());
  sample_shards();
}

void World::sample_shards() {
  scheduler_.after(Duration::millis(100), [this] { sample_shards(); });
  std::vector<char> served(masters(), 0);
  for (int i = 0; i < node_count(); ++i) {
    const protocol::Node* n = node(i);
    if (n == nullptr || !is_up(i) || !n->myself().is_master() || n->myself().numslots == 0 || !n->state_ok()) continue;
    for (int m = 0; m < masters(); ++m) {
      // A shard is known by its first slot; a master that boots without slots has no shard.
      if (!served[m] && !initial_slots(m).empty() && n->slot_owner(initial_slots(m).front().first) == &n->myself()) {
        served[m] = 1;
      }
    }
  }
  for (int m = 0; m < masters(); ++m) {
    if (initial_slots(m).empty()) continue;
    std::vector<ShardSample>& samples = shard_availability_[m];
    if (samples.empty() || samples.back().served != (served[m] != 0)) samples.push_back({now().us, served[m] != 0});
  }
}

int World::current_master_of_slot(int slot, int seen_by) const {
  for (int i = 0; i < node_count(); ++i) {
    if (seen_by >= 0 && i != seen_by) continue;
    const protocol::Node* n = node(i);
    if (n == nullptr) continue;
    const protocol::ClusterNode* owner = n->slot_owner(slot);
    if (owner == nullptr) continue;
    if (seen_by < 0 && owner != &n->myself()) continue;  // ask the owners themselves
    if (auto index = index_of_name(owner->name)) return *index;
  }
  return -1;
}

std::string World::cluster_nodes(int index) const {
  const protocol::Node* n = node(index);
  if (n == nullptr) return {};
  const int64_t now_ms = const_cast<World*>(this)->process(index)->now_ms();
  return n->cluster_nodes(now_ms);
}

}  // namespace rcsim::sim
