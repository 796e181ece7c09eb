"""Turns poll rounds into the records `sim` writes into summary.json."""

import collections
import glob
import os
import re
import statistics

from .common import FAULT_ACTIONS, RATE_KEYS, RECOVERY_ACTIONS


class Predicate:
    """A boolean observed over time: when did it first hold within [start, end]?"""

    def __init__(self):
        self.changes = []  # (t, value), only real changes

    def update(self, t, value):
        if not self.changes or self.changes[-1][1] != value:
            self.changes.append((t, value))

    def first_true_in(self, start, end):
        value = False  # the value at `start`, once the loop is past it
        for ct, cv in self.changes:
            if ct > start:
                if value:
                    return start
                if cv:
                    return ct if ct <= end else None
            value = cv
        return start if value else None


class RoleWatch:
    """Role changes in the polls: a node whose own CLUSTER NODES line says master in one round and replica
    in the last one that reached it, or the reverse. The recorder, the expectations and the workload each
    keep one: they watch over different stretches (the workload also while it settles after the run)."""

    def __init__(self):
        self.last = {}  # alias -> its own line when last seen

    def changes(self, views):
        """(alias, line before, line now) of every node whose role flipped since it was last seen."""
        flipped = []
        for alias, v in views.items():
            before = self.last.get(alias)
            if before is not None and before.is_master != v.own.is_master:
                flipped.append((alias, before, v.own))
            self.last[alias] = v.own
        return flipped


class Recorder:
    """Turns poll rounds into the records `sim` writes into summary.json (times in ms of scenario time)."""

    def __init__(self, steady_window_ms):
        self.steady_window_ms = steady_window_ms
        self.alias_of_id = {}
        self.latest = {}      # alias -> View, the last one seen (kept while a node is paused)
        self.flagged = {}     # node id -> Predicate "some live node flags it fail? or fail"
        self.failed = {}      # node id -> Predicate "some live node flags it fail"
        self.original = None  # the first round's {alias: NodeLine}: the layout before any fault
        self.promotion = None  # (t, new master alias, its configEpoch) of the first replica to turn master
        self.last_promotion_ms = None  # when the last original replica turned master (several masters failed)
        self.roles = RoleWatch()
        self.converged_ms = None
        self.epoch_before = self.epoch_after = None
        self.totals = {}       # alias -> {counter: messages since time 0, summed over restarts}
        self.last_counters = {}
        self.t_first = self.t_last = self.t_steady = None
        self.steady_totals = None
        self.fired = []        # (t, kind, touched aliases)
        self.all_ok = Predicate()  # every live node reports cluster_state:ok
        self.sees_itself_replica = {}  # alias -> Predicate "its own CLUSTER NODES line says slave"

    def observe(self, t, views, live):
        """One poll round: `views` of the nodes that answered, `live` every node up and not paused (one that
        is up but not answering yet, e.g. just restarted, is live and not ok)."""
        for alias, v in views.items():
            self.alias_of_id[v.myself] = alias
        self.latest.update(views)
        if self.original is None:
            self.original = {a: v.own for a, v in views.items()}
            self.epoch_before = max(int(v.info["cluster_current_epoch"]) for v in views.values())
            self.t_first = t
        self.epoch_after = max(int(v.info["cluster_current_epoch"]) for v in views.values())
        self._observe_flags(t, views)
        self._observe_promotion(t, views)
        self._observe_counters(t, views)
        self.all_ok.update(t, all(a in views and views[a].info.get("cluster_state") == "ok" for a in live))
        for alias, v in views.items():
            self.sees_itself_replica.setdefault(alias, Predicate()).update(t, "slave" in v.own.flags)
        self.t_last = t

    def _observe_flags(self, t, views):
        # A FAIL seen by a node that nobody saw in PFAIL between two polls still implies PFAIL came first.
        for target in self.alias_of_id:
            marks = [v.lines[target].flags for v in views.values() if target in v.lines]
            self.flagged.setdefault(target, Predicate()).update(t, any("fail?" in f or "fail" in f for f in marks))
            self.failed.setdefault(target, Predicate()).update(t, any("fail" in f for f in marks))

    def _observe_promotion(self, t, views):
        for alias, before, now in self.roles.changes(views):
            first = self.original.get(alias)
            # An original replica, the same node (a replica reborn without its nodes.conf is a new, empty
            # master, not a promotion).
            if now.is_master and first is not None and not first.is_master and now.id == first.id:
                if self.promotion is None:
                    self.promotion = (t, alias, now.config_epoch)
                self.last_promotion_ms = t
        if self.promotion and self.converged_ms is None:
            new = self.latest[self.promotion[1]].myself
            old_slots = self.original[self.old_master()].slots
            # As sim: among the nodes that know the new master (a spare not met yet does not).
            if all(old_slots <= v.lines[new].slots for v in views.values() if new in v.lines):
                self.converged_ms = t

    def _observe_counters(self, t, views):
        for alias, v in views.items():
            cur = {k: int(v.info.get(f"cluster_stats_messages_{k}", 0)) for k in RATE_KEYS}
            last = self.last_counters.get(alias, cur)
            total = self.totals.setdefault(alias, dict.fromkeys(RATE_KEYS, 0))
            for k in RATE_KEYS:
                # A restarted node counts from 0 again.
                total[k] += cur[k] - last[k] if cur[k] >= last[k] else cur[k]
            self.last_counters[alias] = cur
        if t - self.t_first <= self.steady_window_ms:
            self.t_steady = t
            self.steady_totals = {a: dict(c) for a, c in self.totals.items()}

    def old_master(self):
        new = self.promotion[1]
        return self.alias_of_id[self.original[new].master_id]

    def fault_ms(self, old, new, promoted):
        faults = [t for t, kind, touched in self.fired
                  if kind in FAULT_ACTIONS and t <= promoted and touched & {old, new}]
        return max(faults, default=-1)

    def recovery_ms(self):
        """When the last action that ended a fault was carried out, -1 without one."""
        return max((t for t, kind, _ in self.fired if kind in RECOVERY_ACTIONS or kind == "_flap_edge"), default=-1)

    def record(self):
        recovery = self.recovery_ms()
        all_ok = self.all_ok.first_true_in(recovery, self.t_last) if recovery >= 0 else None
        rec = {"recovery_ms": recovery, "all_ok_ms": -1 if all_ok is None else all_ok, "demoted_ms": -1,
               "last_promoted_ms": -1 if self.last_promotion_ms is None else self.last_promotion_ms,
               "fault_ms": -1, "first_pfail_ms": -1, "fail_ms": -1, "promoted_ms": -1, "converged_ms": -1,
               "epoch": None, "new_master": None, "old_master": None,
               "current_epoch_before": self.epoch_before, "current_epoch_after": self.epoch_after,
               "rates": rates(self.totals, self.t_last - self.t_first),
               "steady_rates": rates(self.steady_totals, self.t_steady - self.t_first)}
        if self.promotion:
            promoted, new, epoch = self.promotion
            old = self.old_master()
            old_id = self.original[old].id
            fault = self.fault_ms(old, new, promoted)
            # Detection after the promotion (e.g. of a master taken over manually) is not part of it.
            pfail = self.flagged[old_id].first_true_in(fault, promoted)
            fail = self.failed[old_id].first_true_in(fault, promoted)
            rec.update(fault_ms=fault, first_pfail_ms=-1 if pfail is None else pfail,
                       fail_ms=-1 if fail is None else fail, promoted_ms=promoted,
                       converged_ms=-1 if self.converged_ms is None else self.converged_ms,
                       epoch=epoch, new_master=new, old_master=old)
            demoted = self.sees_itself_replica[old].first_true_in(recovery, self.t_last) if recovery >= 0 else None
            rec["demoted_ms"] = -1 if demoted is None else demoted
        return rec


def rates(totals, span_ms):
    """Median over nodes of each node's messages per second."""
    if not totals or span_ms <= 0:
        return {}
    return {k: statistics.median(c[k] for c in totals.values()) * 1000 / span_ms for k in RATE_KEYS}


# redis-server at loglevel debug logs every bus packet it processes (clusterProcessPacket).
PACKET_LOG = re.compile(r"--- Processing packet of type (\w+), (\d+) bytes")


def packet_sizes_from_logs(workdir):
    """(type, bytes) of every bus packet the trial's nodes processed, from their debug logs."""
    for path in sorted(glob.glob(os.path.join(workdir, "*.log"))):
        with open(path, errors="replace") as f:
            for line in f:
                match = PACKET_LOG.search(line)
                if match:
                    yield match.group(1), int(match.group(2))


def heartbeat_bytes(packets):
    """The most common wire size of PING and of PONG (the smaller on a tie): header, gossip entries and the
    version's ping extensions."""
    counts = {"ping": collections.Counter(), "pong": collections.Counter()}
    for kind, size in packets:
        if kind in counts:
            counts[kind][size] += 1
    return {kind: min(c, key=lambda size: (-c[size], size)) for kind, c in counts.items() if c}
