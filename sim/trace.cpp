#include "sim/trace.hpp"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <stdexcept>

namespace rcsim::sim {

namespace {

bool needs_escape(char c) { return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20; }

void append_integer(std::string& out, int64_t value) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, end);
}

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
  out.push_back('"');
  // Trace text is almost always plain: copy it whole unless a character needs escaping.
  if (std::none_of(text.begin(), text.end(), needs_escape)) {
    out.append(text);
    out.push_back('"');
    return;
  }
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out.push_back(kHex[(c >> 4) & 0xf]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

TraceRecord::TraceRecord(Instant at, std::string_view event) {
  text_.reserve(128);
  text_ += "{\"t_us\":";
  append_integer(text_, at.us);
  add("ev", event);
}

void TraceRecord::key(std::string_view k) {
  assert(!closed_);
  assert(std::none_of(k.begin(), k.end(), needs_escape) && "keys are plain words of the code");
  text_ += ",\"";
  text_ += k;
  text_ += "\":";
}

TraceRecord& TraceRecord::add(std::string_view k, int64_t value) {
  key(k);
  append_integer(text_, value);
  return *this;
}

TraceRecord& TraceRecord::add(std::string_view k, std::string_view value) {
  key(k);
  append_json_string(text_, value);
  return *this;
}

TraceRecord& TraceRecord::add(std::string_view k, bool value) {
  key(k);
  text_ += value ? "true" : "false";
  return *this;
}

const std::string& TraceRecord::line() {
  if (!closed_) {
    text_.push_back('}');
    closed_ = true;
  }
  return text_;
}

void Trace::open_file(const std::string& path) {
  file_ = std::make_unique<std::ofstream>(path, std::ios::binary | std::ios::trunc);
  if (!*file_) throw std::runtime_error("cannot write " + path);
}

void Trace::record(TraceRecord& record) {
  const std::string& text = record.line();
  hash_.update(text);
  hash_.update("\n");
  ++records_;
  if (file_) {
    *file_ << text << '\n';
  }
}

void Trace::flush() {
  if (file_) file_->flush();
}

}  // namespace rcsim::sim
