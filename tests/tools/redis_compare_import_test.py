#!/usr/bin/env python3
"""tools/redis_compare boots an imported cluster on real Redis as sim boots it: scenarios/imports/nine_uneven.conf
(4 masters with 2, 2, 1 and 0 replicas, fragmented slots, configEpochs up to 10, a nofailover replica) comes up
with the file's ids, roles, slots, configEpochs and currentEpoch on every node.

RCSIM_TEST_BASE_PORT moves the cluster (default 21401). Needs redis-server (`make deps-real`); exits 77 (skipped
under CTest) without it.
"""

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))
sys.path.insert(0, str(REPO / "tests" / "tools"))

from checks import check, summary  # noqa: E402
from redis_compare import guard  # noqa: E402
from redis_compare.cluster import RealCluster  # noqa: E402
from redis_compare.resp import parse_info  # noqa: E402
from redis_compare.scenario import load_scenario  # noqa: E402

BASE_PORT = int(os.environ.get("RCSIM_TEST_BASE_PORT", "21401"))
SKIP = 77
# The file's lines by node: (id, alias, master alias, slot ranges, configEpoch shown).
EXPECTED = {
    "m1": ("d11cc3a6ecb81f05521d3a8a62c9159e1dd6bad3", None, {(0, 3000), (9000, 9499), (16000, 16383)}, 9),
    "m2": ("016265adf41b6efeb52bee9357766565b166bec7", None, {(12001, 15999)}, 10),
    "m3": ("97c1c2319decc35268ffcda11bc39b93e2477e53", None, {(3001, 6500)}, 7),
    "m4": ("75808f81d7e3dee48156348a4b89f2f1db51db84", None, {(6501, 8999), (9500, 12000)}, 3),
    "r1": ("a2906131ef1ee5939e7a8b4c3b3df8399a52b29d", "m4", set(), 3),
    "r2": ("1f11a8f18f10be27222880342907ddd18db8d2fa", "m3", set(), 7),
    "r3": ("a2b7be903fe93fb95aaf1d75fc0f5f140d4473d5", "m1", set(), 9),
    "r4": ("512c12146cc453661d2636777ae9094bd18e901b", "m1", set(), 9),
    "r5": ("f51265a4da9dfc40158fd9ff9f824595c001f033", "m3", set(), 7),
}


def main():
    if not shutil.which("redis-server"):
        print("skipped: needs redis-server (make deps-real)")
        return SKIP
    workdir = tempfile.mkdtemp(prefix="redis-compare-import-test-")
    scenario = Path(workdir) / "imported.json"
    scenario.write_text(json.dumps({"name": "imported", "run_until": "1s",
                                    "cluster": {"from_cluster_nodes": str(REPO / "scenarios/imports/nine_uneven.conf")}}))
    guard.start()
    sc = load_scenario(str(scenario))
    check("aliases", sc.aliases, list(EXPECTED))
    check("r1's master", sc.master_alias_of("r1"), "m4")
    cluster = RealCluster(sc, workdir, False, BASE_PORT)
    try:
        cluster.create()
        views = cluster.poll()
        for alias, (node_id, master, slots, epoch) in EXPECTED.items():
            view = views[alias]
            check(f"{alias}'s id", view.myself, node_id)
            check(f"{alias} is a master", view.own.is_master, master is None)
            if master is not None:
                check(f"{alias}'s master", view.own.master_id, EXPECTED[master][0])
            check(f"{alias}'s slots", set(view.own.slots), slots)
            check(f"{alias}'s configEpoch", view.own.config_epoch, epoch)
            check(f"{alias}'s currentEpoch", int(view.info["cluster_current_epoch"]), 10)
            check(f"{alias} knows every node", len(view.lines), 9)
        check("r1 is nofailover", "nofailover" in views["r1"].own.flags, True)
        check("r2 is not", "nofailover" in views["r2"].own.flags, False)
        repl = parse_info(cluster.conns["r3"].call("INFO", "replication"))
        check("r3 replicates m1's port", int(repl.get("master_port", 0)), cluster.ports["m1"])
    finally:
        cluster.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)
    check_down_nodes()
    return summary()


DOWN_TEXT = """\
1111111111111111111111111111111111111111 10.0.0.1:6379@16379 myself,master - 0 0 1 connected 0-5460
2222222222222222222222222222222222222222 10.0.0.2:6379@16379 master - 0 1 2 connected 5461-10922
3333333333333333333333333333333333333333 10.0.0.3:6379@16379 master - 0 1 3 connected 10923-16383
4444444444444444444444444444444444444444 10.0.0.4:6379@16379 master,fail - 1 1 0 disconnected
5555555555555555555555555555555555555555 10.0.0.5:6379@16379 slave 1111111111111111111111111111111111111111 0 1 1 connected
6666666666666666666666666666666666666666 10.0.0.6:6379@16379 slave,fail? 2222222222222222222222222222222222222222 1 1 2 connected
"""


def check_down_nodes():
    """The nodes a file flags fail / fail? are not started; the others boot ok, seeing them flagged."""
    workdir = tempfile.mkdtemp(prefix="redis-compare-import-test-")
    scenario = Path(workdir) / "down.json"
    scenario.write_text(json.dumps({"name": "down", "run_until": "1s", "cluster": {"cluster_nodes": DOWN_TEXT}}))
    sc = load_scenario(str(scenario))
    check("boots down", sc.boots_down, {"m4", "r2"})
    cluster = RealCluster(sc, workdir, False, BASE_PORT + 20)
    try:
        cluster.create()
        views = cluster.poll()
        check("m4 and r2 not running", sorted(set(sc.aliases) - set(views)), ["m4", "r2"])
        check("m1 sees m4 failed", "fail" in views["m1"].lines["4444444444444444444444444444444444444444"].flags, True)
        check("the others are ok", all(v.info.get("cluster_state") == "ok" for v in views.values()), True)
    finally:
        cluster.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
