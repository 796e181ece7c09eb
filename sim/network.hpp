#pragma once
// TCP as Redis sees it: connections between hosts over directed links with latency, jitter and
// loss, and partitions that stall traffic. Messages are opaque `Packet`s; one message is one segment.
//
// Semantics (each mirrors what a Linux socket shows the process):
// - connect: the SYN reaches the server after one one-way latency. If the server's endpoint is
//   listening on the port (a paused process still is: its kernel completes handshakes), the SYN-ACK
//   comes back and the client gets net_connected one RTT after connect(); the server gets
//   net_accepted when the client's final ACK arrives, one one-way latency later. If nothing listens,
//   the RST comes back and the client gets net_connect_failed after one RTT. A SYN or its answer
//   that meets a blocked path is lost; SYNs are retransmitted as Linux does (SynSchedule): by default
//   1, 2, 3, 4, 5, 7, 11, 19, 35, 67 s after connect(), and the connect fails at 131 s.
//   Data sent while connecting waits in the process (Redis's link send buffer) and leaves, in order,
//   as one segment with what the process sends while it handles net_connected (Redis's connect handler
//   and write handler run in one event: a link's first PING goes in one write() with what was queued);
//   a host whose process is paused handles it, and calls connect_handled, when the process resumes.
// - delivery: in order, once. arrival = max(send + retransmission delay + one-way latency, previous
//   arrival in that direction). Each lost transmission adds an RTO (200 ms, doubling, capped at
//   120 s, TCP_RTO_MAX); later segments wait behind it (head-of-line blocking).
// - partitions: a segment whose path is blocked when it would arrive is held and retried after an
//   RTO (200 ms, doubling while blocked, capped at 120 s); everything behind it waits. When the
//   head finally gets through, the backlog arrives right behind it. A one-way block stops data in
//   that direction only, plus the ACKs Nagle waits for (see below). A side that closed gives up
//   102.2 s after its head was first held (an orphan socket's tcp_orphan_retries): what it still
//   had is lost, silently. (An open side's own limit, tcp_retries2's 924.6 s, is not modelled:
//   Redis frees a link that gets no answer long before.)
// - Nagle (client→server only, when connect() asks for it; Redis's outbound bus links): a message
//   sent while an earlier one is unacknowledged waits. The server ACKs by sending data back on the
//   connection (the ACK rides with that data) or when its delayed-ACK timer (the client→server
//   profile's delayed_ack) fires after arrival. An ACK needs the server→client path open when it
//   arrives (a later block does not take it back); if it is blocked the ACK is retried with RTO
//   backoff. The waiting messages then leave as one segment. Pure ACKs are not subject to loss.
//   Server→client never waits (Redis sets TCP_NODELAY there).
// - close(by): what `by` already sent still arrives (Nagle-held data leaves at once; the kernel
//   keeps retransmitting it after the process is gone, even after kill -9), then the peer
//   gets net_closed (FIN). Data in flight toward `by`, and anything the peer sends later, is lost.
//   Closing while connecting abandons the handshake silently.
// - reset_host (kill -9): every connection of the host loses its data in flight both ways; each peer
//   that still has the connection gets net_closed (or net_connect_failed while connecting) when the
//   RST reaches it: one one-way latency later, or, if the path is blocked then, one one-way latency
//   after the path next opens. A SYN the host's kernel has not seen yet is not affected: it will
//   meet whatever listens when it arrives.
// - sending on a closed, reset or unknown connection is a no-op, counted in dropped_messages().
// - chaos (opt-in, beyond TCP): each data message is dropped, duplicated, or swapped with the
//   message queued just before it, with the given probabilities.
// Randomness: the network draws from its own stream, rng.fork("network"), so changes elsewhere do
// not shift network samples. No iteration over unordered containers; one scheduler event per
// delivered message, plus a few per handshake.
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "protocol/rng.hpp"
#include "protocol/time.hpp"
#include "sim/link_profile.hpp"
#include "sim/scheduler.hpp"

namespace rcsim::sim {

using HostId = uint32_t;
using ConnId = uint64_t;  // never reused within a run; 0 = none

struct Packet {
  uint32_t size_bytes = 0;
  std::shared_ptr<const void> body;  // opaque to the network
};

// When the kernel retransmits an unanswered SYN (tcp_retransmit_timer, tcp_write_timeout): the first
// RTO is 1 s (TCP_TIMEOUT_INIT); the first `linear_timeouts` retransmissions keep it (Linux >= 6.5,
// commit ccce324dabfe, sysctl net.ipv4.tcp_syn_linear_timeouts, default 4; 0 before 6.5), later ones
// double it. After `retries + linear_timeouts` retransmissions (tcp_syn_retries, default 6) the next
// timeout fails the connect. Measured on the reference machine (Linux 6.18, tcpdump of a real bus cut
// off by iptables): retransmissions 1.00-1.04 s and 1.02-1.03 s after the previous SYN: each timer
// fires at the kernel's timer wheel's next granule (Network::kernel_timer_expiry).
struct SynSchedule {
  static constexpr int kMax = 127;  // MAX_TCP_SYNCNT: the upper bound of both sysctls
  int retries = 6;
  int linear_timeouts = 4;
  bool operator==(const SynSchedule&) const = default;
};

// Implemented by Host. Callbacks arrive from scheduler events, never from inside a Network call.
class NetworkEndpoint {
 public:
  virtual ~NetworkEndpoint() = default;
  virtual bool net_listening(uint16_t port) const = 0;  // a live process listens on this port
  virtual void net_accepted(ConnId, HostId peer, uint16_t local_port) = 0;  // server side
  // Client side: connect completed. True when the process handled it now (what it wrote meanwhile
  // then leaves with what waited); false when it will later, calling Network::connect_handled then.
  virtual bool net_connected(ConnId) = 0;
  virtual void net_connect_failed(ConnId) = 0;          // refused or timed out
  virtual void net_closed(ConnId) = 0;                  // peer closed (FIN after its data) or reset
  virtual void net_data(ConnId, const Packet&) = 0;     // in order, once
};

struct ChaosOptions {
  uint32_t drop_ppm = 0, duplicate_ppm = 0, reorder_ppm = 0;
};

class Network {
 public:
  struct ConnStats {
    uint64_t bytes_a_to_b = 0, bytes_b_to_a = 0;  // delivered; a = the side that connected
    uint64_t messages_a_to_b = 0, messages_b_to_a = 0;
  };

  Network(Scheduler& scheduler, Rng& rng);
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  HostId add_host(std::string ip, NetworkEndpoint* endpoint);
  const std::string& ip(HostId host) const;
  void set_default_profile(const LinkProfile& profile);
  void set_link_profile(HostId from, HostId to, const LinkProfile& profile);  // directed override
  const LinkProfile& profile(HostId from, HostId to) const;                   // the override, else the default
  void set_syn_schedule(const SynSchedule& schedule);
  // Every host's kernel timers tick in phase with the first host's: the hosts are one machine (as when
  // tools/redis-compare runs every node on one Linux kernel). Default: each host its own phase.
  void set_shared_timer_wheel(bool shared) { shared_timer_wheel_ = shared; }

  ConnId connect(HostId from, HostId to, uint16_t port, bool nagle);  // from != to; async
  void send(ConnId conn, HostId sender, Packet packet);
  // The client's process has handled net_connected: what it wrote meanwhile leaves as one segment.
  void connect_handled(ConnId conn);
  void close(ConnId conn, HostId by);
  void reset_host(HostId host);

  // Partitions are directed blocks. partition() adds blocks between every pair of listed groups,
  // both ways, on top of existing ones; hosts in no group keep every path they had.
  void block(HostId from, HostId to);
  void unblock(HostId from, HostId to);
  void partition(const std::vector<std::vector<HostId>>& groups);
  void isolate(HostId host);
  void heal();  // removes every block
  bool path_open(HostId from, HostId to) const;

  void set_chaos(const ChaosOptions& chaos);

  ConnStats stats(ConnId conn) const;  // of an open connection
  uint64_t delivered_messages() const { return delivered_messages_; }
  uint64_t delivered_bytes() const { return delivered_bytes_; }
  uint64_t dropped_messages() const { return dropped_messages_; }  // never reached a live receiver
  uint64_t refused_connects() const { return refused_connects_; }  // answered by a reset: nobody listens
  uint64_t connects() const { return connects_; }  // every connect() so far
  size_t connection_slots() const { return conns_.size(); }  // the most connections open at once

 private:
  static constexpr int kClient = 0, kServer = 1;
  static constexpr int64_t kNever = INT64_MAX;
  enum class SideState : uint8_t { connecting, pending, open, gone };  // pending: not yet accepted
  enum class SegmentKind : uint8_t { data, accept, fin };
  enum class EventKind : uint8_t {
    deliver_to_server, deliver_to_client, syn_timer, syn_arrival, syn_ack_arrival,
    refusal_arrival, nagle_ack, rst_to_client, rst_to_server
  };

  struct Segment {
    Packet packet;
    int64_t arrival_us = 0;
    SegmentKind kind = SegmentKind::data;
    bool ack_wanted = false;  // last message of a Nagle segment: its delivery starts the ACK
  };
  // FIFO over a vector: no allocation once warmed up.
  class SegmentQueue {
   public:
    bool empty() const { return head_ == items_.size(); }
    Segment& front() { return items_[head_]; }
    Segment& back() { return items_.back(); }
    void push_back(Segment segment) { items_.push_back(std::move(segment)); }
    Segment pop_front();
    size_t clear();  // returns how many data segments it dropped

   private:
    std::vector<Segment> items_;
    size_t head_ = 0;
  };
  struct Direction {
    SegmentQueue queue;
    TimerId head_event;
    int64_t last_arrival_us = 0;
    Duration blocked_rto{};  // backoff while the head is held by a partition; 0 when not held
  };
  struct Conn {  // fields used by every message first: one cache line, then the directions
    ConnId id = 0;
    HostId host[2] = {0, 0};  // [client, server]
    SideState side[2] = {SideState::connecting, SideState::pending};
    bool nagle = false;
    bool nagle_outstanding = false;  // a client→server segment is not yet ACKed
    bool connect_unhandled = false;  // connected, and the client's process has not handled it yet
    uint16_t port = 0;
    int64_t outstanding_arrived_us = kNever;
    int64_t ack_at_us = kNever;   // when the ACK for it reaches the client, once known
    Direction dir[2];             // dir[s] carries what side s sends
    std::vector<Packet> unsent;   // the client's: written while connecting or held by Nagle
    TimerId nagle_event;
    Duration ack_backoff{};
    bool syn_received = false;  // the server's kernel answered a SYN and holds state for it
    uint32_t syn_sent = 0;
    Instant started{};
    TimerId syn_timer, syn_event, reply_event, rst_event[2];
    ConnStats stats;
  };
  struct HostEntry {
    std::string ip;
    NetworkEndpoint* endpoint = nullptr;
    // Where this host's side is not gone, in id order (for reset_host). A sorted vector, not a set: ids
    // only grow, so a new one goes at the end, and 2000 nodes have 8M of these (8 bytes each, not 48).
    std::vector<ConnId> conns;
    int64_t jiffy_phase_us = 0;  // where the host's 4 ms jiffies fall in virtual time (its boot)
  };
  struct PendingRst {
    ConnId conn;
    int to_side;
  };

  Conn* find(ConnId id) const;
  static int side_of(const Conn& c, HostId host);
  Duration sample_latency(const LinkProfile& profile);
  Duration retransmission_delay(const LinkProfile& profile);
  TimerId schedule(Instant at, ConnId id, EventKind kind);
  void on_event(uint64_t key);

  // handshake
  void send_syn(Conn& c);
  // The RTO of the timer armed after the `syns`-th SYN (1 s, doubling after the linear ones).
  Duration syn_rto(uint32_t syns) const;
  // When a kernel timer armed now for `timeout` fires on `host` (the timer wheel's rounding).
  Instant kernel_timer_expiry(HostId host, Duration timeout) const;
  void on_syn_timer(Conn& c);
  void on_syn_arrival(Conn& c);
  void on_syn_ack(Conn& c);
  void on_refusal(Conn& c);
  void fail_connect(Conn& c);
  void abandon(Conn& c);

  // data path
  int64_t segment_arrival(Conn& c, int side);
  void push(Conn& c, int side, Segment segment);
  void transmit(Conn& c, int side, std::span<Packet> packets);
  bool chaos_keeps(Conn& c, int side, Packet& packet, bool& duplicate);
  void on_deliver(Conn& c, int side);
  void nagle_send(Conn& c, Packet packet);
  bool ack_arrived(const Conn& c) const;
  void on_nagle_ack(Conn& c);
  void note_server_send(Conn& c, int64_t arrival_us);
  void arm_nagle(Conn& c);
  void flush_unsent(Conn& c);

  // teardown
  void drop_in_flight(Conn& c, int sender_side);
  void reset_side(Conn& c, int side);
  void send_rst(Conn& c, int to_side);
  void on_rst(Conn& c, int to_side);
  void side_gone(Conn& c, int side);
  void maybe_erase(Conn& c);
  void on_paths_opened();

  Scheduler& scheduler_;
  Rng rng_;
  std::vector<HostEntry> hosts_;
  // Open connections by slot, null where free. A ConnId is (connects_ at its connect << kSlotBits) | slot:
  // unique, growing with each connect (so id order is connect order), and its slot is reused once both
  // sides are gone. (Ids indexing a table of every connection ever made held memory for good: a cluster
  // reconnecting to dead nodes opens 10 connections a second per pair.)
  static constexpr int kSlotBits = 24;
  static uint32_t slot_of(ConnId id) { return static_cast<uint32_t>(id & ((uint64_t{1} << kSlotBits) - 1)); }
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<uint32_t> free_slots_;  // reused last freed first
  uint64_t connects_ = 0;
  LinkProfile default_profile_;
  std::map<std::pair<HostId, HostId>, LinkProfile> link_profiles_;
  std::map<std::pair<HostId, HostId>, Instant> blocked_;  // directed path -> when it was blocked
  std::vector<PendingRst> pending_rsts_;  // RSTs waiting for a blocked path, in reset order
  ChaosOptions chaos_;
  bool chaos_on_ = false;
  SynSchedule syn_schedule_;
  bool shared_timer_wheel_ = false;
  Rng jiffy_rng_;  // each host's jiffy phase, apart from the stream of latencies
  uint64_t delivered_messages_ = 0, delivered_bytes_ = 0, dropped_messages_ = 0, refused_connects_ = 0;
};

}  // namespace rcsim::sim
