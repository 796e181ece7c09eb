#pragma once
// Streaming SHA-256 (FIPS 180-4): identifies a run by the hash of its canonical trace bytes. OpenSSL's
// libcrypto does the rounds (with the CPU's SHA extensions where it has them: hashing the trace was a
// sixth of a fuzz case with a portable implementation); small updates are gathered first, so a trace
// record costs a memcpy, not a call through OpenSSL's provider dispatch.
#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace rcsim::sim {

class Sha256 {
 public:
  Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  ~Sha256();
  void update(std::string_view bytes);
  // Hex digest of everything so far; does not disturb the running state.
  std::string hex() const;

 private:
  static constexpr size_t kGatherBytes = 16 * 1024;
  void absorb_pending();
  std::unique_ptr<evp_md_ctx_st, void (*)(evp_md_ctx_st*)> context_;
  std::string pending_;  // bytes not yet given to the context (< kGatherBytes)
};

}  // namespace rcsim::sim
