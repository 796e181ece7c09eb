#pragma once
// `sim fuzz`: many seeds in parallel processes, failures written as replayable scenario files and
// shrunk; shards for farming a seed range out; merging shard results.
namespace rcsim::tools {

int fuzz_main(int argc, char** argv);  // argv[0] is "fuzz"

}  // namespace rcsim::tools
