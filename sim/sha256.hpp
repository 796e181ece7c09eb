#pragma once
// Streaming SHA-256 (FIPS 180-4): identifies a run by the hash of its canonical trace bytes.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace rcsim::sim {

class Sha256 {
 public:
  Sha256();
  void update(std::string_view bytes);
  // Hex digest of everything so far; does not disturb the running state.
  std::string hex() const;

 private:
  void compress(const uint8_t* block);
  std::array<uint32_t, 8> state_{};
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

}  // namespace rcsim::sim
