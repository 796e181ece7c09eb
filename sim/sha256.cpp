#include "sim/sha256.hpp"

#include <openssl/evp.h>

#include <cassert>
#include <stdexcept>

namespace rcsim::sim {
namespace {

void check(int ok, const char* what) {
  if (ok != 1) throw std::runtime_error(std::string("OpenSSL SHA-256: ") + what + " failed");
}

}  // namespace

Sha256::Sha256() : context_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
  if (!context_) throw std::runtime_error("OpenSSL SHA-256: out of memory");
  check(EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr), "init");
}

Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;
Sha256::~Sha256() = default;

void Sha256::absorb_pending() {
  check(EVP_DigestUpdate(context_.get(), pending_.data(), pending_.size()), "update");
  pending_.clear();
}

void Sha256::update(std::string_view bytes) {
  assert(context_ && "a moved-from Sha256 is not used again");
  if (pending_.size() + bytes.size() > kGatherBytes) {
    absorb_pending();
    if (bytes.size() > kGatherBytes) {
      check(EVP_DigestUpdate(context_.get(), bytes.data(), bytes.size()), "update");
      return;
    }
  }
  pending_.append(bytes);
}

std::string Sha256::hex() const {
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> copy(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!copy) throw std::runtime_error("OpenSSL SHA-256: out of memory");
  check(EVP_MD_CTX_copy_ex(copy.get(), context_.get()), "copy");
  check(EVP_DigestUpdate(copy.get(), pending_.data(), pending_.size()), "update");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  check(EVP_DigestFinal_ex(copy.get(), digest, &length), "final");
  assert(length == 32);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

}  // namespace rcsim::sim
