#!/usr/bin/env python3
"""The pieces of tools/redis-compare and tools/compare-all that need no Redis: reading a sim trace and
the recovery records from it, redis-cli's slot split on the real side, the matrix's summary counts,
merging real trials from several --real-json files, and the SYN schedule check of the real side."""

import importlib.machinery
import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

from redis_compare import cuts  # noqa: E402
from redis_compare.cluster import redis_cli_slot_range  # noqa: E402
from redis_compare.scenario import load_scenario  # noqa: E402
from redis_compare.common import CompareError  # noqa: E402
from redis_compare.record import heartbeat_bytes  # noqa: E402
from redis_compare.server import profile_of_version_line, release_name  # noqa: E402
from redis_compare.sim_side import read_trace, sim_recovery  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checks import check, summary  # noqa: E402



def load_script(name):
    loader = importlib.machinery.SourceFileLoader(name.replace("-", "_"), str(REPO / "tools" / name))
    spec = importlib.util.spec_from_loader(name.replace("-", "_"), loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_sim_recovery():
    # Created at 2 s of simulated time; scenario time = t_us - 2 s. m1 is cut off at 10 s, r1 promoted,
    # the heal at 20 s; m1 turns replica 150 ms later, and the last node is ok at 20.4 s. The heal sim traces
    # at run_until (30 s) is the end of the run, not an action.
    origin_us = 2_000_000
    at = lambda s: origin_us + int(s * 1_000_000)
    events = [
        {"t_us": 0, "ev": "boot", "node": "m1"}, {"t_us": 0, "ev": "boot", "node": "m2"},
        {"t_us": 0, "ev": "boot", "node": "r1"},
        {"t_us": 1_900_000, "ev": "state_ok", "node": "m1"}, {"t_us": 1_900_000, "ev": "state_ok", "node": "m2"},
        {"t_us": 1_900_000, "ev": "state_ok", "node": "r1"},
        {"t_us": at(10), "ev": "partition"},
        {"t_us": at(12), "ev": "state_fail", "node": "m1"},
        {"t_us": at(12), "ev": "state_fail", "node": "m2"},
        {"t_us": at(13), "ev": "promoted", "node": "r1"},
        {"t_us": at(13), "ev": "state_ok", "node": "m2"},
        {"t_us": at(14), "ev": "recv", "node": "m2", "from": "r1", "type": "ping"},
        {"t_us": at(20), "ev": "heal"},
        {"t_us": at(20.15), "ev": "replicating", "node": "m1", "about": "r1"},
        {"t_us": at(20.4), "ev": "state_ok", "node": "m1"},
        {"t_us": at(30), "ev": "heal"},
    ]
    summary = {"cluster_created_at_ms": origin_us // 1000, "nodes": {"m1": {}, "m2": {}, "r1": {}}}
    got = sim_recovery(summary, events, 30_000, "m1")
    check("recovery records", got, {"recovery_ms": 20_000, "all_ok_ms": 20_400, "demoted_ms": 20_150})
    # A crashed node is not live: with m1 down from 19 s, every live node is ok at the heal itself.
    crashed = events[:12] + [{"t_us": at(19), "ev": "crash", "node": "m1"}] + events[12:13]
    got = sim_recovery(summary, crashed, 30_000, "m1")
    check("recovery with m1 down", got, {"recovery_ms": 20_000, "all_ok_ms": 20_000, "demoted_ms": -1})


def test_read_trace():
    lines = ['{"t_us":1,"ev":"recv","node":"m1","from":"m2","type":"ping","bytes":2256}',
             '{"t_us":2,"ev":"recv","node":"m2","from":"m1","type":"update","bytes":2256}',
             '{"t_us":3,"ev":"heal"}',
             '{"t_us":4,"ev":"recv","node":"m2","from":"m1","type":"pong","bytes":2256}']
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl") as trace:
        trace.write("\n".join(lines) + "\n")
        trace.flush()
        pings, events = read_trace(trace.name)
    check("ping/pong records", [r["t_us"] for r in pings], [1, 4])
    check("other records", events, [{"t_us": 3, "ev": "heal"}])


def test_slot_split():
    # A real `redis-cli --cluster create` of 3 masters (CLUSTER NODES of a make compare cluster).
    check("3 masters", [redis_cli_slot_range(i, 3) for i in range(3)], [(0, 5460), (5461, 10922), (10923, 16383)])
    # redis-cli's float cursor, as computed by its own C code for 7 and 50 masters.
    check("7 masters", [redis_cli_slot_range(i, 7) for i in (0, 2, 6)], [(0, 2340), (4681, 7021), (14043, 16383)])
    check("50 masters", [redis_cli_slot_range(i, 50) for i in (0, 2, 49)], [(0, 327), (655, 982), (16056, 16383)])


def test_matrix_summary():
    compare_all = load_script("compare-all")
    ran = {"scenario": "scenarios/a.json", "trials": 3, "seeds": 20,
           "expectation_rows": [
               {"expectation": "failover #0", "at": "end", "real": {"passed": 3, "n": 3},
                "sim": {"passed": 20, "n": 20}, "verdict": "agree"},
               {"expectation": "lost_writes #1", "at": "end", "real": {"passed": 0, "n": 3},
                "sim": {"passed": 19, "n": 20}, "verdict": "DIFFERS"}],
           "rows": [
               {"quantity": "promoted (s after fault)", "real": {"median": 4, "min": 3, "max": 5, "n": 3},
                "sim": {"median": 4.2, "min": 4, "max": 5, "n": 20}, "ratio": 1.05, "verdict": "ok"},
               {"quantity": "lost writes", "real": {"median": 100, "min": 90, "max": 110, "n": 3},
                "sim": {"median": 200, "min": 190, "max": 210, "n": 20}, "ratio": 2, "verdict": "OFF"},
               {"quantity": "ping received /node/s, first 10 s", "real": None, "sim": None, "ratio": None,
                "verdict": "n/a"},
               {"quantity": "winner configEpoch", "real": {"median": 5, "min": 5, "max": 5, "n": 1},
                "sim": {"median": 8, "min": 8, "max": 8, "n": 1}, "ratio": 1.6, "verdict": "rare"}]}
    refused = {"scenario": "scenarios/b.json", "status": "refused", "reason": "network chaos ..."}
    erratum = {"scenario": "scenarios/errata/noaddr_master_reachable.json", "trials": 5, "seeds": 20, "rows": [],
               "expectation_rows": [
                   {"expectation": "the peers still count it reachable", "at": "end", "real": {"passed": 2, "n": 5},
                    "sim": {"passed": 20, "n": 20}, "verdict": "DIFFERS"}]}
    text = compare_all.matrix([ran, refused], [erratum])
    for line in ("- scenarios run on real Redis: 1 of 2 (not run: scenarios/b.json (refused))",
                 "- expectation verdicts agreeing: 1 of 2 (50%; target ≥ 95%)",
                 "- timing, loss and rate rows within tolerance: 1 of 2",
                 "| scenarios/a.json | 3 trials | 1/2 | 1/2 |",
                 "| scenarios/b.json | refused | - | - |",
                 "| lost_writes #1 | end | 0/3 | 19/20 | DIFFERS |",
                 "| NOADDR masters never time out and count as reachable | noaddr_master_reachable | "
                 "the peers still count it reachable | 2/5 | 20/20 | confirmed |",
                 "| two replicas win the same epoch | two_winners_one_epoch | r2 won epoch 7 too, with stale votes | "
                 "- | - | not run |"):
        check(f"matrix has {line!r}", line in text.splitlines(), True)


def test_rare_rows():
    """A quantity that exists in fewer than half of one side's runs is shown as "rare", not judged."""
    from redis_compare.report import compare_rows
    base = {"fault_ms": 0, "recovery_ms": -1, "first_pfail_ms": -1, "fail_ms": -1, "promoted_ms": -1,
            "converged_ms": -1, "demoted_ms": -1, "all_ok_ms": -1, "epoch": None, "new_master": None,
            "current_epoch_before": None, "current_epoch_after": None, "rates": {}, "steady_rates": {}}
    real = [dict(base, promoted_ms=500, new_master="r2", epoch=5)] * 2 + [dict(base)] * 3
    sim = [dict(base, promoted_ms=6300, new_master="r1", epoch=8)] + [dict(base)] * 299
    rows = {r["quantity"]: r for r in compare_rows(real, sim)}
    check("an event in 2 of 5 real runs and 1 of 300 sim seeds", rows["promoted (s after fault)"]["verdict"], "rare")
    sim = [dict(base, promoted_ms=600, new_master="r2", epoch=5)] * 200 + [dict(base)] * 100
    rows = {r["quantity"]: r for r in compare_rows([dict(base, promoted_ms=500, new_master="r2", epoch=5)] * 3, sim)}
    check("in every real run and 2 of 3 sim seeds: judged", rows["promoted (s after fault)"]["verdict"], "OFF")


def test_node_limit():
    """The real side runs every node on this machine: a scenario above --max-real-nodes is refused, named."""
    from redis_compare.trial import real_side_problem
    sim = os.environ.get("RCSIM_SIM_BINARY", str(REPO / "build" / "sim"))
    big = load_scenario(str(REPO / "scenarios" / "large" / "master_crash_1000.json"), sim)
    check("1000 nodes refused", (real_side_problem(big) or "").startswith("1000 nodes: "), True)
    check("1000 nodes with a higher limit", real_side_problem(big, max_nodes=1000), None)
    check("100 nodes run", real_side_problem(load_scenario(str(REPO / "scenarios" / "large" / "idle_100.json"), sim)),
          None)


def test_host_cpu_ticks():
    """A trial records how busy the machine was: busy ticks are part of all ticks, and both only grow."""
    from redis_compare.trial import host_cpu_ticks
    busy_before, total_before = host_cpu_ticks()
    sum(i * i for i in range(200000))  # some work, so the counters move
    busy_after, total_after = host_cpu_ticks()
    check("busy within total", 0 <= busy_before <= total_before and 0 <= busy_after <= total_after, True)
    check("counters never go back", busy_after >= busy_before and total_after >= total_before, True)


def test_real_json_merge():
    # Trials added by a later run (--first-trial) are merged by giving --real-json once per file.
    compare = load_script("redis-compare")
    with tempfile.TemporaryDirectory() as tmp:
        def stored(name, scenario, trials, set_=None):
            path = Path(tmp) / name
            path.write_text(json.dumps({"scenario": scenario, "set": set_ or {},
                                        "real": [{"trial": t} for t in trials]}))
            return str(path)
        first = stored("a.json", "scenarios/split_brain.json", [1, 2, 3])
        added = stored("b.json", "scenarios/split_brain.json", [16, 17])
        other = stored("c.json", "scenarios/master_crash.json", [1])
        otherset = stored("d.json", "scenarios/split_brain.json", [1], {"cluster-node-timeout": "5000"})
        args = compare.parse_args(["--real-json", first, "--real-json", added])
        real = compare.load_real_jsons(args.real_json, args)
        check("merged trials, in order", [r["trial"] for r in real], [1, 2, 3, 16, 17])
        check("trials counts every file's", args.trials, 5)
        check("scenario from the first file", args.scenario.endswith("scenarios/split_brain.json"), True)
        for bad, says in ((other, "holds trials of scenarios/master_crash.json"), (otherset, "was made with --set")):
            args = compare.parse_args(["--real-json", first, "--real-json", bad])
            try:
                compare.load_real_jsons(args.real_json, args)
                check(f"{bad} refused", "no error", says)
            except compare.CompareError as e:
                check(f"{bad} refused: {e}", says in str(e), True)
    args = compare.parse_args(["--scenario", "scenarios/split_brain.json", "--trials", "10", "--first-trial", "16"])
    check("--first-trial", (args.first_trial, args.trials), (16, 10))


def test_syn_schedule():
    """The real side's kernel and the scenario's SYN schedule (network.tcp_syn_linear_timeouts): a scenario
    that sets it needs this kernel to match; one that leaves it to the hosts runs anywhere, its sim side
    told the real kernel's."""
    compare = load_script("redis-compare")
    sim = os.environ.get("RCSIM_SIM_BINARY", str(REPO / "build" / "sim"))
    with tempfile.TemporaryDirectory() as tmp:
        sysctl = Path(tmp) / "tcp_syn_linear_timeouts"
        saved = cuts.SYN_LINEAR_TIMEOUTS_SYSCTL
        cuts.SYN_LINEAR_TIMEOUTS_SYSCTL = str(sysctl)
        pinned = Path(tmp) / "pinned.json"
        doc = json.loads((REPO / "scenarios" / "split_brain.json").read_text())
        doc["network"] = {"tcp_syn_linear_timeouts": 0}
        pinned.write_text(json.dumps(doc))
        left = load_scenario(str(REPO / "scenarios" / "split_brain.json"), sim)
        pinned_sc = load_scenario(str(pinned), sim)
        try:
            sysctl.write_text("4\n")
            check("kernel 4, schedule left to it", cuts.syn_schedule_problem(left), None)
            says = cuts.syn_schedule_problem(pinned_sc) or ""
            check("kernel 4, scenario sets 0: refused", "tcp_syn_linear_timeouts = 4" in says, True)
            sysctl.unlink()  # a kernel before 6.5 has no such sysctl and doubles every RTO
            check("no sysctl reads as 0", cuts.host_syn_linear_timeouts(), 0)
            check("no sysctl, scenario sets 0", cuts.syn_schedule_problem(pinned_sc), None)
            check("no sysctl, schedule left to it", cuts.syn_schedule_problem(left), None)
        finally:
            cuts.SYN_LINEAR_TIMEOUTS_SYSCTL = saved
        check("stored trials without the field ran on the reference kernel", compare.real_syn_linear_timeouts([{}]), 4)
        check("stored trials' kernel", compare.real_syn_linear_timeouts([{"tcp_syn_linear_timeouts": 0}] * 2), 0)
        try:
            compare.real_syn_linear_timeouts([{"tcp_syn_linear_timeouts": 0}, {}])
            check("trials of two kernels refused", "no error", "an error")
        except compare.CompareError as e:
            check("trials of two kernels refused", "different SYN schedules" in str(e), True)
        # The sim side always runs the printed scenario on one kernel (every real node is on this one).
        default = json.loads(Path(compare.sim_scenario_for_kernel(left, 4, tmp)).read_text())["network"]
        check("sim's default kernel: its schedule, one timer wheel", (default["tcp_syn_linear_timeouts"],
              default["timer_wheel"]), (4, "shared"))
        kept = json.loads(Path(compare.sim_scenario_for_kernel(pinned_sc, 4, tmp)).read_text())["network"]
        check("a pinned schedule is kept", (kept["tcp_syn_linear_timeouts"], kept["timer_wheel"]), (0, "shared"))
        older = compare.sim_scenario_for_kernel(left, 0, tmp)
        check("an older kernel: the printed scenario with its schedule",
              json.loads(Path(older).read_text())["network"]["tcp_syn_linear_timeouts"], 0)


def test_server_versions():
    check("a Redis release's profile", profile_of_version_line("Redis server v=7.4.1 sha=00000000:1 malloc=jemalloc", "t"),
          "redis-7.4")
    check("a Valkey release's profile", profile_of_version_line("Valkey server v=8.0.1 sha=0:1", "t"), "valkey-8.0")
    check("a table's name of it", release_name("Valkey server v=8.0.1 sha=0:1"), "Valkey 8.0.1")
    for line in ("Redis server v=6.2.14 sha=0", "not a server"):
        try:
            profile_of_version_line(line, "--server X")
            check(f"{line!r} refused", False, True)
        except CompareError as e:
            check(f"{line!r} refused, naming where it came from", str(e).startswith("--server X: "), True)
    sizes = heartbeat_bytes([("ping", 2616), ("ping", 2616), ("ping", 2720), ("pong", 2512), ("pong", 2616),
                             ("fail", 2296)])
    check("the most common PING and PONG size, the smaller on a tie", sizes, {"ping": 2616, "pong": 2512})


def main():
    for test in (test_sim_recovery, test_read_trace, test_slot_split, test_matrix_summary, test_rare_rows,
                 test_node_limit, test_host_cpu_ticks, test_real_json_merge, test_syn_schedule, test_server_versions):
        test()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
