#pragma once
// Work run in a forked child process, for `sim fuzz`, `sim sweep` and `bench`: an assertion or a
// crash there ends only the child (a found bug, not the end of the tool), and the child's memory
// peak is its own. The child hands one text back through a pipe.
#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>

namespace rcsim::tools {

class ChildProcess {
 public:
  // Forks (stdio flushed first, so nothing buffered is written twice). The child runs `work`,
  // writes what it returns and exits 0. nullopt when the pipe or the fork failed.
  static std::optional<ChildProcess> start(const std::function<std::string()>& work);
  // start, then wait for that child. `status` is its wait status.
  static std::optional<std::string> run(const std::function<std::string()>& work, int& status);

  pid_t pid() const { return pid_; }
  // All the child wrote (empty or cut short if it died first), read until it ends. Once only. A pool
  // that reaps children before reading them relies on outputs shorter than a pipe's buffer (64 KB).
  std::string take_output();

 private:
  ChildProcess(pid_t pid, int fd) : pid_(pid), fd_(fd) {}
  pid_t pid_;
  int fd_;
};

}  // namespace rcsim::tools
