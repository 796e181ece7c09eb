// nodes.conf and the introspection texts: CLUSTER NODES (clusterGenNodeDescription), CLUSTER INFO,
// CLUSTER SLOTS, and clusterLoadConfig.
#include <algorithm>
#include <charconv>
#include <sstream>

#include "protocol/node.hpp"

namespace rcsim::protocol {
namespace {

std::string flags_text(uint16_t flags) {
  // representClusterNodeFlags order
  static constexpr std::pair<uint16_t, const char*> kNames[] = {
      {kFlagMyself, "myself"}, {kFlagMaster, "master"},       {kFlagSlave, "slave"},
      {kFlagPfail, "fail?"},   {kFlagFail, "fail"},           {kFlagHandshake, "handshake"},
      {kFlagNoaddr, "noaddr"}, {kFlagNofailover, "nofailover"}};
  std::string out;
  for (const auto& [bit, name] : kNames) {
    if (!(flags & bit)) continue;
    if (!out.empty()) out.push_back(',');
    out += name;
  }
  return out.empty() ? "noflags" : out;
}

bool parse_flags(std::string_view text, uint16_t& flags) {
  flags = 0;
  if (text == "noflags") return true;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view word = text.substr(0, comma);
    if (word == "myself") flags |= kFlagMyself;
    else if (word == "master") flags |= kFlagMaster;
    else if (word == "slave") flags |= kFlagSlave;
    else if (word == "fail?") flags |= kFlagPfail;
    else if (word == "fail") flags |= kFlagFail;
    else if (word == "handshake") flags |= kFlagHandshake;
    else if (word == "noaddr") flags |= kFlagNoaddr;
    else if (word == "nofailover") flags |= kFlagNofailover;
    else if (word != "noflags") return false;  // unknown flag: fatal in Redis
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return true;
}

template <typename T>
bool parse_number(std::string_view text, T& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

std::vector<std::string_view> split_spaces(std::string_view line) {
  std::vector<std::string_view> out;
  while (!line.empty()) {
    const size_t start = line.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    line.remove_prefix(start);
    const size_t end = line.find(' ');
    out.push_back(line.substr(0, end));
    if (end == std::string_view::npos) break;
    line.remove_prefix(end);
  }
  return out;
}

void append_slot_ranges(std::string& out, const ClusterNode& node) {
  const SlotBitmap& slots = *node.slots;
  for (size_t slot = slots._Find_first(); slot < slots.size();) {
    size_t end = slot;
    while (end + 1 < slots.size() && slots.test(end + 1)) ++end;
    out.push_back(' ');
    out += std::to_string(slot);
    if (end > slot) {
      out.push_back('-');
      out += std::to_string(end);
    }
    slot = slots._Find_next(end);
  }
}

}  // namespace

std::string Node::node_description(const ClusterNode& node, bool for_conf, int64_t /*now_ms*/) const {
  (void)for_conf;
  std::string out = node.name.str();
  const Address& address = node.address();
  out += " " + address.ip.str() + ":" + std::to_string(address.port) + "@" + std::to_string(address.cport);
  out += " " + flags_text(node.flags);
  out += " ";
  out += (node.is_replica() && node.master != nullptr) ? node.master->name.str() : "-";
  const Epoch epoch = (node.is_replica() && node.master != nullptr) ? node.master->config_epoch : node.config_epoch;
  out += " " + std::to_string(node.ping_sent_ms) + " " + std::to_string(node.pong_received_ms) + " " +
         std::to_string(epoch) + " ";
  out += (node.link != 0 || node.has(kFlagMyself)) ? "connected" : "disconnected";
  if (node.is_master()) append_slot_ranges(out, node);
  if (&node == myself_) {
    for (const auto& [slot, target] : migrating_slots_to_) out += " [" + std::to_string(slot) + "->-" + target->name.str() + "]";
    for (const auto& [slot, source] : importing_slots_from_) out += " [" + std::to_string(slot) + "-<-" + source->name.str() + "]";
  }
  return out;
}

std::string Node::cluster_nodes(int64_t now_ms) const {
  std::string out;
  for (const ClusterNode* node : node_list_) out += node_description(*node, false, now_ms) + "\n";
  return out;
}

bool Node::conf_line_current(const ConfLine& line, const ClusterNode& node) const {
  const bool has_master = node.is_replica() && node.master != nullptr;
  const Epoch epoch = has_master ? node.master->config_epoch : node.config_epoch;
  return line.flags == node.flags && line.ping_sent_ms == node.ping_sent_ms &&
         line.pong_received_ms == node.pong_received_ms && line.epoch == epoch &&
         line.connected == (node.link != 0 || node.has(kFlagMyself)) && line.name_id == node.name_id &&
         line.address_id == node.address_id && line.master_name_id == (has_master ? node.master->name_id : 0) &&
         (!node.is_master() || line.slots == node.slots);
}

std::shared_ptr<const std::string> Node::nodes_conf() const {
  auto text = std::make_shared<std::string>();
  std::string& out = *text;
  out.reserve(node_list_.size() * 160 + 64);  // a line is ~100-170 bytes: one allocation, no regrowth
  for (size_t k = 0; k < node_list_.size(); ++k) {
    const ClusterNode* node = node_list_[k];
    if (node->in_handshake()) continue;
    if (node == myself_) {  // carries the migrating/importing slots: always written afresh
      out += node_description(*node, true, 0) + "\n";
      continue;
    }
    ConfLine& line = conf_lines_[k];
    const size_t offset = out.size();
    if (line.text_length > 0 && conf_line_current(line, *node)) {
      assert(conf_text_ && line.text_offset + line.text_length <= conf_text_->size());
      out.append(*conf_text_, line.text_offset, line.text_length);
    } else {
      const bool has_master = node->is_replica() && node->master != nullptr;
      line.name_id = node->name_id;
      line.address_id = node->address_id;
      line.flags = node->flags;
      line.master_name_id = has_master ? node->master->name_id : 0;
      line.epoch = has_master ? node->master->config_epoch : node->config_epoch;
      line.ping_sent_ms = node->ping_sent_ms;
      line.pong_received_ms = node->pong_received_ms;
      line.connected = node->link != 0 || node->has(kFlagMyself);
      line.slots = node->is_master() ? node->slots : nullptr;
      out += node_description(*node, true, 0);
    }
    line.text_offset = static_cast<uint32_t>(offset);
    line.text_length = static_cast<uint32_t>(out.size() - offset);
    assert(line.text_length > 0);
    out += '\n';
  }
  const Epoch saved_epoch = bugs_.current_epoch_not_persisted ? 0 : current_epoch_;
  out += "vars currentEpoch " + std::to_string(saved_epoch) + " lastVoteEpoch " + std::to_string(last_vote_epoch_) + "\n";
  assert(out.size() <= UINT32_MAX);
  conf_text_ = std::move(text);
  return conf_text_;
}

bool Node::load_config(const std::string& text, int64_t now_ms) {
  // clusterLoadConfig. Lines are applied in two passes so a replica line may name a master that
  // appears later in the file.
  std::istringstream lines(text);
  std::string line;
  std::vector<std::vector<std::string>> rows;
  Epoch vars_current = 0;
  Epoch vars_last_vote = 0;
  while (std::getline(lines, line)) {
    const auto fields = split_spaces(line);
    if (fields.empty()) continue;
    if (fields[0] == "vars") {
      for (size_t i = 1; i + 1 < fields.size(); i += 2) {
        if (fields[i] == "currentEpoch" && !parse_number(fields[i + 1], vars_current)) return false;
        if (fields[i] == "lastVoteEpoch" && !parse_number(fields[i + 1], vars_last_vote)) return false;
      }
      continue;
    }
    if (fields.size() < 8) return false;
    rows.emplace_back(fields.begin(), fields.end());
  }
  for (const auto& row : rows) {
    NodeName name;
    uint16_t flags = 0;
    if (!NodeName::parse(row[0], name) || !parse_flags(row[2], flags)) return false;
    if (lookup(name) != nullptr) return false;
    ClusterNode* node = create_node(name, flags, now_ms);
    const size_t colon = row[1].rfind(':');
    const size_t at = row[1].find('@');
    if (colon == std::string::npos || at == std::string::npos || at < colon) return false;
    if (colon > IpText::kMaxSize) return false;
    Address address;
    address.ip = std::string_view(row[1]).substr(0, colon);
    if (!parse_number(std::string_view(row[1]).substr(colon + 1, at - colon - 1), address.port)) return false;
    if (!parse_number(std::string_view(row[1]).substr(at + 1), address.cport)) return false;
    set_address(node, address);
    if (flags & kFlagMyself) myself_ = node;
    if (flags & kFlagFail) node->fail_time_ms = now_ms;
    int64_t ping_sent = 0, pong_received = 0;
    if (!parse_number(row[4], ping_sent) || !parse_number(row[5], pong_received)) return false;
    node->ping_sent_ms = ping_sent != 0 ? now_ms : 0;
    node->pong_received_ms = pong_received != 0 ? now_ms : 0;
    Epoch epoch = 0;
    if (!parse_number(row[6], epoch)) return false;
    node->config_epoch = (flags & kFlagSlave) ? 0 : epoch;  // 7.0.5+: a replica's is loaded as 0
  }
  if (myself_ == nullptr) return false;
  for (const auto& row : rows) {
    NodeName name;
    NodeName::parse(row[0], name);
    ClusterNode* node = lookup(name);
    if (row[3] != "-") {
      NodeName master_name;
      if (!NodeName::parse(row[3], master_name)) return false;
      ClusterNode* master = lookup(master_name);
      if (master == nullptr) master = create_node(master_name, kFlagMaster | kFlagNoaddr, now_ms);
      node->master = master;
      add_replica(master, node);
    }
    for (size_t i = 8; i < row.size(); ++i) {
      const std::string_view range = row[i];
      if (range.starts_with("[")) continue;  // open slots: resharding is re-done by the operator
      int first = 0, last = 0;
      const size_t dash = range.find('-');
      if (!parse_number(range.substr(0, dash), first)) return false;
      last = first;
      if (dash != std::string_view::npos && !parse_number(range.substr(dash + 1), last)) return false;
      if (first < 0 || last >= kClusterSlots || first > last || !node->is_master()) return false;
      for (int slot = first; slot <= last; ++slot) set_slot_owner(slot, node);
    }
  }
  current_epoch_ = std::max(vars_current, max_epoch());
  last_vote_epoch_ = vars_last_vote;
  return true;
}

std::string Node::cluster_info() const {
  int assigned = 0, pfail = 0, fail = 0;
  for (const ClusterNode* node : node_list_) {
    if (!node->is_master()) continue;
    assigned += node->numslots;
    if (node->has(kFlagPfail)) pfail += node->numslots;
    if (node->has(kFlagFail)) fail += node->numslots;
  }
  const ClusterNode* my_master = myself_->is_replica() && myself_->master ? myself_->master : myself_;
  std::string out;
  auto line = [&](const std::string& key, const std::string& value) { out += key + ":" + value + "\r\n"; };
  line("cluster_state", state_ok_ ? "ok" : "fail");
  line("cluster_slots_assigned", std::to_string(assigned));
  line("cluster_slots_ok", std::to_string(assigned - pfail - fail));
  line("cluster_slots_pfail", std::to_string(pfail));
  line("cluster_slots_fail", std::to_string(fail));
  line("cluster_known_nodes", std::to_string(node_list_.size()));
  line("cluster_size", std::to_string(size_));
  line("cluster_current_epoch", std::to_string(current_epoch_));
  line("cluster_my_epoch", std::to_string(my_master->config_epoch));
  for (const bool sent : {true, false}) {
    int64_t total = 0;
    for (int type = 0; type < kMessageTypeCount; ++type) {
      const int64_t count = message_count(static_cast<MessageType>(type), sent);
      total += count;
      if (count == 0) continue;  // only non-zero counters are printed
      line(std::string("cluster_stats_messages_") + stats_name(static_cast<MessageType>(type)) +
               (sent ? "_sent" : "_received"),
           std::to_string(count));
    }
    line(sent ? "cluster_stats_messages_sent" : "cluster_stats_messages_received", std::to_string(total));
  }
  line("total_cluster_links_buffer_limit_exceeded", "0");
  return out;
}

std::string Node::cluster_slots() const {
  // One block per contiguous range, as redis-cli prints the CLUSTER SLOTS reply.
  std::string out;
  int index = 1;
  int slot = 0;
  while (slot < kClusterSlots) {
    const ClusterNode* owner = slots_[slot];
    if (owner == nullptr) {
      ++slot;
      continue;
    }
    int end = slot;
    while (end + 1 < kClusterSlots && slots_[end + 1] == owner) ++end;
    out += std::to_string(index++) + ") 1) (integer) " + std::to_string(slot) + "\n   2) (integer) " +
           std::to_string(end) + "\n";
    int item = 3;
    auto endpoint = [&](const ClusterNode& n) {
      out += "   " + std::to_string(item++) + ") 1) \"" + n.address().ip.str() + "\"\n      2) (integer) " +
             std::to_string(n.address().port) + "\n      3) \"" + n.name.str() + "\"\n";
    };
    endpoint(*owner);
    for (const ClusterNode* replica : owner->replicas) {
      if (!replica->has(kFlagFail)) endpoint(*replica);
    }
    slot = end + 1;
  }
  return out;
}

}  // namespace rcsim::protocol
