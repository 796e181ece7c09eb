#pragma once
// What a Node wants done, drained by its host after each input (STYLE: etcd's Ready). The host
// applies `save` first (and fsyncs it when asked), then the I/O operations in order: a vote is on
// disk before its ACK leaves.
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "protocol/messages.hpp"

namespace rcsim::protocol {

struct SaveConfig {
  std::shared_ptr<const std::string> contents;  // nodes.conf text (Node keeps it too: see conf_text_)
  bool fsync = false;
};

struct OpenLink {
  LinkId link;
  Address address;  // connect to address.ip : address.cport
};
struct SendMessage {
  LinkId link;
  std::shared_ptr<const Message> message;
};
struct CloseLink {
  LinkId link;
};
using IoOp = std::variant<OpenLink, SendMessage, CloseLink>;

// A protocol-visible event for the trace, the checker and the human summary.
struct NodeEvent {
  std::string kind;  // "pfail", "fail", "election_started", "vote_granted", ...
  NodeName about;    // the node it concerns (may be empty)
  int64_t epoch = -1;
  int64_t value = -1;
  std::string detail;
  // The cluster size (masters serving slots) in the node's view when it happened: the quorums of its
  // rules count it. For the checker; not in the trace.
  int cluster_size = 0;
};

struct Effects {
  std::optional<SaveConfig> save;
  std::vector<IoOp> io;
  std::vector<NodeEvent> events;
  bool empty() const { return !save && io.empty() && events.empty(); }
};

}  // namespace rcsim::protocol
