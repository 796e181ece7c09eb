#pragma once
// clusterNode and the pieces of clusterState, as plain structs. Times are Redis's mstime values
// (milliseconds of the host's clock); 0 means "never", as in Redis.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "protocol/types.hpp"

namespace rcsim::protocol {

struct ClusterNode;

struct FailureReport {
  ClusterNode* reporter = nullptr;
  int64_t time_ms = 0;
};

// Fields are ordered for the cache, not by meaning: the gossip section (picking entries, and
// applying each received entry) and clusterCron read the first 64-byte line of every node they
// touch and nothing else (the name and address as their Interner ids); the struct starts a line.
class Node;

struct alignas(64) ClusterNode {
  uint16_t flags = 0;
  int numslots = 0;
  LinkId link = 0;              // my outbound connection to it (0 = none)
  int64_t ping_sent_ms = 0;
  int64_t pong_received_ms = 0;
  std::vector<FailureReport> fail_reports;
  uint32_t name_id = 0;         // name, interned (set with it by Node)
  uint32_t address_id = 0;      // address(), interned (set with it by Node::set_address)
  // the rest
  NodeName name;
  int64_t data_received_ms = 0;
  int64_t link_ctime_ms = 0;
  ClusterNode* master = nullptr;  // slaveof; may be null for a replica whose master is unknown
  std::vector<ClusterNode*> replicas;
  Epoch config_epoch = 0;
  int64_t ctime_ms = 0;
  SlotBitmapPtr slots = empty_slot_bitmap();
  int64_t fail_time_ms = 0;
  int64_t voted_time_ms = 0;
  int64_t repl_offset_time_ms = 0;
  int64_t orphaned_time_ms = 0;
  int64_t repl_offset = 0;
  LinkId inbound_link = 0;      // its connection to me, once bound
  // Its shard as I know it (7.2's shard_id, learned from its shard-id ping extension): a token, not
  // Redis's 40 random hex characters. A node starts in a shard of its own, its name's id.
  uint32_t shard_id = 0;

  const Address& address() const { return address_.value; }
  bool has(uint16_t flag) const { return (flags & flag) != 0; }
  bool is_master() const { return has(kFlagMaster); }
  bool is_replica() const { return has(kFlagSlave); }
  bool failed_or_pfail() const { return has(kFlagPfail | kFlagFail); }
  bool in_handshake() const { return has(kFlagHandshake); }

  // Written only by Node::set_address, which keeps address_id in step.
  class NodeAddress {
    friend class Node;
    friend struct ClusterNode;
    Address value;
  } address_;
};
static_assert(offsetof(ClusterNode, address_id) + sizeof(uint32_t) <= 64,
              "what gossip and clusterCron read of a node is its first cache line");

// Why a replica is not failing over right now (clusterLogCantFailover reasons).
enum class CantFailoverReason { none, data_age, waiting_delay, expired, waiting_votes, nofailover };
const char* describe(CantFailoverReason reason);

// Why a master did not grant a vote (clusterSendFailoverAuthIfNeeded's log lines).
enum class VoteRefusal {  // the values are in traces ("vote_refused" events): keep them
  none = 0,
  request_epoch_stale = 2,  // (1 was a refusal no voter sends: replicas and slot-less masters stay silent)
  already_voted,
  requester_is_master,
  master_unknown,
  master_not_failed,
  voted_recently,
  slot_epoch_greater,
};
const char* describe(VoteRefusal refusal);
const char* name(VoteRefusal refusal);  // the rule as one word: "already_voted"

}  // namespace rcsim::protocol
