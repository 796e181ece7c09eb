#include "sim/scenario.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "protocol/known_bugs.hpp"
#include "sim/network.hpp"
#include <system_error>

#include "sim/client_profiles.hpp"
#include "sim/scenario_names.hpp"
#include "sim/time.hpp"

namespace rcsim::sim {
namespace {

using json = nlohmann::json;
using namespace scenario_names;

// ---- limits ---------------------------------------------------------------------------------------
constexpr size_t kMaxFileBytes = 16u << 20;
constexpr size_t kMaxNesting = 64;  // scenario files nest about 8 deep
constexpr size_t kMaxTimeline = 100000;
constexpr size_t kMaxExpect = 10000;
constexpr size_t kMaxLinks = 100000;
constexpr int kMaxSelectorDepth = 8;
constexpr int64_t kMaxDurationUs = 1'000'000'000'000'000;  // ~31.7 years
constexpr int kMaxClients = 100000;
constexpr double kMaxRatePerS = 1e7;
constexpr double kMaxDriftPpm = 500000;
constexpr std::string_view kNameChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-";

// Internal only: a validation failure unwinds to parse_scenario, which turns it into a value.
struct Failure {
  std::string path;
  std::string message;
  std::string file;  // the file at fault when not the scenario's own (an imported CLUSTER NODES file)
};

[[noreturn]] void fail(const std::string& path, std::string message) {
  throw Failure{path, std::move(message), ""};
}

// A whole text file, or why it cannot be read (`error` set).
struct TextFile {
  std::string text;
  std::string error;
};
TextFile read_text_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return {"", ec ? "cannot read: " + ec.message() : "cannot read: not a regular file"};
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return {"", "cannot read: " + ec.message()};
  if (size > kMaxFileBytes) return {"", "file is larger than 16 MiB"};
  std::ifstream in(path, std::ios::binary);
  std::string text(static_cast<size_t>(size), '\0');
  if (!in || !in.read(text.data(), static_cast<std::streamsize>(text.size()))) return {"", "cannot read the file"};
  return {std::move(text), ""};
}

// ---- small text helpers ---------------------------------------------------------------------------

std::string escape_token(std::string_view key) {  // RFC 6901
  std::string out;
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

std::string child(const std::string& path, std::string_view key) { return path + "/" + escape_token(key); }
std::string child(const std::string& path, size_t index) { return path + "/" + std::to_string(index); }

std::string quote(std::string_view text) {  // for messages: "text", shortened
  std::string out = "\"";
  const size_t limit = 60;
  for (size_t i = 0; i < text.size() && i < limit; ++i) {
    if (text[i] == '"' || text[i] == '\\') out += '\\';
    out += static_cast<unsigned char>(text[i]) < 0x20 ? '?' : text[i];
  }
  if (text.size() > limit) out += "...";
  return out + "\"";
}

std::string type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return "a number";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    default: return "an unexpected value";
  }
}

// `got "5h"` / `got 1001` for scalars, `got an array` otherwise.
std::string got(const json& v) {
  if (v.is_string()) return "got " + quote(v.get_ref<const std::string&>());
  if (v.is_number() || v.is_boolean()) return "got " + v.dump();
  return "got " + type_name(v);
}

std::string join(const std::vector<std::string>& items, std::string_view sep = ", ") {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}


// ---- objects with a fixed set of keys ---------------------------------------------------------------

class Obj {
 public:
  Obj(const json& value, std::string path, std::vector<std::string> allowed, std::string_view what = "an object")
      : value_(value), path_(std::move(path)) {
    if (!value.is_object()) fail(path_, "expected " + std::string(what) + ", got " + type_name(value));
    for (const auto& [key, unused] : value.items()) {
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        fail(child(path_, key), "unknown field " + quote(key) + " (allowed: " + join(allowed) + ")");
      }
    }
  }
  const json* find(std::string_view key) const {
    const auto it = value_.find(std::string(key));
    return it == value_.end() ? nullptr : &*it;
  }
  const json& need(std::string_view key) const {
    const json* v = find(key);
    if (v == nullptr) fail(path_, "missing required field " + quote(key));
    return *v;
  }
  std::string at(std::string_view key) const { return child(path_, key); }
  const std::string& path() const { return path_; }

 private:
  const json& value_;
  std::string path_;
};

// ---- scalars --------------------------------------------------------------------------------------

std::string as_string(const json& v, const std::string& path) {
  if (!v.is_string()) fail(path, "expected a string, got " + type_name(v));
  return v.get<std::string>();
}

bool as_bool(const json& v, const std::string& path) {
  if (!v.is_boolean()) fail(path, "expected true or false, got " + type_name(v));
  return v.get<bool>();
}

int64_t as_int(const json& v, const std::string& path, int64_t min, int64_t max) {
  const std::string range = "an integer between " + std::to_string(min) + " and " + std::to_string(max);
  if (!v.is_number_integer()) fail(path, "expected " + range + ", " + got(v));
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(max)) fail(path, "expected " + range + ", " + got(v));
  const int64_t n = v.get<int64_t>();
  if (n < min || n > max) fail(path, "expected " + range + ", " + got(v));
  return n;
}

int as_small_int(const json& v, const std::string& path, int min, int max) {
  return static_cast<int>(as_int(v, path, min, max));
}

uint64_t as_u64(const json& v, const std::string& path) {
  if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0)) {
    fail(path, "expected an unsigned integer, " + got(v));
  }
  return v.get<uint64_t>();
}

double as_number(const json& v, const std::string& path, double min, double max) {
  std::ostringstream range;
  range << "a number between " << min << " and " << max;
  if (!v.is_number()) fail(path, "expected " + range.str() + ", " + got(v));
  const double d = v.get<double>();
  if (!std::isfinite(d) || d < min || d > max) fail(path, "expected " + range.str() + ", " + got(v));
  return d;
}

double as_probability(const json& v, const std::string& path) { return as_number(v, path, 0.0, 1.0); }

template <typename E>
E as_enum(const json& v, const std::string& path, const Names<E>& names) {
  std::vector<std::string> quoted;
  for (const auto& [name, value] : names) quoted.push_back(quote(name));
  const std::string expected = "expected one of " + join(quoted);
  if (!v.is_string()) fail(path, expected + ", got " + type_name(v));
  for (const auto& [name, value] : names) {
    if (v.get_ref<const std::string&>() == name) return value;
  }
  fail(path, expected + ", " + got(v));
}

// ---- durations ------------------------------------------------------------------------------------

enum class DurationSign { NonNegative, Positive, Signed };

Duration as_duration(const json& v, const std::string& path, DurationSign sign = DurationSign::NonNegative) {
  const std::string example = "a duration such as \"1.5s\", \"200ms\", \"250us\" or \"2m\"";
  if (!v.is_string()) fail(path, "expected " + example + ", got " + type_name(v));
  const std::string& text = v.get_ref<const std::string&>();
  const bool negative = !text.empty() && text[0] == '-';
  const std::string_view body = std::string_view(text).substr(negative ? 1 : 0);
  // sim::parse_duration accumulates without an overflow guard for large minute counts: bound the
  // integer part (digits × unit) first so that no arithmetic can overflow.
  const size_t unit_pos = std::min(body.find_first_not_of("0123456789."), body.size());
  const std::string_view unit = body.substr(unit_pos);
  const long double unit_us = unit == "us" ? 1.0L : unit == "ms" ? 1e3L : unit == "s" ? 1e6L : unit == "m" ? 6e7L : 0.0L;
  long double whole = 0;
  for (size_t i = 0; i < unit_pos && body[i] != '.'; ++i) whole = whole * 10 + (body[i] - '0');
  if (whole * unit_us > static_cast<long double>(kMaxDurationUs)) {
    fail(path, "duration " + quote(text) + " is too large (the limit is about 31 years)");
  }
  const std::optional<Duration> parsed = parse_duration(body);
  if (!parsed) fail(path, "expected " + example + ", " + got(v));
  const Duration d = negative ? Duration{-parsed->us} : *parsed;
  if (sign != DurationSign::Signed && d.us < 0) fail(path, "negative duration " + quote(text) + " is not allowed here");
  if (sign == DurationSign::Positive && d.us <= 0) fail(path, "expected a positive duration, " + got(v));
  return d;
}

Instant as_time(const json& v, const std::string& path) {
  return Instant{as_duration(v, path, DurationSign::NonNegative).us};
}

// ---- Redis settings -------------------------------------------------------------------------------

// Config::set also accepts these old names; the scenario keeps the canonical one so that a name and
// its alias cannot both be set.
std::string canonical_setting_name(std::string_view name) {
  if (name == "cluster-slave-validity-factor") return "cluster-replica-validity-factor";
  if (name == "cluster-slave-no-failover") return "cluster-replica-no-failover";
  if (name == "repl-ping-slave-period") return "repl-ping-replica-period";
  return std::string(name);
}

// Validates through protocol::Config and canonicalises name and value. Error text or nullopt.
std::optional<std::string> check_setting(std::string_view name, std::string_view value, ConfigSetting* out,
                                         bool* unknown_name, protocol::ServerVersion version) {
  protocol::Config probe;
  probe.version = version;
  *unknown_name = false;
  if (!probe.get(name)) {
    *unknown_name = true;
    if (const protocol::ServerVersion since = protocol::Config::since(name); version < since) {
      return quote(name) + " is not a setting of " + protocol::profile_of(version).name + " (cluster.version): " +
             protocol::profile_of(since).name + " added it";
    }
    return "unknown Redis setting " + quote(name) + " (known: " + join(protocol::Config::names()) + ")";
  }
  if (std::optional<std::string> err = probe.set(name, value)) return "bad value " + quote(value) + ": " + *err;
  out->name = canonical_setting_name(name);
  out->value = *probe.get(name);
  return std::nullopt;
}

std::string setting_value_text(const json& v, const std::string& path) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number()) return v.dump();
  fail(path, "expected a number, a string or a boolean (yes/no), got " + type_name(v));
}

// ---- node references ------------------------------------------------------------------------------

struct Ctx {
  const ClusterSpec& cluster;
};

std::string as_alias(const json& v, const std::string& path, const Ctx& ctx) {
  if (!v.is_string()) fail(path, "expected a node alias such as \"m1\", got " + type_name(v));
  const std::string& alias = v.get_ref<const std::string&>();
  if (!ctx.cluster.index_of(alias)) {
    std::string msg = "unknown node '" + alias.substr(0, 60) + "' (this cluster has " + ctx.cluster.alias_summary();
    if (alias == "all" || alias == "live") msg += "; \"" + alias + "\" is not accepted here";
    fail(path, msg + ")");
  }
  return alias;
}

NodeRef as_ref(const json& v, const std::string& path, const Ctx& ctx, int depth = 0) {
  if (v.is_string()) return NodeRef::of_alias(as_alias(v, path, ctx));
  if (!v.is_object()) {
    fail(path, "expected a node alias such as \"m1\" or a selector such as {\"master_of_slot\": 0}, got " +
                   type_name(v));
  }
  const std::vector<std::string> selectors = {"master_of_slot", "replica_of", "master_of"};
  if (v.size() != 1) {
    std::vector<std::string> keys;
    for (const auto& [key, unused] : v.items()) keys.push_back(key);
    fail(path, "a selector has exactly one key (" + join(selectors) + "), found " + std::to_string(v.size()) +
                   (keys.empty() ? "" : ": " + join(keys)));
  }
  const auto first = v.begin();
  const std::string& key = first.key();
  const json& inner = first.value();
  const std::string inner_path = child(path, key);
  if (key == "master_of_slot") {
    NodeRef ref;
    ref.master_of_slot = as_small_int(inner, inner_path, 0, kScenarioSlots - 1);
    return ref;
  }
  if (key != "replica_of" && key != "master_of") {
    fail(inner_path, "unknown selector " + quote(key) + " (allowed: " + join(selectors) + ")");
  }
  if (depth >= kMaxSelectorDepth) fail(inner_path, "selectors nest at most " + std::to_string(kMaxSelectorDepth) + " deep");
  NodeRef ref = as_ref(inner, inner_path, ctx, depth + 1);
  ref.steps.push_back(key == "replica_of" ? NodeRef::Step::ReplicaOf : NodeRef::Step::MasterOf);
  return ref;
}

// "all" → nullopt, otherwise a reference.
std::optional<NodeRef> as_ref_or_all(const json& v, const std::string& path, const Ctx& ctx) {
  if (v.is_string() && v.get_ref<const std::string&>() == "all") return std::nullopt;
  return as_ref(v, path, ctx);
}

void require_distinct(const NodeRef& a, const NodeRef& b, const std::string& path, std::string_view what) {
  if (a.is_alias() && b.is_alias() && a.alias == b.alias) {
    fail(path, std::string(what) + " name the same node '" + a.alias + "'");
  }
}

// ---- cluster / network / workload -------------------------------------------------------------------

// One entry per setting, sorted by canonical name: the order a JSON object gives back.
void sort_settings(std::vector<ConfigSetting>& config) {
  std::sort(config.begin(), config.end(), [](const ConfigSetting& a, const ConfigSetting& b) { return a.name < b.name; });
}

void parse_cluster_config(const json& v, const std::string& path, ClusterSpec& cluster) {
  if (!v.is_object()) fail(path, "expected an object of Redis settings by name, got " + type_name(v));
  for (const auto& [name, value] : v.items()) {
    const std::string p = child(path, name);
    ConfigSetting setting;
    bool unknown = false;
    if (std::optional<std::string> err = check_setting(name, setting_value_text(value, p), &setting, &unknown, cluster.version)) {
      fail(p, *err);
    }
    for (const ConfigSetting& earlier : cluster.config) {
      if (earlier.name == setting.name) fail(p, "sets " + setting.name + " a second time (under another name)");
    }
    cluster.config.push_back(std::move(setting));
  }
  sort_settings(cluster.config);
}

// ---- zones and hosts ------------------------------------------------------------------------------

std::string as_domain_name(const json& v, const std::string& path, std::string_view kind) {
  if (!v.is_string()) fail(path, "expected a " + std::string(kind) + " name, got " + type_name(v));
  const std::string& name = v.get_ref<const std::string&>();
  if (name.empty() || name.size() > 40 || name.find_first_not_of(kNameChars) != std::string::npos) {
    fail(path, std::string(kind) + " name " + quote(name) + ": expected 1-40 characters of [A-Za-z0-9_.-]");
  }
  return name;
}

// Domains (zones or hosts) renumbered in the order of their first node, so that a layout reads back
// the same from the file form to_json writes.
void canonical_domains(std::vector<std::string>& names, std::vector<int>& domain_of) {
  std::vector<int> renumbered(names.size(), -1);
  std::vector<std::string> ordered;
  for (int& d : domain_of) {
    if (renumbered[d] < 0) {
      renumbered[d] = static_cast<int>(ordered.size());
      ordered.push_back(names[d]);
    }
    d = renumbered[d];
  }
  names = std::move(ordered);
}

// {"name": [aliases], ...}: every node of the cluster in exactly one domain.
void parse_domain_lists(const json& v, const std::string& path, std::string_view kind, const ClusterSpec& c,
                        std::vector<std::string>& names, std::vector<int>& domain_of) {
  domain_of.assign(c.node_count(), -1);
  for (const auto& [name, members] : v.items()) {
    const std::string p = child(path, name);
    names.push_back(as_domain_name(json(name), p, kind));
    if (!members.is_array() || members.empty()) {
      fail(p, "expected a non-empty array of the node aliases on this " + std::string(kind) + ", got " + got(members));
    }
    for (size_t i = 0; i < members.size(); ++i) {
      const std::string mp = child(p, i);
      if (!members[i].is_string()) fail(mp, "expected a node alias such as \"m1\", got " + type_name(members[i]));
      const std::string& alias = members[i].get_ref<const std::string&>();
      std::vector<int> nodes;
      if (const std::optional<int> index = c.index_of(alias)) {
        nodes.push_back(*index);
      } else if (const auto& hosts = c.placement.hosts;
                 kind == "zone" && std::find(hosts.begin(), hosts.end(), alias) != hosts.end()) {
        // An imported cluster's host (its ip): every node on it.
        nodes = c.placement.nodes_on_host(static_cast<int>(std::find(hosts.begin(), hosts.end(), alias) - hosts.begin()));
      } else {
        fail(mp, "unknown node '" + alias.substr(0, 60) + "' (this cluster has " + c.alias_summary() +
                     (kind == "zone" && c.placement.has_hosts() ? "; hosts " + join(c.placement.hosts) : std::string()) + ")");
      }
      for (const int index : nodes) {
        if (domain_of[index] >= 0) {
          fail(mp, "node '" + c.alias(index) + "' is already on " + std::string(kind) + " " + names[domain_of[index]]);
        }
        domain_of[index] = static_cast<int>(names.size()) - 1;
      }
    }
  }
  for (int i = 0; i < c.node_count(); ++i) {
    if (domain_of[i] < 0) fail(path, "node '" + c.alias(i) + "' is on no " + std::string(kind) + " (every node needs one)");
  }
}

void parse_zones(const json& v, const std::string& path, ClusterSpec& c) {
  Placement& p = c.placement;
  if (v.is_array()) {
    if (v.empty()) fail(path, "expected at least one zone name");
    for (size_t i = 0; i < v.size(); ++i) {
      const std::string name = as_domain_name(v[i], child(path, i), "zone");
      if (std::find(p.zones.begin(), p.zones.end(), name) != p.zones.end()) {
        fail(child(path, i), "zone " + quote(name) + " is listed twice");
      }
      p.zones.push_back(name);
    }
    std::vector<int> master_of_replica;
    for (int r = c.masters; r < c.masters + c.replicas(); ++r) master_of_replica.push_back(*c.initial_master_of(r));
    p.zone_of = zones_by_rule(static_cast<int>(p.zones.size()), c.masters, master_of_replica, c.spares);
    for (int z = 0; z < static_cast<int>(p.zones.size()); ++z) {
      if (p.nodes_in_zone(z).empty()) {
        fail(path, "zone " + quote(p.zones[z]) + " gets no node: " + std::to_string(p.zones.size()) +
                       " zones need at least as many masters");
      }
    }
  } else if (v.is_object()) {
    if (v.empty()) fail(path, "expected at least one zone");
    parse_domain_lists(v, path, "zone", c, p.zones, p.zone_of);
  } else {
    fail(path, "expected an array of zone names (masters round-robin over them, each replica in another zone "
               "than its master) or an object {\"zone\": [node aliases]}, got " + type_name(v));
  }
  canonical_domains(p.zones, p.zone_of);
}

// A host is one machine: all of it in one zone. `where(host)`: the JSON path to blame.
template <typename Where>
void check_hosts_within_zones(const ClusterSpec& c, const Where& where) {
  const Placement& p = c.placement;
  for (int i = 0; p.has_zones() && p.has_hosts() && i < c.node_count(); ++i) {
    const int first = p.nodes_on_host(p.host_of[i]).front();
    if (p.zone_of[i] != p.zone_of[first]) {
      fail(where(p.hosts[p.host_of[i]]), "host " + p.hosts[p.host_of[i]] + " spans zones " + p.zones[p.zone_of[first]] +
                                             " (" + c.alias(first) + ") and " + p.zones[p.zone_of[i]] + " (" + c.alias(i) + ")");
    }
  }
}

void parse_hosts(const json& v, const std::string& path, ClusterSpec& c) {
  Placement& p = c.placement;
  if (v.is_object() && v.size() == 1 && v.contains("nodes_per_host")) {
    const int per_host = as_small_int(v["nodes_per_host"], child(path, "nodes_per_host"), 1, c.node_count());
    hosts_by_rule(p, c.node_count(), per_host);
    canonical_domains(p.hosts, p.host_of);
    for (size_t h = 0; h < p.hosts.size(); ++h) p.hosts[h] = "h" + std::to_string(h + 1);  // h1 holds m1
  } else if (v.is_object() && !v.empty()) {
    parse_domain_lists(v, path, "host", c, p.hosts, p.host_of);
    check_hosts_within_zones(c, [&](const std::string& host) { return child(path, host); });
    canonical_domains(p.hosts, p.host_of);
  } else {
    fail(path, "expected {\"nodes_per_host\": N} (nodes fill hosts in alias order, zone by zone) or an object "
               "{\"host\": [node aliases]}, got " + got(v));
  }
}

// cluster.from_cluster_nodes (a file, relative to the scenario's directory) or cluster.cluster_nodes (its
// text, as the file form writes it): the cluster of an operator's CLUSTER NODES output.
void parse_import(const Obj& o, ClusterSpec& c, const std::filesystem::path& base_dir) {
  const json* from_file = o.find("from_cluster_nodes");
  const json* inline_text = o.find("cluster_nodes");
  if (from_file == nullptr && inline_text == nullptr) return;
  if (from_file != nullptr && inline_text != nullptr) {
    fail(o.at("cluster_nodes"), "expected from_cluster_nodes (a file) or cluster_nodes (its text), not both");
  }
  for (const char* key : {"masters", "replicas_per_master"}) {
    if (o.find(key) != nullptr) fail(o.at(key), std::string(key) + " comes from the imported cluster: leave it out");
  }
  if (const json* x = o.find("create"); x != nullptr && as_enum(*x, o.at("create"), kCreateModes) != CreateMode::NodesConf) {
    fail(o.at("create"), "an imported cluster boots from the nodes.conf files written for it: create is nodes_conf");
  }
  std::string text;
  std::filesystem::path file;
  if (from_file != nullptr) {
    file = as_string(*from_file, o.at("from_cluster_nodes"));
    if (file.is_relative()) file = base_dir / file;
    TextFile read = read_text_file(file);
    if (!read.error.empty()) fail(o.at("from_cluster_nodes"), file.string() + ": " + read.error);
    text = std::move(read.text);
  } else {
    text = as_string(*inline_text, o.at("cluster_nodes"));
  }
  ImportedCluster imported;
  if (const std::optional<ImportError> error = parse_cluster_nodes(text, imported)) {
    if (from_file != nullptr) throw Failure{"", error->text(), file.string()};
    fail(o.at("cluster_nodes"), error->text());
  }
  constexpr int kMaxMembers = kScenarioMaxMasters * (1 + kScenarioMaxReplicasPerMaster);
  if (imported.layout.size() > kMaxMembers) {
    fail(o.at(from_file != nullptr ? "from_cluster_nodes" : "cluster_nodes"),
         "the cluster has " + std::to_string(imported.layout.size()) + " nodes; at most " + std::to_string(kMaxMembers));
  }
  c.masters = imported.layout.masters;
  c.replicas_per_master = 0;
  c.create = CreateMode::NodesConf;
  c.imported = std::move(imported);
}

// With cluster-require-full-coverage yes (the default) a cluster with a slot nobody serves never reaches
// cluster_state ok: refused, since the run starts from an ok cluster.
void check_imported_coverage(const Obj& o, const ClusterSpec& c) {
  if (!c.imported || !node_config(c).cluster_require_full_coverage) return;
  std::vector<char> served(kScenarioSlots, 0);
  for (const MemberLayout& member : c.imported->layout.members) {
    for (const SlotRange& range : member.slots) std::fill(served.begin() + range.first, served.begin() + range.last + 1, 1);
  }
  std::vector<SlotRange> missing;
  for (int slot = 0; slot < kScenarioSlots; ++slot) {
    if (served[slot]) continue;
    if (!missing.empty() && missing.back().last == slot - 1) missing.back().last = slot;
    else missing.push_back({slot, slot});
  }
  if (!missing.empty()) {
    fail(o.at(o.find("from_cluster_nodes") != nullptr ? "from_cluster_nodes" : "cluster_nodes"),
         "no master serves slots " + slot_ranges_text(missing).substr(0, 200) +
             ": the cluster would never be ok (set cluster-require-full-coverage no to run it anyway)");
  }
}

// An imported cluster's nodes sharing an ip share a host (named by it), spares each on their own.
void hosts_from_imported_ips(ClusterSpec& c) {
  Placement& p = c.placement;
  p.host_of.assign(c.node_count(), -1);
  for (int i = 0; i < c.node_count(); ++i) {
    const std::string name = i < static_cast<int>(c.imported->ips.size()) ? c.imported->ips[i] : c.alias(i);
    const auto it = std::find(p.hosts.begin(), p.hosts.end(), name);
    p.host_of[i] = static_cast<int>(it - p.hosts.begin());
    if (it == p.hosts.end()) p.hosts.push_back(name);
  }
}

ClusterSpec parse_cluster(const json& v, const std::string& path, const std::filesystem::path& base_dir) {
  const Obj o(v, path, {"masters", "replicas_per_master", "spares", "timer_phase", "create", "version", "config", "zones",
                        "hosts", "from_cluster_nodes", "cluster_nodes"});
  ClusterSpec c;
  parse_import(o, c, base_dir);
  if (!c.imported) {
    c.masters = as_small_int(o.need("masters"), o.at("masters"), 1, kScenarioMaxMasters);
    if (const json* x = o.find("replicas_per_master")) {
      c.replicas_per_master = as_small_int(*x, o.at("replicas_per_master"), 0, kScenarioMaxReplicasPerMaster);
    }
  }
  if (const json* x = o.find("spares")) c.spares = as_small_int(*x, o.at("spares"), 0, kScenarioMaxSpares);
  if (const json* x = o.find("timer_phase")) c.timer_phase = as_enum(*x, o.at("timer_phase"), kTimerPhases);
  if (const json* x = o.find("create"); x != nullptr && !c.imported) c.create = as_enum(*x, o.at("create"), kCreateModes);
  if (const json* x = o.find("version")) c.version = as_enum(*x, o.at("version"), kServerVersions);
  if (const json* x = o.find("config")) parse_cluster_config(*x, o.at("config"), c);
  check_imported_coverage(o, c);
  const json* zones = o.find("zones");
  const json* hosts = o.find("hosts");
  // The file's machines, unless the scenario lays out hosts itself or zones by the rule (which places
  // nodes, not machines: a machine could land in two zones). Zone lists may then name them.
  const bool hosts_by_ip = c.imported && hosts == nullptr && !(zones != nullptr && zones->is_array()) &&
                           std::set<std::string>(c.imported->ips.begin(), c.imported->ips.end()).size() > 1;
  if (hosts_by_ip) hosts_from_imported_ips(c);
  if (zones != nullptr) parse_zones(*zones, o.at("zones"), c);
  if (hosts_by_ip) {
    check_hosts_within_zones(c, [&](const std::string&) { return o.at("zones"); });
    canonical_domains(c.placement.hosts, c.placement.host_of);
  }
  if (hosts != nullptr) parse_hosts(*hosts, o.at("hosts"), c);
  return c;
}

struct LinkFields {  // a profile's optional fields, as in a link override
  std::optional<Duration> latency, jitter;
  std::optional<LatencyShape> shape;
  std::optional<double> loss;
  void over(const LinkFields& o) {  // o's set fields win
    if (o.latency) latency = o.latency;
    if (o.jitter) jitter = o.jitter;
    if (o.shape) shape = o.shape;
    if (o.loss) loss = o.loss;
  }
};

template <typename Fields>
bool sets_link_fields(const Fields& f) {
  return f.latency || f.jitter || f.shape || f.loss;
}

// The optional latency, jitter, shape and loss of a link override, a link action or a zone profile.
template <typename Fields>
void parse_link_fields(const Obj& o, Fields& f) {
  if (const json* x = o.find("latency")) f.latency = as_duration(*x, o.at("latency"));
  if (const json* x = o.find("jitter")) f.jitter = as_duration(*x, o.at("jitter"));
  if (const json* x = o.find("shape")) f.shape = as_enum(*x, o.at("shape"), kShapes);
  if (const json* x = o.find("loss")) f.loss = as_probability(*x, o.at("loss"));
}

// A zone or host name the cluster declares: its index in `names`.
int as_domain(const json& v, const std::string& path, const std::vector<std::string>& names, std::string_view kind) {
  const std::string kinds = std::string(kind) + "s";
  if (names.empty()) fail(path, "this cluster declares no " + kinds + " (cluster." + kinds + ")");
  if (!v.is_string()) fail(path, "expected a " + std::string(kind) + " name, got " + type_name(v));
  const auto it = std::find(names.begin(), names.end(), v.get_ref<const std::string&>());
  if (it == names.end()) {
    fail(path, "unknown " + std::string(kind) + " " + quote(v.get_ref<const std::string&>()) + " (" + kinds + ": " + join(names) + ")");
  }
  return static_cast<int>(it - names.begin());
}

int as_zone(const json& v, const std::string& path, const ClusterSpec& c) {
  return as_domain(v, path, c.placement.zones, "zone");
}

int as_host(const json& v, const std::string& path, const ClusterSpec& c) {
  return as_domain(v, path, c.placement.hosts, "host");
}

LinkOverride parse_link_override(const json& v, const std::string& path, const Ctx& ctx) {
  const Obj o(v, path, {"from", "to", "latency", "jitter", "shape", "loss", "both_ways"});
  LinkOverride l;
  l.from = as_alias(o.need("from"), o.at("from"), ctx);
  l.to = as_alias(o.need("to"), o.at("to"), ctx);
  if (l.from == l.to) fail(o.at("to"), "from and to name the same node '" + l.to + "'");
  parse_link_fields(o, l);
  if (const json* x = o.find("both_ways")) l.both_ways = as_bool(*x, o.at("both_ways"));
  return l;
}

// network.zones: the latency (and jitter, shape, loss) between nodes on different hosts of one zone
// (`within`) and of two zones (`between`, `pairs` for particular ones), written out as one directed link
// override per pair of nodes. Nodes on one host keep the network-wide profile (loopback).
std::vector<LinkOverride> parse_zone_network(const json& v, const std::string& path, const ClusterSpec& c) {
  const Obj o(v, path, {"within", "between", "pairs"});
  if (!c.placement.has_zones()) fail(path, "network zones need zones: this cluster declares none (cluster.zones)");
  const std::vector<std::string> fields = {"latency", "jitter", "shape", "loss"};
  LinkFields within, between;
  if (const json* x = o.find("within")) parse_link_fields(Obj(*x, o.at("within"), fields), within);
  if (const json* x = o.find("between")) parse_link_fields(Obj(*x, o.at("between"), fields), between);
  const int zones = static_cast<int>(c.placement.zones.size());
  std::vector<LinkFields> pair(static_cast<size_t>(zones * zones));  // [a * zones + b]: between, then the pair's
  for (LinkFields& f : pair) f = between;
  if (const json* x = o.find("pairs")) {
    if (!x->is_array()) fail(o.at("pairs"), "expected an array of {\"zones\": [a, b], latency...}, got " + type_name(*x));
    for (size_t i = 0; i < x->size(); ++i) {
      const std::string p = child(o.at("pairs"), i);
      const Obj po((*x)[i], p, {"zones", "latency", "jitter", "shape", "loss"});
      const json& names = po.need("zones");
      if (!names.is_array() || names.size() != 2) fail(po.at("zones"), "expected two zone names, got " + got(names));
      const int a = as_zone(names[0], child(po.at("zones"), 0), c);
      const int b = as_zone(names[1], child(po.at("zones"), 1), c);
      if (a == b) fail(po.at("zones"), "a pair names two different zones; use \"within\" for one zone");
      LinkFields f;
      parse_link_fields(po, f);
      pair[static_cast<size_t>(a * zones + b)].over(f);
      pair[static_cast<size_t>(b * zones + a)].over(f);
    }
  }
  std::vector<LinkOverride> out;
  const Placement& pl = c.placement;
  for (int from = 0; from < c.node_count(); ++from) {
    for (int to = 0; to < c.node_count(); ++to) {
      if (pl.same_host(from, to)) continue;
      const int za = pl.zone_of[from], zb = pl.zone_of[to];
      const LinkFields& f = za == zb ? within : pair[static_cast<size_t>(za * zones + zb)];
      if (!sets_link_fields(f)) continue;
      if (out.size() == kMaxLinks) fail(path, "expands to more than " + std::to_string(kMaxLinks) + " node-to-node links");
      out.push_back(LinkOverride{c.alias(from), c.alias(to), f.latency, f.jitter, f.shape, f.loss, false});
    }
  }
  return out;
}

NetworkSpec parse_network(const json& v, const std::string& path, const Ctx& ctx) {
  const Obj o(v, path, {"latency", "jitter", "shape", "loss", "zones", "links", "chaos", "tcp_syn_linear_timeouts", "timer_wheel"});
  NetworkSpec n;
  if (const json* x = o.find("latency")) n.latency = as_duration(*x, o.at("latency"));
  if (const json* x = o.find("jitter")) n.jitter = as_duration(*x, o.at("jitter"));
  if (const json* x = o.find("shape")) n.shape = as_enum(*x, o.at("shape"), kShapes);
  if (const json* x = o.find("loss")) n.loss = as_probability(*x, o.at("loss"));
  if (const json* x = o.find("zones")) n.links = parse_zone_network(*x, o.at("zones"), ctx.cluster);
  if (const json* x = o.find("links")) {
    if (!x->is_array()) fail(o.at("links"), "expected an array of link overrides, got " + type_name(*x));
    if (x->size() + n.links.size() > kMaxLinks) fail(o.at("links"), "more than " + std::to_string(kMaxLinks) + " links");
    for (size_t i = 0; i < x->size(); ++i) n.links.push_back(parse_link_override((*x)[i], child(o.at("links"), i), ctx));
  }
  if (const json* x = o.find("chaos")) {
    const Obj c(*x, o.at("chaos"), {"drop", "duplicate", "reorder"});
    if (const json* p = c.find("drop")) n.chaos.drop = as_probability(*p, c.at("drop"));
    if (const json* p = c.find("duplicate")) n.chaos.duplicate = as_probability(*p, c.at("duplicate"));
    if (const json* p = c.find("reorder")) n.chaos.reorder = as_probability(*p, c.at("reorder"));
  }
  if (const json* x = o.find("tcp_syn_linear_timeouts")) {
    n.tcp_syn_linear_timeouts = as_small_int(*x, o.at("tcp_syn_linear_timeouts"), 0, SynSchedule::kMax);
  }
  if (const json* x = o.find("timer_wheel")) n.timer_wheel = as_enum(*x, o.at("timer_wheel"), kTimerWheels);
  return n;
}

WorkloadSpec parse_workload(const json& v, const std::string& path, const Ctx& ctx) {
  const Obj o(v, path,
              {"clients", "writes_per_s", "reads_per_s", "keys", "hash_tags", "client", "client_timeout", "wait",
               "placement"});
  WorkloadSpec w;
  if (const json* x = o.find("clients")) w.clients = as_small_int(*x, o.at("clients"), 0, kMaxClients);
  if (const json* x = o.find("writes_per_s")) w.writes_per_s = as_number(*x, o.at("writes_per_s"), 0, kMaxRatePerS);
  if (const json* x = o.find("reads_per_s")) w.reads_per_s = as_number(*x, o.at("reads_per_s"), 0, kMaxRatePerS);
  if (const json* x = o.find("keys")) w.keys = as_int(*x, o.at("keys"), 1, 1'000'000'000);
  if (const json* x = o.find("hash_tags")) w.hash_tags = as_bool(*x, o.at("hash_tags"));
  if (const json* x = o.find("client")) {
    w.client = as_string(*x, o.at("client"));
    if (find_client_profile(w.client) == nullptr) {
      fail(o.at("client"), "unknown client " + quote(w.client) + " (expected one of " + client_profile_names() + ")");
    }
  }
  if (const json* x = o.find("client_timeout")) {
    w.client_timeout = as_duration(*x, o.at("client_timeout"), DurationSign::Positive);
  }
  if (const json* x = o.find("wait")) {
    const Obj wo(*x, o.at("wait"), {"replicas", "timeout"});
    WaitSpec wait;
    wait.replicas = as_small_int(wo.need("replicas"), wo.at("replicas"), 0, kScenarioMaxReplicasPerMaster);
    if (const json* t = wo.find("timeout")) wait.timeout = as_duration(*t, wo.at("timeout"));
    w.wait = wait;
  }
  if (const json* x = o.find("placement")) {
    const std::string p = o.at("placement");
    if (!x->is_array()) fail(p, "expected an array of node aliases (one per client), got " + type_name(*x));
    if (x->size() > static_cast<size_t>(w.clients)) {
      fail(p, "has " + std::to_string(x->size()) + " entries but \"clients\" is " + std::to_string(w.clients));
    }
    for (size_t i = 0; i < x->size(); ++i) w.placement.push_back(as_alias((*x)[i], child(p, i), ctx));
  }
  return w;
}

// ---- timeline actions -----------------------------------------------------------------------------

std::vector<SlotRange> parse_slots(const json& v, const std::string& path) {
  if (!v.is_array() || v.empty()) {
    fail(path, "expected a non-empty array of slots (numbers or \"first-last\" ranges), " + got(v));
  }
  std::vector<SlotRange> out;
  for (size_t i = 0; i < v.size(); ++i) {
    const json& s = v[i];
    const std::string p = child(path, i);
    if (s.is_number()) {
      const int slot = as_small_int(s, p, 0, kScenarioSlots - 1);
      out.push_back({slot, slot});
      continue;
    }
    if (!s.is_string()) fail(p, "expected a slot number or a range such as \"0-5460\", got " + type_name(s));
    const std::string& text = s.get_ref<const std::string&>();
    const size_t dash = text.find('-');
    int bounds[2] = {-1, -1};
    const std::string parts[2] = {text.substr(0, dash), dash == std::string::npos ? "" : text.substr(dash + 1)};
    for (int k = 0; k < 2; ++k) {
      const std::string& part = parts[k];
      if (part.empty() || part.size() > 5 || part.find_first_not_of("0123456789") != std::string::npos) break;
      bounds[k] = std::stoi(part);
    }
    if (bounds[0] < 0 || bounds[1] < 0) fail(p, "expected a slot range such as \"0-5460\", " + got(s));
    if (bounds[0] >= kScenarioSlots || bounds[1] >= kScenarioSlots) fail(p, "slot range " + quote(text) + " goes beyond slot 16383");
    if (bounds[0] > bounds[1]) fail(p, "slot range " + quote(text) + " is reversed");
    out.push_back({bounds[0], bounds[1]});
  }
  return out;
}

std::vector<NodeRef> aliases_of(const std::vector<int>& nodes, const ClusterSpec& c) {
  std::vector<NodeRef> out;
  for (const int i : nodes) out.push_back(NodeRef::of_alias(c.alias(i)));
  return out;
}

// A node reference, or {"zone": name} / {"host": name} for every node placed there.
std::vector<NodeRef> as_refs(const json& v, const std::string& path, const Ctx& ctx) {
  if (v.is_object() && v.size() == 1 && v.contains("zone")) {
    return aliases_of(ctx.cluster.placement.nodes_in_zone(as_zone(v["zone"], child(path, "zone"), ctx.cluster)), ctx.cluster);
  }
  if (v.is_object() && v.size() == 1 && v.contains("host")) {
    return aliases_of(ctx.cluster.placement.nodes_on_host(as_host(v["host"], child(path, "host"), ctx.cluster)), ctx.cluster);
  }
  return {as_ref(v, path, ctx)};
}

action::Partition parse_partition(const json& v, const std::string& path, const Ctx& ctx) {
  if (!v.is_array()) fail(path, "expected an array of node groups, got " + type_name(v));
  if (v.size() < 2) fail(path, "expected at least 2 node groups, got " + std::to_string(v.size()));
  action::Partition a;
  std::set<std::string> seen;
  for (size_t g = 0; g < v.size(); ++g) {
    const std::string gp = child(path, g);
    if (!v[g].is_array()) fail(gp, "expected an array of nodes (one group), got " + type_name(v[g]));
    if (v[g].empty()) fail(gp, "a group must not be empty");
    std::vector<NodeRef> group;
    for (size_t i = 0; i < v[g].size(); ++i) {
      for (NodeRef& ref : as_refs(v[g][i], child(gp, i), ctx)) {
        if (ref.is_alias() && !seen.insert(ref.alias).second) {
          fail(child(gp, i), "node '" + ref.alias + "' appears more than once in the partition");
        }
        group.push_back(std::move(ref));
      }
    }
    a.groups.push_back(std::move(group));
  }
  return a;
}

template <typename A>
A parse_block_like(const json& v, const std::string& path, const Ctx& ctx) {
  const Obj o(v, path, {"from", "to", "both_ways"});
  A a;
  a.from = as_ref(o.need("from"), o.at("from"), ctx);
  a.to = as_ref(o.need("to"), o.at("to"), ctx);
  require_distinct(a.from, a.to, o.at("to"), "from and to");
  if (const json* x = o.find("both_ways")) a.both_ways = as_bool(*x, o.at("both_ways"));
  return a;
}

template <typename A>
A parse_node_action(const json& v, const std::string& path, const Ctx& ctx) {
  return A{as_ref(v, path, ctx)};
}

template <typename A>
A parse_pair_action(const json& v, const std::string& path, const Ctx& ctx) {
  const Obj o(v, path, {"node", "target"});
  A a;
  a.node = as_ref(o.need("node"), o.at("node"), ctx);
  a.target = as_ref(o.need("target"), o.at("target"), ctx);
  require_distinct(a.node, a.target, o.at("target"), "node and target");
  return a;
}

action::ClockSkew parse_clock_skew(const json& v, const std::string& path, const Ctx& ctx) {
  const Obj o(v, path, {"node", "offset", "drift_ppm"});
  action::ClockSkew a;
  a.node = as_ref(o.need("node"), o.at("node"), ctx);
  if (const json* x = o.find("offset")) a.offset = as_duration(*x, o.at("offset"), DurationSign::Signed);
  if (const json* x = o.find("drift_ppm")) a.drift_ppm = as_number(*x, o.at("drift_ppm"), -kMaxDriftPpm, kMaxDriftPpm);
  return a;
}

action::Failover parse_failover_action(const json& v, const std::string& path, const Ctx& ctx) {
  const Obj o(v, path, {"node", "mode"});
  action::Failover a;
  a.node = as_ref(o.need("node"), o.at("node"), ctx);
  if (const json* x = o.find("mode")) a.mode = as_enum(*x, o.at("mode"), kFailoverModes);
  return a;
}

action::AddSlots parse_addslots(const json& v, const std::string& path, const Ctx& ctx) {
  const Obj o(v, path, {"node", "slots"});
  return action::AddSlots{as_ref(o.need("node"), o.at("node"), ctx), parse_slots(o.need("slots"), o.at("slots"))};
}

action::MigrateSlots parse_migrate(const json& v, const std::string& path, const Ctx& ctx) {
  const Obj o(v, path, {"slots", "from", "to"});
  action::MigrateSlots a;
  a.slots = parse_slots(o.need("slots"), o.at("slots"));
  a.from = as_ref(o.need("from"), o.at("from"), ctx);
  a.to = as_ref(o.need("to"), o.at("to"), ctx);
  require_distinct(a.from, a.to, o.at("to"), "from and to");
  return a;
}

action::ConfigSet parse_config_set(const json& v, const std::string& path, const Ctx& ctx) {
  const Obj o(v, path, {"node", "name", "value"});
  action::ConfigSet a;
  a.node = as_ref_or_all(o.need("node"), o.at("node"), ctx);
  const std::string name = as_string(o.need("name"), o.at("name"));
  const std::string value = setting_value_text(o.need("value"), o.at("value"));
  ConfigSetting setting;
  bool unknown = false;
  if (std::optional<std::string> err = check_setting(name, value, &setting, &unknown, ctx.cluster.version)) {
    fail(unknown ? o.at("name") : o.at("value"), *err);
  }
  a.name = setting.name;
  a.value = setting.value;
  return a;
}

action::Link parse_link_action(const json& v, const std::string& path, const Ctx& ctx) {
  const Obj o(v, path, {"from", "to", "latency", "jitter", "shape", "loss", "both_ways"});
  action::Link a;
  a.from = as_ref(o.need("from"), o.at("from"), ctx);
  a.to = as_ref(o.need("to"), o.at("to"), ctx);
  require_distinct(a.from, a.to, o.at("to"), "from and to");
  parse_link_fields(o, a);
  if (const json* x = o.find("both_ways")) a.both_ways = as_bool(*x, o.at("both_ways"));
  if (!sets_link_fields(a)) fail(path, "nothing to change: give latency, jitter, shape or loss");
  return a;
}

action::Flap parse_flap(const json& v, const std::string& path, const Ctx& ctx, Instant at) {
  const Obj o(v, path, {"between", "period", "until"});
  const json& between = o.need("between");
  if (!between.is_array() || between.size() != 2) {
    fail(o.at("between"), "expected an array of exactly 2 nodes, " +
                              (between.is_array() ? "got " + std::to_string(between.size()) : "got " + type_name(between)));
  }
  action::Flap a;
  a.between[0] = as_ref(between[0], child(o.at("between"), size_t{0}), ctx);
  a.between[1] = as_ref(between[1], child(o.at("between"), size_t{1}), ctx);
  require_distinct(a.between[0], a.between[1], child(o.at("between"), size_t{1}), "the two ends");
  a.period = as_duration(o.need("period"), o.at("period"), DurationSign::Positive);
  a.until = as_time(o.need("until"), o.at("until"));
  if (a.until <= at) fail(o.at("until"), "until " + time_text(a.until) + " must be after the flap starts (at " + time_text(at) + ")");
  if ((a.until - at).us / a.period.us > kScenarioMaxFlapToggles) {
    fail(o.at("period"), "flaps more than " + std::to_string(kScenarioMaxFlapToggles) + " times; use a longer period");
  }
  return a;
}

using ActionParser = Action (*)(const json&, const std::string&, const Ctx&, Instant);
struct ActionKind {
  const char* name;
  ActionParser parse;
};

// The JSON keys, in the order of the Action variant (action_name relies on it).
const ActionKind kActions[] = {
    {"partition", [](const json& v, const std::string& p, const Ctx& c, Instant) -> Action { return parse_partition(v, p, c); }},
    {"block", [](const json& v, const std::string& p, const Ctx& c, Instant) -> Action { return parse_block_like<action::Block>(v, p, c); }},
    {"unblock", [](const json& v, const std::string& p, const Ctx& c, Instant) -> Action { return parse_block_like<action::Unblock>(v, p, c); }},
    {"isolate", [](const json& v, const std::string& p, const Ctx& c, Instant) -> Action { return parse_node_action<action::Isolate>(v, p, c); }},
    {"heal", [](const json& v, const std::string& p, const Ctx&, Instant) -> Action {
       if (!v.is_boolean() || !v.get<bool>()) fail(p, "expected true (heal restores every link), " + got(v));
       return action::Heal{};
     }},
    {"crash", [](const json& v, const std::string& p, const Ctx& c, Instant) -> Action { return parse_node_action<action::Crash>(v, p, c); }},
    {"power_loss", [](const json& v, const std::string& p, const Ctx& c, Instant) -> Action { return parse_node_action<action::PowerLoss>(v, p, c); }},
    {"restart", [](const json& v, const std::string& p, const Ctx& c, Instant) -> Action { return parse_node_action<action::Restart>(v, p, c); }},
    {"lose_disk", [](const json& v, const std::string& p, const Ctx& c, Instant) -> Action { return parse_node_action<action::LoseDisk>(v, p, c); }},
    {"pause", [](const json& v, const std::string& p, const Ctx& c, Instant) -> Action { return parse_node_action<action::Pause>(v, p, c); }},
    {"resume", [](const json& v, const std::string& p, const Ctx& c, Instant) -> Action { return parse_node_action<action::Resume>(v, p, c); }},
    {"clock_skew", [](const json& v, const std::string& p, const Ctx& c, Instant) -> Action { return parse_clock_skew(v, p, c); }},
    {"failover", [](const json& v, const std::string& p, const Ctx& c, Instant) -> Action { return parse_failover_action(v, p, c); }},
    {"meet", [](const json& v, const std::string& p, const Ctx& c, Instant) -> Action { return parse_pair_action<action::Meet>(v, p, c); }},
    {"forget", [](const json& v, const std::string& p, const Ctx& c, Instant) -> Action { return parse_pair_action<action::Forget>(v, p, c); }},
    {"addslots", [](const json& v, const std::string& p, const Ctx& c, Instant) -> Action { return parse_addslots(v, p, c); }},
    {"migrate_slots", [](const json& v, const std::string& p, const Ctx& c, Instant) -> Action { return parse_migrate(v, p, c); }},
    {"config_set", [](const json& v, const std::string& p, const Ctx& c, Instant) -> Action { return parse_config_set(v, p, c); }},
    {"link", [](const json& v, const std::string& p, const Ctx& c, Instant) -> Action { return parse_link_action(v, p, c); }},
    {"flap", [](const json& v, const std::string& p, const Ctx& c, Instant at) -> Action { return parse_flap(v, p, c, at); }},
    {"bump_epoch", [](const json& v, const std::string& p, const Ctx& c, Instant) -> Action { return parse_node_action<action::BumpEpoch>(v, p, c); }},
};
static_assert(std::size(kActions) == std::variant_size_v<Action>);

// Actions on every node of a zone or host at once, written out as the per-node actions they are (the
// file form keeps those): crash_zone "a" is a crash of each node in zone a, in alias order, at one instant.
template <typename A>
std::vector<Action> each_node(const std::vector<int>& nodes, const ClusterSpec& c) {
  std::vector<Action> out;
  for (const int i : nodes) out.push_back(A{NodeRef::of_alias(c.alias(i))});
  return out;
}

std::vector<Action> isolate_zone(const json& v, const std::string& path, const ClusterSpec& c) {
  const std::vector<int> inside = c.placement.nodes_in_zone(as_zone(v, path, c));
  std::vector<int> outside;
  for (int i = 0; i < c.node_count(); ++i) {
    if (std::find(inside.begin(), inside.end(), i) == inside.end()) outside.push_back(i);
  }
  if (outside.empty()) fail(path, "zone " + quote(v.get_ref<const std::string&>()) + " holds every node: nothing to isolate it from");
  return {action::Partition{{aliases_of(inside, c), aliases_of(outside, c)}}};
}

using GroupActionParser = std::vector<Action> (*)(const json&, const std::string&, const ClusterSpec&);
struct GroupActionKind {
  const char* name;
  GroupActionParser parse;
};

const GroupActionKind kGroupActions[] = {
    {"crash_zone", [](const json& v, const std::string& p, const ClusterSpec& c) {
       return each_node<action::Crash>(c.placement.nodes_in_zone(as_zone(v, p, c)), c);
     }},
    {"restart_zone", [](const json& v, const std::string& p, const ClusterSpec& c) {
       return each_node<action::Restart>(c.placement.nodes_in_zone(as_zone(v, p, c)), c);
     }},
    {"isolate_zone", isolate_zone},
    {"crash_host", [](const json& v, const std::string& p, const ClusterSpec& c) {
       return each_node<action::Crash>(c.placement.nodes_on_host(as_host(v, p, c)), c);
     }},
    {"restart_host", [](const json& v, const std::string& p, const ClusterSpec& c) {
       return each_node<action::Restart>(c.placement.nodes_on_host(as_host(v, p, c)), c);
     }},
};

// An entry {"at": ..., <one key from `names`>, <optional extra keys>}: returns the one key.
std::string single_kind_key(const json& v, const std::string& path, const std::vector<std::string>& names,
                            const std::vector<std::string>& extra, std::string_view what) {
  if (!v.is_object()) fail(path, "expected an object with " + join(extra, " ") + " and one " + std::string(what) + ", got " + type_name(v));
  std::vector<std::string> found;
  for (const auto& [key, unused] : v.items()) {
    if (std::find(extra.begin(), extra.end(), key) != extra.end()) continue;
    if (std::find(names.begin(), names.end(), key) == names.end()) {
      fail(child(path, key), "unknown " + std::string(what) + " " + quote(key) + " (allowed " + std::string(what) +
                                 "s: " + join(names) + "; other fields: " + join(extra) + ")");
    }
    found.push_back(key);
  }
  if (found.empty()) fail(path, "missing " + std::string(what) + ": give exactly one of " + join(names));
  if (found.size() > 1) {
    fail(path, "exactly one " + std::string(what) + " per entry, found " + std::to_string(found.size()) + ": " + join(found));
  }
  return found.front();
}

const std::vector<std::string>& action_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const ActionKind& k : kActions) out.emplace_back(k.name);
    for (const GroupActionKind& k : kGroupActions) out.emplace_back(k.name);
    return out;
  }();
  return names;
}

std::vector<TimelineEntry> parse_timeline(const json& v, const std::string& path, const Ctx& ctx) {
  if (!v.is_array()) fail(path, "expected an array of actions, got " + type_name(v));
  if (v.size() > kMaxTimeline) fail(path, "more than " + std::to_string(kMaxTimeline) + " actions");
  std::vector<TimelineEntry> out;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = child(path, i);
    const std::string key = single_kind_key(v[i], p, action_names(), {"at", "why"}, "action");
    const auto at_it = v[i].find("at");
    if (at_it == v[i].end()) fail(p, "missing required field \"at\"");
    const Instant at = as_time(*at_it, child(p, "at"));
    if (!out.empty() && at < out.back().at) {
      fail(child(p, "at"), "time " + time_text(at) + " is before the previous action's " + time_text(out.back().at) +
                               " (the timeline must be in time order)");
    }
    std::string why;
    if (const auto why_it = v[i].find("why"); why_it != v[i].end()) {
      if (!why_it->is_string()) fail(child(p, "why"), "expected a string (a note on the action), got " + type_name(*why_it));
      why = why_it->get<std::string>();
    }
    for (const ActionKind& kind : kActions) {
      if (key == kind.name) out.push_back({at, kind.parse(v[i][key], child(p, key), ctx, at), why});
    }
    for (const GroupActionKind& kind : kGroupActions) {
      if (key != kind.name) continue;
      for (Action& action : kind.parse(v[i][key], child(p, key), ctx.cluster)) out.push_back({at, std::move(action), why});
    }
    if (out.size() > kMaxTimeline) fail(p, "the timeline has more than " + std::to_string(kMaxTimeline) + " node actions");
  }
  return out;
}

// ---- expectations ---------------------------------------------------------------------------------

CountBound parse_bound(const Obj& o) {
  CountBound b;
  if (const json* x = o.find("is")) b.is = as_u64(*x, o.at("is"));
  if (const json* x = o.find("min")) b.min = as_u64(*x, o.at("min"));
  if (const json* x = o.find("max")) b.max = as_u64(*x, o.at("max"));
  if (b.is && (b.min || b.max)) fail(o.path(), "give either \"is\" or \"min\"/\"max\", not both");
  if (!b.is && !b.min && !b.max) fail(o.path(), "expected at least one of \"is\", \"min\", \"max\"");
  if (b.min && b.max && *b.min > *b.max) {
    fail(o.path(), "min " + std::to_string(*b.min) + " is greater than max " + std::to_string(*b.max));
  }
  return b;
}

NodeSet parse_node_set(const json& v, const std::string& path, const Ctx& ctx) {
  NodeSet set;
  if (v.is_string() && v.get_ref<const std::string&>() == "all") set.kind = NodeSet::Kind::All;
  else if (v.is_string() && v.get_ref<const std::string&>() == "live") set.kind = NodeSet::Kind::Live;
  else if (v.is_array() && !v.empty()) {
    set.kind = NodeSet::Kind::List;
    for (size_t i = 0; i < v.size(); ++i) {
      for (NodeRef& ref : as_refs(v[i], child(path, i), ctx)) set.list.push_back(std::move(ref));
    }
  } else {
    fail(path, "expected \"all\", \"live\" or a non-empty array of nodes, " + got(v));
  }
  return set;
}

check::Failover parse_failover_check(const json& v, const std::string& path, const Ctx& ctx) {
  const Obj o(v, path, {"old_master", "new_master", "within", "mode", "epoch"});
  check::Failover c;
  c.old_master = as_ref(o.need("old_master"), o.at("old_master"), ctx);
  if (const json* x = o.find("new_master")) {
    c.new_master = as_ref(*x, o.at("new_master"), ctx);
    require_distinct(c.old_master, *c.new_master, o.at("new_master"), "old_master and new_master");
  }
  if (const json* x = o.find("within")) {
    const std::string p = o.at("within");
    if (!x->is_array() || x->size() != 2) fail(p, "expected [min, max] durations such as [\"0s\", \"20s\"], " + got(*x));
    const DurationRange range{as_duration((*x)[0], child(p, size_t{0})), as_duration((*x)[1], child(p, size_t{1}))};
    if (range.min > range.max) fail(p, "min " + dur_text(range.min) + " is greater than max " + dur_text(range.max));
    c.within = range;
  }
  if (const json* x = o.find("mode")) c.mode = as_enum(*x, o.at("mode"), kFailoverKinds);
  if (const json* x = o.find("epoch")) c.epoch = as_u64(*x, o.at("epoch"));
  return c;
}

check::Flag parse_flag_check(const json& v, const std::string& path, const Ctx& ctx) {
  const Obj o(v, path, {"seen_by", "node", "has", "lacks"});
  check::Flag c;
  if (const json* x = o.find("seen_by")) c.seen_by = as_ref_or_all(*x, o.at("seen_by"), ctx);
  c.node = as_ref(o.need("node"), o.at("node"), ctx);
  const json* has = o.find("has");
  const json* lacks = o.find("lacks");
  if ((has == nullptr) == (lacks == nullptr)) fail(path, "expected exactly one of \"has\" and \"lacks\"");
  c.has = has != nullptr;
  const std::string p = o.at(c.has ? "has" : "lacks");
  const std::string flag = as_string(c.has ? *has : *lacks, p);
  if (std::find(kClusterNodesFlags.begin(), kClusterNodesFlags.end(), flag) == kClusterNodesFlags.end()) {
    fail(p, "unknown CLUSTER NODES flag " + quote(flag) + " (known: " + join(kClusterNodesFlags) + ")");
  }
  c.flag = flag;
  return c;
}

using CheckParser = Check (*)(const json&, const std::string&, const Ctx&);
struct CheckKind {
  const char* name;
  CheckParser parse;
};

// The JSON keys, in the order of the Check variant (check_name relies on it).
const CheckKind kChecks[] = {
    {"cluster_state", [](const json& v, const std::string& p, const Ctx& c) -> Check {
       const Obj o(v, p, {"nodes", "is"});
       check::ClusterState s;
       if (const json* x = o.find("nodes")) s.nodes = parse_node_set(*x, o.at("nodes"), c);
       s.ok = as_enum(o.need("is"), o.at("is"), kClusterStates);
       return s;
     }},
    {"role", [](const json& v, const std::string& p, const Ctx& c) -> Check {
       const Obj o(v, p, {"node", "is", "of"});
       check::RoleIs r;
       r.node = as_ref(o.need("node"), o.at("node"), c);
       r.is = as_enum(o.need("is"), o.at("is"), kRoles);
       if (const json* x = o.find("of")) {
         if (r.is != Role::Replica) fail(o.at("of"), "\"of\" applies only with \"is\": \"replica\"");
         r.of = as_ref(*x, o.at("of"), c);
       }
       return r;
     }},
    {"slot_owner", [](const json& v, const std::string& p, const Ctx& c) -> Check {
       const Obj o(v, p, {"slot", "is", "is_not", "seen_by"});
       check::SlotOwner s;
       s.slot = as_small_int(o.need("slot"), o.at("slot"), 0, kScenarioSlots - 1);
       const json* is_not = o.find("is_not");
       if ((o.find("is") != nullptr) == (is_not != nullptr)) {
         fail(p, "expected exactly one of \"is\" and \"is_not\" (the node that serves the slot, or one that does not)");
       }
       s.is_not = is_not != nullptr;
       s.is = is_not != nullptr ? as_ref(*is_not, o.at("is_not"), c) : as_ref(o.need("is"), o.at("is"), c);
       if (const json* x = o.find("seen_by")) {
         s.any_viewer = x->is_string() && x->get_ref<const std::string&>() == "any";
         if (!s.any_viewer) s.seen_by = as_ref_or_all(*x, o.at("seen_by"), c);
       }
       return s;
     }},
    {"current_epoch", [](const json& v, const std::string& p, const Ctx& c) -> Check {
       const Obj o(v, p, {"node", "is", "min", "max"});
       check::CurrentEpoch e;
       if (const json* x = o.find("node")) e.node = as_ref_or_all(*x, o.at("node"), c);
       e.bound = parse_bound(o);
       return e;
     }},
    {"config_epoch", [](const json& v, const std::string& p, const Ctx& c) -> Check {
       const Obj o(v, p, {"node", "is", "min", "max"});
       return check::ConfigEpoch{as_ref(o.need("node"), o.at("node"), c), parse_bound(o)};
     }},
    {"failover", [](const json& v, const std::string& p, const Ctx& c) -> Check { return parse_failover_check(v, p, c); }},
    {"no_failover", [](const json& v, const std::string& p, const Ctx& c) -> Check {
       const Obj o(v, p, {"of"});
       return check::NoFailover{as_ref(o.need("of"), o.at("of"), c)};
     }},
    {"flag", [](const json& v, const std::string& p, const Ctx& c) -> Check { return parse_flag_check(v, p, c); }},
    {"lost_writes", [](const json& v, const std::string& p, const Ctx&) -> Check {
       const Obj o(v, p, {"min", "max"});
       check::LostWrites l;
       if (const json* x = o.find("min")) l.min = as_u64(*x, o.at("min"));
       if (const json* x = o.find("max")) l.max = as_u64(*x, o.at("max"));
       if (!l.min && !l.max) fail(p, "expected at least one of \"min\", \"max\"");
       if (l.min && l.max && *l.min > *l.max) {
         fail(p, "min " + std::to_string(*l.min) + " is greater than max " + std::to_string(*l.max));
       }
       return l;
     }},
    {"failovers_count", [](const json& v, const std::string& p, const Ctx&) -> Check {
       const Obj o(v, p, {"is", "min", "max"});
       return check::FailoversCount{parse_bound(o)};
     }},
    {"converged", [](const json& v, const std::string& p, const Ctx&) -> Check {
       if (!v.is_boolean() || !v.get<bool>()) fail(p, "expected true, " + got(v));
       return check::Converged{};
     }},
};
static_assert(std::size(kChecks) == std::variant_size_v<Check>);

const std::vector<std::string>& check_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& k : kChecks) out.emplace_back(k.name);
    return out;
  }();
  return names;
}

std::vector<Expectation> parse_expect(const json& v, const std::string& path, const Ctx& ctx, Instant run_until) {
  if (!v.is_array()) fail(path, "expected an array of expectations, got " + type_name(v));
  if (v.size() > kMaxExpect) fail(path, "more than " + std::to_string(kMaxExpect) + " expectations");
  std::vector<Expectation> out;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = child(path, i);
    const std::string key = single_kind_key(v[i], p, check_names(), {"at", "label"}, "check");
    Expectation e;
    if (const auto it = v[i].find("at"); it != v[i].end()) {
      e.at = as_time(*it, child(p, "at"));
      if (*e.at > run_until) {
        fail(child(p, "at"), "time " + time_text(*e.at) + " is after run_until " + time_text(run_until));
      }
    }
    if (const auto it = v[i].find("label"); it != v[i].end()) e.label = as_string(*it, child(p, "label"));
    for (const CheckKind& kind : kChecks) {
      if (key == kind.name) e.check = kind.parse(v[i][key], child(p, key), ctx);
    }
    out.push_back(std::move(e));
  }
  return out;
}

// ---- the document ---------------------------------------------------------------------------------

std::string as_scenario_name(const json& v, const std::string& path) {
  const std::string name = as_string(v, path);
  const bool safe = !name.empty() && name.size() <= 100 && name != "." && name != ".." &&
                    name.find_first_not_of(kNameChars) == std::string::npos;
  if (!safe) fail(path, "a name is 1-100 letters, digits, '_', '.' or '-' (it names a results directory), " + got(v));
  return name;
}

Instant last_action_time(const std::vector<TimelineEntry>& timeline) {
  Instant last;
  for (const TimelineEntry& e : timeline) {
    last = std::max(last, e.at);
    if (const auto* flap = std::get_if<action::Flap>(&e.action)) last = std::max(last, flap->until);
  }
  return last;
}

std::vector<std::string> parse_known_bugs(const json& v, const std::string& path) {
  if (!v.is_array()) fail(path, "expected an array of known bug names, got " + type_name(v));
  std::vector<std::string> names;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string name = as_string(v[i], child(path, i));
    protocol::KnownBugs probe;
    if (!protocol::enable_known_bug(probe, name)) {
      std::string known;
      for (const auto& bug : protocol::known_bug_list()) known += std::string(known.empty() ? "" : ", ") + bug.name;
      fail(child(path, i), "unknown known bug '" + name + "' (known: " + known + ")");
    }
    names.push_back(name);
  }
  return names;
}

Scenario parse_document(const json& root, const std::filesystem::path& base_dir) {
  const Obj o(root, "",
              {"name", "description", "seed", "cluster", "network", "workload", "timeline", "run_until", "expect",
               "known_bugs"},
              "an object (a scenario)");
  Scenario s;
  s.name = as_scenario_name(o.need("name"), o.at("name"));
  if (const json* x = o.find("description")) s.description = as_string(*x, o.at("description"));
  if (const json* x = o.find("seed")) s.seed = as_u64(*x, o.at("seed"));
  s.cluster = parse_cluster(o.need("cluster"), o.at("cluster"), base_dir);
  const Ctx ctx{s.cluster};
  if (const json* x = o.find("network")) s.network = parse_network(*x, o.at("network"), ctx);
  if (const json* x = o.find("workload")) s.workload = parse_workload(*x, o.at("workload"), ctx);
  if (const json* x = o.find("timeline")) s.timeline = parse_timeline(*x, o.at("timeline"), ctx);
  s.run_until = as_time(o.need("run_until"), o.at("run_until"));
  if (s.run_until.us <= 0) fail(o.at("run_until"), "run_until must be positive");
  if (!s.timeline.empty() && s.run_until <= last_action_time(s.timeline)) {
    fail(o.at("run_until"), "run_until " + time_text(s.run_until) + " must be after the last timeline action (at " +
                                time_text(last_action_time(s.timeline)) + ")");
  }
  if (const json* x = o.find("expect")) s.expect = parse_expect(*x, o.at("expect"), ctx, s.run_until);
  if (const json* x = o.find("known_bugs")) s.known_bugs = parse_known_bugs(*x, o.at("known_bugs"));
  return s;
}

// ---- JSON text → json, with duplicate keys and nesting depth caught --------------------------------

struct ParseFrame {
  bool is_array = false;
  size_t next_index = 0;
  std::string token;  // the current child's key or index
  std::set<std::string> keys;
};

std::string frames_path(const std::vector<ParseFrame>& frames) {
  std::string path;
  for (const ParseFrame& f : frames) path = child(path, f.token);
  return path;
}

std::string parse_error_text(std::string_view text, const json::parse_error& e) {
  // e.byte is 1-based: the last character read.
  const size_t pos = std::min<size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
  size_t line = 1, line_start = 0;
  for (size_t i = 0; i < pos; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  std::string detail = e.what();
  if (const size_t b = detail.find("] "); b != std::string::npos) detail = detail.substr(b + 2);
  if (detail.rfind("parse error", 0) == 0) {
    if (const size_t c = detail.find(": "); c != std::string::npos) detail = detail.substr(c + 2);
  }
  return "invalid JSON at line " + std::to_string(line) + ", column " + std::to_string(pos - line_start + 1) + ": " + detail;
}

json parse_json_text(std::string_view text) {
  std::vector<ParseFrame> frames;
  std::optional<Failure> duplicate;
  auto begin_child = [&] {
    if (!frames.empty() && frames.back().is_array) frames.back().token = std::to_string(frames.back().next_index++);
  };
  auto callback = [&](int /*depth*/, json::parse_event_t event, json& parsed) -> bool {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        begin_child();
        if (frames.size() >= kMaxNesting) {
          fail(frames_path(frames), "nested more than " + std::to_string(kMaxNesting) + " levels deep");
        }
        frames.push_back(ParseFrame{event == json::parse_event_t::array_start, 0, {}, {}});
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        frames.pop_back();
        break;
      case json::parse_event_t::key: {
        ParseFrame& f = frames.back();
        f.token = parsed.get<std::string>();
        if (!f.keys.insert(f.token).second && !duplicate) {
          duplicate = Failure{frames_path(frames), "duplicate key " + quote(f.token) + " in this object", ""};
        }
        break;
      }
      case json::parse_event_t::value:
        begin_child();
        break;
    }
    return true;
  };
  json root;
  try {
    root = json::parse(text.begin(), text.end(), callback);
  } catch (const json::parse_error& e) {
    fail("", parse_error_text(text, e));
  } catch (const json::out_of_range& e) {  // a number beyond double's range: no byte offset, but a path
    begin_child();  // the number being read is the next element when inside an array
    const std::string where = frames_path(frames);
    std::string detail = e.what();
    if (const size_t b = detail.find("] "); b != std::string::npos) detail = detail.substr(b + 2);
    fail(where, "invalid JSON: " + detail);
  }
  if (duplicate) throw *duplicate;
  return root;
}

std::string range_text(char prefix, int count) {
  if (count == 1) return std::string(1, prefix) + "1";
  return std::string(1, prefix) + "1.." + prefix + std::to_string(count);
}

}  // namespace

// ---- public ---------------------------------------------------------------------------------------

std::string describe(const NodeRef& ref) {
  std::string out = ref.master_of_slot ? "master_of_slot(" + std::to_string(*ref.master_of_slot) + ")" : ref.alias;
  for (NodeRef::Step step : ref.steps) out = (step == NodeRef::Step::ReplicaOf ? "replica_of(" : "master_of(") + out + ")";
  return out;
}

std::string ClusterSpec::alias(int index) const {
  assert(index >= 0 && index < node_count());
  if (index < masters) return "m" + std::to_string(index + 1);
  if (index < masters + replicas()) return "r" + std::to_string(index - masters + 1);
  return "s" + std::to_string(index - masters - replicas() + 1);
}

std::optional<int> ClusterSpec::index_of(std::string_view alias) const {
  if (alias.size() < 2 || alias.size() > 6 || alias[1] == '0') return std::nullopt;
  if (alias.substr(1).find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  const int n = std::stoi(std::string(alias.substr(1)));
  switch (alias[0]) {
    case 'm': return n <= masters ? std::optional<int>(n - 1) : std::nullopt;
    case 'r': return n <= replicas() ? std::optional<int>(masters + n - 1) : std::nullopt;
    case 's': return n <= spares ? std::optional<int>(masters + replicas() + n - 1) : std::nullopt;
    default: return std::nullopt;
  }
}

std::optional<int> ClusterSpec::initial_master_of(int index) const {
  if (index < masters || index >= masters + replicas()) return std::nullopt;
  return imported ? imported->layout.members[index].master : (index - masters) % masters;
}

std::vector<std::string> ClusterSpec::placement_risks() const {
  std::vector<std::string> aliases;
  std::vector<int> master_of;
  for (int i = 0; i < node_count(); ++i) {
    aliases.push_back(alias(i));
    master_of.push_back(initial_master_of(i).value_or(-1));
  }
  std::vector<int> voters;
  for (int m = 0; m < masters; ++m) {
    if (!imported || !imported->layout.members[m].slots.empty()) voters.push_back(m);
  }
  return sim::placement_risks(placement, aliases, voters, master_of);
}

std::string ClusterSpec::alias_summary() const {
  std::string out = range_text('m', masters);
  if (replicas() > 0) out += ", " + range_text('r', replicas());
  if (spares > 0) out += ", " + range_text('s', spares);
  return out;
}

protocol::Config node_config(const ClusterSpec& cluster) {
  protocol::Config config;
  config.version = cluster.version;
  for (const ConfigSetting& s : cluster.config) {
    [[maybe_unused]] const std::optional<std::string> err = config.set(s.name, s.value);
    assert(!err && "cluster.config was validated when the scenario was loaded");
  }
  return config;
}

std::string_view action_name(const Action& action) { return kActions[action.index()].name; }
std::string_view check_name(const Check& check) { return kChecks[check.index()].name; }

std::vector<std::pair<Instant, bool>> flap_transitions(Instant at, const action::Flap& flap) {
  assert(flap.period.us > 0 && "a flap has a positive period");
  std::vector<std::pair<Instant, bool>> out;
  bool down = true;
  for (Instant t = at; t < flap.until; t += flap.period) {
    assert(out.size() <= static_cast<size_t>(kScenarioMaxFlapToggles) + 1);
    out.emplace_back(t, down);
    down = !down;
  }
  if (!out.empty() && out.back().second) out.emplace_back(flap.until, false);
  return out;
}

std::string ScenarioError::text() const {
  return json_path.empty() ? file + ": " + message : file + ": " + json_path + ": " + message;
}

std::variant<Scenario, ScenarioError> parse_scenario(std::string_view json_text, const std::string& file_label,
                                                     const std::string& cluster_nodes_path) {
  try {
    json root = parse_json_text(json_text);
    const std::filesystem::path base_dir = std::filesystem::path(file_label).parent_path();
    if (!cluster_nodes_path.empty() && root.is_object() && root.contains("cluster") && root["cluster"].is_object()) {
      // --cluster-nodes: that cluster in place of the file's masters × replicas (or its import).
      json& cluster = root["cluster"];
      for (const char* key : {"masters", "replicas_per_master", "create", "cluster_nodes"}) cluster.erase(key);
      cluster["from_cluster_nodes"] = std::filesystem::absolute(cluster_nodes_path).string();
    }
    return parse_document(root, base_dir);
  } catch (const Failure& f) {
    if (!f.file.empty()) return ScenarioError{f.file, "", f.message};
    return ScenarioError{file_label, f.path, f.message};
  } catch (const std::exception& e) {  // a bug in this file; still a value, never a crash
    return ScenarioError{file_label, "", std::string("internal error while reading the scenario: ") + e.what()};
  } catch (...) {
    return ScenarioError{file_label, "", "internal error while reading the scenario"};
  }
}

std::variant<Scenario, ScenarioError> load_scenario_file(const std::string& path, const std::string& cluster_nodes_path) {
  const TextFile file = read_text_file(path);
  if (!file.error.empty()) return ScenarioError{path, "", file.error};
  return parse_scenario(file.text, path, cluster_nodes_path);
}

std::optional<std::string> apply_config_override(Scenario& scenario, std::string_view name_eq_value) {
  const std::string flag = "--set " + std::string(name_eq_value.substr(0, 200));
  const size_t eq = name_eq_value.find('=');
  if (eq == std::string_view::npos || eq == 0) return flag + ": expected NAME=VALUE, e.g. cluster-node-timeout=5000";
  ConfigSetting setting;
  bool unknown = false;
  if (std::optional<std::string> err =
          check_setting(name_eq_value.substr(0, eq), name_eq_value.substr(eq + 1), &setting, &unknown, scenario.cluster.version)) {
    return flag + ": " + *err;
  }
  auto& config = scenario.cluster.config;
  config.erase(std::remove_if(config.begin(), config.end(), [&](const ConfigSetting& s) { return s.name == setting.name; }),
               config.end());
  config.push_back(std::move(setting));
  sort_settings(config);
  return std::nullopt;
}

std::optional<std::string> apply_version_override(Scenario& scenario, std::string_view profile_name) {
  const protocol::VersionProfile* profile = protocol::find_version_profile(profile_name);
  if (profile == nullptr) {
    return "--version-profile " + std::string(profile_name.substr(0, 200)) + ": expected one of " +
           protocol::version_profile_names();
  }
  for (const ConfigSetting& setting : scenario.cluster.config) {
    if (const protocol::ServerVersion since = protocol::Config::since(setting.name); profile->version < since) {
      return "--version-profile " + std::string(profile_name) + ": the scenario sets " + setting.name + ", which " +
             protocol::profile_of(since).name + " added";
    }
  }
  scenario.cluster.version = profile->version;
  return std::nullopt;
}

}  // namespace rcsim::sim
