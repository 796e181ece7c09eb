#include "protocol/types.hpp"

namespace rcsim::protocol {

NodeName NodeName::random(Rng& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  NodeName name;
  for (char& c : name.chars) c = kHex[rng.below(16)];
  return name;
}

bool NodeName::parse(std::string_view text, NodeName& out) {
  if (text.size() != 40) return false;
  for (size_t i = 0; i < 40; ++i) {
    const char c = text[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))) return false;  // verifyClusterNodeId
    out.chars[i] = c;
  }
  return true;
}

const SlotBitmapPtr& empty_slot_bitmap() {
  static const SlotBitmapPtr empty = std::make_shared<const SlotBitmap>();
  return empty;
}

}  // namespace rcsim::protocol
