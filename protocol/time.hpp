#pragma once
// Virtual time: a strong microsecond type. Protocol code never reads a real clock; it is handed
// `Instant now` by its host. Redis works in milliseconds (mstime()); `.ms()` gives that view.
#include <compare>
#include <cstdint>

namespace rcsim {

struct Duration {
  int64_t us = 0;

  static constexpr Duration micros(int64_t v) { return Duration{v}; }
  static constexpr Duration millis(int64_t v) { return Duration{v * 1000}; }
  static constexpr Duration seconds(int64_t v) { return Duration{v * 1000000}; }
  constexpr int64_t ms() const { return us / 1000; }

  constexpr auto operator<=>(const Duration&) const = default;
  constexpr Duration operator+(Duration o) const { return Duration{us + o.us}; }
  constexpr Duration operator-(Duration o) const { return Duration{us - o.us}; }
  constexpr Duration operator*(int64_t k) const { return Duration{us * k}; }
  constexpr Duration operator/(int64_t k) const { return Duration{us / k}; }
  constexpr Duration& operator+=(Duration o) { us += o.us; return *this; }
};

struct Instant {
  int64_t us = 0;  // since the start of the run

  static constexpr Instant from_micros(int64_t v) { return Instant{v}; }
  static constexpr Instant from_millis(int64_t v) { return Instant{v * 1000}; }
  constexpr int64_t ms() const { return us / 1000; }

  constexpr auto operator<=>(const Instant&) const = default;
  constexpr Instant operator+(Duration d) const { return Instant{us + d.us}; }
  constexpr Instant operator-(Duration d) const { return Instant{us - d.us}; }
  constexpr Duration operator-(Instant o) const { return Duration{us - o.us}; }
  constexpr Instant& operator+=(Duration d) { us += d.us; return *this; }
};

}  // namespace rcsim
