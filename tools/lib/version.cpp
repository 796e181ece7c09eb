// rcsim_tools: code shared by the `sim` CLI and the benchmark.
namespace rcsim::tools {
const char* version() { return "rcsim 0.1"; }
}  // namespace rcsim::tools
