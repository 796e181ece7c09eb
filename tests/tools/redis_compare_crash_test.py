#!/usr/bin/env python3
"""A real node that tools/redis-compare crashes (kill -9) comes back with every write to nodes.conf, as the
page cache keeps them; one whose machine loses power (power_loss) comes back with nodes.conf as last fsynced
(tools/synced_disk.cpp keeps that copy), as the simulator's disk does.

Needs redis-server and redis-cli (`make deps-real`) and the built shim (RCSIM_SYNCED_DISK, set by CTest);
exits 77 (skipped under CTest) without them.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))
from redis_compare import guard  # noqa: E402
from redis_compare.cluster import RealCluster, synced_disk_path  # noqa: E402

PORT = 21401  # away from the default 20001.. and the other tests' 21201..
SKIP = 77


def cli(*args):
    r = subprocess.run(["redis-cli", "-p", str(PORT), *args], capture_output=True, text=True, timeout=10)
    return r.stdout.strip()


def wait_up():
    deadline = time.monotonic() + 10
    while cli("PING") != "PONG":
        if time.monotonic() > deadline:
            raise AssertionError("redis-server did not answer PING within 10 s")
        time.sleep(0.05)


def myself_line():
    return next(line for line in cli("CLUSTER", "NODES").splitlines() if "myself" in line)


def main():
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        print("skipped: redis-server/redis-cli not installed (make deps-real)")
        return SKIP
    if not os.path.exists(synced_disk_path()):
        print(f"skipped: {synced_disk_path()} not built")
        return SKIP
    guard.start()
    workdir = tempfile.mkdtemp(prefix="redis-compare-crash-test-")
    cluster = RealCluster(SimpleNamespace(aliases=["m1"], members=["m1"], config={}, imported=None, boots_down=set()), workdir, False, PORT)
    conf = Path(workdir) / f"nodes-{PORT}.conf"
    try:
        cluster.start("m1")
        wait_up()
        node_id = myself_line().split()[0]
        assert cli("CLUSTER", "ADDSLOTS", "1", "2", "3") == "OK"
        assert cli("CLUSTER", "BUMPEPOCH").startswith("BUMPED")  # saved with fsync: slots 1-3, epoch 1
        assert cli("CLUSTER", "ADDSLOTS", "4") == "OK"            # saved without fsync
        time.sleep(0.2)
        assert " 1-4" in conf.read_text(), conf.read_text()
        assert " 1-3" in Path(str(conf) + ".synced").read_text()

        cluster.kill("m1")  # crash: kill -9
        assert " 1-4" in conf.read_text(), conf.read_text()
        cluster.start("m1")
        wait_up()
        assert myself_line().split()[8:] == ["1-4"]

        cluster.power_loss("m1")
        assert " 1-3" in conf.read_text() and " 1-4" not in conf.read_text(), conf.read_text()
        cluster.start("m1")
        wait_up()
        line = myself_line().split()
        assert line[0] == node_id, (line, node_id)   # same node: its nodes.conf survived
        assert line[6] == "1" and line[8:] == ["1-3"], line  # configEpoch 1, slot 4 lost with the page cache

        cluster.kill("m1")
        cluster.lose_disk("m1")
        assert not conf.exists() and not Path(str(conf) + ".synced").exists()
        cluster.start("m1")
        wait_up()
        assert myself_line().split()[0] != node_id  # a new, empty node
    finally:
        cluster.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)
    print("ok: kill -9 keeps every write, a power loss the last fsynced nodes.conf; lose_disk removes both")
    return 0


if __name__ == "__main__":
    sys.exit(main())
