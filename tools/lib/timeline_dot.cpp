// Epoch/vote timelines and message-sequence diagrams as Graphviz DOT, built with cgraph.
//
// Layout (timeline): rankdir=LR, so a dot "rank" is a column of the picture. The picture is a
// grid: column 0 holds the lane heads, every further column holds exactly one cell per lane (an
// event box or a tiny point), all cells of a column in one `rank=same` subgraph chained top to
// bottom by invisible flat edges. Dot keeps flat edges pointing "forward" inside a rank, so the
// lanes can never swap, and the heavy lane edges cell(c) → cell(c+1) keep each lane a straight
// line. Columns are assigned greedily in time order: events of one 100 ms bucket share columns
// across lanes, events of one lane get successive columns, a vote lands right of the election it
// answers. The lane edges carry the state of the node at that moment: a grey band while the
// network cuts it off, dashed red while crashed, dotted orange while paused.
//
// Determinism: cgraph writes nodes and edges in creation order; the only subgraphs are anonymous
// (written without a name, ordered by a creation counter), so nothing depends on pointer values.
#include "tools/lib/timeline_dot.hpp"

#include <graphviz/cgraph.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include "tools/lib/event_kinds.hpp"

namespace rcsim::tools {
namespace {

constexpr int64_t kBucketUs = 100'000;  // events closer than this share timeline columns
constexpr size_t kMaxMessages = 500;
// Above this many messages, edge labels become xlabels: dot lays real edge labels out as nodes of
// their own, which costs ~5 s at 180 messages and minutes at 500; xlabels are placed afterwards.
constexpr size_t kMaxLabelledMessages = 150;

// cgraph 2.x takes char* for strings it never modifies.
char* cs(const char* s) { return const_cast<char*>(s); }

class Graph {
 public:
  explicit Graph(const char* name) : g_(agopen(cs(name), Agdirected, nullptr)) {
    if (g_ == nullptr) throw std::runtime_error("agopen failed");
  }
  ~Graph() { agclose(g_); }
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  Agraph_t* get() const { return g_; }

 private:
  Agraph_t* g_;
};

void set(void* obj, const char* name, const std::string& value) {
  agsafeset(obj, cs(name), cs(value.c_str()), cs(""));
}

void set_default(Agraph_t* g, int kind, const char* name, const char* value) {
  agattr(g, kind, cs(name), cs(value));
}

Agnode_t* make_node(Agraph_t* g, const std::string& name) { return agnode(g, cs(name.c_str()), 1); }

Agedge_t* make_edge(Agraph_t* g, Agnode_t* tail, Agnode_t* head) { return agedge(g, tail, head, nullptr, 1); }

std::string to_dot(Agraph_t* g) {
  char* buffer = nullptr;
  size_t size = 0;
  FILE* f = open_memstream(&buffer, &size);
  if (f == nullptr) throw std::runtime_error("open_memstream failed");
  const int rc = agwrite(g, f);
  std::fclose(f);
  std::string out(buffer != nullptr ? buffer : "", size);
  std::free(buffer);
  if (rc != 0) throw std::runtime_error("agwrite failed");
  return out;
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0 && (a < 0) != (b < 0)) ? 1 : 0); }

// "3.412s", "-0.250s": seconds with millisecond precision (floored to the millisecond).
std::string seconds_ms(int64_t us) {
  const int64_t ms = floor_div(us, 1000);
  const uint64_t a = static_cast<uint64_t>(ms < 0 ? -ms : ms);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s%llu.%03llus", ms < 0 ? "-" : "", static_cast<unsigned long long>(a / 1000),
                static_cast<unsigned long long>(a % 1000));
  return buf;
}

// "10.512345s": absolute seconds with microsecond precision.
std::string seconds_us(int64_t us) {
  const uint64_t a = static_cast<uint64_t>(us < 0 ? -us : us);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s%llu.%06llus", us < 0 ? "-" : "", static_cast<unsigned long long>(a / 1000000),
                static_cast<unsigned long long>(a % 1000000));
  return buf;
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

std::string upper_words(std::string s) {  // "cluster_created" → "CLUSTER CREATED"
  for (char& c : s) c = c == '_' ? ' ' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// DOT escString: a backslash would start an escape sequence (\n, \N, ...); keep it literal.
std::string esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else out += c;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Timeline

// Collapses runs of whitespace and trims: "m1 r1  | m2 " → "m1 r1 | m2".
std::string squeeze(const std::string& s) {
  std::istringstream in(s);
  std::string word, out;
  while (in >> word) out += (out.empty() ? "" : " ") + word;
  return out;
}

struct Look {
  std::string text;  // lines joined by "\n" (DOT newline escape), without the time
  std::string fill;  // empty: not filled
  std::string color = "black";
  std::string fontcolor = "black";
  bool bold = false;
};

struct Item {
  size_t event = 0;  // index into world.events()
  int lane = 0;      // 0 = world, 1 + node index
  int column = 0;
  Look look;
  int vote_target_item = -1;  // votes: the item of the election they answer (-1: none seen)
};

enum LaneFlag : uint8_t { kCut = 1, kDown = 2, kPaused = 4 };

// What a kind of event looks like, or nullopt when the timeline leaves it out.
std::optional<Look> look_of(const sim::World& world, const sim::ObservedEvent& e) {
  const std::string about = e.about >= 0 ? world.alias(e.about) : std::string("?");
  const std::string epoch = "e" + std::to_string(e.epoch);
  Look l;
  const std::string& k = e.kind;
  if (starts_with(k, "action_")) {
    const std::string name = k.substr(7);
    l.text = upper_words(name);
    if (const std::string detail = squeeze(e.detail); !detail.empty()) l.text += "\\n" + esc(detail);
    l.bold = true;
    if (kills_process(name) || name == "lose_disk") {
      l.fill = "#404040";
      l.fontcolor = "white";
    } else if (name == "partition" || name == "isolate" || name == "block" || name == "heal" || name == "unblock") {
      l.fill = "#b8b8b8";
    } else {
      l.fill = "#dcdcdc";
    }
  } else if (k == "pfail") {
    l.text = "PFAIL " + about;
    l.fill = "#ffc266";
    l.color = "#d98000";
  } else if (k == "fail") {
    l.text = "FAIL " + about + "\\n" + esc(e.detail);
    l.fill = "#e03c3c";
    l.color = "#a00000";
    l.fontcolor = "white";
    l.bold = true;
  } else if (k == "fail_received") {
    l.text = "FAIL " + about + " (told)";
    l.fill = "#f6b0b0";
    l.color = "#c03030";
  } else if (k == "fail_cleared") {
    l.text = "FAIL " + about + " cleared";
    if (!e.detail.empty()) l.text += "\\n" + esc(e.detail);
    l.fill = "#d6f0d6";
  } else if (k == "election_scheduled") {
    l.text = "election in " + std::to_string(e.value) + " ms";
    if (!e.detail.empty()) l.text += "\\n" + esc(e.detail);
    l.color = "#b09000";
  } else if (k == "election_started") {
    l.text = "ELECTION " + epoch + "\\nrank " + std::to_string(e.value);
    l.fill = "#fff0a0";
    l.color = "#b09000";
    l.bold = true;
  } else if (k == "vote_granted") {
    l.text = "VOTE " + epoch + " for " + about;
    l.color = "#1f8f1f";
    l.fontcolor = "#1f6f1f";
  } else if (k == "vote_refused") {
    l.text = "REFUSE " + epoch + " to " + about;
    if (!e.detail.empty()) l.text += "\\n" + esc(e.detail);
    l.color = "#c00000";
    l.fontcolor = "#a00000";
  } else if (k == "election_won") {
    l.text = "WON " + epoch + "\\n" + std::to_string(e.value) + " votes";
    l.fill = "#fff0a0";
    l.color = "#b09000";
    l.bold = true;
  } else if (k == "election_expired") {
    l.text = "election " + epoch + " expired\\n" + std::to_string(e.value) + " votes";
    l.fill = "#eeeeee";
    l.color = "#808080";
  } else if (k == "promoted") {
    l.text = "PROMOTED\\nconfigEpoch " + std::to_string(e.epoch) + "\\nreplaces " + about;
    if (!e.detail.empty()) l.text += " (" + esc(e.detail) + ")";
    l.fill = "#70c870";
    l.color = "#106010";
    l.bold = true;
  } else if (k == "update_received") {
    l.text = "UPDATE: " + about + "\\nhas configEpoch " + std::to_string(e.epoch);
    l.fill = "#cfe0ff";
    l.color = "#3060c0";
  } else if (k == "replicating") {
    l.text = "replica of " + about;
    l.fill = "#e8f0ff";
  } else if (k == "config_epoch_collision") {
    l.text = "configEpoch collision\\nwith " + about + " (" + std::to_string(e.epoch) + ")";
    l.fill = "#ffb070";
    l.color = "#c05000";
    l.bold = true;
  } else if (k == "config_epoch_bumped") {
    l.text = "configEpoch → " + std::to_string(e.epoch);
    l.fill = "#ffb070";
    l.color = "#c05000";
    l.bold = true;
  } else if (starts_with(k, "config_epoch_")) {
    l.text = upper_words(k) + " " + std::to_string(e.epoch);
    l.fill = "#ffb070";
    l.bold = true;
  } else if (k == "state_fail") {
    l.text = "cluster_state fail";
    l.fill = "#f4cccc";
    l.color = "#c03030";
  } else if (k == "state_ok") {
    l.text = "cluster_state ok";
    l.fill = "#d6f0d6";
    l.color = "#308030";
  } else if (starts_with(k, "manual_failover_")) {
    l.text = "MANUAL FAILOVER\\n" + upper_words(k.substr(16));
    if (!e.detail.empty()) l.text += " (" + esc(e.detail) + ")";
    l.fill = "#e4d8ff";
    l.color = "#6040a0";
  } else {
    return std::nullopt;
  }
  return l;
}

std::string tooltip_of(const sim::World& world, const sim::ObservedEvent& e) {
  std::ostringstream out;
  out << (e.node >= 0 ? world.alias(e.node) : std::string("world")) << ": " << e.kind;
  if (e.about >= 0) out << " about " << world.alias(e.about);
  if (e.epoch >= 0) out << " epoch " << e.epoch;
  if (e.value >= 0) out << " value " << e.value;
  if (!e.detail.empty()) out << " (" << e.detail << ")";
  out << " at " << seconds_us(e.t_us);
  return esc(out.str());
}

// The nodes a partition detail ("m1 r1 | m2 m3 ") names, by group.
std::vector<std::vector<int>> partition_groups(const sim::World& world, const std::string& detail) {
  std::vector<std::vector<int>> groups(1);
  std::istringstream in(detail);
  std::string word;
  while (in >> word) {
    if (word == "|") {
      groups.emplace_back();
    } else if (auto i = world.index_of(word)) {
      groups.back().push_back(*i);
    }
  }
  return groups;
}

// Mirrors sim::Network's blocked paths, to know which nodes are cut off when.
class CutTracker {
 public:
  explicit CutTracker(const sim::World& world) : world_(world) {}
  void apply(const sim::ObservedEvent& e) {
    const std::string name = e.kind.substr(7);
    if (name == "partition") {
      const auto groups = partition_groups(world_, e.detail);
      for (size_t i = 0; i < groups.size(); ++i) {
        for (size_t j = i + 1; j < groups.size(); ++j) {
          for (int a : groups[i]) {
            for (int b : groups[j]) {
              blocked_.insert({a, b});
              blocked_.insert({b, a});
            }
          }
        }
      }
    } else if (name == "isolate" && e.node >= 0) {
      for (int other = 0; other < world_.node_count(); ++other) {
        if (other == e.node) continue;
        blocked_.insert({e.node, other});
        blocked_.insert({other, e.node});
      }
    } else if ((name == "block" || name == "unblock") && e.node >= 0 && starts_with(e.detail, "to ")) {
      if (auto to = world_.index_of(e.detail.substr(3))) {
        if (name == "block") blocked_.insert({e.node, *to});
        else blocked_.erase({e.node, *to});
      }
    } else if (name == "heal") {
      blocked_.clear();
    }
  }
  bool any() const { return !blocked_.empty(); }
  bool cut(int node) const {
    for (const auto& [a, b] : blocked_) {
      if (a == node || b == node) return true;
    }
    return false;
  }

 private:
  const sim::World& world_;
  std::set<std::pair<int, int>> blocked_;
};

}  // namespace

std::string timeline_dot(const sim::World& world, const TimelineOptions& options) {
  const auto& events = world.events();
  const int nodes = world.node_count();
  // Lane 0 is the world's; lane_of_node[i] is node i's lane, or -1 when it is not drawn. A large
  // cluster gets lanes only for the nodes with a drawn event beyond the crowd's (event_kinds.hpp):
  // a thousand lanes of marks and votes is no picture, and dot takes hours to lay one out.
  std::vector<int> lane_of_node(nodes, -1);
  std::vector<int> node_of_lane{-1};
  for (const sim::ObservedEvent& e : events) {
    if (nodes > kEveryNodeShownUpTo && e.node >= 0 && !crowd_event_kind(e.kind) && look_of(world, e)) {
      lane_of_node[e.node] = 0;
    }
  }
  for (int i = 0; i < nodes; ++i) {
    if (nodes > kEveryNodeShownUpTo && lane_of_node[i] < 0) continue;
    lane_of_node[i] = static_cast<int>(node_of_lane.size());
    node_of_lane.push_back(i);
  }
  const int lanes = static_cast<int>(node_of_lane.size());

  // Events in time order (the vector already is; the stable sort only makes sure).
  std::vector<size_t> order(events.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return events[a].t_us < events[b].t_us; });

  // Select, style and place the events.
  std::vector<Item> items;
  std::set<std::pair<int, int>> pfail_seen, fail_told_seen;   // (observer, about)
  std::map<std::pair<int, int64_t>, int> election_item;       // (candidate, epoch) → item
  std::vector<int> lane_last(lanes, 0);
  int next_free = 1;  // column 0: lane heads
  int base = 1;
  std::optional<int64_t> bucket;
  for (const size_t index : order) {
    const sim::ObservedEvent& e = events[index];
    const bool action = starts_with(e.kind, "action_");
    // Dedup state: a mark counts again once cleared, or once the observer restarted.
    if (e.kind == "pfail_cleared" || e.kind == "fail_cleared") {
      pfail_seen.erase({e.node, e.about});
      fail_told_seen.erase({e.node, e.about});
    }
    if (e.kind.rfind("action_", 0) == 0 && e.node >= 0 &&
        (kills_process(e.kind.substr(7)) || e.kind == "action_restart" || e.kind == "action_lose_disk")) {
      std::erase_if(pfail_seen, [&](const auto& p) { return p.first == e.node; });
      std::erase_if(fail_told_seen, [&](const auto& p) { return p.first == e.node; });
    }
    if (!action && e.t_us < options.origin.us) continue;
    if (!action && e.node < 0) continue;
    if (e.node >= 0 && lane_of_node[e.node] < 0) continue;
    if (e.kind == "pfail" && !pfail_seen.insert({e.node, e.about}).second) continue;
    if (e.kind == "fail_received" && !fail_told_seen.insert({e.node, e.about}).second) continue;
    std::optional<Look> look = look_of(world, e);
    if (!look) continue;

    Item item;
    item.event = index;
    item.lane = e.node >= 0 ? lane_of_node[e.node] : 0;
    item.look = std::move(*look);
    const int64_t b = floor_div(e.t_us - options.origin.us, kBucketUs);
    if (!bucket || *bucket != b) {
      bucket = b;
      base = next_free;
    }
    int column = std::max(base, lane_last[item.lane] + 1);
    if (e.kind == "vote_granted" || e.kind == "vote_refused") {
      if (const auto it = election_item.find({e.about, e.epoch}); it != election_item.end()) {
        item.vote_target_item = it->second;
        column = std::max(column, items[it->second].column + 1);
      }
    }
    item.column = column;
    lane_last[item.lane] = column;
    next_free = std::max(next_free, column + 1);
    if (e.kind == "election_started") election_item[{e.node, e.epoch}] = static_cast<int>(items.size());
    items.push_back(std::move(item));
  }
  const int columns = next_free;

  // Lane state per column (after the events of that column), driven by the world actions.
  std::vector<std::vector<uint8_t>> flags(lanes, std::vector<uint8_t>(columns, 0));
  std::vector<std::vector<bool>> marker(lanes, std::vector<bool>(columns, false));  // cut began/ended here
  {
    std::vector<std::vector<std::pair<int, uint8_t>>> changes(lanes);  // (column, flags), in processing order
    std::vector<uint8_t> now(lanes, 0);
    CutTracker cuts(world);
    for (const Item& item : items) {
      const sim::ObservedEvent& e = events[item.event];
      if (!starts_with(e.kind, "action_")) continue;
      const std::string name = e.kind.substr(7);
      std::vector<uint8_t> next = now;
      cuts.apply(e);
      if (e.node >= 0) {
        uint8_t& f = next[lane_of_node[e.node]];
        if (kills_process(name)) f = static_cast<uint8_t>((f | kDown) & ~kPaused);
        else if (name == "restart") f = static_cast<uint8_t>(f & ~kDown);
        else if (name == "pause") f = static_cast<uint8_t>(f | kPaused);
        else if (name == "resume") f = static_cast<uint8_t>(f & ~kPaused);
      }
      for (int lane = 0; lane < lanes; ++lane) {
        const bool cut = lane == 0 ? cuts.any() : cuts.cut(node_of_lane[lane]);
        next[lane] = static_cast<uint8_t>(cut ? (next[lane] | kCut) : (next[lane] & ~kCut));
        if (next[lane] != now[lane]) {
          changes[lane].emplace_back(item.column, next[lane]);
          if ((next[lane] ^ now[lane]) & kCut) marker[lane][item.column] = true;
        }
      }
      now = std::move(next);
    }
    for (int lane = 0; lane < lanes; ++lane) {
      std::stable_sort(changes[lane].begin(), changes[lane].end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      size_t next_change = 0;
      uint8_t f = 0;
      for (int c = 0; c < columns; ++c) {
        while (next_change < changes[lane].size() && changes[lane][next_change].first == c) {
          f = changes[lane][next_change++].second;
        }
        flags[lane][c] = f;
      }
    }
  }

  Graph graph("timeline");
  Agraph_t* g = graph.get();
  set(g, "rankdir", "LR");
  set(g, "nodesep", "0.12");
  set(g, "ranksep", "0.22");
  set(g, "fontname", "Helvetica");
  set(g, "fontsize", "11");
  set(g, "labelloc", "t");
  set(g, "labeljust", "l");
  set(g, "label",
      "rcsim timeline: times in seconds since " + seconds_ms(options.origin.us) +
          " (cluster created)\\l"
          "orange PFAIL, red FAIL; green edge: vote granted, red edge: vote refused (voter → election); "
          "grey band: network cut; red dashed: crashed; orange dotted: paused\\l" +
          (lanes - 1 < nodes ? std::to_string(lanes - 1) + " of " + std::to_string(nodes) +
                                   " nodes drawn: the others only marked nodes PFAIL/FAIL, voted, took UPDATEs or changed cluster_state\\l"
                             : std::string()));
  set_default(g, AGNODE, "label", "\\N");  // so that an empty label is written out explicitly
  set_default(g, AGNODE, "shape", "box");
  set_default(g, AGNODE, "fontname", "Helvetica");
  set_default(g, AGNODE, "fontsize", "9");
  set_default(g, AGNODE, "height", "0.3");
  set_default(g, AGNODE, "margin", "0.05,0.03");
  set_default(g, AGEDGE, "fontname", "Helvetica");
  set_default(g, AGEDGE, "fontsize", "8");
  set_default(g, AGEDGE, "arrowsize", "0.6");

  // Which item (if any) sits in each cell.
  std::vector<std::vector<int>> cell_item(lanes, std::vector<int>(columns, -1));
  for (size_t i = 0; i < items.size(); ++i) cell_item[items[i].lane][items[i].column] = static_cast<int>(i);

  std::vector<std::vector<Agnode_t*>> cell(lanes, std::vector<Agnode_t*>(columns, nullptr));
  for (int c = 0; c < columns; ++c) {
    Agraph_t* column = agsubg(g, nullptr, 1);  // anonymous: written as "{ rank=same; ... }"
    set(column, "rank", "same");
    for (int lane = 0; lane < lanes; ++lane) {
      Agnode_t* n = nullptr;
      if (c == 0) {
        n = make_node(column, lane == 0 ? std::string("lane_world") : "lane_" + world.alias(node_of_lane[lane]));
        set(n, "label", lane == 0 ? std::string("world") : world.alias(node_of_lane[lane]));
        set(n, "style", "filled,bold");
        set(n, "fillcolor", "#e8e8e8");
        set(n, "fontsize", "12");
        set(n, "width", "0.6");
      } else if (const int i = cell_item[lane][c]; i >= 0) {
        const Item& item = items[i];
        const sim::ObservedEvent& e = events[item.event];
        n = make_node(column, "ev" + std::to_string(item.event));
        set(n, "label", seconds_ms(e.t_us - options.origin.us) + "\\n" + item.look.text);
        std::string style = "rounded";
        if (!item.look.fill.empty()) {
          style += ",filled";
          set(n, "fillcolor", item.look.fill);
        }
        if (item.look.bold) {
          style += ",bold";
          set(n, "penwidth", "2");
        }
        set(n, "style", style);
        set(n, "color", item.look.color);
        set(n, "fontcolor", item.look.fontcolor);
        set(n, "class", e.kind);
        set(n, "tooltip", tooltip_of(world, e));
      } else {
        n = make_node(column, "c" + std::to_string(lane) + "_" + std::to_string(c));
        set(n, "label", "");
        if (marker[lane][c]) {  // a network cut begins or ends here
          set(n, "shape", "square");
          set(n, "width", "0.1");
          set(n, "height", "0.1");
          set(n, "style", "filled");
          set(n, "fillcolor", "#909090");
          set(n, "color", "#909090");
        } else {
          set(n, "shape", "point");
          set(n, "width", "0.02");
          set(n, "color", "#b0b0b0");
        }
      }
      cell[lane][c] = n;
    }
    for (int lane = 0; lane + 1 < lanes; ++lane) {  // keeps the lanes in order, world on top
      Agedge_t* e = make_edge(column, cell[lane][c], cell[lane + 1][c]);
      set(e, "style", "invis");
    }
  }

  // Lane lines, carrying the node's state.
  for (int lane = 0; lane < lanes; ++lane) {
    for (int c = 0; c + 1 < columns; ++c) {
      Agedge_t* e = make_edge(g, cell[lane][c], cell[lane][c + 1]);
      set(e, "arrowhead", "none");
      set(e, "weight", "100");
      const uint8_t f = flags[lane][c];
      if (f & kDown) {
        set(e, "style", "dashed");
        set(e, "color", "#cc0000");
        set(e, "penwidth", "1.5");
      } else if (f & kPaused) {
        set(e, "style", "dotted");
        set(e, "color", "#e69500");
        set(e, "penwidth", "2.5");
      } else if (f & kCut) {
        set(e, "color", "#c8c8c8");
        set(e, "penwidth", "10");
      } else {
        set(e, "color", "#c0c0c0");
      }
    }
  }

  // Votes: voter → the election they answer.
  for (const Item& item : items) {
    const sim::ObservedEvent& e = events[item.event];
    const bool granted = e.kind == "vote_granted";
    if (!granted && e.kind != "vote_refused") continue;
    Agnode_t* target = nullptr;
    if (item.vote_target_item >= 0) {
      const Item& election = items[item.vote_target_item];
      target = cell[election.lane][election.column];
    } else if (e.about >= 0 && lane_of_node[e.about] >= 0) {
      target = cell[lane_of_node[e.about]][0];
    } else {
      continue;
    }
    Agedge_t* edge = make_edge(g, cell[item.lane][item.column], target);
    set(edge, "constraint", "false");
    set(edge, "class", granted ? "vote granted" : "vote refused");
    std::string label = "e" + std::to_string(e.epoch) + (granted ? " ✓" : " ✗");
    if (!granted && !e.detail.empty()) label += " " + esc(e.detail);
    set(edge, "label", label);
    set(edge, "color", granted ? "#1f8f1f" : "#c00000");
    set(edge, "fontcolor", granted ? "#1f6f1f" : "#a00000");
    set(edge, "penwidth", "1.3");
  }
  return to_dot(g);
}

// ---------------------------------------------------------------------------------------------
// Message sequence

namespace {

const char* message_color(protocol::MessageType type) {
  switch (type) {
    case protocol::MessageType::ping: return "#606060";
    case protocol::MessageType::pong: return "#9a9a9a";
    case protocol::MessageType::meet: return "#8040c0";
    case protocol::MessageType::fail: return "#d02020";
    case protocol::MessageType::publish: return "#808000";
    case protocol::MessageType::failover_auth_request: return "#d98000";
    case protocol::MessageType::failover_auth_ack: return "#1f8f1f";
    case protocol::MessageType::update: return "#3060c0";
    case protocol::MessageType::mfstart: return "#8040c0";
  }
  return "black";
}

}  // namespace

std::string messages_dot(const sim::World& world, Instant from, Instant to) {
  const auto& messages = world.messages();
  std::vector<size_t> chosen;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].sent_us >= from.us && messages[i].sent_us <= to.us) chosen.push_back(i);
  }
  std::stable_sort(chosen.begin(), chosen.end(),
                   [&](size_t a, size_t b) { return messages[a].sent_us < messages[b].sent_us; });
  const size_t total = chosen.size();
  if (chosen.size() > kMaxMessages) chosen.resize(kMaxMessages);

  // Rows: distinct instants (key 2t), plus 2t+1 for a zero-latency arrival or a loss, so that an
  // arrow never stays inside its own row. A node receiving and sending in the same instant shares
  // one point: the arrival is the departure.
  auto send_key = [&](const sim::MessageRecord& m) { return m.sent_us * 2; };
  auto recv_key = [&](const sim::MessageRecord& m) {
    return (m.received_us < 0 || m.received_us <= m.sent_us) ? m.sent_us * 2 + 1 : m.received_us * 2;
  };
  std::vector<int64_t> keys;
  for (size_t i : chosen) {
    keys.push_back(send_key(messages[i]));
    keys.push_back(recv_key(messages[i]));
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  auto row_of = [&](int64_t key) {
    return static_cast<int>(std::lower_bound(keys.begin(), keys.end(), key) - keys.begin()) + 1;  // row 0: heads
  };
  const int rows = static_cast<int>(keys.size()) + 1;
  const int nodes = world.node_count();
  const int lanes = nodes + 1;  // lane 0: the time axis

  enum : uint8_t { kNone = 0, kPoint = 1, kLost = 2 };
  std::vector<std::vector<uint8_t>> mark(lanes, std::vector<uint8_t>(rows, kNone));
  for (size_t i : chosen) {
    const sim::MessageRecord& m = messages[i];
    if (m.from >= 0) mark[m.from + 1][row_of(send_key(m))] |= kPoint;
    if (m.to >= 0) mark[m.to + 1][row_of(recv_key(m))] |= m.received_us < 0 ? kLost : kPoint;
  }

  Graph graph("messages");
  Agraph_t* g = graph.get();
  set(g, "rankdir", "TB");
  set(g, "nodesep", "0.5");
  set(g, "ranksep", "0.18");
  set(g, "fontname", "Helvetica");
  set(g, "fontsize", "11");
  set(g, "labelloc", "t");
  std::string title = "bus messages sent in [" + seconds_us(from.us) + ", " + seconds_us(to.us) + "]: ";
  if (chosen.size() < total) {
    title += "showing the first " + std::to_string(chosen.size()) + " of " + std::to_string(total) + " (truncated)";
  } else {
    title += std::to_string(total);
  }
  const bool loose_labels = chosen.size() > kMaxLabelledMessages;
  if (loose_labels) set(g, "forcelabels", "true");
  set(g, "label", title);
  set_default(g, AGNODE, "label", "\\N");
  set_default(g, AGNODE, "fontname", "Helvetica");
  set_default(g, AGNODE, "fontsize", "9");
  set_default(g, AGEDGE, "fontname", "Helvetica");
  set_default(g, AGEDGE, "fontsize", "8");
  set_default(g, AGEDGE, "arrowsize", "0.6");

  std::vector<std::vector<Agnode_t*>> cell(lanes, std::vector<Agnode_t*>(rows, nullptr));
  for (int r = 0; r < rows; ++r) {
    Agraph_t* row = agsubg(g, nullptr, 1);
    set(row, "rank", "same");
    for (int lane = 0; lane < lanes; ++lane) {
      Agnode_t* n = nullptr;
      if (r == 0) {
        n = make_node(row, lane == 0 ? std::string("time") : "life_" + world.alias(lane - 1));
        set(n, "label", lane == 0 ? std::string("time") : world.alias(lane - 1));
        set(n, "shape", lane == 0 ? "plaintext" : "box");
        if (lane > 0) {
          set(n, "style", "filled,bold");
          set(n, "fillcolor", "#e8e8e8");
          set(n, "fontsize", "12");
        }
      } else if (lane == 0) {
        n = make_node(row, "t" + std::to_string(r));
        const int64_t key = keys[r - 1];
        set(n, "label", seconds_us(key / 2) + ((key & 1) != 0 ? " +" : ""));
        set(n, "shape", "plaintext");
        set(n, "fontcolor", "#707070");
        set(n, "height", "0.1");
      } else {
        n = make_node(row, "p" + std::to_string(lane) + "_" + std::to_string(r));
        set(n, "label", "");
        if (mark[lane][r] & kPoint) {
          set(n, "shape", "point");
          set(n, "width", "0.07");
        } else if (mark[lane][r] & kLost) {
          set(n, "shape", "plaintext");
          set(n, "label", "✗");
          set(n, "fontcolor", "#d02020");
          set(n, "width", "0.1");
          set(n, "height", "0.1");
          set(n, "margin", "0");
        } else {
          set(n, "shape", "point");
          set(n, "width", "0.01");
          set(n, "color", "#a0a0a0");
        }
      }
      cell[lane][r] = n;
    }
    for (int lane = 0; lane + 1 < lanes; ++lane) {
      Agedge_t* e = make_edge(row, cell[lane][r], cell[lane + 1][r]);
      set(e, "style", "invis");
    }
  }
  for (int lane = 0; lane < lanes; ++lane) {  // lifelines
    for (int r = 0; r + 1 < rows; ++r) {
      Agedge_t* e = make_edge(g, cell[lane][r], cell[lane][r + 1]);
      set(e, "arrowhead", "none");
      set(e, "weight", "100");
      if (lane == 0) set(e, "style", "invis");
      else set(e, "color", "#a0a0a0");
    }
  }
  for (size_t i : chosen) {
    const sim::MessageRecord& m = messages[i];
    if (m.from < 0 || m.to < 0) continue;
    // A constraint edge (its head row is always below its tail row): dot then gives its label a
    // rank of its own between the two rows, and the arrow stays a clean slant.
    Agedge_t* e = make_edge(g, cell[m.from + 1][row_of(send_key(m))], cell[m.to + 1][row_of(recv_key(m))]);
    set(e, "class", std::string("msg ") + protocol::stats_name(m.type));
    set(e, loose_labels ? "xlabel" : "label", esc(m.summary) + (m.received_us < 0 ? " (lost)" : ""));
    set(e, "color", message_color(m.type));
    set(e, "fontcolor", message_color(m.type));
    if (m.received_us < 0) set(e, "style", "dashed");
  }
  return to_dot(g);
}

// ---------------------------------------------------------------------------------------------
// Files

namespace {

bool write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return false;
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  return !out.fail();
}

std::optional<std::filesystem::path> find_dot() {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return std::nullopt;
  std::string dirs = path;
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::string dir = dirs.substr(start, end - start);
    if (!dir.empty()) {
      const std::filesystem::path candidate = std::filesystem::path(dir) / "dot";
      std::error_code ec;
      if (std::filesystem::is_regular_file(candidate, ec) && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    start = end + 1;
  }
  return std::nullopt;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

// dot -Tsvg; false when dot ran and failed.
bool render_svg(const std::filesystem::path& dot, const std::filesystem::path& in, const std::filesystem::path& out) {
  const std::string command =
      shell_quote(dot.string()) + " -Tsvg -o " + shell_quote(out.string()) + " " + shell_quote(in.string());
  return std::system(command.c_str()) == 0;
}

}  // namespace

bool write_timeline(const sim::World& world, const TimelineOptions& options, const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return false;
  const std::optional<std::filesystem::path> dot = find_dot();
  bool ok = write_file(dir / "timeline.dot", timeline_dot(world, options));
  if (ok && dot) ok = render_svg(*dot, dir / "timeline.dot", dir / "timeline.svg");
  if (options.messages_from && options.messages_to) {
    bool m = write_file(dir / "messages.dot", messages_dot(world, *options.messages_from, *options.messages_to));
    if (m && dot) m = render_svg(*dot, dir / "messages.dot", dir / "messages.svg");
    ok = ok && m;
  }
  return ok;
}

}  // namespace rcsim::tools
