#pragma once
// A cluster-aware Redis client, as a process on its own simulated host, that behaves as a client library
// does by default (sim/client_profiles.hpp: Lettuce, Jedis, redis-py, go-redis, ioredis, or `generic`):
// - a slot map loaded with CLUSTER SLOTS from one of the cluster's nodes (its "startup nodes"),
//   reloaded as the profile says: on MOVED, CLUSTERDOWN, timeouts, connection errors, failed
//   reconnects, periodically; one reload at a time, event-triggered ones at most so often;
// - one connection per node it talks to (TCP_NODELAY), opened lazily;
// - one command at a time: sent to the node serving the key's slot in the map (a random startup
//   node when the slot is unknown); MOVED (when the profile says) updates that slot and follows the
//   redirection; ASK sends ASKING + the command to the target without touching the map; at most
//   `max_redirects` redirections per command;
// - CLUSTERDOWN and TRYAGAIN are retried after a back-off; a reply missing for the command timeout
//   closes the connection (the reply can never be matched to a later command) and is retried the
//   same way; after `max_attempts` attempts the command fails. A connection error is retried the
//   same way, or (Lettuce) the command waits on that node's connection while it reconnects, until
//   the command's deadline;
// - CROSSSLOT and other errors fail the command at once (redis-py and Jedis refuse cross-slot
//   multi-key commands before sending them; this client sends them and reports Redis's error).
// Simplification: connecting counts toward the command timeout (no separate connect timeout), and
// there is no TCP keepalive: a client without a command timeout waits as long as a silent cut lasts.
// The completion callback never runs inside run(): always from a later event.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "protocol/rng.hpp"
#include "sim/client_profiles.hpp"
#include "sim/host.hpp"
#include "sim/kv.hpp"

namespace rcsim::sim {

struct ClusterClientOptions {
  ClientProfile profile = *find_client_profile("generic");
  std::vector<uint16_t> startup_ports;      // nodes to ask CLUSTER SLOTS (client ports)
  // A node's number (World::client_port) → its host and its real client port.
  std::function<std::optional<std::pair<HostId, uint16_t>>(uint16_t port)> resolve;
};

class ClusterClient final : public Process {
 public:
  enum class Failure : uint8_t { none, timeout, connection, clusterdown, tryagain, crossslot, redirects, error };
  struct Outcome {
    bool ok = false;
    kv::Reply reply;      // the last reply (when one came)
    uint16_t port = 0;    // the node that gave it (client port)
    int attempts = 0;
    Failure failure = Failure::none;
    Instant last_sent{};  // when the last attempt left (the node ran the command after that)
  };
  using Done = std::function<void(const Outcome&)>;

  ClusterClient(Host& host, Rng rng, ClusterClientOptions options);

  // Runs a command: routed by its key, or sent to `port` when given (WAIT goes where the write went).
  // retry=false: one attempt only (WAIT must not be resent on a new connection, whose woff is 0).
  void run(kv::Request request, Done done, uint16_t port = 0, bool retry = true);
  // Loads the slot map now; `done` runs when it is loaded (or failed: the map stays as it was).
  void refresh_slots(std::function<void()> done = {});
  bool busy() const { return op_.has_value(); }
  const kv::SlotPorts& slot_map() const { return slot_port_; }
  Host& host() { return host_; }
  uint64_t redirections() const { return redirections_; }
  uint64_t slot_refreshes() const { return refreshes_; }  // reloads that loaded a map
  uint64_t reloads() const { return reloads_; }            // reloads begun (each may ask several nodes)
  const ClientProfile& profile() const { return options_.profile; }

  // Process
  void on_start() override;
  void on_accepted(ConnId, HostId, uint16_t) override {}
  void on_connected(ConnId) override {}
  void on_connect_failed(ConnId conn) override { on_closed(conn); }
  void on_closed(ConnId conn) override;
  void on_data(ConnId conn, const Packet& packet) override;

  static const char* describe(Failure failure);

 private:
  struct InFlight {
    uint64_t id = 0;
    ConnId conn = 0;
    uint16_t port = 0;
    TimerId timer;
  };
  struct Op {
    kv::Request request;
    Done done;
    uint16_t fixed_port = 0;
    int max_attempts = 1;
    int attempts = 0;
    int redirects = 0;
    Instant last_sent{};
    std::optional<InFlight> in_flight;
    TimerId backoff;
    uint64_t serial = 0;       // which command: a timer or reload waiter of an earlier one does nothing
    TimerId deadline;          // the profile's command_deadline
    Instant deadline_at{};
    uint16_t last_port = 0;    // the node the last attempt went to
  };

  void attempt(uint16_t port, bool asking);
  void on_reply(const kv::Reply& reply);
  void on_op_timeout(uint64_t id);
  void on_op_lost(Failure failure);  // timeout or connection error
  void after_lost(Failure failure);
  // Retries after the profile's delay, or fails the command when it has no attempt left; `reload`: the
  // error asks for a slot map reload.
  void retry_later(Failure failure, const kv::Reply* reply, bool reload);
  Duration retry_delay(Failure failure, bool reload);
  void finish(bool ok, Failure failure, const kv::Reply* reply, uint16_t port);
  void on_slots(const kv::Reply& reply);
  void end_refresh(bool loaded);
  // An event-triggered reload, unless one started less than reload_min_interval ago: whether one is under way.
  bool reload_on_event();
  void periodic_reload();
  void wait_for_reconnect(uint16_t port);
  void on_deadline();
  ConnId connection(uint16_t port);
  void drop_connection(uint16_t port);
  uint16_t random_startup_port();

  Host& host_;
  Rng rng_;
  ClusterClientOptions options_;
  kv::SlotPorts slot_port_{};
  std::map<uint16_t, ConnId> conns_;  // by node client port
  std::map<ConnId, uint16_t> conn_port_;
  uint64_t next_id_ = 1;
  std::optional<Op> op_;
  std::optional<InFlight> refresh_;
  std::vector<uint16_t> refresh_order_;  // the nodes the reload under way has still to ask, last first
  std::vector<std::function<void()>> refresh_waiters_;
  std::optional<Instant> last_event_reload_;
  std::optional<Instant> loaded_at_;  // the map's last successful load
  uint64_t op_serial_ = 0;
  uint64_t moved_seen_ = 0;
  int connection_errors_in_row_ = 0;
  std::map<uint16_t, int> failed_reconnects_;  // by node client port, since its last success
  uint64_t redirections_ = 0;
  uint64_t refreshes_ = 0;
  uint64_t reloads_ = 0;
};

}  // namespace rcsim::sim
