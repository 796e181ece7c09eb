#include "sim/cluster_layout.hpp"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <map>

namespace rcsim::sim {
namespace {

constexpr int kSlots = 16384;
constexpr size_t kNameLength = 40;  // CLUSTER_NAMELEN

template <typename T>
bool parse_number(std::string_view text, T& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc{} && end == text.data() + text.size();
}

bool is_node_name(std::string_view text) {
  return text.size() == kNameLength &&
         std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> out;
  while (true) {
    const size_t at = text.find(separator);
    out.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return out;
    text.remove_prefix(at + 1);
  }
}

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  for (std::string_view word : split(line, ' ')) {
    if (!word.empty()) out.push_back(word);
  }
  return out;
}

std::string shown(std::string_view text) { return "'" + std::string(text.substr(0, 60)) + "'"; }

// Thrown inside parse_cluster_nodes only, caught at its end.
struct Bad {
  ImportError error;
};
[[noreturn]] void bad(int line, int field, std::string message) { throw Bad{ImportError{line, field, std::move(message)}}; }

struct NodeLine {
  int line = 0;
  std::string name, address, ip, master_name;
  uint16_t port = 0, cport = 0;
  bool is_master = false;
  bool no_failover = false;
  std::string down_flag;
  uint64_t config_epoch = 0;
  std::vector<SlotRange> slots;
};

// "ip:port@cport" with an optional ",hostname" (Redis 7.0 shows a node's announced hostname there).
void parse_address(std::string_view text, int line, NodeLine& node) {
  const std::string_view address = text.substr(0, text.find(','));
  const size_t at = address.find('@');
  const size_t colon = address.substr(0, at).rfind(':');
  uint16_t port = 0, cport = 0;
  if (at == std::string_view::npos || colon == std::string_view::npos || !parse_number(address.substr(colon + 1, at - colon - 1), port) ||
      !parse_number(address.substr(at + 1), cport)) {
    bad(line, 2, "expected ip:port@cport (as Redis 4.0 and later print it), got " + shown(text));
  }
  if (colon == 0 || port == 0) bad(line, 2, "the node has no address (" + shown(text) + "): import a cluster whose nodes all have one");
  const std::string_view ip = address.substr(0, colon);
  int dots = 0;
  for (const char c : ip) dots += c == '.' ? 1 : 0;
  if (ip.size() > 15 || dots != 3 || ip.find_first_not_of("0123456789.") != std::string_view::npos) {
    bad(line, 2, "expected an IPv4 address, got " + shown(ip) + " (the simulated hosts are IPv4)");
  }
  if (cport == port) bad(line, 2, "the bus port is the client port (" + shown(text) + ")");
  node.address = std::string(address);
  node.ip = std::string(ip);
  node.port = port;
  node.cport = cport;
}

void parse_flags(std::string_view text, int line, NodeLine& node, int& myself_line) {
  bool master = false, replica = false;
  for (std::string_view flag : split(text, ',')) {
    if (flag == "master") master = true;
    else if (flag == "slave") replica = true;
    else if (flag == "nofailover") node.no_failover = true;
    else if (flag == "myself") {
      if (myself_line > 0) bad(line, 3, "a second node flagged myself (the first is on line " + std::to_string(myself_line) + ")");
      myself_line = line;
    } else if (flag == "fail" || flag == "fail?") {
      node.down_flag = std::string(flag);
    } else if (flag == "handshake" || flag == "noaddr") {
      bad(line, 3, "the node is flagged " + std::string(flag) +
                       ": it is not a member with an address; leave its line out, or import the cluster once it has joined");
    } else if (flag != "noflags") {
      bad(line, 3, "unknown flag " + shown(flag) + " (expected myself, master, slave, nofailover)");
    }
  }
  if (master == replica) bad(line, 3, "expected exactly one of master and slave among the flags, got " + shown(text));
  node.is_master = master;
}

void parse_slot(std::string_view text, int line, int field, NodeLine& node) {
  if (!text.empty() && text.front() == '[') {
    bad(line, field, "an open slot migration " + shown(text) + ": finish it (or cancel it with CLUSTER SETSLOT <slot> STABLE) before importing");
  }
  const size_t dash = text.find('-');
  SlotRange range;
  const bool ok = dash == std::string_view::npos
                      ? parse_number(text, range.first) && (range.last = range.first, true)
                      : parse_number(text.substr(0, dash), range.first) && parse_number(text.substr(dash + 1), range.last);
  if (!ok || range.first < 0 || range.last >= kSlots || range.first > range.last) {
    bad(line, field, "expected a slot or a slot range within 0-16383 such as 0-5460, got " + shown(text));
  }
  if (!node.is_master) bad(line, field, "a replica with slots: only masters serve slots");
  node.slots.push_back(range);
}

NodeLine parse_node_line(std::string_view text, int line, int& myself_line) {
  const std::vector<std::string_view> fields = words(text);
  if (fields.size() < 8) {
    bad(line, 0, "expected at least 8 space-separated fields (id address flags master ping-sent pong-recv config-epoch "
                 "link-state [slot ...]), got " + std::to_string(fields.size()));
  }
  NodeLine node;
  node.line = line;
  if (!is_node_name(fields[0])) bad(line, 1, "expected a node id of 40 lowercase hex characters, got " + shown(fields[0]));
  node.name = std::string(fields[0]);
  parse_address(fields[1], line, node);
  parse_flags(fields[2], line, node, myself_line);
  if (node.is_master && fields[3] != "-") bad(line, 4, "a master's master field must be '-', got " + shown(fields[3]));
  if (!node.is_master) {
    if (!is_node_name(fields[3])) bad(line, 4, "expected the id of this replica's master, got " + shown(fields[3]));
    node.master_name = std::string(fields[3]);
  }
  uint64_t ignored = 0;
  for (int f : {4, 5}) {
    if (!parse_number(fields[f], ignored)) bad(line, f + 1, "expected milliseconds (a non-negative integer), got " + shown(fields[f]));
  }
  if (!parse_number(fields[6], node.config_epoch)) bad(line, 7, "expected a non-negative integer, got " + shown(fields[6]));
  if (fields[7] != "connected" && fields[7] != "disconnected") {
    bad(line, 8, "expected connected or disconnected, got " + shown(fields[7]));
  }
  for (size_t f = 8; f < fields.size(); ++f) parse_slot(fields[f], line, static_cast<int>(f) + 1, node);
  std::sort(node.slots.begin(), node.slots.end(), [](const SlotRange& a, const SlotRange& b) { return a.first < b.first; });
  return node;
}

// "vars currentEpoch 8 lastVoteEpoch 7" (nodes.conf's last line).
void parse_vars(std::string_view text, int line, ClusterLayout& layout, bool& current_epoch_set) {
  const std::vector<std::string_view> fields = words(text);
  if (fields.size() % 2 == 0) bad(line, 0, "expected vars followed by name value pairs, got " + shown(text));
  for (size_t f = 1; f + 1 < fields.size(); f += 2) {
    uint64_t value = 0;
    if (!parse_number(fields[f + 1], value)) bad(line, static_cast<int>(f) + 2, "expected a non-negative integer, got " + shown(fields[f + 1]));
    if (fields[f] == "currentEpoch") {
      layout.current_epoch = value;
      current_epoch_set = true;
    } else if (fields[f] == "lastVoteEpoch") {
      layout.last_vote_epoch = value;
    } else {
      bad(line, static_cast<int>(f) + 1, "unknown variable " + shown(fields[f]) + " (expected currentEpoch, lastVoteEpoch)");
    }
  }
}

}  // namespace

std::string slot_ranges_text(const std::vector<SlotRange>& ranges, char separator) {
  std::string out;
  for (const SlotRange& r : ranges) {
    if (!out.empty()) out += separator;
    out += std::to_string(r.first);
    if (r.last > r.first) out += "-" + std::to_string(r.last);
  }
  return out;
}

std::string member_line_tail(const ClusterLayout& layout, int member, const std::vector<std::string>& ids, int64_t pong_ms) {
  assert(member >= 0 && member < layout.size() && ids.size() == layout.members.size());
  const MemberLayout& m = layout.members[static_cast<size_t>(member)];
  const bool is_master = m.master < 0;
  std::string tail = is_master ? "master" : "slave";
  if (!m.down_flag.empty()) tail += "," + m.down_flag;
  if (m.no_failover) tail += ",nofailover";
  tail += is_master ? " - " : " " + ids[static_cast<size_t>(m.master)] + " ";
  const uint64_t epoch = is_master ? m.config_epoch : layout.members[static_cast<size_t>(m.master)].config_epoch;
  tail += "0 " + std::to_string(pong_ms) + " " + std::to_string(epoch) + " connected";
  if (is_master && !m.slots.empty()) tail += " " + slot_ranges_text(m.slots, ' ');
  return tail + "\n";
}

std::string vars_line(const ClusterLayout& layout) {
  return "vars currentEpoch " + std::to_string(layout.current_epoch) + " lastVoteEpoch " +
         std::to_string(layout.last_vote_epoch) + "\n";
}

std::string ImportError::text() const {
  std::string out = line > 0 ? "line " + std::to_string(line) : std::string();
  if (field > 0) {
    const char* name = kClusterNodesFields[std::min<size_t>(static_cast<size_t>(field), std::size(kClusterNodesFields) - 1)];
    out += ", field " + std::to_string(field) + " (" + name + ")";
  }
  return out.empty() ? message : out + ": " + message;
}

ClusterLayout layout_by_rule(int masters, int replicas_per_master) {
  assert(masters >= 1 && replicas_per_master >= 0);
  ClusterLayout layout;
  layout.masters = masters;
  const int size = masters * (1 + replicas_per_master);
  layout.members.resize(size);
  // redis-cli's clusterManagerCommandCreate: a float cursor advanced by 16384/masters per master, each
  // range ending at lround(cursor + slots_per_node - 1), the last one at 16383. With 3 masters that is
  // 0-5460, 5461-10922, 10923-16383 (exact division would give 5461-10921, 10922-16383). Float, as there:
  // the rounding at .5 boundaries depends on it.
  const float slots_per_node = static_cast<float>(kSlots) / static_cast<float>(masters);
  float cursor = 0.0f;
  long first = 0;
  for (int m = 0; m < masters; ++m) {
    long last = std::lround(cursor + slots_per_node - 1);
    if (last > kSlots || m == masters - 1) last = kSlots - 1;
    if (last < first) last = first;
    layout.members[m].slots.push_back(SlotRange{static_cast<int>(first), static_cast<int>(last)});
    first = last + 1;
    cursor += slots_per_node;
  }
  for (int i = 0; i < size; ++i) {
    if (i >= masters) layout.members[i].master = (i - masters) % masters;
    layout.members[i].config_epoch = static_cast<uint64_t>(i + 1);  // CLUSTER SET-CONFIG-EPOCH, per node
  }
  layout.current_epoch = static_cast<uint64_t>(size);
  return layout;
}

std::optional<ImportError> parse_cluster_nodes(std::string_view text, ImportedCluster& out) {
  try {
    std::vector<NodeLine> nodes;
    ClusterLayout layout;
    bool current_epoch_set = false;
    int myself_line = 0;
    int line_number = 0;
    for (std::string_view line : split(text, '\n')) {
      ++line_number;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.find_first_not_of(' ') == std::string_view::npos) continue;
      if (line.substr(0, 5) == "vars ") {
        parse_vars(line, line_number, layout, current_epoch_set);
        continue;
      }
      nodes.push_back(parse_node_line(line, line_number, myself_line));
    }
    std::map<std::string, const NodeLine*> by_name;
    std::map<std::string, const NodeLine*> by_endpoint;  // "ip:port" of every client and bus port
    for (const NodeLine& node : nodes) {
      if (const auto [it, fresh] = by_name.emplace(node.name, &node); !fresh) {
        bad(node.line, 1, "node id " + node.name + " is already on line " + std::to_string(it->second->line));
      }
      for (const uint16_t port : {node.port, node.cport}) {  // a port of an ip listens for one node
        const std::string endpoint = node.ip + ":" + std::to_string(port);
        if (const auto [it, fresh] = by_endpoint.emplace(endpoint, &node); !fresh) {
          bad(node.line, 2, endpoint + " is also a port of the node on line " + std::to_string(it->second->line));
        }
      }
    }
    std::vector<const NodeLine*> ordered;  // masters in file order, then replicas in file order
    for (const NodeLine& node : nodes) {
      if (node.is_master) ordered.push_back(&node);
    }
    layout.masters = static_cast<int>(ordered.size());
    if (layout.masters == 0) bad(0, 0, "no master: expected the output of CLUSTER NODES (or a nodes.conf) of a running cluster");
    for (const NodeLine& node : nodes) {
      if (!node.is_master) ordered.push_back(&node);
    }
    std::vector<int> slot_owner_line(kSlots, 0);
    std::map<std::string, int> index_of;
    for (size_t i = 0; i < ordered.size(); ++i) index_of[ordered[i]->name] = static_cast<int>(i);
    uint64_t max_config_epoch = 0;
    ImportedCluster imported;
    for (const NodeLine* node : ordered) {
      MemberLayout member;
      member.name = node->name;
      member.slots = node->slots;
      member.config_epoch = node->config_epoch;
      member.no_failover = node->no_failover;
      member.down_flag = node->down_flag;
      member.ip = node->ip;
      member.port = node->port;
      member.cport = node->cport;
      max_config_epoch = std::max(max_config_epoch, node->config_epoch);
      for (const SlotRange& range : node->slots) {
        for (int slot = range.first; slot <= range.last; ++slot) {
          if (slot_owner_line[slot] != 0) {
            bad(node->line, 0, "slot " + std::to_string(slot) + " is also served by the node on line " +
                                   std::to_string(slot_owner_line[slot]));
          }
          slot_owner_line[slot] = node->line;
        }
      }
      if (!node->is_master) {
        const auto master = index_of.find(node->master_name);
        if (master == index_of.end()) bad(node->line, 4, "no node " + node->master_name + " in the file");
        if (master->second >= layout.masters) {
          bad(node->line, 4, "its master " + node->master_name + " (line " + std::to_string(ordered[master->second]->line) +
                                 ") is itself a replica");
        }
        member.master = master->second;
      }
      layout.members.push_back(std::move(member));
      imported.addresses.push_back(node->address);
      imported.ips.push_back(node->ip);
    }
    if (!current_epoch_set) layout.current_epoch = max_config_epoch;
    imported.text = std::string(text);
    imported.layout = std::move(layout);
    out = std::move(imported);
    return std::nullopt;
  } catch (const Bad& b) {
    return b.error;
  }
}

}  // namespace rcsim::sim
