#!/usr/bin/env python3
"""tools/redis_compare/expect.py judges a state as `sim` does: the state `sim` ends a run in (its nodes.txt,
every node's CLUSTER NODES, and summary.json's cluster_state, currentEpoch and up/paused/crashed) is given
to the real side's judge as one poll round, and every end-of-run expectation that depends on that state
alone must get sim's verdict and detail, word for word. (failover, no_failover and failovers_count need the
run's history, lost_writes the writes: the real trials cover them.)

Needs only build/sim (RCSIM_SIM_BINARY under CTest); no Redis.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

from redis_compare.record import Recorder  # noqa: E402
from redis_compare.resp import View, parse_cluster_nodes  # noqa: E402
from redis_compare.scenario import load_scenario  # noqa: E402
from redis_compare.trial import TrialRunner  # noqa: E402

SIM = os.environ.get("RCSIM_SIM_BINARY", str(REPO / "build" / "sim"))
HISTORY_CHECKS = {"failover", "no_failover", "failovers_count", "lost_writes"}

# Ends in a split brain (m1 cut off, r1 promoted by the majority) with m3 crashed and r3 paused: checks
# that pass and fail, selectors, seen_by, lacks, node lists and converged with its problems.
SPLIT = {
    "name": "expect_state_split",
    "cluster": {"masters": 3, "replicas_per_master": 1, "config": {"cluster-node-timeout": 2000}},
    "timeline": [{"at": "5s", "partition": [["m1"], ["m2", "m3", "r1", "r2", "r3"]]},
                 {"at": "12s", "crash": "m3"}, {"at": "12s", "pause": "r3"}],
    "run_until": "16s",
    "expect": [
        {"converged": True},
        {"cluster_state": {"is": "ok"}},
        {"cluster_state": {"nodes": "all", "is": "fail"}},
        {"cluster_state": {"nodes": ["m1", {"replica_of": "m3"}], "is": "fail"}},
        {"role": {"node": "m1", "is": "master"}},
        {"role": {"node": {"replica_of": "m2"}, "is": "replica", "of": "m2"}},
        {"role": {"node": "m3", "is": "master"}},
        {"slot_owner": {"slot": 0, "is": "r1"}},
        {"slot_owner": {"slot": 0, "is": "r1", "seen_by": "r2"}},
        {"slot_owner": {"slot": 16383, "is": {"master_of_slot": 16383}}},
        {"current_epoch": {"is": 7}},
        {"current_epoch": {"node": "m1", "max": 6}},
        {"config_epoch": {"node": {"master_of_slot": 0}, "min": 7}},
        {"config_epoch": {"node": "m3", "is": 3}},
        {"flag": {"node": "m1", "has": "fail"}},
        {"flag": {"node": "m3", "lacks": "fail?"}},
        {"flag": {"seen_by": "r1", "node": "r1", "has": "myself"}},
        {"flag": {"seen_by": "m2", "node": "r2", "has": "slave"}},
    ],
}


def sim_end_state(scenario_path, out):
    subprocess.run([SIM, "--scenario", scenario_path, "--out", out, "--quiet"], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    texts, alias = {}, None
    with open(os.path.join(out, "nodes.txt")) as f:
        for line in f:
            if line.startswith("# "):
                alias = line.split()[1]
                texts[alias] = ""
            elif line.strip():
                texts[alias] += line
    views = {}
    for a, text in texts.items():
        node = summary["nodes"][a]
        if node["state"] == "crashed":
            continue
        myself, lines = parse_cluster_nodes(text)
        views[a] = View(myself, lines, {"cluster_state": node["cluster_state"],
                                        "cluster_current_epoch": str(node["current_epoch"])})
    return summary, views


class EndState:
    """The part of RealCluster the judge reads, holding sim's final up/paused/crashed states."""

    def __init__(self, sc, states):
        self.sc = sc
        self.up = {a for a, s in states.items() if s != "crashed"}
        self.paused = {a for a, s in states.items() if s == "paused"}
        self.dir = tempfile.gettempdir()
        self.ports = {a: 0 for a in sc.aliases}  # no logs: no data-age refusal to read

    def is_up(self, alias):
        return alias in self.up

    def pollable(self):
        return [a for a in self.sc.aliases if a in self.up and a not in self.paused]


def check(scenario_path, out):
    sc = load_scenario(scenario_path)
    summary, views = sim_end_state(scenario_path, out)
    cluster = EndState(sc, {a: n["state"] for a, n in summary["nodes"].items()})
    recorder = Recorder(10_000)
    recorder.alias_of_id = {v.myself: a for a, v in views.items()}
    recorder.latest = dict(views)
    # A crashed node was polled before its crash on the real side: its id and last line come from a peer's
    # view (sim's ports are 30001.. in alias order).
    for i, a in enumerate(sc.aliases):
        line = next((l for v in views.values() for l in v.lines.values() if l.port == 30001 + i), None)
        if a not in views and line is not None:
            recorder.alias_of_id[line.id] = a
            recorder.latest[a] = View(line.id, {line.id: line}, {})
    runner = TrialRunner(cluster, recorder)
    runner.judge.observe(sc.run_until_ms, {a: v for a, v in views.items() if a in cluster.pollable()})
    judged = iter(runner.judge.results)
    failures, compared = [], 0
    for sim_result in summary["expectations"]:
        if sim_result["check"] == "lost_writes":
            continue
        real_result = next(judged)
        if sim_result["check"] in HISTORY_CHECKS or sim_result["at_ms"] != sc.run_until_ms:
            continue
        compared += 1
        if (real_result["passed"], real_result["detail"]) != (sim_result["passed"], sim_result["detail"]):
            failures.append(f"{scenario_path}: {sim_result['check']}: sim {sim_result['passed']} "
                            f"{sim_result['detail']!r}, real side {real_result['passed']} {real_result['detail']!r}")
    return compared, failures


def main():
    if not os.access(SIM, os.X_OK):
        print(f"no sim binary at {SIM}")
        return 77
    with tempfile.TemporaryDirectory(prefix="expect-test-") as tmp:
        split = os.path.join(tmp, "split.json")
        with open(split, "w") as f:
            json.dump(SPLIT, f)
        paths = [split] + [str(REPO / "scenarios" / f"{n}.json") for n in
                           ("master_crash", "split_brain", "stale_replica", "replica_migration", "epoch_collision")]
        total, failures = 0, []
        for i, path in enumerate(paths):
            compared, failed = check(path, os.path.join(tmp, f"out{i}"))
            total += compared
            failures += failed
    for line in failures:
        print(line)
    print(f"{total - len(failures)}/{total} end-of-run expectations judged as sim judges them")
    return 1 if failures or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
