#pragma once
// Zones and hosts: where each node of a scenario's cluster runs (cluster.zones, cluster.hosts), laid out
// the way operators lay out clusters, and what such a layout risks. A host is a machine (several Redis
// nodes on one, as create-cluster does); a zone is a failure domain and latency domain of hosts.
// Resolved once, when the scenario loads: every node has one zone and one host.
#include <string>
#include <vector>

namespace rcsim::sim {

struct Placement {
  std::vector<std::string> zones;  // names in declaration order; empty: no zones declared
  std::vector<int> zone_of;        // per node index, into `zones`; empty iff zones is
  std::vector<std::string> hosts;  // names; empty: every node is its own host
  std::vector<int> host_of;        // per node index, into `hosts`; empty iff hosts is

  bool has_zones() const { return !zones.empty(); }
  bool has_hosts() const { return !hosts.empty(); }
  std::vector<int> nodes_in_zone(int zone) const;  // node indexes, ascending
  std::vector<int> nodes_on_host(int host) const;
  // Same machine: both declared on one host (nodes without declared hosts each have their own).
  bool same_host(int a, int b) const { return a == b || (has_hosts() && host_of[a] == host_of[b]); }
  bool operator==(const Placement&) const = default;
};

// The operators' rule for a list of zone names: masters round-robin over the zones in order; replica k
// (0-based, among its master's) of a master in zone z goes to zone z+1+(k mod (Z-1)) (mod Z): never its
// master's zone when there are 2 or more zones; spares round-robin. Node indexes as in ClusterSpec
// (masters, replicas, spares); `master_of_replica`: each replica's master, in replica order.
std::vector<int> zones_by_rule(int zone_count, int masters, const std::vector<int>& master_of_replica, int spares);

// Several nodes per host, as create-cluster runs them: within each zone (or over all nodes, without
// zones) the nodes in alias order fill hosts of `nodes_per_host` (named h1, h2, ... zone after zone; the
// scenario renames them in the order of their first node).
void hosts_by_rule(Placement& placement, int node_count, int nodes_per_host);

// What the layout risks, one sentence each, in a fixed order: a zone or host holding half or more of
// the masters (losing it stops every failover: the rest are not a majority), and a zone or host holding
// a master together with all of its replicas (losing it loses that master's slots). `voters`: the node
// indexes of the masters that boot serving slots (those that vote, Redis's cluster size); `master_of` by
// node index: the master a replica starts under, -1 for masters and spares; `aliases` by node index.
std::vector<std::string> placement_risks(const Placement& placement, const std::vector<std::string>& aliases,
                                         const std::vector<int>& voters, const std::vector<int>& master_of);

}  // namespace rcsim::sim
