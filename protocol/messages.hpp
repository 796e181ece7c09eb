#pragma once
// Cluster bus messages: what Redis 7.0's clusterMsg header and payloads carry, with their exact wire
// sizes (src/cluster.h static asserts): header 2256 bytes, gossip entry 104 bytes.
#include <cstdint>
#include <string>
#include <vector>

#include "protocol/types.hpp"

namespace rcsim::protocol {

enum class MessageType : uint16_t {
  ping = 0,
  pong = 1,
  meet = 2,
  fail = 3,
  publish = 4,
  failover_auth_request = 5,
  failover_auth_ack = 6,
  update = 7,
  mfstart = 8,
};
inline constexpr int kMessageTypeCount = 9;
// The names CLUSTER INFO uses: cluster_stats_messages_<name>_sent.
const char* stats_name(MessageType type);

inline constexpr uint32_t kHeaderBytes = 2256;       // sizeof(clusterMsg) - sizeof(union clusterMsgData)
inline constexpr uint32_t kGossipEntryBytes = 104;   // sizeof(clusterMsgDataGossip)

// Ping extensions (clusterMsgPingExt: an 8-byte type/length header, data padded to 8 bytes) that the
// versions after 7.0 attach to every PING/PONG/MEET: the sender's shard id (Redis 7.2), and each node
// it was told to CLUSTER FORGET in the last 60 s with the time left (Redis 7.2). 7.0 attaches only the
// hostname extension, which no simulated node sets.
inline constexpr uint32_t kShardIdExtBytes = 8 + 40;
inline constexpr uint32_t kForgottenNodeExtBytes = 8 + 40 + 8;
struct ForgottenNode {
  NodeName name;
  int64_t ttl_s = 0;
};

enum MessageFlag : uint8_t { kMsgFlagPaused = 1, kMsgFlagForceAck = 2, kMsgFlagExtData = 4 };  // mflags[0]

// clusterMsgDataGossip. The name and address are held as ids of the world's Interner
// (protocol/interner.hpp): 20 bytes in memory, 104 on the wire.
struct GossipEntry {
  uint32_t name_id = 0;
  uint32_t address_id = 0;       // ip, port, cport
  uint32_t ping_sent_s = 0;      // seconds, as on the wire
  uint32_t pong_received_s = 0;  // seconds, as on the wire
  uint16_t flags = 0;
};

struct Message {
  MessageType type = MessageType::ping;
  // header
  NodeName sender;
  Epoch current_epoch = 0;
  Epoch config_epoch = 0;          // sender's, or its master's if it is a replica
  int64_t offset = 0;              // replication offset
  SlotBitmapPtr myslots;           // sender's slots (a replica sends its master's)
  NodeName slaveof;                // empty when the sender is a master
  Address sender_address;          // myip/port/cport
  uint16_t sender_flags = 0;
  uint8_t cluster_state_fail = 0;  // informational
  uint8_t mflags = 0;
  // payloads
  std::vector<GossipEntry> gossip;   // PING, PONG, MEET
  NodeName about;                    // FAIL, UPDATE: the node the message is about
  Epoch update_config_epoch = 0;     // UPDATE
  SlotBitmapPtr update_slots;        // UPDATE
  uint32_t publish_bytes = 0;        // PUBLISH: channel + message length
  // ping extensions
  bool shard_id_ext = false;
  uint32_t shard_id = 0;  // with shard_id_ext: the sender's (ClusterNode::shard_id)
  std::vector<ForgottenNode> forgotten;

  uint32_t wire_size_bytes() const;
  // One line for traces and labels, e.g. "PING e=7 ce=3 gossip=3".
  std::string summary() const;
};

}  // namespace rcsim::protocol
