#pragma once
// The cluster a run boots: which members are masters, which master each replica follows, the slots and
// configEpoch of each, and the epochs on disk. Either the layout `redis-cli --cluster create` makes
// (layout_by_rule), or one imported from the text of CLUSTER NODES / a nodes.conf (parse_cluster_nodes),
// which also carries the node ids and addresses.
//
// Member indexes: masters first (0..masters-1), then replicas, each group in its own order (the rule's,
// or the file's); the scenario's aliases m1.., r1.. follow the same order.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rcsim::sim {

struct SlotRange {
  int first = 0;
  int last = 0;  // inclusive
  bool operator==(const SlotRange&) const = default;
};
// "0-5460,10923" (a one-slot range is written as its slot); nodes.conf separates them with ' '.
std::string slot_ranges_text(const std::vector<SlotRange>& ranges, char separator = ',');

// A node's cluster bus port is its client port + 10000 (Redis's default cluster-port).
inline constexpr uint16_t kBusPortIncrement = 10000;

struct MemberLayout {
  std::string name;             // 40 hex characters; empty: the node picks its own at first boot
  int master = -1;              // a replica's master (member index); -1 for masters
  std::vector<SlotRange> slots;  // a master's, ascending, disjoint; empty for replicas
  uint64_t config_epoch = 0;     // a replica's is its master's (as CLUSTER NODES shows it)
  bool no_failover = false;      // cluster-replica-no-failover yes on this node
  // "fail" or "fail?" when the imported file flags the node so: it boots down (its process crashed),
  // and every other node boots with that flag on it; empty: it boots up.
  std::string down_flag;
  // Its address (an imported node's, from the file); empty ip: 127.0.0.1, client port 30001 + its index.
  std::string ip;
  uint16_t port = 0, cport = 0;
  bool operator==(const MemberLayout&) const = default;
};

struct ClusterLayout {
  int masters = 0;
  std::vector<MemberLayout> members;  // masters first
  uint64_t current_epoch = 0;         // every member's on boot
  uint64_t last_vote_epoch = 0;

  int size() const { return static_cast<int>(members.size()); }
  bool operator==(const ClusterLayout&) const = default;
};

// What redis-cli --cluster create leaves: near-equal slot ranges in order (its float cursor), replica k
// (0-based) following master k mod masters, configEpoch i+1 for member i, currentEpoch = members.
ClusterLayout layout_by_rule(int masters, int replicas_per_master);

// What follows a member's "<id> <address> " (and "myself,") in a CLUSTER NODES line or nodes.conf: its
// role and down/nofailover flags, its master's id or "-", ping-sent 0, `pong_ms`, its configEpoch (a
// replica shows its master's), "connected", a master's slots, and the newline. `ids`: every member's.
std::string member_line_tail(const ClusterLayout& layout, int member, const std::vector<std::string>& ids, int64_t pong_ms);

// nodes.conf's last line, "vars currentEpoch N lastVoteEpoch M\n", of the layout's epochs.
std::string vars_line(const ClusterLayout& layout);

// A cluster taken from the text of `redis-cli cluster nodes` or a nodes.conf.
struct ImportedCluster {
  std::string text;                   // as read: the scenario's file form carries it
  ClusterLayout layout;
  std::vector<std::string> addresses;  // per member: "ip:port@cport" as in the file (display)
  std::vector<std::string> ips;        // per member: the ip part (nodes sharing it share a host)
  bool operator==(const ImportedCluster&) const = default;
};

struct ImportError {
  int line = 0;       // 1-based; 0: the file as a whole
  int field = 0;      // 1-based; 0: the line as a whole
  std::string message;
  // "line 4, field 3 (flags): unknown flag 'foo'"
  std::string text() const;
};

// The fields of a line, 1-based, as CLUSTER NODES documents them (for messages).
inline constexpr const char* kClusterNodesFields[] = {"",        "id",        "address",   "flags",       "master",
                                                       "ping-sent", "pong-recv", "config-epoch", "link-state", "slot"};

// Every node line must be a member with an address (no handshake or noaddr flag; a node flagged fail or
// fail? boots down), a replica's master must be a master in the file, slots must not overlap. A nodes.conf
// "vars currentEpoch N lastVoteEpoch M" line sets the epochs; without it currentEpoch is the highest
// configEpoch. Open slot migrations ("[slot->-id]") are refused: finish or cancel them first.
std::optional<ImportError> parse_cluster_nodes(std::string_view text, ImportedCluster& out);

}  // namespace rcsim::sim
