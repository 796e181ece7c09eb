#include "protocol/messages.hpp"

#include <cassert>

namespace rcsim::protocol {

const char* stats_name(MessageType type) {
  switch (type) {
    case MessageType::ping: return "ping";
    case MessageType::pong: return "pong";
    case MessageType::meet: return "meet";
    case MessageType::fail: return "fail";
    case MessageType::publish: return "publish";
    case MessageType::failover_auth_request: return "auth-req";
    case MessageType::failover_auth_ack: return "auth-ack";
    case MessageType::update: return "update";
    case MessageType::mfstart: return "mfstart";
  }
  return "unknown";
}

uint32_t Message::wire_size_bytes() const {
  switch (type) {
    case MessageType::ping:
    case MessageType::pong:
    case MessageType::meet:
      return kHeaderBytes + kGossipEntryBytes * static_cast<uint32_t>(gossip.size()) +
             (shard_id_ext ? kShardIdExtBytes : 0) + kForgottenNodeExtBytes * static_cast<uint32_t>(forgotten.size());
    case MessageType::fail: return kHeaderBytes + 40;                 // clusterMsgDataFail
    case MessageType::publish: return kHeaderBytes + 8 + publish_bytes;  // lengths + bulk data
    case MessageType::update: return kHeaderBytes + 8 + 40 + kClusterSlots / 8;
    case MessageType::failover_auth_request:
    case MessageType::failover_auth_ack:
    case MessageType::mfstart: return kHeaderBytes;
  }
  assert(false);
  return 0;
}

std::string Message::summary() const {
  std::string out;
  switch (type) {
    case MessageType::ping: out = "PING"; break;
    case MessageType::pong: out = "PONG"; break;
    case MessageType::meet: out = "MEET"; break;
    case MessageType::fail: out = "FAIL"; break;
    case MessageType::publish: out = "PUBLISH"; break;
    case MessageType::failover_auth_request: out = "AUTH_REQUEST"; break;
    case MessageType::failover_auth_ack: out = "AUTH_ACK"; break;
    case MessageType::update: out = "UPDATE"; break;
    case MessageType::mfstart: out = "MFSTART"; break;
  }
  out += " e=" + std::to_string(current_epoch) + " ce=" + std::to_string(config_epoch);
  if (!gossip.empty()) out += " gossip=" + std::to_string(gossip.size());
  for (const ForgottenNode& node : forgotten) out += " forgotten=" + node.name.str().substr(0, 8);
  if (type == MessageType::fail || type == MessageType::update) out += " about=" + about.str().substr(0, 8);
  if (type == MessageType::update) out += " uce=" + std::to_string(update_config_epoch);
  if (mflags & kMsgFlagPaused) out += " PAUSED";
  if (mflags & kMsgFlagForceAck) out += " FORCEACK";
  return out;
}

}  // namespace rcsim::protocol
