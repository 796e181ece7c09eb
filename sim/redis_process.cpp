#include "sim/redis_process.hpp"

#include <algorithm>
#include <cassert>
#include <limits>

#include "protocol/slots.hpp"

namespace rcsim::sim {
namespace {

constexpr int64_t kCronPeriodMs = 100;
// What a tick of real Redis takes beyond its 100 ms: the next serverCron is due 100 ms after the last one
// returned (ae.c: `te->when = now + retval * 1000`, `now` read after the callback), and epoll_wait wakes
// a little after its timeout. Measured on the reference machine (redis-server 7.0.15, idle): epoll_wait
// with a 100 ms timeout returns after 100.28 ms (strace -T) and serverCron's own work takes ~0.1 ms.
// It sets the cadence of the "pong older than T/2" pings: with ticks of exactly 100 ms, 10 ticks are not
// more than 1000 ms and a node at node timeout 2000 pinged every 11 ticks; real Redis pings every 10
// (100.85 ms a tick on a real 6-node bus under tools/redis-compare, results/fidelity-real-notes.md).
constexpr int64_t kCronOverrunUs = 400;
constexpr int64_t kReplPingBytes = 14;    // "*1\r\n$4\r\nPING\r\n" added to the stream every repl-ping period
constexpr int64_t kReplGetackBytes = 37;  // "*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n"
constexpr uint32_t kFullSyncOverheadBytes = 64;

Packet packet_of(std::shared_ptr<const kv::ReplicationFrame> frame, uint64_t bytes) {
  const auto size = static_cast<uint32_t>(std::min<uint64_t>(bytes, std::numeric_limits<uint32_t>::max()));
  return Packet{size, std::move(frame)};
}

}  // namespace

RedisProcess::RedisProcess(Host& host, Rng& rng, protocol::Interner& interner, RedisProcessOptions options,
                           Callbacks callbacks)
    : host_(host), rng_(rng), interner_(interner), options_(std::move(options)), callbacks_(std::move(callbacks)) {}

int64_t RedisProcess::now_ms() const { return host_.local_now().ms() + options_.clock_base_ms; }

void RedisProcess::on_start() {
  const std::optional<std::string> conf = host_.disk().read("nodes.conf");
  node_ = std::make_unique<protocol::Node>(options_.config, options_.address, conf, rng_, interner_, now_ms(),
                                           options_.bugs);
  // Disk::crash drops unsynced writes and nodes.conf is read only at start, after a crash: a save
  // without fsync can never be read here (see Disk; a disk model that keeps them must drop this).
  node_->skip_unsynced_saves(true);
  was_master_ = node_->myself().is_master();
  host_.listen(options_.address.port);
  host_.listen(options_.address.cport);
  apply_effects();
  arm_cron(options_.cron_phase);
}

void RedisProcess::arm_cron(Duration delay) {
  cron_armed_local_us_ = host_.local_now().us;
  cron_due_local_us_ = cron_armed_local_us_ + delay.us;
  host_.set_timer(delay, [this] { on_cron_timer(); });
}

void RedisProcess::on_cron_timer() {
  // The loop last went to sleep at its last wake, for ceil((due - then) / 1 ms) ms (aeApiPoll):
  // woken in between by a message, it wakes for the cron up to a millisecond late. A wake in that
  // gap runs the cron at once (before_sleep).
  const int64_t now_us = host_.local_now().us;
  if (last_wake_local_us_ > cron_armed_local_us_) {
    const int64_t left_us = cron_due_local_us_ - last_wake_local_us_;
    const int64_t wake_us = last_wake_local_us_ + (left_us + 999) / 1000 * 1000;
    if (wake_us > now_us) {
      late_cron_ = host_.set_timer(Duration::micros(wake_us - now_us), [this] {
        late_cron_ = TimerId{};
        cron();
      });
      deferred_cron_now_ = true;  // the loop did not wake now: the before_sleep that follows is not a wake
      return;
    }
  }
  cron();
}

void RedisProcess::cron() {
  // processTimeEvents: the next run is due a period after this one ends, and the wake comes late.
  arm_cron(Duration::millis(kCronPeriodMs) + Duration::micros(kCronOverrunUs));
  node_->tick(now_ms());
  if (++cron_count_ % 10 == 0) replication_cron();  // replicationCron runs once a second
  apply_effects();
}

void RedisProcess::on_accepted(ConnId conn, HostId peer, uint16_t local_port) {
  if (local_port == options_.address.port) {
    unidentified_[conn] = peer;  // a client or a replica: its first request tells
    return;
  }
  const protocol::LinkId link = protocol::kInboundLinkBase + conn;
  bus_conns_[conn] = BusConn{link, peer};
  link_to_conn_[link] = conn;
  node_->link_accepted(link, now_ms());
  apply_effects();
}

void RedisProcess::on_connected(ConnId conn) {
  if (conn == master_conn_) {
    // PSYNC: we never have a usable backlog position here, so the master answers with a full sync.
    auto psync = std::make_shared<kv::Request>();
    psync->cmd = kv::Cmd::psync;
    host_.send(conn, Packet{psync->wire_size(), std::move(psync)});
    return;
  }
  const BusConn* bus = bus_conns_.find(conn);
  if (bus == nullptr) return;
  node_->link_connected(bus->link, now_ms());
  apply_effects();
}

void RedisProcess::on_connect_failed(ConnId conn) { on_closed(conn); }

void RedisProcess::on_closed(ConnId conn) {
  if (conn == master_conn_) {
    drop_master_link();
    return;
  }
  if (unidentified_.erase(conn) > 0 || replicas_.erase(conn) > 0) return;
  if (clients_.erase(conn) > 0) {
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->conn != conn) {
        ++it;
        continue;
      }
      host_.cancel_timer(it->timer);
      it = waiters_.erase(it);
    }
    std::erase_if(postponed_, [conn](const Postponed& p) { return p.conn == conn; });
    return;
  }
  const BusConn* bus = bus_conns_.find(conn);
  if (bus == nullptr) return;
  const protocol::LinkId link = bus->link;
  bus_conns_.erase(conn);
  link_to_conn_.erase(link);
  node_->link_failed(link, now_ms());
  apply_effects();
}

void RedisProcess::on_data(ConnId conn, const Packet& packet) {
  if (conn == master_conn_) {
    on_replication_data(packet);
    return;
  }
  const BusConn* bus = bus_conns_.find(conn);
  if (bus == nullptr) {
    on_request(conn, *static_cast<const kv::Request*>(packet.body.get()));
    return;
  }
  const auto& message = *static_cast<const protocol::Message*>(packet.body.get());
  if (callbacks_.on_message) callbacks_.on_message(message, host_.id());
  node_->receive(bus->link, message, now_ms());
  apply_effects();
}

void RedisProcess::before_sleep() {
  if (!node_) return;
  if (deferred_cron_now_) {
    deferred_cron_now_ = false;  // the cron's timer went off but the loop sleeps on: not a wake
  } else {
    last_wake_local_us_ = host_.local_now().us;
    if (late_cron_ && last_wake_local_us_ >= cron_due_local_us_) {  // this wake found the cron due
      host_.cancel_timer(late_cron_);
      late_cron_ = TimerId{};
      cron();
    }
  }
  if (!postponed_.empty() && !node_->clients_paused(now_ms())) run_postponed();
  // The replication stream (and a GETACK asked for by WAIT) leaves before the loop sleeps; then
  // clients blocked in WAIT are served (processClientsWaitingReplicas).
  flush_replication();
  if (!waiters_.empty()) check_waiters();
  // Keep the node's view of replication current, then run clusterBeforeSleep.
  replication_.processed_offset = repl_offset_;
  node_->set_replication(replication_);
  node_->before_sleep(now_ms());
  apply_effects();
  if (callbacks_.after_input) callbacks_.after_input();
}

protocol::CommandResult RedisProcess::command(
    const std::function<protocol::CommandResult(protocol::Node&, int64_t)>& run) {
  protocol::CommandResult result = run(*node_, now_ms());
  apply_effects();
  before_sleep();
  return result;
}

void RedisProcess::apply_effects() {
  protocol::Effects effects = node_->drain();
  // 1. nodes.conf first: a vote is on disk before its ACK leaves.
  if (effects.save) host_.disk().write("nodes.conf", std::move(effects.save->contents), effects.save->fsync);
  // 2. Link operations and sends, in the order the node asked for them.
  for (auto& op : effects.io) {
    if (const auto* open = std::get_if<protocol::OpenLink>(&op)) {
      const std::optional<HostId> target = callbacks_.resolve(open->address);
      if (!target || *target == host_.id()) {
        // No such address: the connect fails at once. Our own address (a node reborn without its
        // nodes.conf hears of its old self): Redis connects to itself, gets its own PONG and drops the
        // handshake node; the network has no loopback, so the connect fails and the handshake times out.
        node_->link_failed(open->link, now_ms());
        continue;
      }
      const ConnId conn = host_.connect(*target, open->address.cport, /*nagle=*/true);
      link_to_conn_[open->link] = conn;
      bus_conns_[conn] = BusConn{open->link, *target};
    } else if (auto* send = std::get_if<protocol::SendMessage>(&op)) {
      const ConnId* conn = link_to_conn_.find(send->link);
      if (conn == nullptr) continue;  // link already gone: Redis drops it too
      const uint32_t size = send->message->wire_size_bytes();
      if (callbacks_.on_send) callbacks_.on_send(*send->message, bus_conns_.find(*conn)->peer);
      host_.send(*conn, Packet{size, std::move(send->message)});
    } else if (const auto* close = std::get_if<protocol::CloseLink>(&op)) {
      const ConnId* found = link_to_conn_.find(close->link);
      if (found == nullptr) continue;
      const ConnId conn = *found;
      host_.close(conn);
      bus_conns_.erase(conn);
      link_to_conn_.erase(close->link);
    }
  }
  for (const protocol::NodeEvent& event : effects.events) {
    if (callbacks_.on_event) callbacks_.on_event(event);
  }
  // Effects produced while applying (an immediate link failure) are applied too.
  if (!node_->drain().empty()) assert(false && "effects produced while applying effects");
  // Replication follows the role the node now has.
  const protocol::ClusterNode& myself = node_->myself();
  if (was_master_ && !myself.is_master()) unblock_waiters_on_role_change();
  was_master_ = myself.is_master();
  const protocol::ClusterNode* master = myself.is_replica() ? myself.master : nullptr;
  if (master == nullptr) {
    if (master_conn_ != 0) host_.close(master_conn_);
    master_conn_ = 0;
    master_link_up_ = false;
    master_name_ = {};
  } else if (master->name != master_name_) {
    // replicationSetMaster: a new master is connected to at once (a fresh full sync). A failed or
    // lost link to the same master is retried by replicationCron, once a second.
    if (master_conn_ != 0) {
      host_.close(master_conn_);
      master_conn_ = 0;
      master_link_up_ = false;
      replication_.link_up = false;
      replication_.down_since_ms = now_ms();
    }
    connect_to_master();
  }
}

void RedisProcess::connect_to_master() {
  const protocol::ClusterNode* master = node_->myself().master;
  if (master == nullptr || master->address().port == 0) return;
  const std::optional<HostId> target = callbacks_.resolve(master->address());
  if (!target) return;
  master_name_ = master->name;
  master_conn_ = host_.connect(*target, master->address().port, /*nagle=*/false);
}

void RedisProcess::drop_master_link() {
  master_conn_ = 0;
  if (master_link_up_) {
    replication_.link_up = false;
    replication_.down_since_ms = now_ms();
  }
  master_link_up_ = false;
}

// ---- replication, replica side ----

void RedisProcess::on_replication_data(const Packet& packet) {
  const auto& frame = *static_cast<const kv::ReplicationFrame*>(packet.body.get());
  switch (frame.kind) {
    case kv::ReplicationFrame::Kind::full_sync:
      // The RDB replaces the data set: writes this node took as a master and its new master never
      // saw are gone. Our own replicas must resync from the new data (Redis drops them after
      // loading the RDB of a new master).
      store_ = *frame.snapshot;
      stream_buffer_.clear();
      for (const auto& [conn, replica] : replicas_) host_.close(conn);
      replicas_.clear();
      master_link_up_ = true;
      replication_.link_up = true;
      replication_.ever_synced = true;
      break;
    case kv::ReplicationFrame::Kind::stream:
      assert(frame.offset_after >= repl_offset_);
      for (const kv::StreamOp& op : frame.ops) {
        if (op.del) store_.erase(op.key);
        else store_[op.key] = op.value;
      }
      send_to_replicas(packet);  // a replica proxies its master's stream to its own replicas
      break;
    case kv::ReplicationFrame::Kind::getack:
      send_to_replicas(packet);
      break;
  }
  repl_offset_ = frame.offset_after;
  replication_.last_interaction_ms = now_ms();
  if (frame.kind == kv::ReplicationFrame::Kind::getack) {
    auto ack = std::make_shared<kv::Request>();
    ack->cmd = kv::Cmd::replconf_ack;
    ack->offset = repl_offset_;
    host_.send(master_conn_, Packet{ack->wire_size(), std::move(ack)});
  }
}

// ---- replication, master side ----

void RedisProcess::apply_write(const std::string& key, uint64_t value) {
  store_[key] = value;
  repl_offset_ += kv::set_command_size(key, value);
  if (!replicas_.empty()) stream_buffer_.push_back(kv::StreamOp{key, value, false});
}

void RedisProcess::apply_del(const std::string& key) {
  store_.erase(key);
  repl_offset_ += kv::del_command_size(key);
  if (!replicas_.empty()) stream_buffer_.push_back(kv::StreamOp{key, 0, true});
}

void RedisProcess::send_to_replicas(const Packet& packet) {
  for (const auto& [conn, replica] : replicas_) host_.send(conn, packet);
}

void RedisProcess::flush_replication() {
  if (!stream_buffer_.empty()) {
    auto frame = std::make_shared<kv::ReplicationFrame>();
    frame->kind = kv::ReplicationFrame::Kind::stream;
    frame->offset_after = repl_offset_;
    uint64_t bytes = 0;
    for (const kv::StreamOp& op : stream_buffer_) {
      bytes += op.del ? kv::del_command_size(op.key) : kv::set_command_size(op.key, op.value);
    }
    frame->ops = std::move(stream_buffer_);
    stream_buffer_.clear();
    send_to_replicas(packet_of(std::move(frame), bytes));
  }
  if (getack_pending_) {
    getack_pending_ = false;
    if (replicas_.empty()) return;
    repl_offset_ += kReplGetackBytes;
    auto frame = std::make_shared<kv::ReplicationFrame>();
    frame->kind = kv::ReplicationFrame::Kind::getack;
    frame->offset_after = repl_offset_;
    send_to_replicas(packet_of(std::move(frame), kReplGetackBytes));
  }
}

void RedisProcess::replication_cron() {
  const int64_t now = now_ms();
  if (node_->myself().is_replica()) {
    // repl-timeout: a master silent that long (e.g. SIGSTOPped) is given up.
    if (master_link_up_ && now - replication_.last_interaction_ms > node_->config().repl_timeout_s * 1000) {
      host_.close(master_conn_);
      drop_master_link();
    }
    if (master_conn_ == 0) connect_to_master();
    if (master_link_up_) {  // REPLCONF ACK every second
      auto ack = std::make_shared<kv::Request>();
      ack->cmd = kv::Cmd::replconf_ack;
      ack->offset = repl_offset_;
      host_.send(master_conn_, Packet{ack->wire_size(), std::move(ack)});
    }
    return;
  }
  // Master: PING the replicas every repl-ping-replica-period, except while paused by a manual failover.
  if (!replicas_.empty() && !node_->clients_paused(now) &&
      now - last_repl_ping_ms_ >= node_->config().repl_ping_replica_period_s * 1000) {
    last_repl_ping_ms_ = now;
    flush_replication();
    repl_offset_ += kReplPingBytes;
    auto frame = std::make_shared<kv::ReplicationFrame>();
    frame->kind = kv::ReplicationFrame::Kind::stream;
    frame->offset_after = repl_offset_;
    send_to_replicas(packet_of(std::move(frame), kReplPingBytes));
  }
}

// ---- clients ----

void RedisProcess::on_request(ConnId conn, const kv::Request& request) {
  if (const auto it = unidentified_.find(conn); it != unidentified_.end()) {
    const HostId peer = it->second;
    unidentified_.erase(it);
    if (request.cmd == kv::Cmd::psync) {
      // A replica: full sync (our data set and offset), then the stream from here on.
      flush_replication();
      replicas_[conn] = ReplicaConn{peer, -1};
      auto frame = std::make_shared<kv::ReplicationFrame>();
      frame->kind = kv::ReplicationFrame::Kind::full_sync;
      frame->offset_after = repl_offset_;
      frame->snapshot = std::make_shared<const kv::Store>(store_);
      uint64_t bytes = kFullSyncOverheadBytes;
      for (const auto& [key, value] : store_) bytes += key.size() + 10;
      host_.send(conn, packet_of(std::move(frame), bytes));
      return;
    }
    clients_[conn] = ClientConn{peer, 0};
  }
  if (const auto it = replicas_.find(conn); it != replicas_.end()) {
    if (request.cmd == kv::Cmd::replconf_ack) it->second.ack_offset = std::max(it->second.ack_offset, request.offset);
    return;  // served by check_waiters in before_sleep
  }
  if (clients_.contains(conn)) execute(conn, request);
}

void RedisProcess::reply(ConnId conn, kv::Reply r) {
  auto body = std::make_shared<kv::Reply>(std::move(r));
  const uint32_t size = body->wire_size();
  host_.send(conn, Packet{size, std::move(body)});
}

namespace {
kv::Reply error_reply(uint64_t id, kv::ReplyKind kind, std::string text) {
  kv::Reply r;
  r.id = id;
  r.kind = kind;
  r.text = std::move(text);
  return r;
}
}  // namespace

void RedisProcess::execute(ConnId conn, const kv::Request& request) {
  const uint64_t id = request.id;
  switch (request.cmd) {
    case kv::Cmd::cluster_slots: {
      kv::Reply r;
      r.id = id;
      r.kind = kv::ReplyKind::slots;
      r.slots = slot_ports();
      reply(conn, std::move(r));
      return;
    }
    case kv::Cmd::wait: {
      if (!node_->myself().is_master()) {
        reply(conn, error_reply(id, kv::ReplyKind::error,
                                "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if "
                                "a replica is configured to be writable (which is not the default) writes to replicas "
                                "are just local and are not propagated."));
        return;
      }
      const int64_t offset = clients_[conn].woff;
      const int acks = count_acks(offset);
      if (acks >= request.numreplicas) {
        kv::Reply r;
        r.id = id;
        r.kind = kv::ReplyKind::integer;
        r.integer = acks;
        reply(conn, std::move(r));
        return;
      }
      Waiter waiter{conn, id, request.numreplicas, offset, TimerId{}};
      if (request.timeout_ms > 0) {
        waiter.timer = host_.set_timer(Duration::millis(request.timeout_ms), [this, id, conn] { wait_timeout(id, conn); });
      }
      waiters_.push_back(waiter);
      getack_pending_ = true;  // replicationRequestAckFromSlaves
      return;
    }
    case kv::Cmd::psync:
    case kv::Cmd::replconf_ack:
      reply(conn, error_reply(id, kv::ReplyKind::error, "ERR unexpected replication command from a client"));
      return;
    case kv::Cmd::get:
    case kv::Cmd::set:
    case kv::Cmd::mset: break;
  }
  // getNodeByQuery: every key in one slot, the slot bound, the cluster up, the slot mine.
  const int slot = protocol::key_hash_slot(request.key);
  const protocol::ClusterNode* owner = node_->slot_owner(slot);
  if (owner == nullptr) {
    reply(conn, error_reply(id, kv::ReplyKind::clusterdown, "CLUSTERDOWN Hash slot not served"));
    return;
  }
  for (const std::string& key : request.more_keys) {
    if (key != request.key && protocol::key_hash_slot(key) != slot) {
      reply(conn, error_reply(id, kv::ReplyKind::crossslot, "CROSSSLOT Keys in request don't hash to the same slot"));
      return;
    }
  }
  const bool write = kv::is_write(request.cmd);
  if (!node_->state_ok()) {
    if (!node_->config().cluster_allow_reads_when_down) {
      reply(conn, error_reply(id, kv::ReplyKind::clusterdown, "CLUSTERDOWN The cluster is down"));
      return;
    }
    if (write) {
      reply(conn, error_reply(id, kv::ReplyKind::clusterdown,
                              "CLUSTERDOWN The cluster is down and only accepts read commands"));
      return;
    }
  }
  if (owner != &node_->myself()) {
    kv::Reply r = error_reply(id, kv::ReplyKind::moved,
                              "MOVED " + std::to_string(slot) + " " + owner->address().ip.str() + ":" +
                                  std::to_string(owner->address().port));
    r.slot = slot;
    r.port = callbacks_.client_port_of(owner->address());
    reply(conn, std::move(r));
    return;
  }
  // processCommand: writes wait while a manual failover pauses clients (blockPostponeClient).
  if (write && node_->clients_paused(now_ms())) {
    postponed_.push_back(Postponed{conn, request});
    return;
  }
  kv::Reply r;
  r.id = id;
  switch (request.cmd) {
    case kv::Cmd::get: {
      const auto it = store_.find(request.key);
      r.kind = it == store_.end() ? kv::ReplyKind::nil : kv::ReplyKind::value;
      if (it != store_.end()) r.value = it->second;
      break;
    }
    case kv::Cmd::set:
      apply_write(request.key, request.value);
      clients_[conn].woff = repl_offset_;
      r.kind = kv::ReplyKind::ok;
      break;
    case kv::Cmd::mset:
      apply_write(request.key, request.value);
      for (const std::string& key : request.more_keys) apply_write(key, request.value);
      clients_[conn].woff = repl_offset_;
      r.kind = kv::ReplyKind::ok;
      break;
    default: break;
  }
  reply(conn, std::move(r));
}

void RedisProcess::run_postponed() {
  std::vector<Postponed> ready = std::move(postponed_);
  postponed_.clear();
  for (const Postponed& p : ready) {
    if (clients_.contains(p.conn)) execute(p.conn, p.request);
  }
}

int RedisProcess::count_acks(int64_t offset) const {
  int acks = 0;
  for (const auto& [conn, replica] : replicas_) acks += replica.ack_offset >= offset ? 1 : 0;
  return acks;
}

void RedisProcess::check_waiters() {
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    const int acks = count_acks(it->offset);
    if (acks < it->numreplicas) {
      ++it;
      continue;
    }
    host_.cancel_timer(it->timer);
    kv::Reply r;
    r.id = it->request_id;
    r.kind = kv::ReplyKind::integer;
    r.integer = acks;
    const ConnId conn = it->conn;
    it = waiters_.erase(it);
    reply(conn, std::move(r));
  }
}

void RedisProcess::wait_timeout(uint64_t request_id, ConnId conn) {
  const auto it = std::find_if(waiters_.begin(), waiters_.end(),
                               [&](const Waiter& w) { return w.request_id == request_id && w.conn == conn; });
  if (it == waiters_.end()) return;
  kv::Reply r;
  r.id = request_id;
  r.kind = kv::ReplyKind::integer;
  r.integer = count_acks(it->offset);
  waiters_.erase(it);
  reply(conn, std::move(r));
}

void RedisProcess::unblock_waiters_on_role_change() {
  // replicationSetMaster → disconnectAllBlockedClients: WAIT ends with an error.
  std::vector<Waiter> waiters = std::move(waiters_);
  waiters_.clear();
  for (const Waiter& w : waiters) {
    host_.cancel_timer(w.timer);
    reply(w.conn, error_reply(w.request_id, kv::ReplyKind::error,
                              "UNBLOCKED force unblock from blocking operation, instance state changed (master -> "
                              "replica?)"));
  }
}

std::shared_ptr<const kv::SlotPorts> RedisProcess::slot_ports() const {
  auto ports = std::make_shared<kv::SlotPorts>();
  const protocol::ClusterNode* last_owner = nullptr;  // slots come in runs of one owner: one lookup a run
  uint16_t last_port = 0;
  for (int slot = 0; slot < protocol::kClusterSlots; ++slot) {
    const protocol::ClusterNode* owner = node_->slot_owner(slot);
    if (owner != last_owner) {
      last_owner = owner;
      last_port = owner == nullptr ? 0 : callbacks_.client_port_of(owner->address());
    }
    (*ports)[slot] = last_port;
  }
  return ports;
}

// ---- data access for the world ----

std::optional<uint64_t> RedisProcess::get(const std::string& key) const {
  const auto it = store_.find(key);
  if (it == store_.end()) return std::nullopt;
  return it->second;
}

std::map<int, std::vector<std::string>> RedisProcess::keys_in_slots(const std::vector<int>& slots) const {
  std::map<int, std::vector<std::string>> keys;
  for (int slot : slots) keys[slot];
  for (const auto& [key, value] : store_) {  // one pass, not one per slot: a reshard may move thousands
    if (const auto it = keys.find(protocol::key_hash_slot(key)); it != keys.end()) it->second.push_back(key);
  }
  for (auto& [slot, in_slot] : keys) std::sort(in_slot.begin(), in_slot.end());
  return keys;
}

void RedisProcess::migrate_keys(const std::vector<std::string>& keys, RedisProcess& target) {
  for (const std::string& key : keys) {
    target.apply_write(key, store_.at(key));
    apply_del(key);
  }
  target.flush_replication();
  flush_replication();
}

}  // namespace rcsim::sim
