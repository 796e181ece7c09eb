#pragma once
// A redis-server process on a simulated host: runs a protocol::Node, turns its Effects into host
// I/O (save + fsync before sends), drives clusterCron every 100 ms of local time, and models the
// replication link that feeds the node's offsets and data age (src/replication.c, simplified).
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "protocol/node.hpp"
#include "sim/host.hpp"

namespace rcsim::sim {

// Replication stream framing: what a replica's connection to its master carries.
struct ReplicationFrame {
  enum class Kind { full_sync, stream } kind = Kind::stream;
  int64_t offset_after = 0;  // the master's replication offset once this frame is applied
};

struct RedisProcessOptions {
  protocol::Config config;
  protocol::Address address;
  protocol::KnownBugs bugs;
  Duration cron_phase{};        // offset of the first clusterCron within its 100 ms period
  int64_t clock_base_ms = 0;    // added to host local time: Redis's mstime() is Unix time
};

class RedisProcess final : public Process {
 public:
  struct Callbacks {
    std::function<std::optional<HostId>(const protocol::Address&)> resolve;
    std::function<void(const protocol::NodeEvent&)> on_event;
    std::function<void(const protocol::Message&, HostId to)> on_send;    // for the trace
    std::function<void(const protocol::Message&, HostId from)> on_message;  // for the trace
    std::function<void()> after_input;  // the world's checker runs after every input
  };

  RedisProcess(Host& host, Rng& rng, RedisProcessOptions options, Callbacks callbacks);

  void on_start() override;
  void on_accepted(ConnId conn, HostId peer, uint16_t local_port) override;
  void on_connected(ConnId conn) override;
  void on_connect_failed(ConnId conn) override;
  void on_closed(ConnId conn) override;
  void on_data(ConnId conn, const Packet& packet) override;
  void before_sleep() override;

  protocol::Node& node() { return *node_; }
  const protocol::Node& node() const { return *node_; }
  int64_t now_ms() const;
  int64_t repl_offset() const { return repl_offset_; }
  // A master, or a replica that completed its first sync and whose link is up.
  bool replication_ok() const { return node_->myself().is_master() || master_link_up_; }
  // Admin commands run through here so their effects are applied.
  protocol::CommandResult command(const std::function<protocol::CommandResult(protocol::Node&, int64_t)>& run);

 private:
  void cron();
  void apply_effects();
  void replication_cron();
  void connect_to_master();
  void drop_master_link();
  void on_replication_data(const ReplicationFrame& frame);
  void send_to_replicas(ReplicationFrame frame);

  Host& host_;
  Rng& rng_;
  RedisProcessOptions options_;
  Callbacks callbacks_;
  std::unique_ptr<protocol::Node> node_;
  std::map<protocol::LinkId, ConnId> link_to_conn_;
  std::map<ConnId, protocol::LinkId> conn_to_link_;
  std::map<ConnId, HostId> bus_peer_;  // the host at the other end of each bus connection
  int cron_count_ = 0;

  // Replication, master side: connected replicas; replica side: the link to my master.
  int64_t repl_offset_ = 0;
  std::map<ConnId, HostId> replica_conns_;
  ConnId master_conn_ = 0;
  protocol::NodeName master_name_;  // the master master_conn_ points at
  bool master_link_up_ = false;
  protocol::ReplicationStatus replication_;
  int64_t last_repl_ping_ms_ = 0;
};

}  // namespace rcsim::sim
