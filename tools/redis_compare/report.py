"""The comparison table: medians of both sides per quantity, their ratio and a verdict."""

import statistics

from .common import RATE_KEYS, SMALL_TIME_S, SMALL_TIME_TOLERANCE_S, TOLERANCE


def after_s(key, origin_key):
    """Seconds from the record's `origin_key` time to its `key` time (records written before a key existed
    lack it)."""
    def get(rec):
        t, origin = rec.get(key, -1), rec.get(origin_key, -1)
        return (t - origin) / 1000 if t >= 0 and origin >= 0 else None
    return get


def after_fault_s(key):
    return after_s(key, "fault_ms")


def rate_of(group, key):
    return lambda rec: rec[group].get(key)


# Rows whose label ends in "(s after ...)" are durations: they also pass within SMALL_TIME_TOLERANCE_S.
NUMERIC_ROWS = [
    ("first PFAIL (s after fault)", after_fault_s("first_pfail_ms")),
    ("FAIL (s after fault)", after_fault_s("fail_ms")),
    ("promoted (s after fault)", after_fault_s("promoted_ms")),
    ("converged (s after fault)", after_fault_s("converged_ms")),
    ("last promoted (s after fault)", after_fault_s("last_promoted_ms")),  # of several masters failed together
    ("old master demoted (s after recovery)", after_s("demoted_ms", "recovery_ms")),
    ("every node ok (s after recovery)", after_s("all_ok_ms", "recovery_ms")),
    ("winner configEpoch", lambda rec: rec["epoch"]),
    ("currentEpoch before", lambda rec: rec["current_epoch_before"]),
    ("currentEpoch after", lambda rec: rec["current_epoch_after"]),
    # The real side's only with --server-loglevel debug. Judged exact.
    ("ping bytes, most common", lambda rec: rec.get("heartbeat_bytes", {}).get("ping")),
    ("pong bytes, most common", lambda rec: rec.get("heartbeat_bytes", {}).get("pong")),
] + [(f"{k.replace('_', ' ')} /node/s, whole run", rate_of("rates", k)) for k in RATE_KEYS] \
  + [(f"{k.replace('_', ' ')} /node/s, first 10 s", rate_of("steady_rates", k)) for k in RATE_KEYS]


def written(key, scale=1):
    """A field of the record's "writes" (the lost-write checker's result), / scale; None without a workload
    or where the field is -1 (no lost write)."""
    def get(rec):
        value = rec.get("writes", {}).get(key, -1)
        return None if value < 0 else value / scale
    return get


def written_after_fault_s(key):
    def get(rec):
        t, fault = rec.get("writes", {}).get(key, -1), rec["fault_ms"]
        return (t - fault) / 1000 if t >= 0 and fault >= 0 else None
    return get


WRITES_ROWS = [
    ("acked writes", written("acked")),
    ("lost writes", written("lost")),
    ("loss window (max_loss_window_ms, s)", written("max_loss_window_ms", 1000)),
    ("first lost ack (s after fault)", written_after_fault_s("first_lost_ack_ms")),
    ("last lost ack (s after fault)", written_after_fault_s("last_lost_ack_ms")),
]


def stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def compare_rows(real, sim):
    rows = []
    with_writes = any("writes" in rec for rec in real + sim)
    for label, get in NUMERIC_ROWS + (WRITES_ROWS if with_writes else []):
        r, s = stats(map(get, real)), stats(map(get, sim))
        ratio = s["median"] / r["median"] if r and s and r["median"] else None
        rows.append({"quantity": label, "real": r, "sim": s, "ratio": ratio,
                     "verdict": timing_verdict(label, r, s, ratio, len(real), len(sim))})
    rows.append(winner_row(real, sim))
    return rows


def timing_verdict(label, real, sim, ratio, real_runs, sim_runs):
    """ok within ±TOLERANCE of real; a duration also within ±SMALL_TIME_TOLERANCE_S where both medians are
    under SMALL_TIME_S (one poll and the event loop's wake-ups are tens of ms). "rare", shown but not
    judged, where the quantity exists in fewer than half of one side's runs (an event the scenario seldom
    has, e.g. a failover in 1 sim seed of 300): how often it happens is what the winner and expectation
    rows judge, and the median of its few occurrences says nothing of the scenario's outcome."""
    if real is None or sim is None:
        return "n/a"
    if 2 * real["n"] < real_runs or 2 * sim["n"] < sim_runs:
        return "rare"
    if " bytes, " in label:  # a wire size: the same server sends the same bytes
        return "ok" if real["median"] == sim["median"] else "OFF"
    if "(s after" in label and max(real["median"], sim["median"]) < SMALL_TIME_S:
        return "ok" if abs(sim["median"] - real["median"]) <= SMALL_TIME_TOLERANCE_S else "OFF"
    if real["median"] == sim["median"]:
        return "ok"  # also 0 and 0, e.g. no lost write on either side
    if ratio is None:
        return "n/a"
    return "ok" if abs(ratio - 1) <= TOLERANCE else "OFF"


def winner_counts(records):
    counts = {}
    for rec in records:
        counts[rec["new_master"] or "none"] = counts.get(rec["new_master"] or "none", 0) + 1
    return counts


def winner_row(real, sim):
    r, s = winner_counts(real), winner_counts(sim)
    verdict = "n/a"
    if r and s:
        verdict = "same" if max(r, key=r.get) == max(s, key=s.get) else "differs"
    return {"quantity": "winner", "real": r, "sim": s, "ratio": None, "verdict": verdict}


def fmt(v):
    if v is None:
        return "-"
    return f"{v:g}" if float(v).is_integer() else f"{v:.3f}"


def fmt_stats(s):
    return ["-"] * 4 if s is None else [fmt(s["median"]), fmt(s["min"]), fmt(s["max"]), str(s["n"])]


def fmt_counts(counts):
    total = sum(counts.values())
    return " ".join(f"{k} {n}/{total}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1])) or "-"


def table(rows):
    head = ["quantity", "real median", "min", "max", "n", "sim median", "min", "max", "n", "sim/real",
            f"±{TOLERANCE:.0%}"]
    body = []
    for row in rows:
        if row["quantity"] == "winner":
            cells = [row["quantity"], fmt_counts(row["real"]), "", "", "", fmt_counts(row["sim"]), "", "", ""]
        else:
            cells = [row["quantity"]] + fmt_stats(row["real"]) + fmt_stats(row["sim"])
        body.append(cells + [fmt(row["ratio"]), row["verdict"]])
    return markdown(head, body)


def expectation_table(rows):
    """The rows of expect.compare_expectations: passes per side and whether the majorities agree."""
    head = ["expectation", "check", "at", "real passed", "sim passed", "verdict"]
    body = [[row["expectation"], row["check"], row["at"], f"{row['real']['passed']}/{row['real']['n']}",
             f"{row['sim']['passed']}/{row['sim']['n']}", row["verdict"]] for row in rows]
    return markdown(head, body)


def markdown(head, body):
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in body])


def describe(rec):
    if rec["new_master"] is None:
        return "no failover"
    parts = [f"{name} {fmt(get(rec))}" for name, get in
             (("PFAIL", after_fault_s("first_pfail_ms")), ("FAIL", after_fault_s("fail_ms")),
              ("promoted", after_fault_s("promoted_ms")), ("converged", after_fault_s("converged_ms")))]
    return f"{', '.join(parts)} s after the fault; {rec['old_master']} -> {rec['new_master']} epoch {rec['epoch']}"
