// Timeline and message-sequence DOT: parsed back with cgraph, checked against the world's events,
// and rendered with `dot -Tsvg` when Graphviz's dot is installed.
#include <graphviz/cgraph.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "sim/world.hpp"
#include "tools/lib/timeline_dot.hpp"

using namespace rcsim;
using namespace rcsim::sim;
namespace fs = std::filesystem;

namespace {

WorldOptions three_by_one(uint64_t seed) {
  WorldOptions o;
  o.seed = seed;
  o.masters = 3;
  o.replicas_per_master = 1;
  o.config.cluster_node_timeout_ms = 2000;
  return o;
}

// The kill -9 scenario of cluster_test: m1 crashes at 10 s, r1 wins epoch 7.
void run_crash(World& w) {
  REQUIRE(w.create_cluster());
  w.run_until(Instant::from_millis(10'000));
  w.crash(0);
  w.run_until(Instant::from_millis(30'000));
}

Instant created_at(const World& w) {
  for (const ObservedEvent& e : w.events()) {
    if (e.kind == "action_cluster_created") return Instant::from_micros(e.t_us);
  }
  FAIL("no action_cluster_created event");
  return {};
}

struct Parsed {
  std::unique_ptr<Agraph_t, int (*)(Agraph_t*)> g{nullptr, agclose};
  std::vector<std::string> node_labels;
  std::vector<std::string> edge_labels;
  std::vector<std::string> edge_classes;
  int edges = 0;
};

std::string attr(void* obj, const char* name) {
  const char* v = agget(obj, const_cast<char*>(name));
  return v != nullptr ? v : "";
}

Parsed parse(const std::string& dot) {
  Parsed p;
  p.g.reset(agmemread(dot.c_str()));
  if (!p.g) return p;
  Agraph_t* g = p.g.get();
  for (Agnode_t* n = agfstnode(g); n != nullptr; n = agnxtnode(g, n)) {
    p.node_labels.push_back(attr(n, "label"));
    for (Agedge_t* e = agfstout(g, n); e != nullptr; e = agnxtout(g, e)) {
      ++p.edges;
      p.edge_labels.push_back(attr(e, "label"));
      p.edge_classes.push_back(attr(e, "class"));
    }
  }
  return p;
}

int count_containing(const std::vector<std::string>& v, const std::string& needle) {
  int n = 0;
  for (const std::string& s : v) n += s.find(needle) != std::string::npos ? 1 : 0;
  return n;
}

int count_equal(const std::vector<std::string>& v, const std::string& value) {
  int n = 0;
  for (const std::string& s : v) n += s == value ? 1 : 0;
  return n;
}

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("rcsim_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool have_dot() { return fs::exists("/usr/bin/dot"); }

// Renders `dot_text` with dot -Tsvg; returns dot's stderr, or "exit N: ..." when it failed.
std::string render_problems(const std::string& dot_text, const fs::path& dir, const std::string& stem) {
  const fs::path in = dir / (stem + ".dot"), out = dir / (stem + ".svg"), err = dir / (stem + ".err");
  {
    std::ofstream f(in, std::ios::binary);
    f << dot_text;
  }
  const std::string command =
      "/usr/bin/dot -Tsvg -o '" + out.string() + "' '" + in.string() + "' 2> '" + err.string() + "'";
  const int rc = std::system(command.c_str());
  std::string problems = read_text(err);
  if (rc != 0) problems = "exit " + std::to_string(rc) + ": " + problems;
  if (rc == 0 && read_text(out).find("<svg") == std::string::npos) problems += "no <svg> in the output";
  return problems;
}

}  // namespace

TEST_CASE("timeline DOT of a master crash: epochs - votes - PFAIL/FAIL marks", "[tools][timeline]") {
  World w(three_by_one(3));
  run_crash(w);
  tools::TimelineOptions options;
  options.origin = created_at(w);

  int64_t winner_epoch = -1;
  int granted = 0;
  int refused = 0;
  for (const ObservedEvent& e : w.events()) {
    if (e.kind == "promoted" && winner_epoch < 0) winner_epoch = e.epoch;
    if (e.kind == "vote_granted") ++granted;
    if (e.kind == "vote_refused") ++refused;
  }
  REQUIRE(winner_epoch == 7);
  REQUIRE(granted >= 2);

  const std::string dot = tools::timeline_dot(w, options);
  const Parsed p = parse(dot);
  REQUIRE(p.g);
  INFO(dot);

  // The winner's election and the votes for it name epoch 7.
  const std::string e = "e" + std::to_string(winner_epoch);
  CHECK(count_containing(p.node_labels, "ELECTION " + e) >= 1);
  CHECK(count_containing(p.node_labels, "PROMOTED\\nconfigEpoch " + std::to_string(winner_epoch)) == 1);
  CHECK(count_containing(p.edge_labels, e + " ✓") == granted);
  // One edge per vote granted, one per refusal.
  CHECK(count_equal(p.edge_classes, "vote granted") == granted);
  CHECK(count_equal(p.edge_classes, "vote refused") == refused);
  // PFAIL and FAIL marks about m1, the crash itself, one lane per node plus the world's.
  CHECK(count_containing(p.node_labels, "PFAIL m1") >= 1);
  CHECK(count_containing(p.node_labels, "FAIL m1") >= 1);
  CHECK(count_containing(p.node_labels, "\\nCRASH") == 1);
  CHECK(count_equal(p.node_labels, "world") == 1);
  for (int i = 0; i < w.node_count(); ++i) CHECK(count_equal(p.node_labels, w.alias(i)) == 1);
  // Times are relative to the cluster's creation: the crash is 10 s after the start of the run.
  const int64_t crash_rel_us = 10'000'000 - options.origin.us;
  const int64_t crash_rel_ms = crash_rel_us / 1000 - (crash_rel_us % 1000 < 0 ? 1 : 0);
  char crash_label[64];
  std::snprintf(crash_label, sizeof crash_label, "%lld.%03llds\\nCRASH", static_cast<long long>(crash_rel_ms / 1000),
                static_cast<long long>(crash_rel_ms % 1000));
  CHECK(count_containing(p.node_labels, crash_label) == 1);
  // PFAIL of m1 is shown once per observer.
  int pfail_observers = 0;
  for (int i = 1; i < w.node_count(); ++i) {
    for (const ObservedEvent& ev : w.events()) {
      if (ev.kind == "pfail" && ev.node == i && ev.about == 0) {
        ++pfail_observers;
        break;
      }
    }
  }
  CHECK(count_containing(p.node_labels, "PFAIL m1") == pfail_observers);

  // Deterministic: same world → same bytes; same seed → same bytes.
  CHECK(tools::timeline_dot(w, options) == dot);
  World again(three_by_one(3));
  run_crash(again);
  CHECK(tools::timeline_dot(again, options) == dot);

  if (have_dot()) {
    const fs::path dir = fresh_dir("timeline_crash");
    CHECK(render_problems(dot, dir, "timeline") == "");
    fs::remove_all(dir);
  }
}

TEST_CASE("timeline DOT of a 40-node cluster: lanes for the crashed master and its successor only", "[tools][timeline]") {
  // 20 masters + 20 replicas: every node marks m1 PFAIL/FAIL and goes cluster_state fail/ok, every
  // other master votes; only m1 (crashed) and r1 (elected, promoted) did something of their own.
  WorldOptions o = three_by_one(1);
  o.masters = 20;
  REQUIRE(o.masters * (1 + o.replicas_per_master) > 32);
  World w(o);
  REQUIRE(w.restart_as_created_cluster());
  const Instant crash_at = w.now() + Duration::seconds(5);
  w.run_until(crash_at);
  w.crash(0);
  w.run_until(crash_at + Duration::seconds(20));
  int voters = 0;
  for (const ObservedEvent& e : w.events()) voters += e.kind == "vote_granted" ? 1 : 0;
  REQUIRE(voters >= 10);  // a majority of the 20 masters

  tools::TimelineOptions options;
  options.origin = created_at(w);
  const Parsed p = parse(tools::timeline_dot(w, options));
  REQUIRE(p.g);
  std::vector<std::string> lane_heads;
  for (Agnode_t* n = agfstnode(p.g.get()); n != nullptr; n = agnxtnode(p.g.get(), n)) {
    const std::string name = agnameof(n);
    if (name.rfind("lane_", 0) == 0) lane_heads.push_back(name);
  }
  CHECK(lane_heads == std::vector<std::string>{"lane_world", "lane_m1", "lane_r1"});
  CHECK(count_containing(p.node_labels, "PROMOTED") == 1);
  CHECK(count_containing({attr(p.g.get(), "label")}, "2 of 40 nodes drawn") == 1);
  CHECK(count_equal(p.edge_classes, "vote granted") == 0);  // the voters' lanes are not drawn
}

TEST_CASE("message-sequence DOT around the promotion", "[tools][timeline]") {
  World w(three_by_one(3));
  run_crash(w);
  REQUIRE(w.failovers().size() == 1);
  const Instant promoted = Instant::from_millis(w.failovers()[0].promoted_ms);
  const Instant from = promoted - Duration::millis(100), to = promoted + Duration::millis(100);
  size_t in_window = 0;
  for (const MessageRecord& m : w.messages()) in_window += (m.sent_us >= from.us && m.sent_us <= to.us) ? 1 : 0;
  REQUIRE(in_window >= 1);

  const std::string dot = tools::messages_dot(w, from, to);
  const Parsed p = parse(dot);
  REQUIRE(p.g);
  INFO(dot);
  const int message_edges = count_containing(p.edge_classes, "msg ");
  CHECK(message_edges >= 1);
  CHECK(static_cast<size_t>(message_edges) == std::min<size_t>(in_window, 500));
  CHECK(tools::messages_dot(w, from, to) == dot);

  // A window with more than 500 messages is truncated, and says so.
  const std::string all = tools::messages_dot(w, Instant{}, w.now());
  const Parsed q = parse(all);
  REQUIRE(q.g);
  if (w.messages().size() > 500) {
    CHECK(count_containing(q.edge_classes, "msg ") == 500);
    CHECK(all.find("truncated") != std::string::npos);
    CHECK(all.find("xlabel=") != std::string::npos);  // too many for real edge labels
  }

  if (have_dot()) {
    const fs::path dir = fresh_dir("messages_window");
    CHECK(render_problems(dot, dir, "messages") == "");
    fs::remove_all(dir);
  }
}

namespace {

// Writes the files for `w` into a fresh directory and checks them; returns the timeline DOT.
std::string check_written(const World& w, const std::string& name, Instant messages_from) {
  tools::TimelineOptions options;
  options.origin = created_at(w);
  options.messages_from = messages_from;
  options.messages_to = messages_from + Duration::millis(200);
  const fs::path dir = fresh_dir(name);
  REQUIRE(tools::write_timeline(w, options, dir / "out"));
  const std::string dot = read_text(dir / "out" / "timeline.dot");
  CHECK(dot == tools::timeline_dot(w, options));
  CHECK(read_text(dir / "out" / "messages.dot") ==
        tools::messages_dot(w, messages_from, messages_from + Duration::millis(200)));
  if (have_dot()) {
    CHECK(read_text(dir / "out" / "timeline.svg").find("<svg") != std::string::npos);
    CHECK(read_text(dir / "out" / "messages.svg").find("<svg") != std::string::npos);
    CHECK(render_problems(dot, dir, "again") == "");
  }
  fs::remove_all(dir);
  return dot;
}

}  // namespace

TEST_CASE("write_timeline: a short partition - then a paused master replaced", "[tools][timeline]") {
  World w(three_by_one(5));
  REQUIRE(w.create_cluster());
  w.run_until(Instant::from_millis(5'000));
  w.partition({{0, 1, 3}, {2, 4, 5}});
  w.run_until(Instant::from_millis(6'000));
  w.heal();
  w.run_until(Instant::from_millis(8'000));
  w.pause(0);
  w.run_until(Instant::from_millis(18'000));
  w.resume(0);
  w.run_until(Instant::from_millis(25'000));
  REQUIRE(w.failovers().size() == 1);

  const std::string dot = check_written(w, "write_timeline_pause", Instant::from_millis(18'000));
  const Parsed p = parse(dot);
  REQUIRE(p.g);
  INFO(dot);
  CHECK(count_containing(p.node_labels, "\\nPARTITION\\nm1 m2 r1 | m3 r2 r3") == 1);
  CHECK(count_containing(p.node_labels, "\\nHEAL") == 1);
  CHECK(count_containing(p.node_labels, "\\nPAUSE") == 1);
  CHECK(count_containing(p.node_labels, "\\nRESUME") == 1);
  CHECK(count_containing(p.node_labels, "PROMOTED") == 1);
  CHECK(dot.find("penwidth=10") != std::string::npos);  // the cut is drawn as a band
  CHECK(dot.find("style=dotted") != std::string::npos);  // the pause
}

// A long split brain. Hidden: with the current sim::Network it aborts in on_nagle_ack (assertion
// `c.nagle_outstanding && !c.unsent.empty()`) about 1.9 s into any partition.
TEST_CASE("write_timeline: a split brain across a 10 s partition", "[.][tools][network_bug]") {
  World w(three_by_one(5));
  REQUIRE(w.create_cluster());
  w.run_until(Instant::from_millis(5'000));
  w.partition({{0}, {1, 2, 3, 4, 5}});
  w.run_until(Instant::from_millis(15'000));
  w.heal();
  w.run_until(Instant::from_millis(25'000));
  const std::string dot = check_written(w, "write_timeline_split", Instant::from_millis(15'000));
  const Parsed p = parse(dot);
  REQUIRE(p.g);
  CHECK(count_containing(p.node_labels, "PARTITION") == 1);
  CHECK(count_containing(p.node_labels, "HEAL") == 1);
}
