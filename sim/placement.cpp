#include "sim/placement.hpp"

#include <cassert>
#include <string_view>

namespace rcsim::sim {
namespace {

std::vector<int> members_of(const std::vector<int>& owner_of, int owner) {
  std::vector<int> out;
  for (int i = 0; i < static_cast<int>(owner_of.size()); ++i) {
    if (owner_of[i] == owner) out.push_back(i);
  }
  return out;
}

// The risks of one kind of failure domain (zones or hosts): `domain_of` by node index, `kind` "zone"/"host".
void domain_risks(std::vector<std::string>& out, const std::vector<int>& domain_of, const std::vector<std::string>& names,
                  std::string_view kind, const std::vector<std::string>& aliases, const std::vector<int>& voters,
                  const std::vector<int>& master_of) {
  // An election needs the votes of more than half of the masters serving slots: losing half of them
  // already stops every failover.
  const int masters = static_cast<int>(voters.size());
  for (int d = 0; d < static_cast<int>(names.size()); ++d) {
    int held = 0;
    for (const int m : voters) held += domain_of[m] == d ? 1 : 0;
    if (held > 0 && 2 * held >= masters) {
      out.push_back(std::string(kind) + " " + names[d] + " holds " + std::to_string(held) + " of " +
                    std::to_string(masters) + " masters: losing it leaves no majority to fail over");
    }
  }
  for (const int m : voters) {
    std::vector<int> replicas;
    for (int i = 0; i < static_cast<int>(master_of.size()); ++i) {
      if (master_of[i] == m) replicas.push_back(i);
    }
    bool together = true;
    for (const int r : replicas) together = together && domain_of[r] == domain_of[m];
    if (!together) continue;
    std::string text = std::string(kind) + " " + names[domain_of[m]] + " holds " + aliases[m];
    if (replicas.empty()) {
      text += ", which has no replica: losing it loses " + aliases[m] + "'s slots";
    } else {
      text += " and all its replicas (";
      for (size_t k = 0; k < replicas.size(); ++k) text += (k > 0 ? ", " : "") + aliases[replicas[k]];
      text += "): losing it loses " + aliases[m] + "'s slots";
    }
    out.push_back(std::move(text));
  }
}

}  // namespace

std::vector<int> Placement::nodes_in_zone(int zone) const { return members_of(zone_of, zone); }
std::vector<int> Placement::nodes_on_host(int host) const { return members_of(host_of, host); }

std::vector<int> zones_by_rule(int zone_count, int masters, const std::vector<int>& master_of_replica, int spares) {
  assert(zone_count >= 1);
  std::vector<int> zone_of;
  for (int m = 0; m < masters; ++m) zone_of.push_back(m % zone_count);
  std::vector<int> replicas_so_far(masters, 0);
  for (const int master : master_of_replica) {
    assert(master >= 0 && master < masters);
    const int rank = replicas_so_far[master]++;  // this replica's place among its master's
    zone_of.push_back(zone_count == 1 ? 0 : (zone_of[master] + 1 + rank % (zone_count - 1)) % zone_count);
  }
  for (int s = 0; s < spares; ++s) zone_of.push_back(s % zone_count);
  return zone_of;
}

void hosts_by_rule(Placement& placement, int node_count, int nodes_per_host) {
  assert(nodes_per_host >= 1 && placement.hosts.empty());
  placement.host_of.assign(node_count, -1);
  const int domains = placement.has_zones() ? static_cast<int>(placement.zones.size()) : 1;
  for (int z = 0; z < domains; ++z) {
    int filled = nodes_per_host;  // the current host is full: the next node opens one
    for (int i = 0; i < node_count; ++i) {
      if (placement.has_zones() && placement.zone_of[i] != z) continue;
      if (filled == nodes_per_host) {
        placement.hosts.push_back("h" + std::to_string(placement.hosts.size() + 1));
        filled = 0;
      }
      placement.host_of[i] = static_cast<int>(placement.hosts.size()) - 1;
      ++filled;
    }
  }
}

std::vector<std::string> placement_risks(const Placement& placement, const std::vector<std::string>& aliases,
                                         const std::vector<int>& voters, const std::vector<int>& master_of) {
  std::vector<std::string> out;
  if (placement.has_zones()) domain_risks(out, placement.zone_of, placement.zones, "zone", aliases, voters, master_of);
  if (placement.has_hosts()) domain_risks(out, placement.host_of, placement.hosts, "host", aliases, voters, master_of);
  return out;
}

}  // namespace rcsim::sim
