#pragma once
// Runs the built `sim` binary as a user would and captures what it prints (stdout and stderr) and
// its exit code: for the end-to-end tests of the CLI and its subcommands.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

#include <catch2/catch.hpp>

namespace rcsim::test {

struct SimResult {
  int exit_code = -1;
  std::string output;
};

// `environment` is prepended to the command line, e.g. "PATH=/nowhere".
inline SimResult run_sim(const std::string& arguments, const std::string& environment = "") {
  const std::string command = environment + " " + std::string(RCSIM_SIM_BINARY) + " " + arguments + " 2>&1";
  SimResult result;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buffer{};
  while (fgets(buffer.data(), buffer.size(), pipe) != nullptr) result.output += buffer.data();
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// A file of the source tree (scenarios, test data) by its path from the repository root.
inline std::string source(const std::string& relative) { return std::string(RCSIM_SOURCE_DIR) + "/" + relative; }

}  // namespace rcsim::test
