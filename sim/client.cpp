#include "sim/client.hpp"

#include <algorithm>
#include <cassert>

#include "protocol/slots.hpp"

namespace rcsim::sim {

ClusterClient::ClusterClient(Host& host, Rng rng, ClusterClientOptions options)
    : host_(host), rng_(rng), options_(std::move(options)) {
  assert(!options_.startup_ports.empty() && options_.max_attempts >= 1);
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

void ClusterClient::run(kv::Request request, Done done, uint16_t port, bool retry) {
  assert(!op_ && "one command at a time");
  op_.emplace();
  op_->request = std::move(request);
  op_->done = std::move(done);
  op_->fixed_port = port;
  op_->max_attempts = retry ? options_.max_attempts : 1;
  op_->attempts = 1;
  attempt(0, false);
}

uint16_t ClusterClient::random_startup_port() {
  return options_.startup_ports[rng_.below(options_.startup_ports.size())];
}

ConnId ClusterClient::connection(uint16_t port) {
  if (const auto it = conns_.find(port); it != conns_.end()) return it->second;
  const std::optional<HostId> target = options_.resolve(port);
  if (!target) return 0;
  const ConnId conn = host_.connect(*target, port, /*nagle=*/false);
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
  const TimerId timer = host_.set_timer(options_.timeout, [this, id] { on_op_timeout(id); });
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
  switch (reply.kind) {
    case kv::ReplyKind::moved:
      ++redirections_;
      slot_port_[reply.slot] = reply.port;  // the spec: update the map for that slot at once
      refresh_slots();                      // and reload the whole map (Jedis renewSlotCache)
      if (++op_->redirects > options_.max_redirects) return finish(false, Failure::redirects, &reply, port);
      return attempt(reply.port, false);
    case kv::ReplyKind::ask:
      ++redirections_;
      if (++op_->redirects > options_.max_redirects) return finish(false, Failure::redirects, &reply, port);
      return attempt(reply.port, true);
    case kv::ReplyKind::clusterdown:
      refresh_slots();
      return retry_later(Failure::clusterdown, &reply);
    case kv::ReplyKind::tryagain: return retry_later(Failure::tryagain, &reply);
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
  refresh_slots();
  retry_later(Failure::timeout, nullptr);
}

void ClusterClient::on_op_lost(Failure failure) {
  if (!op_) return;
  if (op_->in_flight) {
    host_.cancel_timer(op_->in_flight->timer);
    op_->in_flight.reset();
  }
  refresh_slots();
  retry_later(failure, nullptr);
}

void ClusterClient::retry_later(Failure failure, const kv::Reply* reply) {
  if (op_->attempts >= op_->max_attempts) return finish(false, failure, reply, 0);
  const int64_t base_ms = std::min<int64_t>(1000, int64_t{50} << std::min(op_->attempts - 1, 10));
  const int64_t delay_ms = base_ms + static_cast<int64_t>(rng_.below(static_cast<uint64_t>(base_ms / 2 + 1)));
  ++op_->attempts;
  op_->backoff = host_.set_timer(Duration::millis(delay_ms), [this] { attempt(0, false); });
}

void ClusterClient::finish(bool ok, Failure failure, const kv::Reply* reply, uint16_t port) {
  Outcome out;
  out.ok = ok;
  if (reply != nullptr) out.reply = *reply;
  out.port = port;
  out.attempts = op_->attempts;
  out.failure = failure;
  out.last_sent = op_->last_sent;
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
    end_refresh();
  }
}

void ClusterClient::refresh_slots(std::function<void()> done) {
  if (done) refresh_waiters_.push_back(std::move(done));
  if (refresh_) return;
  const uint16_t port = random_startup_port();
  const ConnId conn = connection(port);
  refresh_.emplace();
  if (conn == 0) {
    refresh_->timer = host_.set_timer(Duration{}, [this] { end_refresh(); });
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
  refresh_->timer = host_.set_timer(options_.timeout, [this, id, port] {
    if (!refresh_ || refresh_->id != id) return;
    drop_connection(port);
    end_refresh();
  });
}

void ClusterClient::on_slots(const kv::Reply& reply) {
  host_.cancel_timer(refresh_->timer);
  if (reply.kind == kv::ReplyKind::slots && reply.slots) {
    slot_port_ = *reply.slots;
    ++refreshes_;
  }
  end_refresh();
}

void ClusterClient::end_refresh() {
  refresh_.reset();
  std::vector<std::function<void()>> waiters = std::move(refresh_waiters_);
  refresh_waiters_.clear();
  for (auto& waiter : waiters) waiter();
}

}  // namespace rcsim::sim
