// LD_PRELOAD shim for tools/redis-compare: lets a real redis-server lose power the way the simulator's
// nodes do (sim/host.hpp, Disk::lose_unsynced: only what was fsynced survives). After every successful
// fsync() of the cluster config file (nodes-<port>.conf, which Redis 7.0's clusterSaveConfig syncs with
// fsync()), the file's bytes are copied to nodes-<port>.conf.synced (written beside it, then renamed
// over, so the copy is never torn). The tool's power_loss puts the .synced copy back in place of
// nodes-<port>.conf (or removes nodes-<port>.conf when nothing was ever synced) before the node boots
// again; a plain crash (kill -9) leaves nodes.conf as the page cache has it. Nothing else in the
// process changes.
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace {

using FsyncFn = int (*)(int);

FsyncFn real_fsync() {
  static FsyncFn fn = reinterpret_cast<FsyncFn>(dlsym(RTLD_NEXT, "fsync"));
  return fn;
}

bool is_cluster_config(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  return name.starts_with("nodes-") && name.ends_with(".conf");
}

bool copy_synced(int fd, const std::string& path) {
  const std::string tmp = path + ".synced.tmp";
  const int out = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) return false;
  char buf[65536];
  off_t offset = 0;
  bool ok = true;
  for (;;) {
    const ssize_t n = pread(fd, buf, sizeof buf, offset);
    if (n < 0) { ok = false; break; }
    if (n == 0) break;
    if (write(out, buf, static_cast<size_t>(n)) != n) { ok = false; break; }
    offset += n;
  }
  ok = close(out) == 0 && ok;
  return ok && rename(tmp.c_str(), (path + ".synced").c_str()) == 0;
}

}  // namespace

extern "C" int fsync(int fd) {
  const int result = real_fsync()(fd);
  if (result != 0) return result;
  char link[64];
  char target[4096];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t len = readlink(link, target, sizeof target - 1);
  if (len <= 0) return result;
  target[len] = '\0';
  const std::string path(target);
  // nodes.conf opened O_WRONLY by Redis: reopen it to read the bytes just synced.
  if (is_cluster_config(path)) {
    const int in = open(target, O_RDONLY | O_CLOEXEC);
    if (in >= 0) {
      if (!copy_synced(in, path)) std::fprintf(stderr, "synced_disk: could not copy %s\n", target);
      close(in);
    }
  }
  return result;
}
