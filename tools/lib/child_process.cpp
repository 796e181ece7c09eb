#include "tools/lib/child_process.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <iostream>

namespace rcsim::tools {

std::optional<ChildProcess> ChildProcess::start(const std::function<std::string()>& work) {
  int fds[2];
  if (pipe(fds) != 0) return std::nullopt;
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return std::nullopt;
  }
  if (pid == 0) {
    close(fds[0]);
    const std::string text = work();
    for (size_t written = 0; written < text.size();) {
      const ssize_t n = write(fds[1], text.data() + written, text.size() - written);
      if (n <= 0) _exit(3);
      written += static_cast<size_t>(n);
    }
    std::fflush(nullptr);
    _exit(0);
  }
  close(fds[1]);
  return ChildProcess{pid, fds[0]};
}

std::optional<std::string> ChildProcess::run(const std::function<std::string()>& work, int& status) {
  std::optional<ChildProcess> child = start(work);
  if (!child) return std::nullopt;
  std::string output = child->take_output();  // until the child ends: no pipe-buffer limit here
  status = 0;
  pid_t reaped;
  do {
    reaped = waitpid(child->pid(), &status, 0);
  } while (reaped < 0 && errno == EINTR);
  return output;
}

std::string ChildProcess::take_output() {
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = read(fd_, buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<size_t>(n));
  close(fd_);
  fd_ = -1;
  return text;
}

}  // namespace rcsim::tools
