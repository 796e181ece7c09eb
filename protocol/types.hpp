#pragma once
// Basic protocol types: node names, flags, slot bitmaps, link ids, epochs.
#include <array>
#include <bitset>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "protocol/rng.hpp"
#include "protocol/slots.hpp"

namespace rcsim::protocol {

using Epoch = uint64_t;

// 40 lower-case hex characters (CLUSTER_NAMELEN), compared byte-wise like Redis's memcmp.
struct NodeName {
  std::array<char, 40> chars{};
  static NodeName random(Rng& rng);  // getRandomHexChars
  static bool parse(std::string_view text, NodeName& out);
  std::string str() const { return std::string(chars.data(), chars.size()); }
  std::string_view view() const { return std::string_view(chars.data(), chars.size()); }
  bool empty() const { return chars[0] == 0; }
  auto operator<=>(const NodeName&) const = default;
};

// clusterNode flags: same bits as Redis (CLUSTER_NODE_*), carried in headers and gossip entries.
enum NodeFlag : uint16_t {
  kFlagMaster = 1,
  kFlagSlave = 2,
  kFlagPfail = 4,
  kFlagFail = 8,
  kFlagMyself = 16,
  kFlagHandshake = 32,
  kFlagNoaddr = 64,
  kFlagMeet = 128,
  kFlagMigrateTo = 256,
  kFlagNofailover = 512,
};

using SlotBitmap = std::bitset<kClusterSlots>;
// Slot claims are shared copy-on-write: thousands of nodes and messages point at one bitmap.
using SlotBitmapPtr = std::shared_ptr<const SlotBitmap>;
const SlotBitmapPtr& empty_slot_bitmap();
inline bool same_slots(const SlotBitmapPtr& a, const SlotBitmapPtr& b) { return a == b || *a == *b; }

// A bus connection as the node sees it. Ids the node creates for its outbound links are below
// kInboundLinkBase; the host numbers accepted (inbound) connections from kInboundLinkBase up.
using LinkId = uint64_t;
inline constexpr LinkId kInboundLinkBase = LinkId{1} << 62;

struct Address {
  std::string ip;
  uint16_t port = 0;
  uint16_t cport = 0;  // bus port: port + 10000 (CLUSTER_PORT_INCR)
  bool operator==(const Address&) const = default;
};

}  // namespace rcsim::protocol
