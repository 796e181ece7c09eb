"""The comparison table: medians of both sides per quantity, their ratio and a verdict."""

import statistics

from .common import RATE_KEYS, TOLERANCE

def after_fault_s(key):
    def get(rec):
        t, fault = rec[key], rec["fault_ms"]
        return (t - fault) / 1000 if t >= 0 and fault >= 0 else None
    return get


def rate_of(group, key):
    return lambda rec: rec[group].get(key)


NUMERIC_ROWS = [
    ("first PFAIL (s after fault)", after_fault_s("first_pfail_ms")),
    ("FAIL (s after fault)", after_fault_s("fail_ms")),
    ("promoted (s after fault)", after_fault_s("promoted_ms")),
    ("converged (s after fault)", after_fault_s("converged_ms")),
    ("winner configEpoch", lambda rec: rec["epoch"]),
    ("currentEpoch before", lambda rec: rec["current_epoch_before"]),
    ("currentEpoch after", lambda rec: rec["current_epoch_after"]),
] + [(f"{k.replace('_', ' ')} /node/s, whole run", rate_of("rates", k)) for k in RATE_KEYS] \
  + [(f"{k.replace('_', ' ')} /node/s, first 10 s", rate_of("steady_rates", k)) for k in RATE_KEYS]


def stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def compare_rows(real, sim):
    rows = []
    for label, get in NUMERIC_ROWS:
        r, s = stats(map(get, real)), stats(map(get, sim))
        ratio = s["median"] / r["median"] if r and s and r["median"] else None
        verdict = "n/a" if ratio is None else ("ok" if abs(ratio - 1) <= TOLERANCE else "OFF")
        rows.append({"quantity": label, "real": r, "sim": s, "ratio": ratio, "verdict": verdict})
    rows.append(winner_row(real, sim))
    return rows


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
