#pragma once
// Key → hash slot, exactly as Redis: CRC16-XMODEM of the key (or of its hash tag) mod 16384.
#include <cstdint>
#include <string_view>

namespace rcsim::protocol {

inline constexpr int kClusterSlots = 16384;  // CLUSTER_SLOTS

uint16_t crc16_xmodem(std::string_view bytes);
// The bytes Redis hashes: between the first '{' and the first '}' after it when non-empty, else all.
std::string_view hash_tag(std::string_view key);
int key_hash_slot(std::string_view key);  // keyHashSlot

}  // namespace rcsim::protocol
