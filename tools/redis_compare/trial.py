"""One real trial: the timeline applied to a created cluster while it is polled."""

import heapq
import os
import shutil
import signal
import tempfile
import time

from . import guard
from .cluster import RealCluster
from .common import (CUT_ACTIONS, HOST, POLL_INTERVAL_S, STEADY_WINDOW_MS, UNSUPPORTED_ACTIONS, CompareError,
                     duration_ms, log)
from .cuts import iptables_problem
from .expect import ExpectJudge
from .record import Recorder
from .resp import RespError
from .scenario import action_kind, redis_config_value
from .shaping import needs_shaping, shaping_problem
from .workload import RealWorkload

class TrialRunner:
    """Applies the timeline to a created cluster while polling it, until run_until."""

    def __init__(self, cluster, recorder, workload=None):
        self.cl = cluster
        self.rec = recorder
        self.workload = workload  # RealWorkload: started at time 0, told of every poll and action
        self.t0 = None
        self.events = []  # heap of (at_ms, seq, action)
        self.seq = 0
        self.judge = ExpectJudge(cluster, recorder, self.resolve)

    def now_ms(self):
        return (time.monotonic() - self.t0) * 1000

    def schedule(self, at_ms, action):
        heapq.heappush(self.events, (at_ms, self.seq, action))
        self.seq += 1

    def run(self):
        for action in self.cl.sc.timeline:
            self.schedule(duration_ms(action["at"]), action)
        self.t0 = time.monotonic()
        if self.workload:
            self.workload.start(self.t0)
        end = self.cl.sc.run_until_ms
        next_poll = 0.0
        while True:
            while self.events and self.events[0][0] <= self.now_ms():
                self.fire(heapq.heappop(self.events)[2])
            if self.now_ms() >= next_poll:
                t = self.now_ms()
                views = self.cl.poll()
                self.rec.observe(t, views, self.cl.pollable())
                self.judge.observe(t, views)
                if self.workload:
                    self.workload.observe(t, views)
                if t >= end:
                    return
                next_poll = min(next_poll + POLL_INTERVAL_S * 1000, end)
            wake = min([next_poll] + [e[0] for e in self.events[:1]])
            time.sleep(max(0.0, (wake - self.now_ms()) / 1000))

    def fire(self, action):
        kind = action_kind(action)
        t = self.now_ms()
        touched = getattr(self, "do_" + kind.lstrip("_"))(action[kind])
        self.rec.fired.append((t, kind, set(touched)))
        self.judge.action_fired(t, kind, action[kind], touched)
        if self.workload:
            self.workload.after_action(t, kind, touched)

    # -- references

    def resolve(self, ref):
        """An alias, or a selector evaluated now against each live node's own view of itself."""
        if isinstance(ref, str):
            return ref
        (kind, arg), = ref.items()
        own = {a: v.own for a, v in self.rec.latest.items() if self.cl.is_up(a)}
        if kind == "master_of_slot":
            claims = [(l.config_epoch, a) for a, l in own.items()
                      if l.is_master and any(lo <= arg <= hi for lo, hi in l.slots)]
            return max(claims)[1] if claims else None
        target = self.resolve(arg)
        if target is None or target not in own:
            return None
        if kind == "replica_of":
            tid = own[target].id
            return next((a for a in self.cl.sc.aliases if a in own and own[a].master_id == tid), None)
        if kind == "master_of":
            line = own[target]
            return target if line.is_master else self.rec.alias_of_id.get(line.master_id)
        raise CompareError(f"unknown selector {kind}")

    def resolve_all(self, refs):
        return [a for a in map(self.resolve, refs) if a is not None]

    # -- actions; each returns the aliases it touched

    def do_crash(self, ref):
        a = self.resolve(ref)
        if a:
            self.cl.kill(a)
        return [a] if a else []

    def do_restart(self, ref):
        a = self.resolve(ref)
        if a:
            self.cl.kill(a)
            self.cl.start(a)  # same nodes-P.conf: same name, epochs and slots
        return [a] if a else []

    def do_lose_disk(self, ref):
        a = self.resolve(ref)
        if a:
            conf = os.path.join(self.cl.dir, f"nodes-{self.cl.ports[a]}.conf")
            if os.path.exists(conf):
                os.remove(conf)
        return [a] if a else []

    def do_pause(self, ref):
        a = self.resolve(ref)
        if a and self.cl.is_up(a):
            os.kill(self.cl.procs[a].pid, signal.SIGSTOP)
            self.cl.paused.add(a)
        return [a] if a else []

    def do_resume(self, ref):
        a = self.resolve(ref)
        if a and a in self.cl.paused:
            os.kill(self.cl.procs[a].pid, signal.SIGCONT)
            self.cl.paused.discard(a)
        return [a] if a else []

    def do_failover(self, spec):
        a = self.resolve(spec["node"])
        if a and self.cl.connect(a):
            mode = spec.get("mode", "default")
            args = ["CLUSTER", "FAILOVER"] + ([] if mode == "default" else [mode.upper()])
            try:
                self.cl.conns[a].call(*args)
            except RespError as e:
                log(f"  {' '.join(args)} on {a} refused: {e}")
        return [a] if a else []

    def do_config_set(self, spec):
        targets = self.cl.pollable() if spec["node"] == "all" else self.resolve_all([spec["node"]])
        for a in targets:
            if self.cl.connect(a):
                self.cl.conns[a].call("CONFIG", "SET", spec["name"], redis_config_value(spec["value"]))
        return targets

    def do_meet(self, spec):
        a, target = self.resolve(spec["node"]), self.resolve(spec["target"])
        if a and target and self.cl.connect(a):
            self.cl.conns[a].call("CLUSTER", "MEET", HOST, self.cl.ports[target])
        return [x for x in (a, target) if x]

    def do_forget(self, spec):
        a, target = self.resolve(spec["node"]), self.resolve(spec["target"])
        if a and target and target in self.rec.latest and self.cl.connect(a):
            self.cl.conns[a].call("CLUSTER", "FORGET", self.rec.latest[target].myself)
        return [x for x in (a, target) if x]

    def do_addslots(self, spec):
        a = self.resolve(spec["node"])
        if a and self.cl.connect(a):
            ranges = []
            for s in spec["slots"]:
                lo, _, hi = str(s).partition("-")
                ranges += [lo, hi or lo]
            self.cl.conns[a].call("CLUSTER", "ADDSLOTSRANGE", *ranges)
        return [a] if a else []

    def do_partition(self, groups):
        groups = [self.resolve_all(g) for g in groups]
        pairs = [(a, b) for i, g in enumerate(groups) for h in groups[i + 1:] for a in g for b in h]
        self.cl.cuts.set(pairs + [(b, a) for a, b in pairs], down=True)
        return [a for g in groups for a in g]

    def do_isolate(self, ref):
        a = self.resolve(ref)
        if a:
            others = [b for b in self.cl.sc.aliases if b != a]
            self.cl.cuts.set([(a, b) for b in others] + [(b, a) for b in others], down=True)
        return [a] if a else []

    def _directed(self, spec):
        a, b = self.resolve(spec["from"]), self.resolve(spec["to"])
        if not (a and b):
            return [], []
        return [(a, b)] + ([(b, a)] if spec.get("both_ways") else []), [a, b]

    def do_block(self, spec):
        pairs, touched = self._directed(spec)
        self.cl.cuts.set(pairs, down=True)
        return touched

    def do_unblock(self, spec):
        pairs, touched = self._directed(spec)
        self.cl.cuts.set(pairs, down=False)
        return touched

    def do_link(self, spec):
        pairs, touched = self._directed(spec)
        self.cl.shaping.change(pairs, spec)
        return touched

    def do_heal(self, _):
        self.cl.cuts.heal()
        return []

    def do_flap(self, spec):
        """Down now, up one period later, and so on; up at `until`. The ends are resolved once, now."""
        a, b = self.resolve_all(spec["between"])
        now, period, until = self.now_ms(), duration_ms(spec["period"]), duration_ms(spec["until"])
        t, down = now, True
        while t < until:
            self.schedule(t, {"at": None, "_flap_edge": {"pair": [a, b], "down": down}})
            t, down = t + period, not down
        self.schedule(until, {"at": None, "_flap_edge": {"pair": [a, b], "down": False}})
        return [a, b]

    def do_flap_edge(self, spec):
        a, b = spec["pair"]
        self.cl.cuts.set([(a, b), (b, a)], down=spec["down"])
        return [a, b]


def real_side_problem(sc):
    """None if real Redis can run this scenario here, else why not."""
    if sc.known_bugs:
        return (f"known_bugs {', '.join(sc.known_bugs)}: these switch bugs on in the simulator's protocol code; "
                "real Redis 7.0.15 has none of them (replay the repro without them to see what real Redis does)")
    kinds = {action_kind(a) for a in sc.timeline}
    unsupported = sorted(kinds & UNSUPPORTED_ACTIONS)
    if unsupported:
        return f"{', '.join(unsupported)} cannot be reproduced on real Redis"
    why = shaping_problem(sc)
    if why:
        return why
    if kinds & CUT_ACTIONS:
        why = iptables_problem()
        if why:
            return f"partition not supported here ({why})"
    if sc.masters < 3:
        return "redis-cli --cluster create needs at least 3 masters"
    return None


def run_real_trial(sc, keep, base_port):
    workdir = tempfile.mkdtemp(prefix=f"redis-compare-{sc.name}-")
    workdir_token = guard.track_dir(workdir)
    with_cuts = any(action_kind(a) in CUT_ACTIONS for a in sc.timeline)
    shaped = needs_shaping(sc)
    cluster = RealCluster(sc, workdir, with_cuts or shaped, base_port)
    workload = None
    try:
        if shaped:
            cluster.enable_shaping()
        cluster.create()
        if with_cuts:
            cluster.enable_cuts()
        if shaped:
            cluster.shaping.start_scenario(cluster.ports)
        recorder = Recorder(min(STEADY_WINDOW_MS, sc.first_action_ms()))
        if sc.has_workload:
            workload = RealWorkload(sc, cluster, workdir)
            workload.spawn()  # the clients wait for time 0
        runner = TrialRunner(cluster, recorder, workload)
        runner.run()
        if shaped:
            cluster.shaping.check()
        record = recorder.record()
        if workload:
            record["writes"] = workload.check(recorder.fired)  # stopped at run_until; settles, reads back
        runner.judge.finish(record)  # last: lost_writes reads the record's "writes"
        return record
    finally:
        # A second Ctrl-C must not interrupt the cleanup: it is delivered once the cleanup is done.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
        if workload:
            workload.kill()
        cluster.shutdown()
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        if keep:
            log(f"  kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        guard.untrack(workdir_token)
