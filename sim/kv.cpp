#include "sim/kv.hpp"

namespace rcsim::sim::kv {

bool is_write(Cmd cmd) { return cmd == Cmd::set || cmd == Cmd::mset; }

uint32_t decimal_digits(uint64_t value) {
  uint32_t digits = 1;
  while (value >= 10) {
    value /= 10;
    ++digits;
  }
  return digits;
}

uint32_t resp_bulk_size(size_t length) {
  return 1 + decimal_digits(length) + 2 + static_cast<uint32_t>(length) + 2;
}

uint32_t resp_array_header(size_t count) { return 1 + decimal_digits(count) + 2; }

uint32_t set_command_size(std::string_view key, uint64_t value) {
  return resp_array_header(3) + resp_bulk_size(3) + resp_bulk_size(key.size()) + resp_bulk_size(decimal_digits(value));
}

uint32_t del_command_size(std::string_view key) {
  return resp_array_header(2) + resp_bulk_size(3) + resp_bulk_size(key.size());
}

uint32_t Request::wire_size() const {
  switch (cmd) {
    case Cmd::get: return (asking ? 20 : 0) + resp_array_header(2) + resp_bulk_size(3) + resp_bulk_size(key.size());
    case Cmd::set: return (asking ? 20 : 0) + set_command_size(key, value);
    case Cmd::mset: {
      uint32_t size = (asking ? 20 : 0) + resp_array_header(1 + 2 * (1 + more_keys.size())) + resp_bulk_size(4);
      size += resp_bulk_size(key.size()) + resp_bulk_size(decimal_digits(value));
      for (const std::string& k : more_keys) size += resp_bulk_size(k.size()) + resp_bulk_size(decimal_digits(value));
      return size;
    }
    case Cmd::wait:
      return resp_array_header(3) + resp_bulk_size(4) + resp_bulk_size(decimal_digits(static_cast<uint64_t>(numreplicas))) +
             resp_bulk_size(decimal_digits(static_cast<uint64_t>(timeout_ms)));
    case Cmd::cluster_slots: return resp_array_header(2) + resp_bulk_size(7) + resp_bulk_size(5);
    case Cmd::psync: return resp_array_header(3) + resp_bulk_size(5) + resp_bulk_size(1) + resp_bulk_size(2);
    case Cmd::replconf_ack:
      return resp_array_header(3) + resp_bulk_size(8) + resp_bulk_size(3) +
             resp_bulk_size(decimal_digits(static_cast<uint64_t>(offset)));
  }
  return 0;
}

uint32_t Reply::wire_size() const {
  switch (kind) {
    case ReplyKind::ok: return 5;  // +OK\r\n
    case ReplyKind::value: return resp_bulk_size(decimal_digits(value));
    case ReplyKind::nil: return 5;  // $-1\r\n
    case ReplyKind::integer: return 1 + decimal_digits(static_cast<uint64_t>(integer < 0 ? -integer : integer)) + 2;
    case ReplyKind::slots: return 3 * 64;  // a few ranges of [start, end, [ip, port, id]]
    default: return 1 + static_cast<uint32_t>(text.size()) + 2;
  }
}

}  // namespace rcsim::sim::kv
