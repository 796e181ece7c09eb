#pragma once
// Basic protocol types: node names, flags, slot bitmaps, link ids, epochs.
#include <array>
#include <cassert>
#include <bitset>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "protocol/rng.hpp"
#include "protocol/slots.hpp"

namespace rcsim::protocol {

using Epoch = uint64_t;

// Folds words into a hash (names and addresses are random or small: any good mix spreads them).
struct WordHash {
  uint64_t h = 0x9e3779b97f4a7c15ull;
  void add(uint64_t word) {
    h = (h ^ word) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
};

// 40 lower-case hex characters (CLUSTER_NAMELEN), compared byte-wise like Redis's memcmp.
struct NodeName {
  std::array<char, 40> chars{};
  static NodeName random(Rng& rng);  // getRandomHexChars
  static bool parse(std::string_view text, NodeName& out);
  std::string str() const { return std::string(chars.data(), chars.size()); }
  std::string_view view() const { return std::string_view(chars.data(), chars.size()); }
  bool empty() const { return chars[0] == 0; }
  auto operator<=>(const NodeName&) const = default;
  // Five 8-byte words, inline: names are compared and hashed for every message (its sender, in the
  // world's interner and checker maps), where a memcmp call costs more than the comparison.
  bool operator==(const NodeName& other) const {
    uint64_t diff = 0;
    for (size_t i = 0; i < chars.size(); i += 8) diff |= word(i) ^ other.word(i);
    return diff == 0;
  }
  // Names are random hex, so any fold of the words spreads well.
  size_t hash() const {
    WordHash hash;
    for (size_t i = 0; i < chars.size(); i += 8) hash.add(word(i));
    return static_cast<size_t>(hash.h);
  }

 private:
  uint64_t word(size_t offset) const {
    uint64_t w;
    std::memcpy(&w, chars.data() + offset, sizeof w);
    return w;
  }
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
  kFlagExtensionsSupported = 1024,  // Valkey 8.0: it sent ping extensions (not saved, not printed)
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

// An IPv4 address as text, held inline (Redis keeps NET_IP_STR_LEN bytes in clusterNode): gossip
// entries copy addresses by the hundred per message, and a node's name and address share a cache
// line. The simulated hosts are IPv4.
class IpText {
 public:
  static constexpr size_t kMaxSize = 15;  // "255.255.255.255"
  IpText() = default;
  IpText(std::string_view text) : size_(static_cast<uint8_t>(text.size())) {  // NOLINT: implicit, like std::string
    assert(text.size() <= kMaxSize && "an IPv4 address in text form");
    std::memcpy(chars_.data(), text.data(), text.size());
  }
  IpText(const char* text) : IpText(std::string_view(text)) {}
  IpText(const std::string& text) : IpText(std::string_view(text)) {}
  std::string_view view() const { return std::string_view(chars_.data(), size_); }
  std::string str() const { return std::string(view()); }
  bool empty() const { return size_ == 0; }
  void clear() { *this = IpText(); }
  bool operator==(const IpText&) const = default;

 private:
  std::array<char, kMaxSize> chars_{};
  uint8_t size_ = 0;
};

struct Address {
  IpText ip;
  uint16_t port = 0;
  uint16_t cport = 0;  // bus port: port + 10000 (CLUSTER_PORT_INCR)
  bool operator==(const Address&) const = default;
  bool empty() const { return *this == Address{}; }
  // Over the bytes, which equality decides (an IpText's unused characters are always zero).
  size_t hash() const {
    std::array<uint32_t, 5> words;
    static_assert(sizeof(words) == sizeof(Address));
    std::memcpy(words.data(), this, sizeof words);
    WordHash hash;
    for (uint32_t w : words) hash.add(w);
    return static_cast<size_t>(hash.h);
  }
};
static_assert(std::has_unique_object_representations_v<Address>, "no padding: hash() reads every byte");

}  // namespace rcsim::protocol
