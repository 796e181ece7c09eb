#pragma once
// `sim sweep`: one parameter over a list of values, several seeds each, every run in its own forked
// process; sweep.csv (one row per run), summary.csv (median, min, max per value), a gnuplot script
// and, when gnuplot is installed, the plot as SVG and PNG.
#include <string>
#include <vector>

namespace rcsim::tools {

int sweep_main(int argc, char** argv);  // argv[0] is "sweep"
// `sim ab`: the sweep over cluster.version with two profiles, and their paired differences.
int ab_main(int argc, char** argv);  // argv[0] is "ab"

// The metric columns of sweep.csv, in order (what --metric accepts).
std::vector<std::string> sweep_metric_names();

}  // namespace rcsim::tools
