"""The scenario's `expect` entries judged on a real trial as `sim` judges them (sim/run.cpp,
ExpectationChecker): the same check names, detail wording and pass/fail rules. Each is evaluated on the
poll round at or just after its `at` (default run_until), as the rounds come in, so no poll history is
kept; lost_writes waits for the trial's "writes" record, as sim checks it once the writes are settled."""

import datetime
import os
import re

from .common import CLUSTER_SLOTS, POLL_INTERVAL_S, duration_ms
from .record import RoleWatch

# CLUSTER_MF_TIMEOUT: the manual state a CLUSTER FAILOVER starts ends this long after it; a promotion later
# than that is an automatic one (a promotion is seen up to a poll late).
MANUAL_FAILOVER_TIMEOUT_MS = 5000 + 2 * POLL_INTERVAL_S * 1000
FAILOVER_MODES = {"default": "manual", "force": "force", "takeover": "takeover"}
# Actions sim's World::note_fault marks on every node they touch (a flap's down edges are blocks); a
# `failover` marks the master of the replica it is sent to.
FAULT_KINDS = {"crash", "power_loss", "pause", "isolate", "partition", "block"}
# Redis logs a replica's refusal for data age (clusterLogCantFailover) only once its master has been FAIL
# for node timeout + 5 s; sim's "cant_failover" event comes at the first refusal. Its wording in sim:
DATA_AGE_REASON = "Disconnected from master for longer than allowed"
LOG_LINE = re.compile(r"^\d+:\w (\d+ \w+ \d+ [\d:.]+) . Currently unable to failover: " + DATA_AGE_REASON)
# What a replica logs as it promotes itself after winning an election (clusterHandleSlaveFailover): the epoch
# it won. The polls may only see the configEpoch after a collision moved it on.
ELECTION_WON = re.compile(r"configEpoch set to (\d+) after successful failover")


def check_kind(expectation):
    return next(k for k in expectation if k not in ("at", "label"))


def expect_order(expect):
    """Indices of the `expect` entries in the order sim reports them: the timed ones by (at, position), then
    the others at run_until in file order, then lost_writes (checked once the writes are)."""
    timed = [i for i, e in enumerate(expect) if "at" in e and check_kind(e) != "lost_writes"]
    timed.sort(key=lambda i: (duration_ms(expect[i]["at"]), i))
    at_end = [i for i, e in enumerate(expect) if "at" not in e and check_kind(e) != "lost_writes"]
    return timed + at_end + [i for i, e in enumerate(expect) if check_kind(e) == "lost_writes"]


def expectation_name(expect, index):
    """What the comparison table calls an entry: its label, or its check and position in `expect`."""
    e = expect[index]
    return e.get("label") or f"{check_kind(e)} #{index}"


def describe_ref(ref):
    """sim's describe(NodeRef): m1, master_of_slot(0), replica_of(master_of(m1))."""
    if isinstance(ref, str):
        return ref
    (kind, arg), = ref.items()
    return f"{kind}({arg if kind == 'master_of_slot' else describe_ref(arg)})"


def name(alias):
    return alias if alias is not None else "(none)"


def in_bound(value, bound):
    return all(k not in bound or test for k, test in
               (("is", value == bound.get("is")), ("min", value >= bound.get("min", 0)),
                ("max", value <= bound.get("max", 0))))


class ExpectJudge:
    """Judges one real trial's expectations from its poll rounds and timeline actions. `resolve` is
    TrialRunner.resolve: selectors resolve against the nodes' latest views, at check time."""

    def __init__(self, cluster, recorder, resolve):
        self.cl = cluster
        self.rec = recorder
        self.resolve = resolve
        self.expect = cluster.sc.expect
        order = expect_order(self.expect)
        self.due = [(duration_ms(self.expect[i]["at"]), i) for i in order if "at" in self.expect[i]
                    and check_kind(self.expect[i]) != "lost_writes"]
        self.at_end = [i for i in order if "at" not in self.expect[i] and check_kind(self.expect[i]) != "lost_writes"]
        self.after_writes = [i for i in order if check_kind(self.expect[i]) == "lost_writes"]
        self.results = []
        self.pinned = None    # expect index -> alias of failover.old_master / no_failover.of, at the first round
        self.views = {}       # the last round's {alias: View}
        self.roles = RoleWatch()
        # {"old", "new", "mode", "promoted_ms", "fault_ms", "polled_epoch", "election": n-th election the new
        # master won, None for a takeover}, in the order seen
        self.promotions = []
        self.fault_ms = {}    # alias -> time of the last fault action that touched it (sim's fault_ms_)
        self.failover_sent = {}  # alias -> (time, mode) of the last CLUSTER FAILOVER sent to it
        self.slot_owner_lost_disk = False
        self.writes = None    # the trial record's "writes", given to finish()
        self.t_last = 0.0

    # -- inputs

    def action_fired(self, t, kind, spec, touched):
        """Called by TrialRunner.fire right after an action, before the next poll: rec.latest is still the
        layout the action met."""
        if kind in FAULT_KINDS or (kind == "_flap_edge" and spec["down"]):
            for a in touched:
                self.fault_ms[a] = t
        elif kind == "failover" and touched and touched[0] in self.cl.pollable():  # sim: a node down refuses it
            replica = touched[0]
            own = self._latest_own(replica)
            if own is not None and "slave" in own.flags and own.master_id in self.rec.alias_of_id:
                self.fault_ms[self.rec.alias_of_id[own.master_id]] = t
            self.failover_sent[replica] = (t, FAILOVER_MODES[spec.get("mode", "default")])
        elif kind == "lose_disk" and touched:
            own = self._latest_own(touched[0])
            self.slot_owner_lost_disk |= own is not None and own.is_master and bool(own.slots)

    def observe(self, t, views):
        """One poll round: notes promotions, then judges the entries due at or before t."""
        self.views = views
        self.t_last = t
        if self.pinned is None:
            self.pinned = {i: self.resolve(ref) for i, ref in
                           ((i, self._pinned_ref(e)) for i, e in enumerate(self.expect)) if ref is not None}
        self._observe_promotions(t, views)
        while self.due and self.due[0][0] <= t:
            self._judge(t, self.due.pop(0)[1])
        if t >= self.cl.sc.run_until_ms:
            for i in self.at_end:
                self._judge(t, i)
            self.at_end = []

    def finish(self, record):
        """Judges lost_writes from record["writes"] and stores "expectations" and "verdict" in the record."""
        self.writes = record.get("writes")
        for i in self.after_writes:
            self._judge(self.t_last, i)
        record["expectations"] = self.results
        record["verdict"] = "pass" if all(r["passed"] for r in self.results) else "fail"

    @staticmethod
    def _pinned_ref(e):
        kind = check_kind(e)
        return e[kind]["old_master"] if kind == "failover" else e[kind]["of"] if kind == "no_failover" else None

    def _latest_own(self, alias):
        v = self.rec.latest.get(alias)
        return v.own if v is not None else None

    def _observe_promotions(self, t, views):
        """Every promotion (sim's "promoted" event): a node that was a replica in its own view is a master
        in its own view in a later round, under the same node id (a node restarted without its nodes.conf
        comes back as a new, empty master: not a promotion)."""
        for alias, before, now in self.roles.changes(views):
            if now.is_master and before.id == now.id:
                sent = self.failover_sent.pop(alias, None)
                manual = sent is not None and t - sent[0] <= MANUAL_FAILOVER_TIMEOUT_MS
                old = self.rec.alias_of_id.get(before.master_id)
                mode = sent[1] if manual else "auto"
                elections = sum(p["new"] == alias and p["mode"] != "takeover" for p in self.promotions)
                self.promotions.append({"old": old, "new": alias, "mode": mode, "promoted_ms": t,
                                        "fault_ms": self.fault_ms.get(old, -1), "polled_epoch": now.config_epoch,
                                        "election": None if mode == "takeover" else elections})

    # -- what sim's world.node(i) and node_set() give

    def _view(self, alias):
        """A node's state now: None when it is down (crashed, or restarted and not answering yet); a paused
        node's last view (sim keeps a paused node's state as it was)."""
        if alias is None or not self.cl.is_up(alias):
            return None
        if alias in self.views:
            return self.views[alias]
        return self.rec.latest.get(alias) if alias in self.cl.paused else None

    def _member(self, alias):
        """Knows another node (spares never met are not members); a node not answering is assumed one."""
        v = self._view(alias)
        return v is None or len(v.lines) > 1

    def _live(self):
        return [a for a in self.cl.pollable() if self._member(a)]

    def _node_set(self, spec):
        if isinstance(spec, list):
            return [self.resolve(r) for r in spec]
        if spec == "all":
            return [a for a in self.cl.sc.aliases if self._member(a)]
        return self._live()

    def _alias_of(self, node_id):
        return self.rec.alias_of_id.get(node_id)

    # -- the checks; each returns (passed, detail) worded as sim's

    def _judge(self, t, index):
        e = self.expect[index]
        kind = check_kind(e)
        passed, detail = getattr(self, "check_" + kind)(e[kind], index)
        self.results.append({"at_ms": round(t), "check": kind, "detail": detail, "label": e.get("label", ""),
                             "passed": passed})

    def check_cluster_state(self, c, _):
        want = c["is"]
        detail, every = "", True
        for a in self._node_set(c.get("nodes", "live")):
            v = self._view(a)
            state = None if v is None else ("ok" if v.info.get("cluster_state") == "ok" else "fail")
            if state != want:
                every = False
                detail += f"{name(a)} is down; " if state is None else f"{a} {state}; "
        return every, f"every node {want}" if every else detail

    def check_role(self, c, _):
        a = self.resolve(c["node"])
        v = self._view(a)
        if v is None:
            return False, describe_ref(c["node"]) + " is not running"
        own = v.own
        detail = f"{a} is {'master' if own.is_master else 'replica'}"
        if not own.is_master and own.master_id != "-":
            detail += f" of {name(self._alias_of(own.master_id))}"
        if own.is_master != (c["is"] == "master"):
            return False, detail
        if "of" in c:
            m = self._view(self.resolve(c["of"]))
            return m is not None and own.master_id == m.myself, detail
        return True, detail

    def check_slot_owner(self, c, _):
        negate = "is_not" in c
        slot, expected = c["slot"], self.resolve(c["is_not"] if negate else c["is"])
        ev = self._view(expected)
        seen_by = c.get("seen_by", "all")
        viewers = self._live() if seen_by in ("all", "any") else [self.resolve(seen_by)]
        detail, matching, every = "", "", ev is not None
        for w in viewers:
            wv = self._view(w)
            owner = slot_owner(wv, slot) if wv is not None else None
            seen = f"{name(w)} sees {name(self._alias_of(owner)) if owner else 'nobody'}; "
            if ev is None or owner is None or (owner == ev.myself) != (not negate):
                every = False
                detail += seen
            else:
                matching += seen
        served = "served by another node than" if negate else "served by"
        if seen_by == "any":  # some live node maps it so
            return bool(matching), matching or f"slot {slot} not {served} {name(expected)} in any view"
        return every, f"slot {slot} {served} {name(expected)} in every view" if every else detail

    def check_current_epoch(self, c, _):
        node = c.get("node", "all")
        nodes = self._live() if node == "all" else [self.resolve(node)]
        detail, every = "", bool(nodes)
        for a in nodes:
            v = self._view(a)
            epoch = None if v is None else int(v.info["cluster_current_epoch"])
            every &= epoch is not None and in_bound(epoch, c)
            detail += f"{name(a)}={'down' if epoch is None else epoch} "
        return every, detail

    def check_config_epoch(self, c, _):
        a = self.resolve(c["node"])
        v = self._view(a)
        if v is None:
            return False, describe_ref(c["node"]) + " is not running"
        return in_bound(v.own.config_epoch, c), f"{a} configEpoch {v.own.config_epoch}"

    def check_failover(self, c, index):
        old = self.pinned[index]
        new = self.resolve(c["new_master"]) if "new_master" in c else None
        within = [duration_ms(x) for x in c["within"]] if "within" in c else None
        detail = ""
        for f in self.promotions:
            if f["old"] != old or ("new_master" in c and f["new"] != new) or ("mode" in c and f["mode"] != c["mode"]):
                continue
            took_ms = f["promoted_ms"] - f["fault_ms"]
            epoch = self._promotion_epoch(f)
            detail = f"{f['new']} replaced {name(old)} ({f['mode']}) {took_ms:.0f} ms after the fault, epoch {epoch}"
            if within and (f["fault_ms"] < 0 or not within[0] <= took_ms <= within[1]):
                continue
            if "epoch" in c and epoch != c["epoch"]:
                continue
            return True, detail
        return False, detail or f"no failover of {name(old)}"

    def check_no_failover(self, c, index):
        of = self.pinned[index]
        for f in self.promotions:
            if f["old"] == of:
                return False, f"{f['new']} replaced {name(of)}"
        return True, f"no failover of {name(of)}"

    def check_flag(self, c, _):
        target = self.resolve(c["node"])
        want, flag = ("has", c["has"]) if "has" in c else ("lacks", c["lacks"])
        seen_by = c.get("seen_by", "all")
        viewers = [w for w in self._live() if w != target] if seen_by == "all" else [self.resolve(seen_by)]
        target_own = self._latest_own(target)
        detail, every = "", target is not None and bool(viewers)
        for w in viewers:
            wv = self._view(w)
            entry = wv.lines.get(target_own.id) if wv is not None and target_own is not None else None
            has = entry is not None and flag in entry.flags
            if has != (want == "has"):
                every = False
                detail += f"{name(w)} {'has' if has else 'lacks'} {flag}; "
        return every, f"every viewer {want} {flag} on {name(target)}" if every else detail

    def check_lost_writes(self, c, _):
        if not self.cl.sc.has_workload:
            lost, detail = 0, "no workload: nothing written, nothing lost"
        elif self.writes is None:
            return False, "the real side measured no writes (the trial record has no \"writes\")"
        else:
            lost = self.writes["lost"]
            detail = f"{lost} of {self.writes['acked']} acknowledged writes lost"
        return in_bound(lost, c), detail

    def check_failovers_count(self, c, _):
        return in_bound(len(self.promotions), c), f"{len(self.promotions)} failovers"

    def check_converged(self, c, _):
        problems = self._convergence_problems()
        if not problems:
            return True, "every live node agrees, all slots served, cluster ok"
        exemption = self._liveness_exemption()
        if exemption:
            return True, f"not converged ({problems[0]}) but not required: {exemption}"
        return False, "".join(p + "; " for p in problems)

    # -- converged: sim's World::convergence_problems and liveness_exemption, from CLUSTER NODES/INFO

    def _convergence_problems(self):
        live = self._live()
        answering = [a for a in live if self._view(a) is not None]
        if not answering:
            return ["no live cluster node"]
        problems = []
        reference = answering[0]
        owners = {a: slot_owners(self._view(a)) for a in answering}
        unassigned = next((s for s, o in enumerate(owners[reference]) if o is None), CLUSTER_SLOTS)
        # The first slot, below the first unassigned one, on which some node disagrees with the reference.
        first = {a: first_difference(owners[a], owners[reference], unassigned) for a in answering}
        slot = min(first.values())
        if slot < unassigned:
            a = next(a for a in answering if first[a] == slot)
            return [f"{a} disagrees with {reference} on the owner of slot {slot}"]
        if unassigned < CLUSTER_SLOTS:
            problems.append(f"slot {unassigned} unassigned on {reference}")
        masters_by_epoch = {}
        for a in live:
            v = self._view(a)
            # A node restarted and not answering yet is booting, and a booting node is cluster_state fail.
            if v is None or v.info.get("cluster_state") != "ok":
                problems.append(f"{a} has cluster_state fail")
            if v is not None and v.own.is_master and v.own.slots:
                other = masters_by_epoch.setdefault(v.own.config_epoch, a)
                if other != a:
                    problems.append(f"{a} and {other} share configEpoch {v.own.config_epoch}")
        return problems

    def _promotion_epoch(self, promotion):
        """The epoch a promotion's election won, from the new master's log (its n-th "after successful
        failover" line); a takeover wins no election: the configEpoch the polls saw."""
        won = [int(m.group(1)) for m in map(ELECTION_WON.search, self._log_lines(promotion["new"])) if m]
        n = promotion["election"]
        return won[n] if n is not None and n < len(won) else promotion["polled_epoch"]

    def _log_lines(self, alias):
        try:
            with open(os.path.join(self.cl.dir, f"{self.cl.ports[alias]}.log"), errors="replace") as f:
                return f.readlines()
        except FileNotFoundError:
            return []

    def _liveness_exemption(self):
        if self.slot_owner_lost_disk:
            return "a node serving slots lost its nodes.conf"
        refusals = []
        for a in self.cl.sc.aliases:
            refusals += [(datetime.datetime.strptime(m.group(1), "%d %b %Y %H:%M:%S.%f"), a)
                         for m in map(LOG_LINE.match, self._log_lines(a)) if m]
        return f"{min(refusals)[1]} cannot fail over: {DATA_AGE_REASON}" if refusals else None


def slot_owner(view, slot):
    """The id of the node that `view` maps the slot to, or None."""
    return next((l.id for l in view.lines.values() if any(lo <= slot <= hi for lo, hi in l.slots)), None)


def slot_owners(view):
    """Every slot's owner id in `view` (None where unassigned)."""
    owners = [None] * CLUSTER_SLOTS
    for line in view.lines.values():
        for lo, hi in line.slots:
            owners[lo:hi + 1] = [line.id] * (hi - lo + 1)
    return owners


def first_difference(a, b, limit):
    if a[:limit] == b[:limit]:
        return CLUSTER_SLOTS
    return next(s for s in range(limit) if a[s] != b[s])


def compare_expectations(expect, real, sim):
    """One row per `expect` entry, in sim's order: how many real trials and sim seeds passed it, and whether
    the two sides' majority verdicts are the same. Records without expectations (an older --json) count
    for neither."""
    order = expect_order(expect)
    rows = []
    for position, index in enumerate(order):
        kind = check_kind(expect[index])
        sides = {}
        for side, records in (("real", real), ("sim", sim)):
            results = [r["expectations"][position] for r in records if len(r.get("expectations") or []) == len(order)
                       and r["expectations"][position]["check"] == kind]
            passed = sum(x["passed"] for x in results)
            sides[side] = {"passed": passed, "n": len(results), "majority": majority(passed, len(results))}
        verdicts = {sides["real"]["majority"], sides["sim"]["majority"]}
        verdict = ("n/a" if None in verdicts else "split" if "split" in verdicts
                   else "agree" if len(verdicts) == 1 else "DIFFERS")
        rows.append({"expectation": expectation_name(expect, index), "index": index, "check": kind,
                     "at": expect[index].get("at", "end"), "real": sides["real"], "sim": sides["sim"],
                     "verdict": verdict})
    return rows


def majority(passed, n):
    if n == 0:
        return None
    return "pass" if 2 * passed > n else "fail" if 2 * passed < n else "split"


def failures(record):
    """The record's failed expectations as "check (label): detail" lines, for the progress log."""
    return [f"{e['check']}{' (' + e['label'] + ')' if e['label'] else ''}: {e['detail']}"
            for e in record.get("expectations", []) if not e["passed"]]
