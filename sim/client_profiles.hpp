#pragma once
// Client libraries as users run them: the cluster-mode defaults of each library, as data for the one
// ClusterClient (sim/client.hpp). A profile says when the client reloads its slot map (periodically, on
// MOVED, on a connection error, on a timeout; at most how often), how it retries (attempts, redirects,
// back-off), how long it waits for a reply, what a command does while its node's connection is down
// (fail and retry elsewhere, or wait for the reconnect), and which node it asks for the map. Each value
// cites the library's source (client_profiles.cpp); results/clients.md shows what they do to a failover.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/time.hpp"

namespace rcsim::sim {

// Which nodes a reload asks (CLUSTER SLOTS), the first answer winning: one at random (the generic
// client: a failed reload ends there), all of them in a random order until one answers, or the startup
// nodes in their order until one answers.
enum class RefreshSource : uint8_t { random_node, random_order, seed_order };

// How long a client waits before retrying a failed attempt.
enum class BackoffKind : uint8_t {
  exponential,    // backoff_first, doubling per attempt, at most backoff_max (+ jitter)
  jedis_deadline,  // none, except before a reload: random in [0, time left / attempts left²] (Jedis 5)
};

struct ClientProfile {
  std::string_view name;     // workload.client
  std::string_view library;  // "Lettuce 6.8.2, default ClusterClientOptions"
  // Timeouts; zero: none (a silent cut then holds the command as long as it lasts: there is no TCP
  // keepalive in the simulation, as there is none by default in most libraries).
  Duration attempt_timeout;   // per attempt (socket read timeout); workload.client_timeout overrides it
  Duration command_deadline;  // the whole command, retries and reconnect waits included
  Duration reload_timeout;    // a slot map reload's
  int max_attempts = 1;       // tries on errors (redirections not counted)
  int max_redirects = 16;
  BackoffKind backoff = BackoffKind::exponential;
  Duration backoff_first, backoff_max;
  bool backoff_jitter = false;  // + up to half of the delay at random (the client's Rng stream)
  Duration clusterdown_delay;   // a CLUSTERDOWN's retry waits this long instead (zero: the backoff)
  bool retry_clusterdown = true;  // false: CLUSTERDOWN goes to the caller
  // Slot map.
  bool moved_updates_slot = true;         // a MOVED sets that slot's node in the map
  int moved_reload_every = 1;             // a full reload after every n-th MOVED; 0: never
  int reload_after_connection_errors = 1;  // a reload after every n-th connection error in a row; 0: never
  bool reload_on_timeout = true;           // a timeout counts as a connection error for that
  bool reload_on_clusterdown = true;
  bool retry_waits_for_reload = false;  // the retry goes once the reload it triggered ended
  bool retry_on_random_node = false;    // ... and to a random node (which redirects it)
  Duration reload_min_interval;  // event-triggered reloads at most this often (zero: no limit)
  Duration periodic_reload;      // a timer; zero: none
  Duration reload_when_stale;    // a command starting with a map older than this reloads it; zero: never
  RefreshSource reload_source = RefreshSource::random_node;
  // A command whose node's connection fails waits on that connection while it reconnects (after
  // reconnect_delay_first, doubling up to reconnect_delay_max) instead of failing or retrying: Lettuce.
  bool wait_for_reconnect = false;
  Duration reconnect_delay_first, reconnect_delay_max;
  int reload_after_failed_reconnects = 0;  // 0: reconnects trigger no reload
  std::string_view sources;                 // where each default comes from
};

// Every profile, "generic" first (the scenario default: today's client, redis-py-like).
const std::vector<ClientProfile>& client_profiles();
const ClientProfile* find_client_profile(std::string_view name);
std::string client_profile_names();  // "generic, lettuce, ..." for messages

}  // namespace rcsim::sim
