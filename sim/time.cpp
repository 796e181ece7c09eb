#include "sim/time.hpp"

#include <cctype>
#include <cstdint>
#include <limits>

namespace rcsim::sim {

std::optional<Duration> parse_duration(std::string_view text) {
  size_t pos = 0;
  int64_t whole = 0;
  int64_t frac = 0;
  int64_t frac_scale = 1;
  bool digits = false;
  constexpr int64_t limit = std::numeric_limits<int64_t>::max() / 10'000'000;
  while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
    whole = whole * 10 + (text[pos++] - '0');
    digits = true;
    if (whole > limit) return std::nullopt;
  }
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (frac_scale >= 1'000'000'000) return std::nullopt;  // finer than we can represent
      frac = frac * 10 + (text[pos++] - '0');
      frac_scale *= 10;
      digits = true;
    }
  }
  if (!digits) return std::nullopt;
  const std::string_view unit = text.substr(pos);
  int64_t unit_us = 0;
  if (unit == "us") unit_us = 1;
  else if (unit == "ms") unit_us = 1000;
  else if (unit == "s") unit_us = 1'000'000;
  else if (unit == "m") unit_us = 60'000'000;
  else return std::nullopt;
  if ((frac * unit_us) % frac_scale != 0) return std::nullopt;  // below one microsecond
  return Duration::micros(whole * unit_us + frac * unit_us / frac_scale);
}

std::string format_duration(Duration d) {
  const int64_t us = d.us;
  if (us % 1000 != 0) return std::to_string(us) + "us";
  if (us % 1'000'000 != 0 || us == 0) {
    if (us % 1000 == 0 && (us / 1000) % 100 == 0 && us >= 1'000'000) {
      // e.g. 12.5s reads better than 12500ms
      const int64_t ms = us / 1000;
      std::string frac = std::to_string(ms % 1000);
      while (frac.size() < 3) frac.insert(frac.begin(), '0');
      while (!frac.empty() && frac.back() == '0') frac.pop_back();
      return std::to_string(ms / 1000) + "." + frac + "s";
    }
    return std::to_string(us / 1000) + "ms";
  }
  return std::to_string(us / 1'000'000) + "s";
}

}  // namespace rcsim::sim
