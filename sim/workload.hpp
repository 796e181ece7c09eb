#pragma once
// The scenario's client workload and the acknowledged-write checker.
//
// Clients: `spec.clients` ClusterClients, each on its own host. Client i placed beside node
// `spec.placement[i]` shares that node's network fate (World::place_beside) and, like the
// redis-reference harness's client, writes only keys of the slots that node (or, for a replica,
// its master) served when the workload started; other clients use the whole key space. Each client
// runs one command at a time (SET, then WAIT when `spec.wait` is set; or GET), starting them at
// its share of the total rate (writes_per_s + reads_per_s) / clients, from a random phase; when a
// command takes longer than the interval the next starts as soon as it ends (a closed loop: a huge
// rate means "as fast as it can"). Keys: "key:<i>", or "{g<i/10>}:<i>" with hash tags (ten keys per
// tag share a slot), i uniform in [0, keys) from the client's Rng stream (run Rng → "workload" →
// "client-<i>"). Every write stores a unique value: its write id (1, 2, ... in the order writes
// start), so the final value of a key names the write that produced it.
//
// Ledger: a write is acknowledged when SET returned OK (and WAIT then reported ≥ wait.replicas
// replicas), at the moment the client got that reply; it failed otherwise (error, retries
// exhausted, WAIT short or timed out). Acknowledged by = the node that returned OK.
//
// Checker (after the run: clients stopped, network healed, paused nodes resumed, the cluster left
// to converge): the final value of every key is read from its owner, the running node serving the
// key's slot in its own view (the greatest configEpoch if several claim it). An acknowledged write
// w survives when the final value is w's, or comes from a write that is not known to precede w:
// any write except one acknowledged before w was sent ("later" is by ack time against w's send
// time; concurrent writes may legitimately end in either order). Otherwise w is lost, with a
// reason about the node N that acknowledged it (which ran w after its last attempt left, and
// before a, the ack time; crashes and demotions count from that send time):
//   restarted_empty             N crashed after running w, restarted without data (no persistence)
//                               and still serves the slot: its replicas resynced from it, empty;
//   crashed_before_replication  N crashed (kill -9) after running w, before any demotion;
//   minority_master             N was cut off by a network fault (partition / isolate / block, not
//                               healed before a) and was demoted after running w: it acknowledged
//                               writes on the minority side before going cluster_state fail;
//   paused_master               N was paused (SIGSTOP) with w queued, ran it when resumed, before
//                               learning it had been replaced, then was demoted;
//   replaced_master             another node had already been promoted in N's place when N
//                               acknowledged w: N served on until it heard (the spec's stale-master
//                               window, e.g. right after a resume or a TAKEOVER);
//   demoted_master              N was demoted after running w otherwise (the write had not reached
//                               the replica promoted in its place: replication lag at failover);
//   no_owner                    nobody serves the key's slot at the end;
//   unexplained                 none of these (a bug to look at).
// The bound (PROTOCOL.md §14): a minority_master write acknowledged more than 1.5 × node timeout +
// 200 ms after the cut (the last network fault touching N) is an invariant violation,
// `lost_write_bound`, one per master. It holds for a cut both ways only (as the World's
// minority_master_stops_serving check): through a one-way cut the master still hears its peers until
// they tear their links down, up to another node timeout. So it applies to writes acknowledged while
// N, a master, had no path in either direction to a majority of the masters serving slots in its own
// view (sampled at each acknowledgement, re-evaluated after any event or every 100 ms). The loss window of a lost write is a − cut;
// max_loss_window_ms is the largest over lost writes that have a cut.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/rng.hpp"
#include "protocol/types.hpp"
#include "sim/client.hpp"
#include "sim/scenario.hpp"

namespace rcsim::sim {

class World;

struct WriteRecord {
  enum class Status : uint8_t { pending, acked, failed };
  uint64_t value = 0;   // = write id
  int64_t key = 0;      // key index
  int32_t client = -1;
  int32_t acked_by = -1;  // node index that returned OK
  int64_t sent_us = 0;    // first attempt
  int64_t exec_after_us = 0;  // acked: the SET's last attempt left then; the node ran it after
  int64_t done_us = -1;   // acknowledged or given up
  Status status = Status::pending;
  ClusterClient::Failure failure = ClusterClient::Failure::none;  // failed: why
  bool wait_short = false;  // failed: SET OK but WAIT reported too few replicas (or failed)
  bool cut_both_ways = false;  // acked: the acking master could exchange nothing with a majority
};

struct LostWrite {
  uint64_t value = 0;
  std::string key;
  int client = -1;
  int acked_by = -1;
  int64_t sent_us = 0;
  int64_t ack_us = 0;
  std::string reason;
  int64_t cut_us = -1;                  // the last network fault touching acked_by before the ack
  bool cut_both_ways = false;           // acked while acked_by was cut both ways from the majority
  std::optional<uint64_t> final_value;  // what the key holds at the end
  int final_owner = -1;                 // the node read
};

// What the clients lived through, as a user of the library sees it (per client, then over clients).
struct ClientsReport {
  std::string client;             // the library profile
  int64_t error_ms_per_client = 0;  // mean over clients: time inside writes that failed or never ended
  int64_t longest_without_write_ms = 0;  // the longest stretch of a client without an acknowledged write
  struct Recovery {               // per failover during the workload
    int old_master = -1, new_master = -1;
    int64_t fault_us = 0;
    int64_t first_client_back_ms = -1;  // fault → the first write the new master acknowledged; -1: none
    int64_t all_clients_back_ms = -1;   // fault → every client had one acknowledged there; -1: not all did
  };
  std::vector<Recovery> recoveries;
  uint64_t acked_by_replaced = 0;  // acknowledged after another node had been promoted in the acking one's place
};

struct WritesReport {
  bool checked = false;
  uint64_t attempted = 0, acked = 0, failed = 0, lost = 0;
  std::map<std::string, uint64_t> lost_by_reason;
  std::map<std::string, uint64_t> failed_by_reason;
  int64_t max_loss_window_ms = -1;  // -1: no lost write has a cut
  int64_t bound_ms = 0;             // 1.5 × node timeout + 200
  uint64_t reads_attempted = 0, reads_ok = 0, reads_failed = 0;
  std::vector<LostWrite> lost_writes;  // by write id
  ClientsReport clients;
};

class Workload {
 public:
  Workload(World& world, const WorkloadSpec& spec);
  ~Workload();
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  void start();  // now: load slot maps, then run
  void stop();   // no new commands; those in flight finish or time out
  bool idle() const;
  // Heal the network, resume paused nodes, run until the cluster converged, replicas synced and
  // every command ended (plus 1 s), at most `limit`.
  void settle(Duration limit);
  const WritesReport& check();
  const WritesReport& report() const { return report_; }
  const std::vector<WriteRecord>& writes() const { return writes_; }
  std::string key_name(int64_t index) const;
  int client_count() const { return static_cast<int>(drivers_.size()); }
  const ClusterClient& client(int index) const { return *drivers_.at(static_cast<size_t>(index)).client; }
  // The default settle limit: 3 × node timeout + 10 s.
  Duration default_settle() const;

 private:
  struct Driver {
    std::unique_ptr<Host> host;
    ClusterClient* client = nullptr;
    Rng rng{0};
    std::shared_ptr<const protocol::SlotBitmap> local_slots;  // placed: keys of these slots only
    int64_t next_start_ns = 0;
  };

  int64_t now_ns() const;
  void schedule(int index);
  void start_op(int index);
  int64_t choose_key(Driver& driver);
  void write_done(int index, uint64_t id, const ClusterClient::Outcome& outcome);
  void wait_done(int index, uint64_t id, uint16_t port, Instant exec_after, const ClusterClient::Outcome& outcome);
  void acked(uint64_t id, uint16_t port, Instant exec_after);
  void failed(uint64_t id, ClusterClient::Failure failure, bool wait_short);
  int node_of_port(uint16_t port) const;
  bool cut_both_ways(int node);
  ClientsReport clients_report() const;  // all but acked_by_replaced, which check() counts

  World& world_;
  WorkloadSpec spec_;
  std::vector<Driver> drivers_;
  int64_t interval_ns_ = 0;          // per client; 0 = no commands
  uint64_t write_ppm_ = 0;           // share of writes among commands, parts per million
  bool stopped_ = false;
  int64_t started_us_ = -1, stopped_us_ = -1;
  std::vector<WriteRecord> writes_;  // by write id - 1
  struct CutSample {
    size_t events = SIZE_MAX;  // world events when sampled
    int64_t period = -1;       // 100 ms period when sampled
    bool cut = false;
  };
  std::vector<CutSample> cut_samples_;  // per node
  WritesReport report_;
};

}  // namespace rcsim::sim
