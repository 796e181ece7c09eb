// netshape: per-link latency, jitter and loss for real Redis nodes on loopback (tools/redis-compare).
//
//   netshape --queue Q --first-port P --nodes N [--bus-offset 10000] [--seed S]
//
// Takes the packets that iptables sends to NFQUEUE number Q (tools/redis_compare/shaping.py installs
// the rules), finds the directed link each belongs to, and issues its ACCEPT verdict once the link's
// one-way delay has passed, or drops it, as the simulator's network does (sim/network.hpp):
// - delay: latency + a draw by shape (sim/link_profile.hpp, the simulator's own formulas), kept in
//   order per TCP flow (a packet never overtakes the previous one of its connection and direction:
//   release = max(arrival + delay, the flow's previous release)), as the simulator's TCP keeps order.
// - loss: a segment carrying data or a FIN is dropped with the link's probability; real TCP then
//   retransmits it (RTO >= 200 ms, doubling) and the retransmission draws again. SYNs, RSTs and pure
//   ACKs are never dropped, as in the simulator.
// A link is named by its two nodes' client ports. The sender of a packet is the node whose source
// address (127.1.x.y = port x*256+y, cuts.py's source_ip) is the packet's source, or whose client or
// bus port (client + bus offset) is its source port; the receiver likewise from the destination.
// Packets of links without a profile are accepted at once.
//
// stdin, one command per line, applied from the moment it is read:
//   link FROM_PORT TO_PORT LATENCY_US JITTER_US fixed|uniform|long_tail LOSS_PPM
// stdout: "ready" once the queue is bound; at EOF on stdin every held packet is released, a line
// "stats packets=.. delayed=.. data=.. dropped=.. unshaped=.." is written and the program exits 0.
// It also ends with its parent (PR_SET_PDEATHSIG). Exit 1: the queue cannot be bound; 2: bad input.
#include <arpa/inet.h>
#include <fcntl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <map>
#include <optional>
#include <queue>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "protocol/rng.hpp"
#include "sim/link_profile.hpp"

namespace {

using rcsim::Duration;
using rcsim::Rng;
using rcsim::sim::LatencyShape;
using rcsim::sim::LinkProfile;

constexpr uint32_t kMillion = 1'000'000;
constexpr uint32_t kCopyBytes = 128;          // enough for the IPv4 and TCP headers with options
constexpr uint32_t kQueueMaxPackets = 65536;  // held packets; the kernel's default is 1024
constexpr int kSocketBufferBytes = 8 << 20;
constexpr size_t kFlowsBeforePrune = 4096;
constexpr uint32_t kSourceNet = 0x7F010000;  // 127.1.0.0/16: the nodes' source addresses

[[noreturn]] void fail(int code, const std::string& message) {
  std::cerr << "netshape: " << message << "\n";
  std::exit(code);
}

int64_t now_us() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000 + ts.tv_nsec / 1000;
}

uint16_t be16(const unsigned char* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be32(const unsigned char* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

struct Options {
  uint16_t queue = 0;
  uint32_t first_port = 0, nodes = 0, bus_offset = 10000;
  uint64_t seed = 0;
};

uint64_t parse_number(const std::string& flag, const char* text, uint64_t max) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value > max) {
    fail(2, flag + ": expected an integer 0.." + std::to_string(max) + ", got '" + text + "'");
  }
  return value;
}

Options parse_options(int argc, char** argv) {
  Options o;
  o.seed = static_cast<uint64_t>(now_us());  // the real side is not reproducible anyway
  bool have_queue = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) fail(2, flag + ": missing value");
    const char* value = argv[++i];
    if (flag == "--queue") {
      o.queue = static_cast<uint16_t>(parse_number(flag, value, 65535));
      have_queue = true;
    } else if (flag == "--first-port") {
      o.first_port = static_cast<uint32_t>(parse_number(flag, value, 65535));
    } else if (flag == "--nodes") {
      o.nodes = static_cast<uint32_t>(parse_number(flag, value, 65535));
    } else if (flag == "--bus-offset") {
      o.bus_offset = static_cast<uint32_t>(parse_number(flag, value, 65535));
    } else if (flag == "--seed") {
      o.seed = parse_number(flag, value, UINT64_MAX);
    } else {
      fail(2, "unknown option " + flag + " (usage: --queue Q --first-port P --nodes N [--bus-offset B] [--seed S])");
    }
  }
  if (!have_queue || o.first_port == 0 || o.nodes == 0) fail(2, "--queue, --first-port and --nodes are required");
  return o;
}

struct Held {
  int64_t release_us;
  uint64_t order;  // arrival order: equal release times keep it
  uint32_t packet_id;
  bool operator>(const Held& o) const { return std::tie(release_us, order) > std::tie(o.release_us, o.order); }
};

class Shaper {
 public:
  explicit Shaper(const Options& options) : options_(options), rng_(options.seed) {}

  void bind() {
    handle_ = nfq_open();
    if (handle_ == nullptr) fail(1, std::string("nfq_open: ") + std::strerror(errno) + " (root? nfnetlink_queue?)");
    queue_ = nfq_create_queue(handle_, options_.queue, &Shaper::on_packet, this);
    if (queue_ == nullptr) {
      fail(1, "cannot bind NFQUEUE " + std::to_string(options_.queue) + ": " + std::strerror(errno) +
                  " (another process holds it?)");
    }
    if (nfq_set_mode(queue_, NFQNL_COPY_PACKET, kCopyBytes) < 0) fail(1, "nfq_set_mode failed");
    if (nfq_set_queue_maxlen(queue_, kQueueMaxPackets) < 0) fail(1, "nfq_set_queue_maxlen failed");
    nfnl_rcvbufsiz(nfq_nfnlh(handle_), kSocketBufferBytes);
    const int one = 1;  // a burst that overflows the socket must not stop the program
    setsockopt(nfq_fd(handle_), SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);
  }

  // Runs until EOF on stdin.
  void run() {
    std::cout << "ready" << std::endl;
    const int netlink_fd = nfq_fd(handle_);
    fcntl(netlink_fd, F_SETFL, fcntl(netlink_fd, F_GETFL) | O_NONBLOCK);
    std::vector<char> buffer(1 << 16);
    std::string input;
    for (;;) {
      pollfd fds[2] = {{netlink_fd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
      timespec timeout{};
      const timespec* timeout_ptr = nullptr;
      if (!held_.empty()) {
        const int64_t wait_us = std::max<int64_t>(0, held_.top().release_us - now_us());
        timeout = {static_cast<time_t>(wait_us / 1'000'000), static_cast<long>(wait_us % 1'000'000) * 1000};
        timeout_ptr = &timeout;
      }
      if (ppoll(fds, 2, timeout_ptr, nullptr) < 0 && errno != EINTR) fail(1, std::string("ppoll: ") + std::strerror(errno));
      if (fds[0].revents & POLLIN) {
        for (;;) {
          const ssize_t n = recv(netlink_fd, buffer.data(), buffer.size(), 0);
          if (n <= 0) break;
          nfq_handle_packet(handle_, buffer.data(), static_cast<int>(n));
        }
      }
      if (fds[1].revents & (POLLIN | POLLHUP)) {
        char chunk[4096];
        const ssize_t n = read(STDIN_FILENO, chunk, sizeof chunk);
        if (n <= 0) break;
        input.append(chunk, static_cast<size_t>(n));
        for (size_t end; (end = input.find('\n')) != std::string::npos; input.erase(0, end + 1)) {
          command(input.substr(0, end));
        }
      }
      release_due(now_us());
    }
    release_due(INT64_MAX);
    std::cout << "stats packets=" << packets_ << " delayed=" << delayed_ << " data=" << data_segments_
              << " dropped=" << dropped_ << " unshaped=" << unshaped_ << std::endl;
    nfq_destroy_queue(queue_);
    nfq_close(handle_);
  }

 private:
  using LinkKey = std::pair<uint16_t, uint16_t>;             // client ports: from, to
  using FlowKey = std::tuple<uint32_t, uint32_t, uint32_t>;  // saddr, daddr, sport << 16 | dport

  void command(const std::string& line) {
    std::istringstream in(line);
    std::string verb, shape;
    uint64_t from = 0, to = 0, latency_us = 0, jitter_us = 0, loss_ppm = 0;
    if (!(in >> verb) || verb != "link" || !(in >> from >> to >> latency_us >> jitter_us >> shape >> loss_ppm) ||
        from > 65535 || to > 65535 || loss_ppm >= kMillion || jitter_us >= (uint64_t{1} << 40)) {
      fail(2, "bad command '" + line + "' (expected: link FROM_PORT TO_PORT LATENCY_US JITTER_US SHAPE LOSS_PPM)");
    }
    LinkProfile p;
    p.latency = Duration::micros(static_cast<int64_t>(latency_us));
    p.jitter = Duration::micros(static_cast<int64_t>(jitter_us));
    p.loss_ppm = static_cast<uint32_t>(loss_ppm);
    if (shape == "fixed") p.shape = LatencyShape::fixed;
    else if (shape == "uniform") p.shape = LatencyShape::uniform;
    else if (shape == "long_tail") p.shape = LatencyShape::long_tail;
    else fail(2, "bad shape '" + shape + "' in '" + line + "'");
    links_[{static_cast<uint16_t>(from), static_cast<uint16_t>(to)}] = p;
  }

  // The node (its client port) that owns a source address or listens on a client or bus port.
  std::optional<uint16_t> node_of(uint32_t addr, uint16_t port) const {
    if ((addr & 0xFFFF0000) == kSourceNet) return static_cast<uint16_t>(addr & 0xFFFF);
    const uint32_t last = options_.first_port + options_.nodes;
    if (port >= options_.first_port && port < last) return port;
    const uint32_t client = port - options_.bus_offset;
    if (port >= options_.bus_offset && client >= options_.first_port && client < last) {
      return static_cast<uint16_t>(client);
    }
    return std::nullopt;
  }

  static int on_packet(nfq_q_handle* queue, nfgenmsg*, nfq_data* data, void* self) {
    const nfqnl_msg_packet_hdr* header = nfq_get_msg_packet_hdr(data);
    if (header == nullptr) return 0;
    const uint32_t id = ntohl(header->packet_id);
    unsigned char* payload = nullptr;
    const int length = nfq_get_payload(data, &payload);
    static_cast<Shaper*>(self)->take(queue, id, payload, length < 0 ? 0 : static_cast<uint32_t>(length));
    return 0;
  }

  void take(nfq_q_handle* queue, uint32_t id, const unsigned char* ip, uint32_t length) {
    ++packets_;
    const uint32_t ip_header = length >= 20 ? (ip[0] & 0x0Fu) * 4 : 0;
    if (ip_header < 20 || (ip[0] >> 4) != 4 || ip[9] != IPPROTO_TCP || length < ip_header + 14) {
      accept(queue, id);
      ++unshaped_;
      return;
    }
    const unsigned char* tcp = ip + ip_header;
    const uint32_t saddr = be32(ip + 12), daddr = be32(ip + 16);
    const uint16_t sport = be16(tcp), dport = be16(tcp + 2);
    const std::optional<uint16_t> from = node_of(saddr, sport), to = node_of(daddr, dport);
    const auto link = from && to ? links_.find({*from, *to}) : links_.end();
    if (link == links_.end()) {
      accept(queue, id);
      ++unshaped_;
      return;
    }
    const LinkProfile& p = link->second;
    const uint32_t tcp_header = (tcp[12] >> 4) * 4u;
    const uint32_t data_bytes = be16(ip + 2) - std::min<uint32_t>(be16(ip + 2), ip_header + tcp_header);
    const bool fin = (tcp[13] & 0x01) != 0;
    if (data_bytes > 0 || fin) {  // what the simulator may lose: data segments and FINs
      ++data_segments_;
      if (p.loss_ppm != 0 && rng_.chance(p.loss_ppm, kMillion)) {
        nfq_set_verdict(queue, id, NF_DROP, 0, nullptr);
        ++dropped_;
        return;
      }
    }
    const int64_t now = now_us();
    int64_t& previous = flows_[{saddr, daddr, uint32_t{sport} << 16 | dport}];
    const int64_t release = std::max(now + rcsim::sim::sample_latency(p, rng_).us, previous);
    previous = release;
    held_.push(Held{release, order_++, id});
    ++delayed_;
    if (flows_.size() > kFlowsBeforePrune) prune_flows(now);
  }

  // A flow whose last packet has been released has nothing left to keep in order.
  void prune_flows(int64_t now) {
    std::erase_if(flows_, [now](const auto& flow) { return flow.second <= now; });
  }

  void release_due(int64_t now) {
    while (!held_.empty() && held_.top().release_us <= now) {
      accept(queue_, held_.top().packet_id);
      held_.pop();
    }
  }

  static void accept(nfq_q_handle* queue, uint32_t id) { nfq_set_verdict(queue, id, NF_ACCEPT, 0, nullptr); }

  Options options_;
  Rng rng_;
  nfq_handle* handle_ = nullptr;
  nfq_q_handle* queue_ = nullptr;
  std::map<LinkKey, LinkProfile> links_;
  std::map<FlowKey, int64_t> flows_;  // last release time of each flow
  std::priority_queue<Held, std::vector<Held>, std::greater<>> held_;
  uint64_t order_ = 0;
  uint64_t packets_ = 0, delayed_ = 0, data_segments_ = 0, dropped_ = 0, unshaped_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  prctl(PR_SET_PDEATHSIG, SIGTERM);  // dies with the tool even if its stdin pipe were inherited elsewhere
  prctl(PR_SET_TIMERSLACK, 1);       // wake within microseconds of a release time, not 50 us later
  const Options options = parse_options(argc, argv);
  Shaper shaper(options);
  shaper.bind();
  shaper.run();
  return 0;
}
