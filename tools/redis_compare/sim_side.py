"""The simulator side: one `sim` run per seed, reduced to the real side's record."""

import json
import os
import subprocess
import tempfile

from .common import RATE_KEYS, STEADY_WINDOW_MS, CompareError
from .record import rates

def run_sim_seed(sim, scenario_path, seed, steady_window_ms, overrides=()):
    with tempfile.TemporaryDirectory(prefix="redis-compare-sim-") as out:
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
        return sim_record(doc, trace if os.path.exists(trace) else None, steady_window_ms)


def sim_message_counts(summary, trace_path, steady_window_ms):
    """Per-node ping/pong counts from scenario time 0 (the end of the cluster's creation) to the end and
    over the steady window, from the trace's `recv` records (one per delivered bus message): a message
    counts as received by `node` and as sent by `from`. summary.json's counters also hold the creation's
    messages (its first ~2 s of simulated time), which the real side does not see, so they are not used."""
    origin_us = summary.get("cluster_created_at_ms", 0) * 1000
    totals = {a: dict.fromkeys(RATE_KEYS, 0) for a in summary["nodes"]}
    steady = {a: dict.fromkeys(RATE_KEYS, 0) for a in summary["nodes"]}
    with open(trace_path) as f:
        for line in f:
            if '"ev":"recv"' not in line:
                continue
            r = json.loads(line)
            if r.get("type") not in ("ping", "pong") or r["t_us"] < origin_us:
                continue
            in_window = r["t_us"] - origin_us <= steady_window_ms * 1000
            for alias, key in ((r["node"], f"{r['type']}_received"), (r.get("from"), f"{r['type']}_sent")):
                if alias in totals:
                    totals[alias][key] += 1
                    if in_window:
                        steady[alias][key] += 1
    return totals, steady


def sim_record(summary, trace_path=None, steady_window_ms=STEADY_WINDOW_MS):
    """The same record as the real side, from one summary.json (and its trace.jsonl, for the rates)."""
    if trace_path:
        totals, steady = sim_message_counts(summary, trace_path, steady_window_ms)
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
           "rates": run_rates, "steady_rates": steady_rates}
    if summary["failovers"]:
        first = summary["failovers"][0]
        rec.update({k: first[k] for k in ("fault_ms", "first_pfail_ms", "fail_ms", "promoted_ms",
                                          "converged_ms", "epoch", "new_master", "old_master")})
    return rec
