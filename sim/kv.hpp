#pragma once
// The data path of the simulated redis-server: what travels on a node's client port (client
// commands and replies, the replication handshake, REPLCONF ACK) and on a replica's link to its
// master (full sync and the command stream). Bodies are plain structs carried in Packet::body; the
// connection says which type it is:
//   - a connection accepted on a node's client port carries Requests to the node (the first one
//     tells a replica, PSYNC, from a client) and Replies (clients) or ReplicationFrames (replicas)
//     back;
//   - Packet sizes are the RESP wire sizes of the equivalent Redis commands and replies.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocol/slots.hpp"

namespace rcsim::sim::kv {

// A node's data set: key → value. Values are write ids (unique per write of a workload). Only
// looked up and copied whole: its iteration order never reaches an event or an output.
using Store = std::unordered_map<std::string, uint64_t>;

enum class Cmd : uint8_t {
  get,            // GET key
  set,            // SET key value
  mset,           // MSET key value [key value ...]: every key gets `value`
  wait,           // WAIT numreplicas timeout
  cluster_slots,  // CLUSTER SLOTS
  psync,          // PSYNC ? -1 (the replica's handshake: the master answers with a full sync)
  replconf_ack,   // REPLCONF ACK <offset> (replica → master)
};

bool is_write(Cmd cmd);

struct Request {
  Cmd cmd = Cmd::get;
  uint64_t id = 0;       // the client's request id, echoed in the reply
  bool asking = false;   // preceded by ASKING (one-shot)
  std::string key;       // get / set / mset (first key)
  std::vector<std::string> more_keys;  // mset: the other keys
  uint64_t value = 0;    // set / mset
  int numreplicas = 0;   // wait
  int64_t timeout_ms = 0;  // wait (0 = forever)
  int64_t offset = 0;    // replconf_ack
  uint32_t wire_size() const;  // RESP bytes
};

// CLUSTER SLOTS as a client uses it: the client port serving each slot (0 = unassigned).
using SlotPorts = std::array<uint16_t, protocol::kClusterSlots>;

enum class ReplyKind : uint8_t {
  ok,           // +OK
  value,        // $<len> value (GET hit)
  nil,          // $-1 (GET miss)
  integer,      // :<n> (WAIT)
  moved,        // -MOVED <slot> <ip>:<port>
  ask,          // -ASK <slot> <ip>:<port>
  clusterdown,  // -CLUSTERDOWN ...
  tryagain,     // -TRYAGAIN ...
  crossslot,    // -CROSSSLOT Keys in request don't hash to the same slot
  error,        // any other -ERR / -UNBLOCKED
  slots,        // CLUSTER SLOTS
};

struct Reply {
  uint64_t id = 0;  // the request's
  ReplyKind kind = ReplyKind::ok;
  uint64_t value = 0;     // value
  int64_t integer = 0;    // integer
  int slot = -1;          // moved / ask
  uint16_t port = 0;      // moved / ask: the client port of the node to go to
  std::string text;       // the error line, as Redis words it (without the leading '-')
  std::shared_ptr<const SlotPorts> slots;  // slots
  uint32_t wire_size() const;
};

// A write as it travels in the replication stream.
struct StreamOp {
  std::string key;
  uint64_t value = 0;
  bool del = false;  // DEL key (a key moved away by a migration)
};

// Master → replica, on the replica's connection to the master's client port.
struct ReplicationFrame {
  enum class Kind : uint8_t { full_sync, stream, getack } kind = Kind::stream;
  int64_t offset_after = 0;  // the master's replication offset once this frame is applied
  std::shared_ptr<const Store> snapshot;  // full_sync: the master's data set (RDB)
  std::vector<StreamOp> ops;              // stream: commands, in order (empty: a replication PING)
};

// RESP helpers.
uint32_t resp_bulk_size(size_t length);    // $<len>\r\n<bytes>\r\n
uint32_t resp_array_header(size_t count);  // *<count>\r\n
uint32_t decimal_digits(uint64_t value);
uint32_t set_command_size(std::string_view key, uint64_t value);  // the SET as propagated
uint32_t del_command_size(std::string_view key);

}  // namespace rcsim::sim::kv
