#include "sim/client.hpp"

#include <algorithm>
#include <cassert>

#include "protocol/slots.hpp"

namespace rcsim::sim {
namespace {

// first, 2 × first, 4 × first ... for the n-th try (1-based), at most `max`.
Duration doubling(Duration first, Duration max, int n) {
  assert(n >= 1);
  return std::min(max, first * (int64_t{1} << std::min(n - 1, 30)));
}

}  // namespace

ClusterClient::ClusterClient(Host& host, Rng rng, ClusterClientOptions options)
    : host_(host), rng_(rng), options_(std::move(options)) {
  assert(!options_.startup_ports.empty() && options_.profile.max_attempts >= 1);
}

const char* ClusterClient::describe(Failure failure) {
  switch (failure) {
    case Failure::none: return "none";
    case Failure::timeout: return "timeout";
    case Failure::connection: return "connection";
    case Failure::clusterdown: return "clusterdown";
    case Failure::tryagain: return "tryagain";
    case Failure::crossslot: return "crossslot";
    case Failure::redirects: return "too_many_redirections";
    case Failure::error: return "error";
  }
  return "?";
}

void ClusterClient::on_start() {
  if (options_.profile.periodic_reload > Duration{}) {
    host_.set_timer(options_.profile.periodic_reload, [this] { periodic_reload(); });
  }
}

void ClusterClient::periodic_reload() {
  host_.set_timer(options_.profile.periodic_reload, [this] { periodic_reload(); });
  refresh_slots();
}

bool ClusterClient::reload_on_event() {
  if (refresh_) return true;  // one is under way: it answers this event too
  const Duration min_interval = options_.profile.reload_min_interval;
  if (min_interval > Duration{} && last_event_reload_ && host_.local_now() < *last_event_reload_ + min_interval) {
    return false;
  }
  last_event_reload_ = host_.local_now();
  refresh_slots();
  return true;
}

void ClusterClient::run(kv::Request request, Done done, uint16_t port, bool retry) {
  assert(!op_ && "one command at a time");
  const ClientProfile& profile = options_.profile;
  op_ = Op();  // (not emplace: clang would judge Op default-constructible inside the class, where it is not yet)
  op_->serial = ++op_serial_;
  op_->request = std::move(request);
  op_->done = std::move(done);
  op_->fixed_port = port;
  op_->max_attempts = retry ? profile.max_attempts : 1;
  op_->attempts = 1;
  connection_errors_in_row_ = 0;  // counted per command (Jedis's consecutiveConnectionFailures)
  if (profile.command_deadline > Duration{}) {
    op_->deadline_at = host_.local_now() + profile.command_deadline;
    op_->deadline = host_.set_timer(profile.command_deadline, [this] { on_deadline(); });
  }
  // go-redis: a command that finds the map older than the reload interval reloads it (in the background).
  if (profile.reload_when_stale > Duration{} && loaded_at_ && host_.local_now() >= *loaded_at_ + profile.reload_when_stale) {
    reload_on_event();
  }
  attempt(0, false);
}

uint16_t ClusterClient::random_startup_port() {
  return options_.startup_ports[rng_.below(options_.startup_ports.size())];
}

ConnId ClusterClient::connection(uint16_t port) {
  if (const auto it = conns_.find(port); it != conns_.end()) return it->second;
  const auto target = options_.resolve(port);
  if (!target) return 0;
  const ConnId conn = host_.connect(target->first, target->second, /*nagle=*/false);
  conns_[port] = conn;
  conn_port_[conn] = port;
  return conn;
}

void ClusterClient::drop_connection(uint16_t port) {
  const auto it = conns_.find(port);
  if (it == conns_.end()) return;
  host_.close(it->second);
  conn_port_.erase(it->second);
  conns_.erase(it);
}

void ClusterClient::attempt(uint16_t port, bool asking) {
  assert(op_ && !op_->in_flight);
  op_->backoff = TimerId{};
  kv::Request& request = op_->request;
  if (port == 0) port = op_->fixed_port;
  if (port == 0 && request.cmd != kv::Cmd::wait && request.cmd != kv::Cmd::cluster_slots) {
    port = slot_port_[protocol::key_hash_slot(request.key)];
  }
  if (port == 0) port = random_startup_port();
  op_->last_port = port;
  const ConnId conn = connection(port);
  if (conn == 0) {  // nothing listens at that address: a connection error, reported from a later event
    op_->backoff = host_.set_timer(Duration{}, [this] { on_op_lost(Failure::connection); });
    return;
  }
  request.id = next_id_++;
  request.asking = asking;
  auto body = std::make_shared<kv::Request>(request);
  const uint32_t size = body->wire_size();
  host_.send(conn, Packet{size, std::move(body)});
  op_->last_sent = host_.local_now();
  const uint64_t id = request.id;
  const Duration timeout = options_.profile.attempt_timeout;
  const TimerId timer = timeout > Duration{} ? host_.set_timer(timeout, [this, id] { on_op_timeout(id); }) : TimerId{};
  op_->in_flight = InFlight{id, conn, port, timer};
}

void ClusterClient::on_data(ConnId, const Packet& packet) {
  const auto& reply = *static_cast<const kv::Reply*>(packet.body.get());
  if (op_ && op_->in_flight && op_->in_flight->id == reply.id) {
    on_reply(reply);
  } else if (refresh_ && refresh_->id == reply.id) {
    on_slots(reply);
  }
}

void ClusterClient::on_reply(const kv::Reply& reply) {
  const uint16_t port = op_->in_flight->port;
  host_.cancel_timer(op_->in_flight->timer);
  op_->in_flight.reset();
  failed_reconnects_.erase(port);
  connection_errors_in_row_ = 0;
  const ClientProfile& profile = options_.profile;
  switch (reply.kind) {
    case kv::ReplyKind::moved:
      ++redirections_;
      ++moved_seen_;
      if (profile.moved_updates_slot) slot_port_[reply.slot] = reply.port;
      if (profile.moved_reload_every > 0 && moved_seen_ % static_cast<uint64_t>(profile.moved_reload_every) == 0) {
        reload_on_event();
      }
      if (++op_->redirects > profile.max_redirects) return finish(false, Failure::redirects, &reply, port);
      return attempt(reply.port, false);
    case kv::ReplyKind::ask:
      ++redirections_;
      if (++op_->redirects > profile.max_redirects) return finish(false, Failure::redirects, &reply, port);
      return attempt(reply.port, true);
    case kv::ReplyKind::clusterdown:
      if (!profile.retry_clusterdown) return finish(false, Failure::clusterdown, &reply, port);
      return retry_later(Failure::clusterdown, &reply, profile.reload_on_clusterdown);
    case kv::ReplyKind::tryagain: return retry_later(Failure::tryagain, &reply, false);
    case kv::ReplyKind::crossslot: return finish(false, Failure::crossslot, &reply, port);
    case kv::ReplyKind::error: return finish(false, Failure::error, &reply, port);
    case kv::ReplyKind::ok:
    case kv::ReplyKind::value:
    case kv::ReplyKind::nil:
    case kv::ReplyKind::integer:
    case kv::ReplyKind::slots: return finish(true, Failure::none, &reply, port);
  }
}

void ClusterClient::on_op_timeout(uint64_t id) {
  if (!op_ || !op_->in_flight || op_->in_flight->id != id) return;
  // The reply may still come: close the connection so it can never be taken for a later one's.
  drop_connection(op_->in_flight->port);
  op_->in_flight.reset();
  after_lost(Failure::timeout);
}

void ClusterClient::on_deadline() {
  assert(op_ && "finish cancels the deadline");
  op_->deadline = TimerId{};
  host_.cancel_timer(op_->backoff);
  if (op_->in_flight) {
    // The connection stays: a late reply carries an id no later command has.
    host_.cancel_timer(op_->in_flight->timer);
    op_->in_flight.reset();
  }
  finish(false, Failure::timeout, nullptr, 0);
}

void ClusterClient::on_op_lost(Failure failure) {
  if (!op_) return;
  if (op_->in_flight) {
    host_.cancel_timer(op_->in_flight->timer);
    op_->in_flight.reset();
  }
  if (options_.profile.wait_for_reconnect && failure == Failure::connection) return wait_for_reconnect(op_->last_port);
  after_lost(failure);
}

void ClusterClient::after_lost(Failure failure) {
  const ClientProfile& profile = options_.profile;
  const int every = profile.reload_after_connection_errors;
  const bool counts = failure == Failure::connection || (failure == Failure::timeout && profile.reload_on_timeout);
  const bool reload = counts && every > 0 && ++connection_errors_in_row_ % every == 0;
  retry_later(failure, nullptr, reload);
}

void ClusterClient::wait_for_reconnect(uint16_t port) {
  const ClientProfile& profile = options_.profile;
  const int failures = ++failed_reconnects_[port];
  if (profile.reload_after_failed_reconnects > 0 && failures >= profile.reload_after_failed_reconnects) reload_on_event();
  const Duration delay = doubling(profile.reconnect_delay_first, profile.reconnect_delay_max, failures);
  op_->backoff = host_.set_timer(delay, [this, port] { attempt(port, false); });
}

Duration ClusterClient::retry_delay(Failure failure, bool reload) {
  const ClientProfile& profile = options_.profile;
  if (failure == Failure::clusterdown && profile.clusterdown_delay > Duration{}) return profile.clusterdown_delay;
  switch (profile.backoff) {
    case BackoffKind::exponential: {
      const Duration base = doubling(profile.backoff_first, profile.backoff_max, op_->attempts);
      if (!profile.backoff_jitter) return base;
      return base + Duration::millis(static_cast<int64_t>(rng_.below(static_cast<uint64_t>(base.ms() / 2 + 1))));
    }
    case BackoffKind::jedis_deadline: {
      if (!reload) return Duration{};
      const int64_t left_ms = std::max<int64_t>(0, (op_->deadline_at - host_.local_now()).ms());
      const int64_t attempts_left = op_->max_attempts - op_->attempts;
      return Duration::millis(static_cast<int64_t>(rng_.below(static_cast<uint64_t>(left_ms / (attempts_left * attempts_left) + 1))));
    }
  }
  return Duration{};
}

void ClusterClient::retry_later(Failure failure, const kv::Reply* reply, bool reload) {
  if (op_->attempts >= op_->max_attempts) {
    if (reload) reload_on_event();
    return finish(false, failure, reply, 0);
  }
  // redis-py, ioredis: the reload comes after the delay and the retry waits for it (ioredis's then goes
  // to a random node, which redirects it); the others reload at once, in the background.
  const bool deferred_reload = reload && options_.profile.retry_waits_for_reload;
  if (reload && !deferred_reload) reload_on_event();
  const Duration delay = retry_delay(failure, reload);
  ++op_->attempts;
  const uint64_t serial = op_->serial;
  op_->backoff = host_.set_timer(delay, [this, serial, deferred_reload] {
    if (!op_ || op_->serial != serial) return;
    op_->backoff = TimerId{};
    if (deferred_reload && reload_on_event()) {
      refresh_slots([this, serial] {
        if (!op_ || op_->serial != serial || op_->in_flight || op_->backoff) return;
        attempt(options_.profile.retry_on_random_node ? random_startup_port() : 0, false);
      });
      return;
    }
    attempt(0, false);
  });
}

void ClusterClient::finish(bool ok, Failure failure, const kv::Reply* reply, uint16_t port) {
  Outcome out;
  out.ok = ok;
  if (reply != nullptr) out.reply = *reply;
  out.port = port;
  out.attempts = op_->attempts;
  out.failure = failure;
  out.last_sent = op_->last_sent;
  host_.cancel_timer(op_->deadline);
  host_.cancel_timer(op_->backoff);
  const Done done = std::move(op_->done);
  op_.reset();
  done(out);
}

void ClusterClient::on_closed(ConnId conn) {
  const auto it = conn_port_.find(conn);
  if (it == conn_port_.end()) return;
  conns_.erase(it->second);
  conn_port_.erase(it);
  if (op_ && op_->in_flight && op_->in_flight->conn == conn) on_op_lost(Failure::connection);
  if (refresh_ && refresh_->conn == conn) {
    host_.cancel_timer(refresh_->timer);
    end_refresh(false);
  }
}

void ClusterClient::refresh_slots(std::function<void()> done) {
  if (done) refresh_waiters_.push_back(std::move(done));
  if (refresh_) return;
  if (refresh_order_.empty()) {  // a new reload: the nodes it may ask, in the order it asks them
    ++reloads_;
    switch (options_.profile.reload_source) {
      case RefreshSource::random_node: refresh_order_ = {random_startup_port()}; break;
      case RefreshSource::seed_order: refresh_order_.assign(options_.startup_ports.rbegin(), options_.startup_ports.rend()); break;
      case RefreshSource::random_order:
        refresh_order_ = options_.startup_ports;
        for (size_t i = refresh_order_.size(); i > 1; --i) std::swap(refresh_order_[i - 1], refresh_order_[rng_.below(i)]);
        break;
    }
  }
  const uint16_t port = refresh_order_.back();  // taken from the back
  refresh_order_.pop_back();
  const ConnId conn = connection(port);
  refresh_ = InFlight();
  if (conn == 0) {
    refresh_->timer = host_.set_timer(Duration{}, [this] { end_refresh(false); });
    return;
  }
  auto request = std::make_shared<kv::Request>();
  request->cmd = kv::Cmd::cluster_slots;
  request->id = next_id_++;
  const uint64_t id = request->id;
  const uint32_t size = request->wire_size();
  host_.send(conn, Packet{size, std::move(request)});
  refresh_->id = id;
  refresh_->conn = conn;
  refresh_->port = port;
  if (options_.profile.reload_timeout > Duration{}) {
    refresh_->timer = host_.set_timer(options_.profile.reload_timeout, [this, id, port] {
      if (!refresh_ || refresh_->id != id) return;
      drop_connection(port);
      end_refresh(false);
    });
  }
}

void ClusterClient::on_slots(const kv::Reply& reply) {
  host_.cancel_timer(refresh_->timer);
  const bool loaded = reply.kind == kv::ReplyKind::slots && reply.slots;
  if (loaded) {
    slot_port_ = *reply.slots;
    loaded_at_ = host_.local_now();
    ++refreshes_;
  }
  end_refresh(loaded);
}

void ClusterClient::end_refresh(bool loaded) {
  refresh_.reset();
  if (!loaded && !refresh_order_.empty()) return refresh_slots();  // the next node of this reload
  refresh_order_.clear();
  std::vector<std::function<void()>> waiters = std::move(refresh_waiters_);
  refresh_waiters_.clear();
  for (auto& waiter : waiters) waiter();
}

}  // namespace rcsim::sim
