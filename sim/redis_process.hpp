#pragma once
// A redis-server process on a simulated host: runs a protocol::Node, turns its Effects into host
// I/O (save + fsync before sends), drives clusterCron every 100 ms of local time, serves clients on
// its client port, and models replication (src/replication.c, simplified):
// - data: a key-value store; a master executes writes, advances its replication offset by the
//   command's RESP size and streams the commands to its replicas (one frame per event-loop
//   iteration, sent from beforeSleep); replicas apply frames in order, and their processed offset
//   is what the node advertises on the bus;
// - the link: a replica connects to its master's client port and sends PSYNC; the master answers
//   with a full sync (its store and offset: a demoted master's divergent writes are discarded
//   there), then the stream. PINGs every repl-ping-replica-period; REPLCONF ACK every second and
//   on REPLCONF GETACK; repl-timeout;
// - clients (getNodeByQuery + processCommand): CROSSSLOT, CLUSTERDOWN (unbound slot, or
//   cluster_state fail), MOVED for slots owned elsewhere, writes postponed while a manual failover
//   pauses clients, WAIT numreplicas timeout, CLUSTER SLOTS.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/node.hpp"
#include "sim/host.hpp"
#include "sim/kv.hpp"

namespace rcsim::sim {

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
    // The number clients know the node at an address by (World::client_port), for MOVED and CLUSTER SLOTS.
    std::function<uint16_t(const protocol::Address&)> client_port_of;
    std::function<void(const protocol::NodeEvent&)> on_event;
    std::function<void(const protocol::Message&, HostId to)> on_send;    // for the trace
    std::function<void(const protocol::Message&, HostId from)> on_message;  // for the trace
    std::function<void()> after_input;  // the world's checker runs after every input
  };

  RedisProcess(Host& host, Rng& rng, protocol::Interner& interner, RedisProcessOptions options, Callbacks callbacks);

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
  int cron_runs() const { return cron_count_; }  // serverCron runs since the process started
  // Admin commands run through here so their effects are applied.
  protocol::CommandResult command(const std::function<protocol::CommandResult(protocol::Node&, int64_t)>& run);

  // Data. get: the value of a key in this node's store (a checker's read, bypassing routing).
  std::optional<uint64_t> get(const std::string& key) const;
  const kv::Store& store() const { return store_; }
  // CLUSTER GETKEYSINSLOT for each of `slots` at once: its keys, in key order.
  std::map<int, std::vector<std::string>> keys_in_slots(const std::vector<int>& slots) const;
  // MIGRATE of `keys` to `target` (both propagate: SET there, DEL here).
  void migrate_keys(const std::vector<std::string>& keys, RedisProcess& target);
  int connected_replicas() const { return static_cast<int>(replicas_.size()); }

 private:
  struct ClientConn {
    HostId peer = 0;
    int64_t woff = 0;  // the replication offset after this client's last write (WAIT's target)
  };
  struct ReplicaConn {
    HostId peer = 0;
    int64_t ack_offset = -1;  // last REPLCONF ACK (-1: none yet)
  };
  struct Waiter {  // a client blocked in WAIT
    ConnId conn = 0;
    uint64_t request_id = 0;
    int numreplicas = 0;
    int64_t offset = 0;
    TimerId timer;
  };
  struct Postponed {  // a write held while clients are paused (manual failover)
    ConnId conn = 0;
    kv::Request request;
  };

  void arm_cron(Duration delay);
  void on_cron_timer();
  void cron();
  void apply_effects();
  void replication_cron();
  void connect_to_master();
  void drop_master_link();
  void on_replication_data(const Packet& packet);
  void on_request(ConnId conn, const kv::Request& request);
  void execute(ConnId conn, const kv::Request& request);
  void reply(ConnId conn, kv::Reply reply);
  void apply_write(const std::string& key, uint64_t value);
  void apply_del(const std::string& key);
  void flush_replication();
  void send_to_replicas(const Packet& packet);
  int count_acks(int64_t offset) const;
  void check_waiters();
  void wait_timeout(uint64_t request_id, ConnId conn);
  void unblock_waiters_on_role_change();
  void run_postponed();
  std::shared_ptr<const kv::SlotPorts> slot_ports() const;

  Host& host_;
  Rng& rng_;
  protocol::Interner& interner_;  // the world's, shared by every node
  RedisProcessOptions options_;
  Callbacks callbacks_;
  std::unique_ptr<protocol::Node> node_;
  // Looked up per message, never walked.
  struct BusConn {
    protocol::LinkId link = 0;
    HostId peer = 0;  // the host at the other end
  };
  protocol::IdMap<ConnId> link_to_conn_;
  protocol::IdMap<BusConn> bus_conns_;  // by ConnId
  int cron_count_ = 0;
  // serverCron's time event (ae.c): due 100 ms after the previous run ended; the event loop sleeps
  // in epoll_wait for the time left rounded up to a whole millisecond, recomputed at every wake.
  int64_t cron_armed_local_us_ = 0;
  int64_t cron_due_local_us_ = 0;
  int64_t last_wake_local_us_ = 0;  // when the event loop last returned from epoll_wait
  TimerId late_cron_;               // the wake-up for a cron made late by the rounding
  bool deferred_cron_now_ = false;  // on_cron_timer just deferred the cron to late_cron_

  // Client port: connections not yet identified, clients, replicas (by their first request).
  std::map<ConnId, HostId> unidentified_;
  std::map<ConnId, ClientConn> clients_;
  std::map<ConnId, ReplicaConn> replicas_;
  std::vector<Waiter> waiters_;        // in blocking order
  std::vector<Postponed> postponed_;   // in arrival order
  bool was_master_ = false;

  // Data and replication.
  kv::Store store_;
  int64_t repl_offset_ = 0;
  std::vector<kv::StreamOp> stream_buffer_;  // written since the last flush
  bool getack_pending_ = false;
  ConnId master_conn_ = 0;
  protocol::NodeName master_name_;  // the master master_conn_ points at
  bool master_link_up_ = false;
  protocol::ReplicationStatus replication_;
  int64_t last_repl_ping_ms_ = 0;
};

}  // namespace rcsim::sim
