#include "sim/redis_process.hpp"

#include <cassert>

namespace rcsim::sim {
namespace {

constexpr int64_t kCronPeriodMs = 100;
constexpr int64_t kReplPingBytes = 14;  // "*1\r\n$4\r\nPING\r\n" added to the stream every repl-ping period

}  // namespace

RedisProcess::RedisProcess(Host& host, Rng& rng, RedisProcessOptions options, Callbacks callbacks)
    : host_(host), rng_(rng), options_(std::move(options)), callbacks_(std::move(callbacks)) {}

int64_t RedisProcess::now_ms() const { return host_.local_now().ms() + options_.clock_base_ms; }

void RedisProcess::on_start() {
  const std::optional<std::string> conf = host_.disk().read("nodes.conf");
  node_ = std::make_unique<protocol::Node>(options_.config, options_.address, conf, rng_, now_ms(), options_.bugs);
  host_.listen(options_.address.port);
  host_.listen(options_.address.cport);
  apply_effects();
  host_.set_timer(options_.cron_phase, [this] { cron(); });
}

void RedisProcess::cron() {
  host_.set_timer(Duration::millis(kCronPeriodMs), [this] { cron(); });
  node_->tick(now_ms());
  if (++cron_count_ % 10 == 0) replication_cron();  // replicationCron runs once a second
  apply_effects();
}

void RedisProcess::on_accepted(ConnId conn, HostId peer, uint16_t local_port) {
  if (local_port == options_.address.port) {
    replica_conns_[conn] = peer;  // a replica's replication link (or a client, later)
    // Full sync: the replica receives our data set and continues from our offset.
    host_.send(conn, Packet{64, std::make_shared<ReplicationFrame>(ReplicationFrame{ReplicationFrame::Kind::full_sync, repl_offset_})});
    return;
  }
  const protocol::LinkId link = protocol::kInboundLinkBase + conn;
  bus_peer_[conn] = peer;
  conn_to_link_[conn] = link;
  link_to_conn_[link] = conn;
  node_->link_accepted(link, now_ms());
  apply_effects();
}

void RedisProcess::on_connected(ConnId conn) {
  if (conn == master_conn_) return;  // the master answers with a full sync
  const auto it = conn_to_link_.find(conn);
  if (it == conn_to_link_.end()) return;
  node_->link_connected(it->second, now_ms());
  apply_effects();
}

void RedisProcess::on_connect_failed(ConnId conn) { on_closed(conn); }

void RedisProcess::on_closed(ConnId conn) {
  if (conn == master_conn_) {
    drop_master_link();
    return;
  }
  if (replica_conns_.erase(conn) > 0) return;
  const auto it = conn_to_link_.find(conn);
  if (it == conn_to_link_.end()) return;
  const protocol::LinkId link = it->second;
  conn_to_link_.erase(it);
  link_to_conn_.erase(link);
  bus_peer_.erase(conn);
  node_->link_failed(link, now_ms());
  apply_effects();
}

void RedisProcess::on_data(ConnId conn, const Packet& packet) {
  if (conn == master_conn_) {
    on_replication_data(*static_cast<const ReplicationFrame*>(packet.body.get()));
    return;
  }
  const auto it = conn_to_link_.find(conn);
  if (it == conn_to_link_.end()) return;
  const auto& message = *static_cast<const protocol::Message*>(packet.body.get());
  if (callbacks_.on_message) callbacks_.on_message(message, host_.id());
  node_->receive(it->second, message, now_ms());
  apply_effects();
}

void RedisProcess::before_sleep() {
  if (!node_) return;
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
      if (!target) {
        node_->link_failed(open->link, now_ms());  // no such address: the connect fails at once
        continue;
      }
      const ConnId conn = host_.connect(*target, open->address.cport, /*nagle=*/true);
      link_to_conn_[open->link] = conn;
      conn_to_link_[conn] = open->link;
      bus_peer_[conn] = *target;
    } else if (auto* send = std::get_if<protocol::SendMessage>(&op)) {
      const auto it = link_to_conn_.find(send->link);
      if (it == link_to_conn_.end()) continue;  // link already gone: Redis drops it too
      const uint32_t size = send->message->wire_size_bytes();
      if (callbacks_.on_send) callbacks_.on_send(*send->message, bus_peer_.at(it->second));
      host_.send(it->second, Packet{size, std::move(send->message)});
    } else if (const auto* close = std::get_if<protocol::CloseLink>(&op)) {
      const auto it = link_to_conn_.find(close->link);
      if (it == link_to_conn_.end()) continue;
      host_.close(it->second);
      conn_to_link_.erase(it->second);
      bus_peer_.erase(it->second);
      link_to_conn_.erase(it);
    }
  }
  for (const protocol::NodeEvent& event : effects.events) {
    if (callbacks_.on_event) callbacks_.on_event(event);
  }
  // Effects produced while applying (an immediate link failure) are applied too.
  if (!node_->drain().empty()) assert(false && "effects produced while applying effects");
  // Replication follows the role the node now has.
  const protocol::ClusterNode& myself = node_->myself();
  const protocol::ClusterNode* master = myself.is_replica() ? myself.master : nullptr;
  if (master == nullptr && master_conn_ != 0) {
    host_.close(master_conn_);
    master_conn_ = 0;
    master_link_up_ = false;
  } else if (master != nullptr && master_conn_ != 0 && master->name != master_name_) {
    host_.close(master_conn_);  // replicate someone else now: a fresh full sync
    master_conn_ = 0;
    master_link_up_ = false;
    replication_.link_up = false;
    replication_.down_since_ms = now_ms();
  }
  if (master != nullptr && master_conn_ == 0) connect_to_master();
}

void RedisProcess::connect_to_master() {
  const protocol::ClusterNode* master = node_->myself().master;
  if (master == nullptr || master->address.port == 0) return;
  const std::optional<HostId> target = callbacks_.resolve(master->address);
  if (!target) return;
  master_name_ = master->name;
  master_conn_ = host_.connect(*target, master->address.port, /*nagle=*/false);
}

void RedisProcess::drop_master_link() {
  master_conn_ = 0;
  if (master_link_up_) {
    replication_.link_up = false;
    replication_.down_since_ms = now_ms();
  }
  master_link_up_ = false;
}

void RedisProcess::on_replication_data(const ReplicationFrame& frame) {
  if (frame.kind == ReplicationFrame::Kind::full_sync) {
    master_link_up_ = true;
    replication_.link_up = true;
    replication_.ever_synced = true;
  }
  assert(frame.kind == ReplicationFrame::Kind::full_sync || frame.offset_after >= repl_offset_);
  repl_offset_ = frame.offset_after;
  replication_.last_interaction_ms = now_ms();
}

void RedisProcess::send_to_replicas(ReplicationFrame frame) {
  for (const auto& [conn, peer] : replica_conns_) {
    host_.send(conn, Packet{static_cast<uint32_t>(kReplPingBytes), std::make_shared<ReplicationFrame>(frame)});
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
    return;
  }
  // Master: PING the replicas every repl-ping-replica-period, except while paused by a manual failover.
  if (!replica_conns_.empty() && !node_->clients_paused(now) &&
      now - last_repl_ping_ms_ >= node_->config().repl_ping_replica_period_s * 1000) {
    last_repl_ping_ms_ = now;
    repl_offset_ += kReplPingBytes;
    send_to_replicas(ReplicationFrame{ReplicationFrame::Kind::stream, repl_offset_});
  }
}

}  // namespace rcsim::sim
