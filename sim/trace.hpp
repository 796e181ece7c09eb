#pragma once
// The canonical record of a run. Each event is one JSON object on one line, keys in the order they
// were added (callers add them in a fixed order), integers for times. The running SHA-256 of those
// bytes identifies the run: same scenario + seed → same hash.
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "protocol/time.hpp"
#include "sim/sha256.hpp"

namespace rcsim::sim {

// Builds one canonical line: {"t_us":..,"ev":"..",...}
class TraceRecord {
 public:
  TraceRecord(Instant at, std::string_view event);
  TraceRecord& add(std::string_view key, int64_t value);
  TraceRecord& add(std::string_view key, std::string_view value);
  TraceRecord& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
  TraceRecord& add(std::string_view key, bool value);
  // Finished line without the trailing newline.
  const std::string& line();

 private:
  void key(std::string_view k);
  std::string text_;
  bool closed_ = false;
};

class Trace {
 public:
  // Records are hashed always; written to `path` only if one is opened.
  void open_file(const std::string& path);
  void record(TraceRecord& record);
  uint64_t records() const { return records_; }
  std::string sha256() const { return hash_.hex(); }
  void flush();

 private:
  Sha256 hash_;
  uint64_t records_ = 0;
  std::unique_ptr<std::ofstream> file_;
};

void append_json_string(std::string& out, std::string_view text);

}  // namespace rcsim::sim
