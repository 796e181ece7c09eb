"""Which server the real side runs (--server), and the simulator profile that models it."""

import re
import shutil
import subprocess

from .common import CompareError

# `redis-server --version` / `valkey-server --version` → sim's cluster.version (protocol/version.hpp).
# A release line the simulator has no profile for is refused, not compared against the wrong one.
PROFILES = {("redis", "7.0"): "redis-7.0", ("redis", "7.2"): "redis-7.2", ("redis", "7.4"): "redis-7.4",
            ("valkey", "8.0"): "valkey-8.0"}


# What --json files written before --server existed ran: the system's redis-server.
DEFAULT_VERSION_LINE = "Redis server v=7.0.15"


class Server:
    def __init__(self, path, version_line):
        self.path = path
        self.version_line = version_line  # what --version printed, kept in --json
        self.profile = profile_of_version_line(version_line, f"--server {path}")


def profile_of_version_line(line, origin):
    """The simulator profile of a `--version` line such as "Redis server v=7.2.6 sha=...". `origin` names
    where the line came from, for the error."""
    match = re.match(r"(Redis|Valkey) server v=(\d+)\.(\d+)\.\d+", line)
    if not match:
        raise CompareError(f"{origin}: version {line!r} is not a Redis or Valkey server's")
    key = (match.group(1).lower(), f"{match.group(2)}.{match.group(3)}")
    if key not in PROFILES:
        raise CompareError(f"{origin}: {line.split(' sha=')[0]} has no simulator profile "
                           f"(profiles: {', '.join(sorted(PROFILES.values()))})")
    return PROFILES[key]


def release_name(line):
    """"Redis 7.2.6" of "Redis server v=7.2.6 sha=...": how tables name a server."""
    match = re.match(r"(Redis|Valkey) server v=(\S+)", line)
    return f"{match.group(1)} {match.group(2)}" if match else line


def resolve_server(path):
    """The server binary at `path` (or on PATH), with its version read from `--version`."""
    found = shutil.which(path)
    if found is None:
        raise CompareError(f"--server {path}: no such executable")
    try:
        line = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        raise CompareError(f"--server {path}: cannot run it ({e})")
    return Server(found, line)
