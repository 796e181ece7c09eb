#!/usr/bin/env python3
"""tools/redis_compare/shaping.py really delays and drops a link's packets: the round trip of a PING from m1's
source address to r1 (the link m1->r1 and back) on a real wait_writes cluster (m1<->r1 2 ms each way),
before and after `link` changes; afterwards no netshape and no chain are left.

RCSIM_TEST_BASE_PORT moves the cluster (default 21301). Needs root, redis-server, redis-cli, iptables and build/netshape (`make deps-real build`); exits 77 (skipped
under CTest) without them.
"""

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

from redis_compare import guard  # noqa: E402
from redis_compare.cluster import RealCluster  # noqa: E402
from redis_compare.cuts import source_ip  # noqa: E402
from redis_compare.scenario import load_scenario  # noqa: E402
from redis_compare.shaping import netshape_path  # noqa: E402

BASE_PORT = int(os.environ.get("RCSIM_TEST_BASE_PORT", "21301"))  # default away from 20001.. and the cleanup test's
PINGS = 40
SKIP = 77


def ping_rtts_ms(from_port, to_port, count=PINGS):
    """Round trips of PING over a connection made from the source address of the node at from_port: the
    request travels the link from -> to, the reply to -> from."""
    with socket.socket() as s:
        s.bind((source_ip(from_port), 0))
        s.connect(("127.0.0.1", to_port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rtts = []
        for _ in range(count):
            start = time.perf_counter()
            s.sendall(b"PING\r\n")
            assert s.recv(64) == b"+PONG\r\n"
            rtts.append((time.perf_counter() - start) * 1000)
    return rtts


def measure(cluster, what, a, b, low_ms, high_ms, count=PINGS):
    rtts = sorted(ping_rtts_ms(cluster.ports[a], cluster.ports[b], count))
    median = statistics.median(rtts)
    print(f"{what}: {a}->{b} RTT median {median:.3f} ms, min {rtts[0]:.3f}, max {rtts[-1]:.3f} (n={len(rtts)})")
    assert low_ms <= median <= high_ms, f"{what}: median {median:.3f} ms not within [{low_ms}, {high_ms}]"
    return rtts


def chain_exists(name):
    return subprocess.run(["iptables", "-w", "-S", name], capture_output=True).returncode == 0


def main():
    missing = [p for p in ("redis-server", "redis-cli", "iptables") if not shutil.which(p)]
    if os.geteuid() != 0 or missing or not os.access(netshape_path(), os.X_OK):
        print(f"skipped: needs root, {', '.join(missing) or 'redis'} and {netshape_path()} (make deps-real build)")
        return SKIP
    guard.start()
    sc = load_scenario(str(REPO / "scenarios" / "wait_writes.json"))
    workdir = tempfile.mkdtemp(prefix="redis-compare-shaping-test-")
    cluster = RealCluster(sc, workdir, True, BASE_PORT)
    try:
        cluster.enable_shaping()
        cluster.create()
        cluster.shaping.start_scenario()
        measure(cluster, "links entry m1<->r1 2ms", "m1", "r1", 3.9, 5.5)
        measure(cluster, "native link", "m2", "r2", 0.0, 0.5)
        cluster.shaping.change([("m1", "r1"), ("r1", "m1")], {"latency": "50us"})  # the default: native again
        measure(cluster, "link m1<->r1 back to 50us", "m1", "r1", 0.0, 0.5)
        cluster.shaping.change([("m2", "r2")], {"latency": "1ms", "jitter": "1ms", "shape": "uniform"})
        rtts = measure(cluster, "link m2->r2 1ms + U[0,1ms], r2->m2 native", "m2", "r2", 1.3, 2.3, 200)
        assert rtts[0] >= 1.0, f"a PING came back in {rtts[0]:.3f} ms, under the link's 1 ms latency"
        cluster.shaping.change([("m2", "r2")], {"loss": 0.3})  # jitter etc. kept
        rtts = ping_rtts_ms(cluster.ports["m2"], cluster.ports["r2"], 20)
        retransmitted = sum(r >= 200 for r in rtts)  # Linux's minimum RTO
        print(f"loss 30% m2->r2: {retransmitted} of 20 PINGs took >= 200 ms (a retransmission), max {max(rtts):.0f} ms")
        assert retransmitted >= 1, "no PING waited for a retransmission"
        cluster.shaping.check()
    finally:
        cluster.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)
    assert not chain_exists(f"RCSIM_SHAPE_{BASE_PORT}"), "the shaping chain is left"
    assert subprocess.run(["pgrep", "-f", f"netshape --queue {BASE_PORT}"], capture_output=True).returncode != 0
    print("no chain, no netshape left")
    return 0


if __name__ == "__main__":
    sys.exit(main())
