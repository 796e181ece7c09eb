#pragma once
// report.html: one self-contained page per run (no scripts, no network): the verdict and expectations,
// the failover phases, which shards were served over time, the clients' acknowledged and failed writes
// over time, lost writes, and the epoch/vote timeline drawn by Graphviz.
#include <string>

#include "tools/lib/report.hpp"

namespace rcsim::tools {

// `timeline_svg`: timeline.svg's text, or empty when Graphviz's dot was not there to draw it.
std::string report_html(const sim::RunResult& result, const RunContext& context, const std::string& timeline_svg);

}  // namespace rcsim::tools
