#!/usr/bin/env python3
"""tools/redis-compare leaves no redis-server, packet-filter chain or temp dir behind when it is killed in the
middle of a real trial, by SIGTERM (its own cleanup) or by SIGKILL (the guardian's, tools/redis_compare/guard.py).

Needs root, redis-server, redis-cli and iptables (`make deps-real`); exits 77 (skipped under CTest) without them.
"""

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BASE_PORT = 21201  # away from the default 20001.. (100 nodes) so that a compare running by hand is not disturbed
NODES = 6          # split_brain: 3 masters + 3 replicas
CHAIN = f"RCSIM_COMPARE_{BASE_PORT}"
SKIP = 77


def our_servers():
    """pids of redis-server processes on this test's ports (redis-server sets its title to
    "redis-server HOST:PORT [cluster]")."""
    titles = {f"redis-server 127.0.0.1:{BASE_PORT + i}".encode() for i in range(NODES)}
    pids = []
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            title = Path(cmdline).read_bytes()
        except OSError:
            continue
        if title.split(b" [")[0].strip(b"\0 ") in titles:
            pids.append(int(cmdline.split("/")[2]))
    return pids


def chain_exists():
    return subprocess.run(["iptables", "-w", "-S", CHAIN], capture_output=True).returncode == 0


def temp_dirs():
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "redis-compare-*")))


def wait_for(what, predicate, timeout_s):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.1)


def kill_mid_trial(sig):
    before = temp_dirs()
    tool = subprocess.Popen([str(REPO / "tools" / "redis-compare"), "--scenario", str(REPO / "scenarios" / "split_brain.json"),
                             "--trials", "1", "--real-only", "--base-port", str(BASE_PORT)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # The chain is installed once the cluster is created: then servers, rules and a temp dir all exist.
        wait_for("the trial to start (cluster created, cuts installed)", chain_exists, 90)
        assert len(our_servers()) == NODES, f"expected {NODES} servers, found {our_servers()}"
        assert temp_dirs() - before, "no temp dir was made"
        tool.send_signal(sig)
        tool.wait(timeout=30)
    finally:
        if tool.poll() is None:
            tool.kill()
    # SIGKILL leaves the cleanup to the guardian, which notices the tool's end at once.
    wait_for(f"no server of ours after {sig.name}", lambda: not our_servers(), 15)
    wait_for(f"no chain {CHAIN} after {sig.name}", lambda: not chain_exists(), 15)
    wait_for(f"no new temp dir after {sig.name}", lambda: not (temp_dirs() - before), 15)
    rules = subprocess.run(["iptables", "-w", "-S", "INPUT"], capture_output=True, text=True).stdout
    assert CHAIN not in rules, f"INPUT still jumps to {CHAIN}:\n{rules}"
    print(f"{sig.name}: tool exited {tool.returncode}; no server, chain, INPUT rule or temp dir left")


def main():
    missing = [p for p in ("redis-server", "redis-cli", "iptables") if not shutil.which(p)]
    if os.geteuid() != 0 or missing:
        print(f"skipped: needs root and {', '.join(missing) or 'nothing else'} (make deps-real)")
        return SKIP
    for sig in (signal.SIGTERM, signal.SIGKILL):
        kill_mid_trial(sig)
    return 0


if __name__ == "__main__":
    sys.exit(main())
