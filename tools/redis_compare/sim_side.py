"""The simulator side: one `sim` run per seed, reduced to the real side's record."""

import json
import os
import subprocess
import tempfile

from . import guard
from .common import RATE_KEYS, RECOVERY_ACTIONS, STEADY_WINDOW_MS, CompareError
from .record import heartbeat_bytes, rates

def run_sim_seed(sim, scenario_path, seed, steady_window_ms, run_until_ms, overrides=()):
    with tempfile.TemporaryDirectory(prefix="redis-compare-sim-") as out:
        out_token = guard.track_dir(out)
        try:
            return _run_in(out, sim, scenario_path, seed, steady_window_ms, run_until_ms, overrides)
        finally:
            guard.untrack(out_token)  # the with block removes it


def _run_in(out, sim, scenario_path, seed, steady_window_ms, run_until_ms, overrides):
    cmd = [sim, "--scenario", scenario_path, "--seed", str(seed), "--out", out, "--quiet"]
    for name, value in overrides:
        cmd += ["--set", f"{name}={value}"]
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=3600)
    summary = os.path.join(out, "summary.json")
    # sim exits non-zero when an expectation fails; the timings are still worth comparing.
    if not os.path.exists(summary):
        raise CompareError(f"{' '.join(cmd)} exited {r.returncode} without writing summary.json:\n"
                           f"{r.stderr.strip()}")
    with open(summary) as f:
        doc = json.load(f)
    trace = os.path.join(out, "trace.jsonl")
    if not os.path.exists(trace):
        return sim_record(doc, None, steady_window_ms)
    pings, events = read_trace(trace)
    rec = sim_record(doc, pings, steady_window_ms)
    rec["heartbeat_bytes"] = heartbeat_bytes((p["type"], p["bytes"]) for p in pings)
    rec.update(sim_recovery(doc, events, run_until_ms, rec["old_master"]))
    return rec


def read_trace(trace_path):
    """trace.jsonl in one pass: its ping/pong `recv` records (one per delivered bus message; the other
    messages are not needed) and every record that is not a `recv`."""
    pings, events = [], []
    with open(trace_path) as f:
        for line in f:
            if '"ev":"recv"' not in line:
                events.append(json.loads(line))
            elif '"type":"ping"' in line or '"type":"pong"' in line:
                pings.append(json.loads(line))
    return pings, events


def sim_message_counts(summary, pings, steady_window_ms):
    """Per-node ping/pong counts from scenario time 0 (the end of the cluster's creation) to the end and
    over the steady window, from the trace's `recv` records (one per delivered bus message): a message
    counts as received by `node` and as sent by `from`. summary.json's counters also hold the creation's
    messages (its first ~2 s of simulated time), which the real side does not see, so they are not used."""
    origin_us = summary.get("cluster_created_at_ms", 0) * 1000
    totals = {a: dict.fromkeys(RATE_KEYS, 0) for a in summary["nodes"]}
    steady = {a: dict.fromkeys(RATE_KEYS, 0) for a in summary["nodes"]}
    for r in pings:
        if r["t_us"] < origin_us:
            continue
        in_window = r["t_us"] - origin_us <= steady_window_ms * 1000
        for alias, key in ((r["node"], f"{r['type']}_received"), (r.get("from"), f"{r['type']}_sent")):
            if alias in totals:
                totals[alias][key] += 1
                if in_window:
                    steady[alias][key] += 1
    return totals, steady


def sim_record(summary, pings=None, steady_window_ms=STEADY_WINDOW_MS):
    """The same record as the real side, from one summary.json (and its trace's ping/pong records, for the
    rates)."""
    if pings is not None:
        totals, steady = sim_message_counts(summary, pings, steady_window_ms)
        run_rates = rates(totals, summary["simulated_ms"] - summary.get("cluster_created_at_ms", 0))
        steady_rates = rates(steady, steady_window_ms)
    else:
        # Without a trace: summary.json's counters over the whole simulated time, creation included. A
        # node that is down at the end has no counters there.
        totals = {a: {k: n["counters"].get(f"cluster_stats_messages_{k}", 0) for k in RATE_KEYS}
                  for a, n in summary["nodes"].items() if "counters" in n}
        run_rates, steady_rates = rates(totals, summary["simulated_ms"]), {}
    rec = {"fault_ms": -1, "first_pfail_ms": -1, "fail_ms": -1, "promoted_ms": -1, "converged_ms": -1,
           "epoch": None, "new_master": None, "old_master": None,
           "current_epoch_before": None, "current_epoch_after": None,
           "rates": run_rates, "steady_rates": steady_rates,
           "expectations": summary["expectations"], "verdict": summary["verdict"]}
    if summary["failovers"]:
        # As the real side: promotions of the nodes that were replicas at boot (aliases r1, r2, ...).
        boot_replicas = [f["promoted_ms"] for f in summary["failovers"] if f["new_master"].startswith("r")]
        rec["last_promoted_ms"] = max(boot_replicas, default=-1)
        first = summary["failovers"][0]
        rec.update({k: first[k] for k in ("fault_ms", "first_pfail_ms", "fail_ms", "promoted_ms",
                                          "converged_ms", "epoch", "new_master", "old_master")})
    if "writes" in summary:
        rec["writes"] = summary["writes"]  # the lost-write checker's result, as the real side's
    return rec


def sim_recovery(summary, events, run_until_ms, old_master):
    """The recovery records of the real side (record.py) from the trace: `recovery_ms`, the last action
    that ended a fault before run_until (a flap's edges are traced as block/unblock; the heal traced at
    run_until is the end of the run, not an action); `all_ok_ms`, the first time from then on that every
    live node (up, not paused) reports cluster_state ok; `demoted_ms`, the first time from then on that
    `old_master` is a replica in its own view. -1 where there is none."""
    origin_us = summary.get("cluster_created_at_ms", 0) * 1000
    end_us = origin_us + run_until_ms * 1000
    recovery_us = max((e["t_us"] for e in events if e["ev"] in RECOVERY_ACTIONS and e["t_us"] < end_us),
                      default=None)
    if recovery_us is None:
        return {"recovery_ms": -1, "all_ok_ms": -1, "demoted_ms": -1}
    ok = dict.fromkeys(summary["nodes"], True)  # cluster_state after creation: ok everywhere
    live = dict.fromkeys(summary["nodes"], True)
    old_is_replica = False
    all_ok_us = demoted_us = None
    for e in events:
        node, ev = e.get("node"), e["ev"]
        if ev in ("state_ok", "state_fail"):
            ok[node] = ev == "state_ok"
        elif ev == "boot":
            ok[node] = False  # a node boots with cluster_state fail
        elif ev in ("crash", "power_loss", "pause"):
            live[node] = False
        elif ev in ("restart", "resume"):
            live[node] = True
        if node == old_master:
            if ev == "replicating":
                old_is_replica = True
            elif ev in ("promoted", "boot"):
                old_is_replica = False
        if e["t_us"] < recovery_us:
            continue
        if all_ok_us is None and all(ok[a] for a in ok if live[a]):
            all_ok_us = e["t_us"]
        if demoted_us is None and old_master and old_is_replica:
            demoted_us = e["t_us"]
    ms = lambda t_us: -1 if t_us is None else (t_us - origin_us) / 1000
    return {"recovery_ms": ms(recovery_us), "all_ok_ms": ms(all_ok_us), "demoted_ms": ms(demoted_us)}
