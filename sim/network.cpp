#include "sim/network.hpp"

#include <algorithm>
#include <cassert>
#include <set>
#include <span>

namespace rcsim::sim {
namespace {

constexpr Duration kRtoInitial = Duration::millis(200);  // Linux TCP_RTO_MIN
constexpr Duration kRtoMax = Duration::seconds(120);     // Linux TCP_RTO_MAX
constexpr int64_t kJiffyUs = 4000;                        // CONFIG_HZ=250
constexpr int kRetransmitsMax = 15;                      // Linux tcp_retries2
// A closed socket with data unacknowledged (an orphan) gives up after tcp_orphan_retries (0 = 8)
// retransmissions: tcp_write_timeout's bound, ((2 << 8) - 1) x TCP_RTO_MIN = 102.2 s after the first
// send, checked when the retransmission timer fires. The timer that fires then is the one armed with
// this RTO (0.2 + 0.4 + ... + 51.2 s = 102.2 s; below TCP_RTO_MAX, so no cap in between). Its data is
// then never delivered, and no RST is sent.
constexpr Duration kOrphanLastRto = kRtoInitial * (1 << 8);  // 51.2 s
static_assert(kOrphanLastRto < kRtoMax);
constexpr uint64_t kMillion = 1'000'000;
constexpr int kEventBits = 4;  // an event's key is (conn id << kEventBits) | kind
constexpr size_t kCompactMin = 1024;

Duration backoff(Duration rto) { return rto.us == 0 ? kRtoInitial : std::min(rto * 2, kRtoMax); }

void check_profile(const LinkProfile& p) {
  assert(p.latency.us >= 0 && p.jitter.us >= 0 && p.delayed_ack.us >= 0);
  assert(p.loss_ppm < kMillion && "a link that loses everything never delivers: use block()");
  (void)p;
}

}  // namespace

Network::Segment Network::SegmentQueue::pop_front() {
  assert(!empty());
  Segment segment = std::move(items_[head_]);
  ++head_;
  if (head_ == items_.size()) {
    items_.clear();
    head_ = 0;
  } else if (head_ >= kCompactMin && head_ * 2 >= items_.size()) {
    items_.erase(items_.begin(), items_.begin() + static_cast<ptrdiff_t>(head_));
    head_ = 0;
  }
  return segment;
}

size_t Network::SegmentQueue::clear() {
  const auto data = std::count_if(items_.begin() + static_cast<ptrdiff_t>(head_), items_.end(),
                                  [](const Segment& s) { return s.kind == SegmentKind::data; });
  items_.clear();
  head_ = 0;
  return static_cast<size_t>(data);
}

Network::Network(Scheduler& scheduler, Rng& rng)
    : scheduler_(scheduler), rng_(rng.fork("network")), jiffy_rng_(rng.fork("jiffies")) {}

HostId Network::add_host(std::string ip, NetworkEndpoint* endpoint) {
  assert(endpoint != nullptr);
  hosts_.push_back(HostEntry{std::move(ip), endpoint, {}, static_cast<int64_t>(jiffy_rng_.below(kJiffyUs))});
  return static_cast<HostId>(hosts_.size() - 1);
}

const std::string& Network::ip(HostId host) const {
  assert(host < hosts_.size());
  return hosts_[host].ip;
}

void Network::set_default_profile(const LinkProfile& profile) {
  check_profile(profile);
  default_profile_ = profile;
}

void Network::set_link_profile(HostId from, HostId to, const LinkProfile& profile) {
  assert(from < hosts_.size() && to < hosts_.size());
  check_profile(profile);
  link_profiles_[{from, to}] = profile;
}

void Network::set_syn_schedule(const SynSchedule& schedule) {
  assert(schedule.retries >= 1 && schedule.retries <= SynSchedule::kMax);
  assert(schedule.linear_timeouts >= 0 && schedule.linear_timeouts <= SynSchedule::kMax);
  syn_schedule_ = schedule;
}

Duration Network::syn_rto(uint32_t syns) const {
  assert(syns >= 1);
  Duration rto = Duration::seconds(1);  // TCP_TIMEOUT_INIT
  for (uint32_t i = 1; i < syns; ++i) {
    if (i > static_cast<uint32_t>(syn_schedule_.linear_timeouts)) rto = std::min(rto * 2, kRtoMax);
  }
  return rto;
}

// Linux's timer wheel (kernel/time/timer.c, since 4.8): a timer lands in a level by how far away it
// is, and fires at the first boundary of that level's granule strictly after its expiry: 1 jiffy below
// 63 jiffies, 8 below 504, 64 below 4032, 512 beyond (a host's jiffy is 4 ms: CONFIG_HZ=250, Debian's
// kernels). A 1 s SYN retransmission (250 jiffies) thus waits 1.000-1.036 s, as measured on this
// machine (results/fidelity-real-notes.md: 750 first retransmissions, mean 1.017 s).
Instant Network::kernel_timer_expiry(HostId host, Duration timeout) const {
  assert(host < hosts_.size() && timeout.us > 0);
  const int64_t phase_us = hosts_[shared_timer_wheel_ ? 0 : host].jiffy_phase_us;
  const int64_t now_jiffies = (scheduler_.now().us + phase_us) / kJiffyUs;
  const int64_t delta = (timeout.us + kJiffyUs - 1) / kJiffyUs;  // msecs_to_jiffies rounds up
  int shift = 0;
  for (int64_t start = 63; delta >= start && shift < 9; start <<= 3) shift += 3;
  const int64_t expires = now_jiffies + delta;
  const int64_t fires = ((expires + (int64_t{1} << shift)) >> shift) << shift;
  return Instant::from_micros(fires * kJiffyUs - phase_us);
}

void Network::set_chaos(const ChaosOptions& chaos) {
  assert(chaos.drop_ppm <= kMillion && chaos.duplicate_ppm <= kMillion && chaos.reorder_ppm <= kMillion);
  chaos_ = chaos;
  chaos_on_ = chaos.drop_ppm != 0 || chaos.duplicate_ppm != 0 || chaos.reorder_ppm != 0;
}

Network::ConnStats Network::stats(ConnId conn) const {
  const Conn* c = find(conn);
  assert(c != nullptr);
  return c->stats;
}

Network::Conn* Network::find(ConnId id) const {
  const uint32_t slot = slot_of(id);
  if (slot >= conns_.size()) return nullptr;
  Conn* c = conns_[slot].get();
  return c != nullptr && c->id == id ? c : nullptr;
}

int Network::side_of(const Conn& c, HostId host) {
  assert((host == c.host[kClient] || host == c.host[kServer]) && "not this connection's host");
  return host == c.host[kClient] ? kClient : kServer;
}

const LinkProfile& Network::profile(HostId from, HostId to) const {
  if (link_profiles_.empty()) return default_profile_;
  const auto it = link_profiles_.find({from, to});
  return it == link_profiles_.end() ? default_profile_ : it->second;
}

Duration Network::sample_latency(const LinkProfile& p) { return sim::sample_latency(p, rng_); }

Duration Network::retransmission_delay(const LinkProfile& p) {
  Duration total{};
  if (p.loss_ppm == 0) return total;
  Duration rto{};
  for (int i = 0; i < kRetransmitsMax && rng_.chance(p.loss_ppm, kMillion); ++i) {
    rto = backoff(rto);
    total += rto;
  }
  return total;
}

TimerId Network::schedule(Instant at, ConnId id, EventKind kind) {
  assert(id < (uint64_t{1} << (64 - kEventBits)));
  const uint64_t key = (id << kEventBits) | static_cast<uint64_t>(kind);
  return scheduler_.at(at, [this, key] { on_event(key); });
}

void Network::on_event(uint64_t key) {
  Conn* c = find(key >> kEventBits);
  assert(c != nullptr && "an erased connection's events are cancelled");
  switch (static_cast<EventKind>(key & ((1u << kEventBits) - 1))) {
    case EventKind::deliver_to_server: on_deliver(*c, kClient); break;
    case EventKind::deliver_to_client: on_deliver(*c, kServer); break;
    case EventKind::syn_timer: on_syn_timer(*c); break;
    case EventKind::syn_arrival: on_syn_arrival(*c); break;
    case EventKind::syn_ack_arrival: on_syn_ack(*c); break;
    case EventKind::refusal_arrival: on_refusal(*c); break;
    case EventKind::nagle_ack: on_nagle_ack(*c); break;
    case EventKind::rst_to_client: on_rst(*c, kClient); break;
    case EventKind::rst_to_server: on_rst(*c, kServer); break;
  }
}

// ---- handshake ----

ConnId Network::connect(HostId from, HostId to, uint16_t port, bool nagle) {
  assert(from < hosts_.size() && to < hosts_.size());
  assert(from != to && "a host does not connect to itself here");
  auto conn = std::make_unique<Conn>();
  Conn& c = *conn;
  uint32_t slot = 0;
  if (free_slots_.empty()) {
    slot = static_cast<uint32_t>(conns_.size());
    assert(slot < (uint32_t{1} << kSlotBits) && "16M connections open at once");
    conns_.emplace_back();
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  ++connects_;
  assert(connects_ < (uint64_t{1} << (64 - kSlotBits - kEventBits)) && "an event key holds the id");
  c.id = (connects_ << kSlotBits) | slot;
  c.host[kClient] = from;
  c.host[kServer] = to;
  c.port = port;
  c.nagle = nagle;
  c.started = scheduler_.now();
  conns_[slot] = std::move(conn);
  for (const HostId h : {from, to}) {
    assert(hosts_[h].conns.empty() || hosts_[h].conns.back() < c.id);
    hosts_[h].conns.push_back(c.id);
  }
  send_syn(c);
  return c.id;
}

void Network::send_syn(Conn& c) {
  const Instant now = scheduler_.now();
  // Once an RST is on its way to this client, retries only wait for it or for the timeout.
  if (c.side[kServer] != SideState::gone && !c.syn_event) {
    c.syn_event = schedule(now + sample_latency(profile(c.host[kClient], c.host[kServer])), c.id,
                           EventKind::syn_arrival);
  }
  ++c.syn_sent;
  // The next retransmission, or the connect's failure once every retransmission is spent.
  c.syn_timer = schedule(kernel_timer_expiry(c.host[kClient], syn_rto(c.syn_sent)), c.id, EventKind::syn_timer);
}

void Network::on_syn_timer(Conn& c) {
  c.syn_timer = {};
  assert(c.side[kClient] == SideState::connecting);
  const auto retransmissions = static_cast<int>(c.syn_sent) - 1;
  if (retransmissions >= syn_schedule_.retries + syn_schedule_.linear_timeouts) {
    fail_connect(c);  // tcp_write_timeout: ETIMEDOUT
    return;
  }
  send_syn(c);
}

void Network::on_syn_arrival(Conn& c) {
  c.syn_event = {};
  assert(c.side[kClient] == SideState::connecting);
  const HostId client = c.host[kClient], server = c.host[kServer];
  if (!path_open(client, server) || c.reply_event) return;  // lost, or already answered
  // The kernel answers for a listening socket even when its process is paused.
  const bool listening = hosts_[server].endpoint->net_listening(c.port);
  c.syn_received = c.syn_received || listening;
  c.reply_event = schedule(scheduler_.now() + sample_latency(profile(server, client)), c.id,
                           listening ? EventKind::syn_ack_arrival : EventKind::refusal_arrival);
}

void Network::on_syn_ack(Conn& c) {
  c.reply_event = {};
  assert(c.side[kClient] == SideState::connecting && c.side[kServer] == SideState::pending);
  if (!path_open(c.host[kServer], c.host[kClient])) return;  // lost: the next SYN gets a new answer
  scheduler_.cancel(c.syn_timer);
  scheduler_.cancel(c.syn_event);
  c.syn_timer = c.syn_event = {};
  c.side[kClient] = SideState::open;
  // The final ACK of the handshake: the server accepts when it arrives, before any data.
  push(c, kClient, Segment{Packet{}, segment_arrival(c, kClient), SegmentKind::accept, false});
  c.connect_unhandled = true;  // what waits leaves with what the process writes on connecting
  if (hosts_[c.host[kClient]].endpoint->net_connected(c.id)) connect_handled(c.id);
}

void Network::on_refusal(Conn& c) {
  c.reply_event = {};
  assert(c.side[kClient] == SideState::connecting);
  if (!path_open(c.host[kServer], c.host[kClient])) return;  // lost: the next SYN is refused again
  ++refused_connects_;
  fail_connect(c);
}

void Network::fail_connect(Conn& c) {
  const ConnId id = c.id;
  NetworkEndpoint* client = hosts_[c.host[kClient]].endpoint;
  abandon(c);
  client->net_connect_failed(id);
}

// The handshake ends without a connection; the server's process never saw it.
void Network::abandon(Conn& c) {
  assert(c.side[kClient] == SideState::connecting);
  side_gone(c, kClient);
  if (c.side[kServer] != SideState::gone) side_gone(c, kServer);
  maybe_erase(c);
}

// ---- data path ----

void Network::send(ConnId conn, HostId sender, Packet packet) {
  Conn* c = find(conn);
  if (c == nullptr) {
    ++dropped_messages_;
    return;
  }
  const int s = side_of(*c, sender);
  if (c->side[s] == SideState::gone || c->side[1 - s] == SideState::gone) {
    ++dropped_messages_;
    return;
  }
  assert(c->side[s] != SideState::pending && "the server learns of a connection from net_accepted");
  if (c->side[s] == SideState::connecting || (s == kClient && c->connect_unhandled)) {
    c->unsent.push_back(std::move(packet));
  } else if (s == kClient && c->nagle) {
    nagle_send(*c, std::move(packet));
  } else {
    transmit(*c, s, std::span<Packet>(&packet, 1));
  }
}

int64_t Network::segment_arrival(Conn& c, int side) {
  Direction& d = c.dir[side];
  const LinkProfile& p = profile(c.host[side], c.host[1 - side]);
  const Instant sent = scheduler_.now();
  const int64_t arrival_us = std::max((sent + retransmission_delay(p) + sample_latency(p)).us,
                                      d.last_arrival_us);  // in order: never before the previous one
  d.last_arrival_us = arrival_us;
  return arrival_us;
}

void Network::push(Conn& c, int side, Segment segment) {
  Direction& d = c.dir[side];
  const bool was_empty = d.queue.empty();
  d.queue.push_back(std::move(segment));
  if (was_empty) {
    d.head_event = schedule(Instant{d.queue.front().arrival_us}, c.id,
                            side == kClient ? EventKind::deliver_to_server : EventKind::deliver_to_client);
  }
}

// The packets leave as one segment: one latency sample, one loss draw, one arrival time.
void Network::transmit(Conn& c, int side, std::span<Packet> packets) {
  assert(!packets.empty());
  const int64_t arrival_us = segment_arrival(c, side);
  bool pushed = false;
  for (Packet& packet : packets) {
    bool duplicate = false;
    if (chaos_on_ && !chaos_keeps(c, side, packet, duplicate)) continue;
    if (duplicate) push(c, side, Segment{packet, arrival_us, SegmentKind::data, false});
    push(c, side, Segment{std::move(packet), arrival_us, SegmentKind::data, false});
    pushed = true;
  }
  if (c.nagle && side == kClient) {
    if (pushed) c.dir[side].queue.back().ack_wanted = true;
    c.nagle_outstanding = pushed;  // chaos may have dropped all of it: nothing to wait for
    c.outstanding_arrived_us = c.ack_at_us = kNever;
  } else if (c.nagle) {
    note_server_send(c, arrival_us);
  }
}

// Chaos (beyond TCP): false drops the message; `duplicate` asks for a second copy; a reordered
// message swaps places with the data message queued just before it.
bool Network::chaos_keeps(Conn& c, int side, Packet& packet, bool& duplicate) {
  if (chaos_.drop_ppm != 0 && rng_.chance(chaos_.drop_ppm, kMillion)) {
    ++dropped_messages_;
    return false;
  }
  duplicate = chaos_.duplicate_ppm != 0 && rng_.chance(chaos_.duplicate_ppm, kMillion);
  if (chaos_.reorder_ppm != 0 && rng_.chance(chaos_.reorder_ppm, kMillion)) {
    SegmentQueue& queue = c.dir[side].queue;
    if (!queue.empty() && queue.back().kind == SegmentKind::data) std::swap(queue.back().packet, packet);
  }
  return true;
}

void Network::on_deliver(Conn& c, int side) {
  Direction& d = c.dir[side];
  d.head_event = {};
  assert(!d.queue.empty());
  const EventKind kind = side == kClient ? EventKind::deliver_to_server : EventKind::deliver_to_client;
  const HostId from = c.host[side], to = c.host[1 - side];
  const Instant now = scheduler_.now();
  // A retransmission timer of an orphan checks its age first, open path or not.
  if (d.blocked_rto >= kOrphanLastRto && c.side[side] == SideState::gone) {
    drop_in_flight(c, side);  // the orphan dies: the peer never hears of it
    maybe_erase(c);
    return;
  }
  if (!path_open(from, to)) {  // held by a partition: retransmitted with RTO backoff
    d.blocked_rto = backoff(d.blocked_rto);
    d.head_event = schedule(now + d.blocked_rto, c.id, kind);
    return;
  }
  d.blocked_rto = {};
  Segment segment = d.queue.pop_front();
  if (!d.queue.empty()) d.head_event = schedule(Instant{std::max(d.queue.front().arrival_us, now.us)}, c.id, kind);
  const ConnId id = c.id;
  NetworkEndpoint* receiver = hosts_[to].endpoint;
  const int to_side = 1 - side;
  switch (segment.kind) {
    case SegmentKind::accept:
      assert(c.side[kServer] == SideState::pending);
      c.side[kServer] = SideState::open;
      receiver->net_accepted(id, from, c.port);
      return;
    case SegmentKind::fin:
      side_gone(c, to_side);
      maybe_erase(c);
      receiver->net_closed(id);
      return;
    case SegmentKind::data: break;
  }
  assert(c.side[to_side] == SideState::open);
  ConnStats& stats = c.stats;
  (side == kClient ? stats.bytes_a_to_b : stats.bytes_b_to_a) += segment.packet.size_bytes;
  ++(side == kClient ? stats.messages_a_to_b : stats.messages_b_to_a);
  ++delivered_messages_;
  delivered_bytes_ += segment.packet.size_bytes;
  if (segment.ack_wanted) {  // the server's delayed-ACK timer starts now
    c.outstanding_arrived_us = now.us;
    c.ack_at_us = (now + profile(from, to).delayed_ack + sample_latency(profile(to, from))).us;
    arm_nagle(c);
  }
  receiver->net_data(id, segment.packet);
}

// ---- Nagle (client→server) ----

void Network::nagle_send(Conn& c, Packet packet) {
  if (c.nagle_outstanding && !ack_arrived(c)) {
    c.unsent.push_back(std::move(packet));
    arm_nagle(c);
    return;
  }
  c.nagle_outstanding = false;
  if (c.unsent.empty()) {
    transmit(c, kClient, std::span<Packet>(&packet, 1));
    return;
  }
  c.unsent.push_back(std::move(packet));  // behind what waited for the same ACK
  flush_unsent(c);
}

// The ACK for what is outstanding arrived if its time has come and the server→client path was open
// then: a block that came after it does not take it back.
bool Network::ack_arrived(const Conn& c) const {
  if (c.ack_at_us > scheduler_.now().us) return false;
  const auto block = blocked_.find({c.host[kServer], c.host[kClient]});
  return block == blocked_.end() || block->second.us > c.ack_at_us;
}

// Data from the server carries the ACK for what it has received.
void Network::note_server_send(Conn& c, int64_t arrival_us) {
  if (!c.nagle_outstanding || c.outstanding_arrived_us == kNever || arrival_us >= c.ack_at_us) return;
  c.ack_at_us = arrival_us;
  if (c.nagle_event) {
    scheduler_.cancel(c.nagle_event);
    c.nagle_event = {};
    arm_nagle(c);
  }
}

void Network::arm_nagle(Conn& c) {
  if (c.unsent.empty() || c.ack_at_us == kNever || c.nagle_event) return;
  c.nagle_event = schedule(Instant{std::max(c.ack_at_us, scheduler_.now().us)}, c.id, EventKind::nagle_ack);
}

void Network::on_nagle_ack(Conn& c) {
  c.nagle_event = {};
  assert(c.nagle_outstanding && !c.unsent.empty());
  if (!path_open(c.host[kServer], c.host[kClient])) {  // the ACK is lost; retried like a segment
    c.ack_backoff = backoff(c.ack_backoff);
    c.ack_at_us = (scheduler_.now() + c.ack_backoff).us;
    arm_nagle(c);
    return;
  }
  c.ack_backoff = {};
  c.nagle_outstanding = false;
  flush_unsent(c);
}

void Network::connect_handled(ConnId conn) {
  Conn* c = find(conn);
  if (c == nullptr || !c->connect_unhandled) return;
  c->connect_unhandled = false;
  if (c->side[kClient] == SideState::open && !c->unsent.empty()) flush_unsent(*c);
}

void Network::flush_unsent(Conn& c) {
  scheduler_.cancel(c.nagle_event);  // nothing left to wait for
  c.nagle_event = {};
  transmit(c, kClient, c.unsent);
  c.unsent.clear();
}

// ---- teardown ----

void Network::close(ConnId conn, HostId by) {
  Conn* c = find(conn);
  if (c == nullptr) return;
  const int s = side_of(*c, by);
  if (c->side[s] == SideState::gone) return;
  if (c->side[s] == SideState::connecting) {
    abandon(*c);
    return;
  }
  assert(c->side[s] == SideState::open);
  if (s == kClient && !c->unsent.empty()) flush_unsent(*c);  // close() still sends what is buffered
  side_gone(*c, s);
  const int r = 1 - s;
  if (c->side[r] == SideState::gone) {
    maybe_erase(*c);
    return;
  }
  push(*c, s, Segment{Packet{}, segment_arrival(*c, s), SegmentKind::fin, false});
}

void Network::reset_host(HostId host) {
  assert(host < hosts_.size());
  const std::vector<ConnId> ids = hosts_[host].conns;
  for (const ConnId id : ids) {
    Conn* c = find(id);
    assert(c != nullptr);
    reset_side(*c, side_of(*c, host));
  }
}

void Network::reset_side(Conn& c, int side) {
  if (side == kServer && c.side[kClient] == SideState::connecting && !c.syn_received) return;
  drop_in_flight(c, kClient);
  drop_in_flight(c, kServer);
  scheduler_.cancel(c.syn_event);
  scheduler_.cancel(c.reply_event);
  c.syn_event = c.reply_event = {};
  side_gone(c, side);
  const int peer = 1 - side;
  if (c.side[peer] == SideState::pending) {
    side_gone(c, peer);  // never accepted: nothing to tell
  } else if (c.side[peer] != SideState::gone) {
    send_rst(c, peer);
  }
  maybe_erase(c);
}

// Loses what `sender_side` has sent and not yet delivered.
void Network::drop_in_flight(Conn& c, int sender_side) {
  Direction& d = c.dir[sender_side];
  dropped_messages_ += d.queue.clear();
  scheduler_.cancel(d.head_event);
  d.head_event = {};
  d.blocked_rto = {};
  if (sender_side != kClient) return;
  dropped_messages_ += c.unsent.size();
  c.unsent.clear();
  scheduler_.cancel(c.nagle_event);
  c.nagle_event = {};
  c.nagle_outstanding = false;
}

void Network::send_rst(Conn& c, int to_side) {
  const HostId from = c.host[1 - to_side], to = c.host[to_side];
  if (!path_open(from, to)) {
    pending_rsts_.push_back(PendingRst{c.id, to_side});
    return;
  }
  TimerId& event = c.rst_event[to_side];
  scheduler_.cancel(event);
  event = schedule(scheduler_.now() + sample_latency(profile(from, to)), c.id,
                   to_side == kClient ? EventKind::rst_to_client : EventKind::rst_to_server);
}

void Network::on_rst(Conn& c, int to_side) {
  c.rst_event[to_side] = {};
  assert(c.side[to_side] != SideState::gone);
  if (!path_open(c.host[1 - to_side], c.host[to_side])) {
    pending_rsts_.push_back(PendingRst{c.id, to_side});
    return;
  }
  if (c.side[to_side] == SideState::connecting) {
    fail_connect(c);
    return;
  }
  const ConnId id = c.id;
  NetworkEndpoint* receiver = hosts_[c.host[to_side]].endpoint;
  side_gone(c, to_side);
  maybe_erase(c);
  receiver->net_closed(id);
}

// The side's process no longer has the connection: nothing more is delivered to it.
void Network::side_gone(Conn& c, int side) {
  assert(c.side[side] != SideState::gone);
  drop_in_flight(c, 1 - side);
  c.side[side] = SideState::gone;
  std::vector<ConnId>& conns = hosts_[c.host[side]].conns;
  const auto it = std::lower_bound(conns.begin(), conns.end(), c.id);
  assert(it != conns.end() && *it == c.id);
  conns.erase(it);
}

void Network::maybe_erase(Conn& c) {
  if (c.side[kClient] != SideState::gone || c.side[kServer] != SideState::gone) return;
  for (TimerId* event : {&c.syn_timer, &c.syn_event, &c.reply_event, &c.nagle_event, &c.rst_event[0],
                         &c.rst_event[1], &c.dir[0].head_event, &c.dir[1].head_event}) {
    scheduler_.cancel(*event);
  }
  assert(c.dir[0].queue.empty() && c.dir[1].queue.empty());
  const uint32_t slot = slot_of(c.id);
  conns_[slot].reset();  // c is gone
  free_slots_.push_back(slot);
}

// ---- partitions ----

bool Network::path_open(HostId from, HostId to) const {
  return blocked_.empty() || !blocked_.contains({from, to});
}

void Network::block(HostId from, HostId to) {
  assert(from < hosts_.size() && to < hosts_.size() && from != to);
  blocked_.emplace(std::make_pair(from, to), scheduler_.now());  // an existing block keeps its time
}

void Network::unblock(HostId from, HostId to) {
  if (blocked_.erase({from, to}) != 0) on_paths_opened();
}

void Network::partition(const std::vector<std::vector<HostId>>& groups) {
  std::set<HostId> seen;
  for (const auto& group : groups) {
    for (const HostId h : group) {
      const bool fresh = seen.insert(h).second;
      assert(fresh && "a host is in two partition groups");
      (void)fresh;
    }
  }
  for (size_t i = 0; i < groups.size(); ++i) {
    for (size_t j = i + 1; j < groups.size(); ++j) {
      for (const HostId a : groups[i]) {
        for (const HostId b : groups[j]) {
          block(a, b);
          block(b, a);
        }
      }
    }
  }
}

void Network::isolate(HostId host) {
  for (HostId other = 0; other < hosts_.size(); ++other) {
    if (other == host) continue;
    block(host, other);
    block(other, host);
  }
}

void Network::heal() {
  blocked_.clear();
  on_paths_opened();
}

// RSTs that met a blocked path go out once it opens (data and SYNs retry on their own timers).
void Network::on_paths_opened() {
  std::vector<PendingRst> waiting;
  waiting.swap(pending_rsts_);
  for (const PendingRst& rst : waiting) {
    Conn* c = find(rst.conn);
    if (c == nullptr || c->side[rst.to_side] == SideState::gone || c->rst_event[rst.to_side]) continue;
    send_rst(*c, rst.to_side);
  }
}

}  // namespace rcsim::sim
