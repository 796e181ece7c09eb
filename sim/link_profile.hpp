#pragma once
// A directed link's profile and its one-way delay draw. Header-only: the simulated network uses it,
// and so does tools/netshape.cpp, which delays real packets on loopback with the same shapes.
#include <algorithm>
#include <cassert>
#include <cstdint>

#include "protocol/rng.hpp"
#include "protocol/time.hpp"

namespace rcsim::sim {

enum class LatencyShape { fixed, uniform, long_tail };

struct LinkProfile {
  Duration latency = Duration::micros(50);  // one-way base latency
  // uniform: latency + U[0, jitter]. long_tail: latency + jitter × (1/√U − 1), U uniform in (0, 1]
  // (Pareto, α = 2: median +0.41 jitter, 1% above +9 jitter), capped at +50 jitter.
  Duration jitter{};
  LatencyShape shape = LatencyShape::fixed;
  uint32_t loss_ppm = 0;                        // per transmission, parts per million; < 1,000,000
  Duration delayed_ack = Duration::millis(40);  // the receiver's delayed-ACK timer (Linux ~40 ms)
};

namespace link_detail {

constexpr int64_t kTailCapJitters = 50;

// floor(sqrt(n)) for n <= 2^32, integer only so every platform agrees.
inline uint64_t isqrt(uint64_t n) {
  assert(n <= (uint64_t{1} << 32));
  uint64_t root = 0;
  for (uint64_t bit = uint64_t{1} << 32; bit != 0; bit >>= 2) {
    if (n >= root + bit) {
      n -= root + bit;
      root = (root >> 1) + bit;
    } else {
      root >>= 1;
    }
  }
  return root;
}

// jitter × (1/√U − 1) with U = u / 2^32, u uniform in [1, 2^32]: a Pareto tail with α = 2.
inline Duration pareto_tail(Rng& rng, Duration jitter) {
  if (jitter.us == 0) return {};
  assert(jitter.us > 0 && jitter.us < (int64_t{1} << 40));
  const auto root = static_cast<int64_t>(isqrt(rng.below(uint64_t{1} << 32) + 1));  // 1..65536
  const int64_t tail_us = jitter.us * (65536 - root) / root;
  return Duration::micros(std::min(tail_us, kTailCapJitters * jitter.us));
}

}  // namespace link_detail

// One transmission's one-way delay, without retransmissions.
inline Duration sample_latency(const LinkProfile& p, Rng& rng) {
  switch (p.shape) {
    case LatencyShape::fixed: return p.latency;
    case LatencyShape::uniform:
      return p.jitter.us == 0 ? p.latency : p.latency + Duration::micros(rng.between(0, p.jitter.us));
    case LatencyShape::long_tail: return p.latency + link_detail::pareto_tail(rng, p.jitter);
  }
  assert(false && "unknown latency shape");
  return p.latency;
}

}  // namespace rcsim::sim
