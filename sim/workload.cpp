#include "sim/workload.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>

#include "protocol/slots.hpp"
#include "sim/world.hpp"

namespace rcsim::sim {
namespace {

constexpr int kKeysPerTag = 10;
constexpr int kLocalKeyTries = 100000;

const char* failure_name(ClusterClient::Failure failure, bool wait_short) {
  return wait_short ? "wait_short" : ClusterClient::describe(failure);
}

// The workload's library profile, with workload.client_timeout as its socket timeout (the reload's too
// when the library uses the same one), or, for a library whose only timeout is the command's (Lettuce),
// as that.
ClientProfile client_profile(const WorkloadSpec& spec) {
  const ClientProfile* found = find_client_profile(spec.client);
  assert(found != nullptr && "validated when the scenario loaded");
  ClientProfile profile = *found;
  if (spec.client_timeout) {
    if (profile.attempt_timeout == Duration{} && profile.command_deadline > Duration{}) {
      profile.command_deadline = *spec.client_timeout;
    } else {
      if (profile.reload_timeout == profile.attempt_timeout) profile.reload_timeout = *spec.client_timeout;
      profile.attempt_timeout = *spec.client_timeout;
    }
  }
  return profile;
}

}  // namespace

Workload::Workload(World& world, const WorkloadSpec& spec) : world_(world), spec_(spec) {
  const double rate = spec_.writes_per_s + spec_.reads_per_s;
  if (spec_.clients > 0 && rate > 0) {
    interval_ns_ = std::max<int64_t>(1, std::llround(1e9 * spec_.clients / rate));
    write_ppm_ = static_cast<uint64_t>(std::llround(1e6 * spec_.writes_per_s / rate));
  }
  std::vector<uint16_t> ports;
  for (int i = 0; i < world_.node_count(); ++i) {
    const protocol::Node* n = world_.node(i);
    if (n != nullptr && n->node_list().size() > 1) ports.push_back(World::client_port(i));  // members only
  }
  if (ports.empty()) ports.push_back(World::client_port(0));
  const Rng workload_rng = world_.fork_rng("workload");
  for (int c = 0; c < spec_.clients; ++c) {
    Driver d;
    d.host = std::make_unique<Host>(world_.scheduler(), world_.network(), "10.0.0." + std::to_string(c % 250 + 1));
    d.rng = workload_rng.fork("client-" + std::to_string(c));
    ClusterClientOptions options;
    options.profile = client_profile(spec_);
    options.startup_ports = ports;
    options.resolve = [this](uint16_t port) { return world_.client_endpoint(port); };
    auto client = std::make_unique<ClusterClient>(*d.host, d.rng.fork("client"), std::move(options));
    d.client = client.get();
    d.host->start(std::move(client));
    if (static_cast<size_t>(c) < spec_.placement.size()) {
      if (const std::optional<int> beside = world_.index_of(spec_.placement[c])) {
        world_.place_beside(*beside, d.host->id());
        const protocol::Node* n = world_.node(*beside);
        if (n != nullptr) {
          const protocol::ClusterNode* serving = n->myself().is_replica() && n->myself().master ? n->myself().master
                                                                                                  : &n->myself();
          if (serving->numslots > 0) d.local_slots = std::make_shared<const protocol::SlotBitmap>(*serving->slots);
        }
      }
    }
    drivers_.push_back(std::move(d));
  }
}

Workload::~Workload() = default;

std::string Workload::key_name(int64_t index) const {
  if (spec_.hash_tags) return "{g" + std::to_string(index / kKeysPerTag) + "}:" + std::to_string(index);
  return "key:" + std::to_string(index);
}

int64_t Workload::now_ns() const { return world_.now().us * 1000; }

Duration Workload::default_settle() const {
  return Duration::millis(3 * world_.options().config.cluster_node_timeout_ms) + Duration::seconds(10);
}

void Workload::start() {
  started_us_ = world_.now().us;
  TraceRecord record(world_.now(), "workload_started");
  record.add("clients", static_cast<int64_t>(drivers_.size()));
  world_.trace().record(record);
  if (interval_ns_ == 0) return;
  for (int i = 0; i < static_cast<int>(drivers_.size()); ++i) {
    drivers_[i].client->refresh_slots([this, i] {
      Driver& d = drivers_[i];
      d.next_start_ns = now_ns() + static_cast<int64_t>(d.rng.below(static_cast<uint64_t>(interval_ns_)));
      schedule(i);
    });
  }
}

void Workload::stop() {
  stopped_ = true;
  stopped_us_ = world_.now().us;
}

bool Workload::idle() const {
  return std::none_of(drivers_.begin(), drivers_.end(), [](const Driver& d) { return d.client->busy(); });
}

void Workload::schedule(int index) {
  if (stopped_) return;
  Driver& d = drivers_[index];
  const int64_t delay_ns = std::max<int64_t>(0, d.next_start_ns - now_ns());
  d.host->set_timer(Duration::micros((delay_ns + 999) / 1000), [this, index] { start_op(index); });
}

int64_t Workload::choose_key(Driver& d) {
  const auto keys = static_cast<uint64_t>(spec_.keys);
  int64_t key = static_cast<int64_t>(d.rng.below(keys));
  if (!d.local_slots) return key;
  for (int tries = 1; tries < kLocalKeyTries; ++tries) {
    if (d.local_slots->test(static_cast<size_t>(protocol::key_hash_slot(key_name(key))))) return key;
    key = static_cast<int64_t>(d.rng.below(keys));
  }
  return key;
}

void Workload::start_op(int index) {
  if (stopped_) return;
  Driver& d = drivers_[index];
  d.next_start_ns = std::max(d.next_start_ns + interval_ns_, now_ns());
  const bool write = d.rng.below(1'000'000) < write_ppm_;
  const int64_t key = choose_key(d);
  kv::Request request;
  request.key = key_name(key);
  if (!write) {
    request.cmd = kv::Cmd::get;
    ++report_.reads_attempted;
    d.client->run(std::move(request), [this, index](const ClusterClient::Outcome& outcome) {
      ++(outcome.ok ? report_.reads_ok : report_.reads_failed);
      schedule(index);
    });
    return;
  }
  WriteRecord record;
  record.value = writes_.size() + 1;
  record.key = key;
  record.client = index;
  record.sent_us = world_.now().us;
  writes_.push_back(record);
  const uint64_t id = record.value;
  request.cmd = kv::Cmd::set;
  request.value = id;
  d.client->run(std::move(request),
                [this, index, id](const ClusterClient::Outcome& outcome) { write_done(index, id, outcome); });
}

void Workload::write_done(int index, uint64_t id, const ClusterClient::Outcome& outcome) {
  if (!outcome.ok) {
    failed(id, outcome.failure, false);
    return schedule(index);
  }
  if (!spec_.wait) {
    acked(id, outcome.port, outcome.last_sent);
    return schedule(index);
  }
  kv::Request wait;
  wait.cmd = kv::Cmd::wait;
  wait.numreplicas = spec_.wait->replicas;
  wait.timeout_ms = spec_.wait->timeout.ms();
  const uint16_t port = outcome.port;
  const Instant exec_after = outcome.last_sent;
  drivers_[index].client->run(
      std::move(wait),
      [this, index, id, port, exec_after](const ClusterClient::Outcome& waited) {
        wait_done(index, id, port, exec_after, waited);
      },
      port, /*retry=*/false);
}

void Workload::wait_done(int index, uint64_t id, uint16_t port, Instant exec_after,
                         const ClusterClient::Outcome& outcome) {
  if (outcome.ok && outcome.reply.kind == kv::ReplyKind::integer && outcome.reply.integer >= spec_.wait->replicas) {
    acked(id, port, exec_after);
  } else {
    failed(id, outcome.failure, true);
  }
  schedule(index);
}

int Workload::node_of_port(uint16_t port) const { return world_.index_of_port(port).value_or(-1); }

void Workload::acked(uint64_t id, uint16_t port, Instant exec_after) {
  WriteRecord& w = writes_[id - 1];
  w.status = WriteRecord::Status::acked;
  w.done_us = world_.now().us;
  w.exec_after_us = exec_after.us;  // client hosts keep true time (no clock skew is set on them)
  w.acked_by = node_of_port(port);
  w.cut_both_ways = w.acked_by >= 0 && cut_both_ways(w.acked_by);
}

ClientsReport Workload::clients_report() const {
  ClientsReport out;
  out.client = spec_.client;
  const int64_t end_us = stopped_us_ >= 0 ? stopped_us_ : world_.now().us;
  std::vector<int64_t> error_us(drivers_.size(), 0), busy_until(drivers_.size(), started_us_);
  std::vector<int64_t> last_ack(drivers_.size(), started_us_), longest(drivers_.size(), 0);
  for (const WriteRecord& w : writes_) {  // in the order writes started: per client, in time order
    const size_t c = static_cast<size_t>(w.client);
    if (w.status == WriteRecord::Status::acked) {
      longest[c] = std::max(longest[c], w.done_us - last_ack[c]);
      last_ack[c] = w.done_us;
      continue;
    }
    // Failed, or never ended: the time from its start to its end (or the clients' stop) was lost.
    const int64_t until = w.status == WriteRecord::Status::failed ? w.done_us : end_us;
    const int64_t from = std::max(w.sent_us, busy_until[c]);
    if (until > from) error_us[c] += until - from;
    busy_until[c] = std::max(busy_until[c], until);
  }
  for (size_t c = 0; c < drivers_.size(); ++c) {
    longest[c] = std::max(longest[c], end_us - last_ack[c]);
    out.longest_without_write_ms = std::max(out.longest_without_write_ms, longest[c] / 1000);
  }
  int64_t error_total_us = 0;
  for (const int64_t e : error_us) error_total_us += e;
  out.error_ms_per_client = drivers_.empty() ? 0 : error_total_us / 1000 / static_cast<int64_t>(drivers_.size());
  for (const FailoverRecord& f : world_.failovers()) {
    const int64_t fault_us = f.fault_ms >= 0 ? f.fault_ms * 1000 : f.promoted_ms * 1000;
    if (fault_us < started_us_ || fault_us > end_us) continue;
    ClientsReport::Recovery r{f.old_master, f.new_master, fault_us, -1, -1};
    std::vector<int64_t> back(drivers_.size(), -1);
    for (const WriteRecord& w : writes_) {
      if (w.status != WriteRecord::Status::acked || w.acked_by != f.new_master || w.done_us < fault_us) continue;
      int64_t& b = back[static_cast<size_t>(w.client)];
      if (b < 0 || w.done_us < b) b = w.done_us;
    }
    int64_t all = 0;
    for (const int64_t b : back) {
      if (b >= 0 && (r.first_client_back_ms < 0 || (b - fault_us) / 1000 < r.first_client_back_ms)) r.first_client_back_ms = (b - fault_us) / 1000;
      all = (b < 0 || all < 0) ? -1 : std::max(all, (b - fault_us) / 1000);
    }
    r.all_clients_back_ms = back.empty() ? -1 : all;
    out.recoveries.push_back(r);
  }
  return out;
}

bool Workload::cut_both_ways(int index) {
  if (cut_samples_.empty()) cut_samples_.resize(static_cast<size_t>(world_.node_count()));
  CutSample& sample = cut_samples_[index];
  const size_t events = world_.events().size();
  const int64_t period = world_.now().us / 100'000;
  if (sample.events == events && sample.period == period) return sample.cut;
  sample.events = events;
  sample.period = period;
  sample.cut = false;
  const protocol::Node* n = world_.node(index);
  if (n == nullptr || !n->myself().is_master() || n->myself().numslots == 0) return false;
  int reachable = 1;
  for (const protocol::ClusterNode* entry : n->node_list()) {
    if (entry == &n->myself() || !entry->is_master() || entry->numslots == 0) continue;
    const protocol::NodeName& name = entry->name;
    const std::optional<int> j = world_.index_of_name(name);
    if (!j || !world_.is_up(*j) || world_.name_of(*j) != name) continue;
    const HostId a = world_.host_id(index);
    const HostId b = world_.host_id(*j);
    if (world_.network().path_open(a, b) || world_.network().path_open(b, a)) ++reachable;
  }
  sample.cut = reachable < n->size() / 2 + 1;
  return sample.cut;
}

void Workload::failed(uint64_t id, ClusterClient::Failure failure, bool wait_short) {
  WriteRecord& w = writes_[id - 1];
  w.status = WriteRecord::Status::failed;
  w.done_us = world_.now().us;
  w.failure = failure;
  w.wait_short = wait_short;
}

void Workload::settle(Duration limit) {
  world_.heal();
  for (int i = 0; i < world_.node_count(); ++i) {
    if (world_.host_state(i) == HostState::paused) world_.resume(i);
  }
  const Instant deadline = world_.now() + limit;
  auto settled = [&] {
    if (!idle() || !world_.convergence_problems().empty()) return false;
    for (int i = 0; i < world_.node_count(); ++i) {
      RedisProcess* p = world_.process(i);
      if (p != nullptr && world_.is_up(i) && p->node().node_list().size() > 1 && !p->replication_ok()) return false;
    }
    return true;
  };
  while (world_.now() < deadline && !settled()) world_.run_until(std::min(deadline, world_.now() + Duration::millis(100)));
  world_.run_until(std::min(deadline, world_.now() + Duration::seconds(1)));
}

const WritesReport& Workload::check() {
  WritesReport& r = report_;
  const WritesReport reads = r;  // reads were counted as they ran
  r = WritesReport{};
  r.checked = true;
  r.reads_attempted = reads.reads_attempted;
  r.reads_ok = reads.reads_ok;
  r.reads_failed = reads.reads_failed;
  const int64_t node_timeout_ms = world_.options().config.cluster_node_timeout_ms;
  r.bound_ms = node_timeout_ms * 3 / 2 + 200;

  // The owner of each slot: the running node serving it in its own view, greatest configEpoch first.
  std::array<int, protocol::kClusterSlots> owner;
  owner.fill(-1);
  std::array<uint64_t, protocol::kClusterSlots> owner_epoch{};
  for (int i = 0; i < world_.node_count(); ++i) {
    const protocol::Node* n = world_.node(i);
    if (n == nullptr || !n->myself().is_master() || n->myself().numslots == 0) continue;
    for (int slot = 0; slot < protocol::kClusterSlots; ++slot) {
      if (n->slot_owner(slot) != &n->myself()) continue;
      if (owner[slot] < 0 || n->myself().config_epoch > owner_epoch[slot]) {
        owner[slot] = i;
        owner_epoch[slot] = n->myself().config_epoch;
      }
    }
  }

  // Per node: demotions (became a replica), crashes, and network faults with their ends, in time order.
  const int nodes = world_.node_count();
  std::vector<std::vector<int64_t>> demotions(nodes), crashes(nodes), restarts(nodes);
  std::vector<std::vector<int64_t>> replaced(nodes), promoted(nodes);  // "promoted" about / by the node
  for (const ObservedEvent& e : world_.events()) {
    if (e.node < 0) continue;
    if (e.kind == "promoted") {
      promoted[e.node].push_back(e.t_us);
      if (e.about >= 0) replaced[e.about].push_back(e.t_us);
    }
    if (e.kind == "replicating") demotions[e.node].push_back(e.t_us);
    if (e.kind == "action_crash" || e.kind == "action_power_loss") crashes[e.node].push_back(e.t_us);
    if (e.kind == "action_restart") restarts[e.node].push_back(e.t_us);
  }
  auto first_at_or_after = [](const std::vector<int64_t>& times, int64_t t) -> int64_t {
    const auto it = std::lower_bound(times.begin(), times.end(), t);
    return it == times.end() ? -1 : *it;
  };
  auto cut_before = [&](int node, int64_t t) -> int64_t {
    int64_t cut = -1;
    for (const FaultRecord& f : world_.fault_history(node)) {
      if (f.t_us > t) break;
      if (f.kind == "partition" || f.kind == "isolate" || f.kind == "block") cut = f.t_us;
      else if (f.kind == "heal" || f.kind == "unblock") cut = -1;
    }
    return cut;
  };

  auto last_at_or_before = [](const std::vector<int64_t>& times, int64_t t) -> int64_t {
    const auto it = std::upper_bound(times.begin(), times.end(), t);
    return it == times.begin() ? -1 : *(it - 1);
  };
  auto resumed_between = [&](int node, int64_t from, int64_t to) {
    for (const FaultRecord& f : world_.fault_history(node)) {
      if (f.kind == "resume" && f.t_us >= from && f.t_us <= to) return true;
    }
    return false;
  };
  std::map<int, std::pair<uint64_t, int64_t>> beyond_bound;  // node → (count, worst window ms)
  uint64_t replaced_acks = 0;
  for (const WriteRecord& w : writes_) {
    ++r.attempted;
    if (w.status != WriteRecord::Status::acked) {
      ++r.failed;
      ++r.failed_by_reason[w.status == WriteRecord::Status::pending ? "pending" : failure_name(w.failure, w.wait_short)];
      continue;
    }
    ++r.acked;
    // Acknowledged after another node had been promoted in its place (and before it was promoted again).
    const bool by_replaced = w.acked_by >= 0 && last_at_or_before(replaced[w.acked_by], w.done_us) >
                                                    last_at_or_before(promoted[w.acked_by], w.done_us);
    replaced_acks += by_replaced ? 1 : 0;
    const std::string key = key_name(w.key);
    const int slot = protocol::key_hash_slot(key);
    const int reader = owner[slot];
    std::optional<uint64_t> final_value;
    if (reader >= 0) {
      if (RedisProcess* p = world_.process(reader)) final_value = p->get(key);
    }
    bool survived = false;
    if (final_value) {
      assert(*final_value >= 1 && *final_value <= writes_.size());
      const WriteRecord& u = writes_[*final_value - 1];
      const bool precedes = u.status == WriteRecord::Status::acked && u.done_us < w.sent_us;
      survived = u.value == w.value || !precedes;
    }
    if (survived) continue;
    ++r.lost;
    LostWrite lost;
    lost.value = w.value;
    lost.key = key;
    lost.client = w.client;
    lost.acked_by = w.acked_by;
    lost.sent_us = w.sent_us;
    lost.ack_us = w.done_us;
    lost.final_value = final_value;
    lost.final_owner = reader;
    lost.cut_both_ways = w.cut_both_ways;
    const int n = w.acked_by;
    const int64_t crash = n >= 0 ? first_at_or_after(crashes[n], w.exec_after_us) : -1;
    const int64_t demoted = n >= 0 ? first_at_or_after(demotions[n], w.exec_after_us) : -1;
    const bool restarted = crash >= 0 && first_at_or_after(restarts[n], crash) >= 0;
    lost.cut_us = n >= 0 ? cut_before(n, w.done_us) : -1;
    if (crash >= 0 && (demoted < 0 || crash < demoted)) {
      lost.reason = restarted && reader == n ? "restarted_empty" : "crashed_before_replication";
    } else if (demoted >= 0 && resumed_between(n, w.exec_after_us, w.done_us)) {
      lost.reason = "paused_master";
    } else if (demoted >= 0 && lost.cut_us >= 0) {
      lost.reason = "minority_master";
    } else if (demoted >= 0 && by_replaced) {
      lost.reason = "replaced_master";
    } else if (demoted >= 0) {
      lost.reason = "demoted_master";
    } else if (reader < 0) {
      lost.reason = "no_owner";
    } else {
      lost.reason = "unexplained";
    }
    ++r.lost_by_reason[lost.reason];
    if (lost.cut_us >= 0) {
      const int64_t window_ms = (lost.ack_us - lost.cut_us) / 1000;
      r.max_loss_window_ms = std::max(r.max_loss_window_ms, window_ms);
      if (lost.reason == "minority_master" && w.cut_both_ways && window_ms > r.bound_ms) {  // whole ms
        auto& [count, worst] = beyond_bound[n];
        ++count;
        worst = std::max(worst, window_ms);
      }
    }
    r.lost_writes.push_back(std::move(lost));
  }
  for (const auto& [n, entry] : beyond_bound) {
    world_.report_violation("lost_write_bound",
                            world_.alias(n) + " acknowledged " + std::to_string(entry.first) +
                                " lost writes more than " + std::to_string(r.bound_ms) +
                                " ms (1.5 x node timeout + 200 ms) after it was cut off, the last " +
                                std::to_string(entry.second) + " ms after");
  }
  TraceRecord record(world_.now(), "writes_checked");
  record.add("attempted", static_cast<int64_t>(r.attempted))
      .add("acked", static_cast<int64_t>(r.acked))
      .add("lost", static_cast<int64_t>(r.lost))
      .add("max_loss_window_ms", r.max_loss_window_ms);
  world_.trace().record(record);
  r.clients = clients_report();
  r.clients.acked_by_replaced = replaced_acks;
  return r;
}

}  // namespace rcsim::sim
