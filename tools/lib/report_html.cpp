#include "tools/lib/report_html.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <vector>

#include "sim/workload.hpp"

namespace rcsim::tools {
namespace {

constexpr int kPlotWidth = 960;
constexpr int kPlotLeft = 70;    // room for lane labels and the y axis
constexpr int kPlotRight = 20;
constexpr int kLaneHeight = 16;
constexpr int kLaneGap = 4;
constexpr int kClientPlotHeight = 180;
constexpr int kMaxBuckets = 400;  // write counts are summed over at least 100 ms, at most this many bars

std::string escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string seconds(int64_t ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f s", static_cast<double>(ms) / 1000.0);
  return text;
}

std::string plus(int64_t ms, int64_t from_ms) { return ms < 0 ? "-" : "+" + seconds(ms - from_ms); }

// Scenario time (ms after the cluster was ready) of an absolute simulated time.
struct Axis {
  int64_t origin_us = 0;
  int64_t end_ms = 1;
  int64_t ms(int64_t absolute_us) const { return (absolute_us - origin_us) / 1000; }
  double x(int64_t scenario_ms) const {
    const double span = kPlotWidth - kPlotLeft - kPlotRight;
    return kPlotLeft + span * static_cast<double>(std::clamp<int64_t>(scenario_ms, 0, end_ms)) / static_cast<double>(end_ms);
  }
};

// Fault and recovery actions as dashed vertical lines across a plot of `height`.
void action_marks(std::ostringstream& svg, const sim::World& world, const Axis& axis, int height) {
  for (const sim::ObservedEvent& e : world.events()) {
    if (e.kind.rfind("action_", 0) != 0 || e.kind == "action_cluster_created" || e.t_us < axis.origin_us) continue;
    const double x = axis.x(axis.ms(e.t_us));
    const std::string what = e.kind.substr(7) + (e.node >= 0 ? " " + world.alias(e.node) : "") + (e.detail.empty() ? "" : " " + e.detail);
    svg << "<line class=\"action\" x1=\"" << x << "\" y1=\"0\" x2=\"" << x << "\" y2=\"" << height
        << "\" stroke=\"#888\" stroke-dasharray=\"3,3\"><title>" << escape(seconds(axis.ms(e.t_us)) + ": " + what)
        << "</title></line>\n";
  }
}

void time_ticks(std::ostringstream& svg, const Axis& axis, int y) {
  const int64_t step_ms = std::max<int64_t>(1000, (axis.end_ms / 10 + 999) / 1000 * 1000);
  for (int64_t t = 0; t <= axis.end_ms; t += step_ms) {
    svg << "<text x=\"" << axis.x(t) << "\" y=\"" << y << "\" font-size=\"10\" text-anchor=\"middle\">" << t / 1000
        << " s</text>\n";
  }
}

std::string shards_plot(const sim::World& world, const Axis& axis) {
  const auto& availability = world.shard_availability();
  if (availability.empty()) {
    return "<p>Shards were not sampled (clusters of more than " + std::to_string(sim::kShardSamplingMaxMasters) +
           " masters are not).</p>\n";
  }
  const int height = static_cast<int>(availability.size()) * (kLaneHeight + kLaneGap) + 20;
  std::ostringstream svg;
  svg << "<svg id=\"shards-plot\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kPlotWidth << "\" height=\""
      << height << "\">\n";
  for (size_t m = 0; m < availability.size(); ++m) {
    const int y = static_cast<int>(m) * (kLaneHeight + kLaneGap);
    const std::string slots = sim::slot_ranges_text(world.initial_slots(static_cast<int>(m)));
    svg << "<text x=\"4\" y=\"" << y + kLaneHeight - 4 << "\" font-size=\"11\">" << world.alias(static_cast<int>(m))
        << "</text>\n";
    const auto& samples = availability[m];
    for (size_t i = 0; i < samples.size(); ++i) {
      const int64_t from = axis.ms(samples[i].t_us);
      const int64_t to = i + 1 < samples.size() ? axis.ms(samples[i + 1].t_us) : axis.end_ms;
      const double x0 = axis.x(from), x1 = axis.x(to);
      svg << "<rect class=\"" << (samples[i].served ? "served" : "unserved") << "\" x=\"" << x0 << "\" y=\"" << y
          << "\" width=\"" << std::max(x1 - x0, 0.5) << "\" height=\"" << kLaneHeight << "\" fill=\""
          << (samples[i].served ? "#4a4" : "#d33") << "\"><title>slots " << slots << ": "
          << (samples[i].served ? "served" : "no master in cluster_state ok") << " from " << seconds(from)
          << "</title></rect>\n";
    }
  }
  action_marks(svg, world, axis, height - 20);
  time_ticks(svg, axis, height - 4);
  svg << "</svg>\n";
  return svg.str();
}

// Acknowledged and failed writes per time bucket, by when each one ended.
std::string clients_plot(const sim::Workload& workload, const sim::World& world, const Axis& axis) {
  const int64_t bucket_ms = std::max<int64_t>(100, (axis.end_ms + kMaxBuckets - 1) / kMaxBuckets);
  const size_t buckets = static_cast<size_t>(axis.end_ms / bucket_ms + 1);
  std::vector<int64_t> acked(buckets, 0), failed(buckets, 0);
  for (const sim::WriteRecord& w : workload.writes()) {
    if (w.done_us < axis.origin_us) continue;
    const size_t b = std::min(buckets - 1, static_cast<size_t>(axis.ms(w.done_us) / bucket_ms));
    if (w.status == sim::WriteRecord::Status::acked) ++acked[b];
    else if (w.status == sim::WriteRecord::Status::failed) ++failed[b];
  }
  int64_t top = 1;
  for (size_t b = 0; b < buckets; ++b) top = std::max({top, acked[b], failed[b]});
  const int plot_h = kClientPlotHeight - 20;
  auto polyline = [&](const std::vector<int64_t>& counts, const char* cls, const char* color) {
    std::ostringstream line;
    line << "<polyline class=\"" << cls << "\" fill=\"none\" stroke=\"" << color << "\" stroke-width=\"1.5\" points=\"";
    for (size_t b = 0; b < buckets; ++b) {
      line << axis.x(static_cast<int64_t>(b) * bucket_ms) << ","
           << plot_h - static_cast<double>(counts[b]) * (plot_h - 4) / static_cast<double>(top) << " ";
    }
    line << "\"/>\n";
    return line.str();
  };
  std::ostringstream svg;
  svg << "<svg id=\"clients-plot\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kPlotWidth << "\" height=\""
      << kClientPlotHeight << "\">\n";
  svg << "<text x=\"4\" y=\"12\" font-size=\"10\">" << top << " / " << bucket_ms << " ms</text>\n";
  svg << "<text x=\"4\" y=\"" << plot_h << "\" font-size=\"10\">0</text>\n";
  svg << polyline(acked, "acked", "#2a2") << polyline(failed, "failed", "#d22");
  action_marks(svg, world, axis, plot_h);
  time_ticks(svg, axis, kClientPlotHeight - 4);
  svg << "</svg>\n";
  return svg.str();
}

// Per client: writes, and the longest stretch (from scenario time 0 to the end) without an acknowledged one.
std::string clients_table(const sim::Workload& workload, const Axis& axis) {
  const int clients = workload.client_count();
  std::vector<int64_t> acked(clients, 0), failed(clients, 0);
  std::vector<std::vector<int64_t>> ok_times(clients);
  for (const sim::WriteRecord& w : workload.writes()) {
    if (w.client < 0 || w.client >= clients || w.done_us < axis.origin_us) continue;
    if (w.status == sim::WriteRecord::Status::acked) {
      ++acked[w.client];
      ok_times[w.client].push_back(axis.ms(w.done_us));
    } else if (w.status == sim::WriteRecord::Status::failed) {
      ++failed[w.client];
    }
  }
  std::ostringstream out;
  out << "<table><tr><th>client</th><th>acknowledged</th><th>failed</th><th>longest stretch without an "
         "acknowledged write</th></tr>\n";
  constexpr int kRowsShown = 20;
  for (int c = 0; c < std::min(clients, kRowsShown); ++c) {
    std::vector<int64_t>& times = ok_times[c];
    std::sort(times.begin(), times.end());
    int64_t previous = 0, gap = 0;
    for (const int64_t t : times) {
      gap = std::max(gap, t - previous);
      previous = t;
    }
    gap = std::max(gap, axis.end_ms - previous);
    out << "<tr><td>" << c << "</td><td>" << acked[c] << "</td><td>" << failed[c] << "</td><td>" << seconds(gap)
        << "</td></tr>\n";
  }
  out << "</table>\n";
  if (clients > kRowsShown) out << "<p>(" << clients - kRowsShown << " more clients, in summary.json)</p>\n";
  return out.str();
}

// Failover phases: fault, PFAIL, FAIL, election, votes, promotion, agreement, and the first write a client
// had acknowledged by the new master.
std::string failovers_table(const sim::World& world, const Axis& axis) {
  if (world.failovers().empty()) return "<p>No failover.</p>\n";
  std::ostringstream out;
  out << "<table><tr><th>old master</th><th>new master</th><th>mode</th><th>epoch</th><th>fault at</th>"
         "<th>first PFAIL</th><th>FAIL</th><th>election</th><th>votes</th><th>promoted</th><th>all agree</th>"
         "<th>clients back</th></tr>\n";
  for (const sim::FailoverRecord& f : world.failovers()) {
    int votes = 0;
    for (const sim::ObservedEvent& e : world.events()) {
      votes += e.kind == "vote_granted" && e.about == f.new_master && e.epoch == f.epoch ? 1 : 0;
    }
    int64_t clients_back_ms = -1;
    if (const sim::Workload* workload = world.workload()) {
      for (const sim::WriteRecord& w : workload->writes()) {
        if (w.status != sim::WriteRecord::Status::acked || w.acked_by != f.new_master || w.done_us / 1000 < f.fault_ms) continue;
        if (clients_back_ms < 0 || w.done_us / 1000 < clients_back_ms) clients_back_ms = w.done_us / 1000;
      }
    }
    const int64_t origin_ms = axis.origin_us / 1000;
    out << "<tr><td>" << (f.old_master < 0 ? "?" : world.alias(f.old_master)) << "</td><td>"
        << (f.new_master < 0 ? "?" : world.alias(f.new_master)) << "</td><td>" << escape(f.mode) << "</td><td>"
        << f.epoch << "</td><td>" << seconds(f.fault_ms - origin_ms) << "</td><td>" << plus(f.first_pfail_ms, f.fault_ms)
        << "</td><td>" << plus(f.fail_ms, f.fault_ms) << "</td><td>" << plus(f.election_ms, f.fault_ms) << "</td><td>"
        << votes << "</td><td>" << plus(f.promoted_ms, f.fault_ms) << "</td><td>" << plus(f.converged_ms, f.fault_ms)
        << "</td><td>" << plus(clients_back_ms, f.fault_ms) << "</td></tr>\n";
  }
  out << "</table>\n";
  return out.str();
}

std::string lost_writes_section(const sim::WritesReport& r) {
  std::ostringstream out;
  out << "<p>" << r.attempted << " writes attempted, " << r.acked << " acknowledged, " << r.failed << " failed, <b>"
      << r.lost << " acknowledged and lost</b>";
  for (const auto& [reason, count] : r.lost_by_reason) out << "; " << count << " " << escape(reason);
  if (r.max_loss_window_ms >= 0) out << "; loss window up to " << seconds(r.max_loss_window_ms) << " after the cut";
  out << ".</p>\n";
  return out.str();
}

// Where each node runs and what it is: the imported cluster's ids and addresses, zones, hosts, and the
// risks of that placement. Empty for a flat cluster of the rule's.
std::string cluster_section(const sim::World& world, const sim::ClusterSpec& cluster) {
  const sim::Placement& p = cluster.placement;
  if (!cluster.imported && !p.has_zones() && !p.has_hosts()) return "";
  std::ostringstream out;
  out << "<h2>Cluster</h2>\n";
  if (cluster.imported) {
    out << "<p>Imported from CLUSTER NODES: " << cluster.imported->layout.size() << " nodes, currentEpoch "
        << cluster.imported->layout.current_epoch << "; aliases in the file's order (masters, then replicas).</p>\n";
  }
  out << "<table id=\"cluster\"><tr><th>node</th><th>id</th>" << (cluster.imported ? "<th>address</th>" : "")
      << "<th>at start</th>" << (p.has_zones() ? "<th>zone</th>" : "") << (p.has_hosts() ? "<th>host</th>" : "") << "</tr>\n";
  for (int i = 0; i < cluster.node_count(); ++i) {
    out << "<tr><td>" << escape(cluster.alias(i)) << "</td><td><code>" << world.name_of(i).str() << "</code></td>";
    if (cluster.imported) {
      out << "<td>" << (i < cluster.imported->layout.size() ? escape(cluster.imported->addresses[i]) : "") << "</td>";
    }
    out << "<td>";
    if (i >= world.members()) out << "spare";
    else if (i < world.masters()) out << "master, slots " << escape(sim::slot_ranges_text(world.initial_slots(i)));
    else out << "replica of " << escape(world.alias(world.initial_master_of(i)));
    out << "</td>";
    if (p.has_zones()) out << "<td>" << escape(p.zones[p.zone_of[i]]) << "</td>";
    if (p.has_hosts()) out << "<td>" << escape(p.hosts[p.host_of[i]]) << "</td>";
    out << "</tr>\n";
  }
  out << "</table>\n";
  for (const std::string& risk : cluster.placement_risks()) out << "<p class=\"fail\">Risk: " << escape(risk) << "</p>\n";
  return out.str();
}

// The SVG element of an SVG document (Graphviz writes an XML prolog and a DOCTYPE before it).
std::string svg_element(const std::string& document) {
  const size_t start = document.find("<svg");
  return start == std::string::npos ? std::string() : document.substr(start);
}

}  // namespace

std::string report_html(const sim::RunResult& result, const RunContext& context, const std::string& timeline_svg) {
  const sim::World& world = *result.world;
  const sim::Scenario& scenario = *context.scenario;
  Axis axis;
  axis.origin_us = result.create_done.us;
  axis.end_ms = std::max<int64_t>(1, axis.ms(result.end.us));
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>" << escape(scenario.name)
       << " (seed " << result.seed << ")</title>\n<style>\nbody{font-family:sans-serif;margin:1.5em;max-width:"
       << kPlotWidth + 40 << "px}\ntable{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;"
       << "padding:2px 6px;font-size:13px;text-align:left}\n.pass{color:#080}.fail{color:#c00;font-weight:bold}\n"
       << "#timeline svg{max-width:100%;height:auto}\n</style></head><body>\n";
  html << "<h1>" << escape(scenario.name) << " <small>seed " << result.seed << "</small></h1>\n";
  html << "<p id=\"verdict\" class=\"" << (result.passed() ? "pass\">PASS" : "fail\">FAIL") << "</p>\n";
  html << "<p>" << escape(scenario.description) << "</p>\n";
  html << "<p>Times are seconds after the cluster was ready (scenario time 0); the run ends at "
       << seconds(axis.end_ms) << ". Trace sha256 <code>" << const_cast<sim::World&>(world).trace().sha256()
       << "</code>.</p>\n";

  html << cluster_section(world, scenario.cluster);
  html << "<h2>Expectations</h2>\n<table><tr><th></th><th>check</th><th>at</th><th>what was seen</th></tr>\n";
  for (const sim::ExpectationResult& e : result.expectations) {
    html << "<tr><td class=\"" << (e.passed ? "pass\">pass" : "fail\">FAIL") << "</td><td>" << escape(e.check)
         << (e.label.empty() ? "" : " (" + escape(e.label) + ")") << "</td><td>"
         << seconds(e.at_ms - axis.origin_us / 1000) << "</td><td>" << escape(e.detail) << "</td></tr>\n";
  }
  html << "</table>\n";
  for (const auto& v : world.violations()) {
    html << "<p class=\"fail\">Invariant violated: " << escape(v.invariant) << ": " << escape(v.detail) << "</p>\n";
  }
  for (const auto& error : result.action_errors) html << "<p class=\"fail\">Action error: " << escape(error) << "</p>\n";

  html << "<h2>Failovers</h2>\n" << failovers_table(world, axis);
  html << "<h2>Shards served</h2>\n<p>Green: a master in cluster_state ok serves the shard's slots; red: none "
          "does. Dashed: the timeline's actions (hover for each).</p>\n"
       << shards_plot(world, axis);
  html << "<h2>Clients</h2>\n";
  if (const sim::Workload* workload = world.workload(); workload != nullptr && workload->report().checked) {
    const sim::ClientsReport& c = workload->report().clients;
    html << "<p>Client library: <b>" << escape(c.client) << "</b>; per client " << seconds(c.error_ms_per_client)
         << " in writes that failed or never ended; longest stretch of a client without an acknowledged write "
         << seconds(c.longest_without_write_ms) << "; " << c.acked_by_replaced
         << " writes acknowledged by a node another had replaced as the slot's master.</p>\n";
    html << "<p>Writes that ended in each interval: acknowledged (green) and failed (red).</p>\n"
         << clients_plot(*workload, world, axis) << clients_table(*workload, axis);
    html << "<h2>Lost writes</h2>\n" << lost_writes_section(workload->report());
  } else {
    html << "<p>No clients in this scenario.</p>\n";
  }
  html << "<h2>Epochs and votes</h2>\n<div id=\"timeline\">\n";
  const std::string svg = svg_element(timeline_svg);
  html << (svg.empty() ? "<p>timeline.svg was not drawn (Graphviz's dot is not installed); timeline.dot has it.</p>\n" : svg);
  html << "</div>\n</body></html>\n";
  return html.str();
}

}  // namespace rcsim::tools
