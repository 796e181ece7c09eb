"""One real trial: the timeline applied to a created cluster while it is polled."""

import datetime
import heapq
import os
import shutil
import signal
import tempfile
import time

from . import guard
from .clocks import Clocks, clock_skew_problem
from .cluster import RealCluster, synced_disk_problem
from .common import CUT_ACTIONS, HOST, POLL_INTERVAL_S, STEADY_WINDOW_MS, CompareError, duration_ms, log
from .cuts import host_syn_linear_timeouts, iptables_problem, syn_schedule_problem
from .expect import ExpectJudge, describe_ref
from .record import Recorder, heartbeat_bytes, packet_sizes_from_logs
from .reshard import Reshard, slot_list
from .resp import Resp, RespError, owners_by_epoch
from .scenario import action_kind, redis_config_value
from .shaping import needs_shaping, shaping_problem
from .workload import RealWorkload

NOT_RUNNING = "ERR node is not running"  # sim's reply to a command for a node that is down or paused
BOOT_WAIT_S = 2.0  # how long a command waits for a node that is up but not listening yet (just restarted)

class TrialRunner:
    """Applies the timeline to a created cluster while polling it, until run_until."""

    def __init__(self, cluster, recorder, workload=None):
        self.cl = cluster
        self.rec = recorder
        self.workload = workload  # RealWorkload: started at time 0, told of every poll and action
        self.t0 = None
        self.events = []  # heap of (at_ms, seq, action)
        self.seq = 0
        self.action_errors = []  # as sim's summary.json words them: "<ms> ms: <command>: <reply>"
        self.reshards = []       # migrate_slots under way (reshard.Reshard threads)
        self.judge = ExpectJudge(cluster, recorder, self.resolve)

    def now_ms(self):
        return (time.monotonic() - self.t0) * 1000

    def schedule(self, at_ms, action):
        heapq.heappush(self.events, (at_ms, self.seq, action))
        self.seq += 1

    def run(self):
        self.sweep_ms = []  # how long each poll of every node took: the real side's time resolution
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
                self.sweep_ms.append(self.now_ms() - t)
                self.rec.observe(t, views, self.cl.pollable())
                self.judge.observe(t, views)
                if self.workload:
                    self.workload.observe(t, views)
                if t >= end:
                    break
                next_poll = min(next_poll + POLL_INTERVAL_S * 1000, end)
            wake = min([next_poll] + [e[0] for e in self.events[:1]])
            time.sleep(max(0.0, (wake - self.now_ms()) / 1000))
        for reshard in self.reshards:
            reshard.stop()
        if self.cl.clocks:
            for a in self.cl.clocks.skew:
                self.log_clock(a, "at the end")

    def fire(self, action):
        kind = action_kind(action)
        t = self.now_ms()
        touched = getattr(self, "do_" + kind.lstrip("_"))(action[kind])
        # Wall clock, as the servers' logs print it: with --keep, which log lines followed which action.
        with open(os.path.join(self.cl.dir, "actions.log"), "a") as log:
            log.write(f"{datetime.datetime.now().strftime('%d %b %Y %H:%M:%S.%f')[:-3]} {t:.1f} ms {kind}\n")
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
            return owners_by_epoch({a: l for a, l in own.items() if l.is_master})[arg]
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

    def node(self, ref, role):
        """resolve() for an action; a reference to no node is an action error, as in sim."""
        a = self.resolve(ref)
        if a is None:
            self.action_errors.append(f"{role} {describe_ref(ref)} resolved to no node")
        return a

    # -- admin commands, refused as sim refuses them

    def action_error(self, what, reply):
        message = f"{self.now_ms():.0f} ms: {what}: {reply}"
        self.action_errors.append(message)
        log(f"  action error: {message}")

    def command(self, alias, what, *args):
        """Sends an admin command to a node that is up (sim: "ERR node is not running" otherwise, also
        for a paused node); returns the reply, or None after recording the refusal as an action error."""
        if alias in self.cl.paused or not self.cl.is_up(alias):
            self.action_error(what, NOT_RUNNING)
            return None
        # A node restarted a moment ago is up in sim at once; here it needs a few ms to listen.
        deadline = time.monotonic() + BOOT_WAIT_S
        while not self.cl.connect(alias):
            if time.monotonic() > deadline:
                self.action_error(what, f"{alias} does not answer")
                return None
            time.sleep(0.005)
        try:
            return self.cl.conns[alias].call(*args)
        except RespError as e:
            self.action_error(what, str(e))
            return None

    # -- actions; each returns the aliases it touched

    def do_crash(self, ref):
        a = self.node(ref, "crash")
        if a:
            self.cl.kill(a)
        return [a] if a else []

    def do_power_loss(self, ref):
        a = self.node(ref, "power_loss")
        if a:
            self.cl.power_loss(a)
        return [a] if a else []

    def do_restart(self, ref):
        a = self.node(ref, "restart")
        if a:
            self.cl.kill(a)
            self.cl.start(a)  # same nodes-P.conf: same name, epochs and slots; no data, as in sim
        return [a] if a else []

    def do_lose_disk(self, ref):
        """A node that is up keeps running and writes a new nodes.conf at its next config change, as the
        wiped disk in sim does."""
        a = self.node(ref, "lose_disk")
        if a:
            self.cl.lose_disk(a)
        return [a] if a else []

    def do_pause(self, ref):
        a = self.node(ref, "pause")
        if a and self.cl.is_up(a):
            os.kill(self.cl.procs[a].pid, signal.SIGSTOP)
            self.cl.paused.add(a)
        return [a] if a else []

    def do_resume(self, ref):
        a = self.node(ref, "resume")
        if a and a in self.cl.paused:
            os.kill(self.cl.procs[a].pid, signal.SIGCONT)
            self.cl.paused.discard(a)
        return [a] if a else []

    def do_failover(self, spec):
        a = self.node(spec["node"], "failover")
        if a:
            mode = spec.get("mode", "default")
            self.command(a, f"CLUSTER FAILOVER on {a}",
                         "CLUSTER", "FAILOVER", *([] if mode == "default" else [mode.upper()]))
        return [a] if a else []

    def do_bump_epoch(self, ref):
        a = self.node(ref, "bump_epoch")
        if a:
            reply = self.command(a, f"CLUSTER BUMPEPOCH on {a}", "CLUSTER", "BUMPEPOCH")
            if reply is not None:
                log(f"  CLUSTER BUMPEPOCH on {a}: {reply}")
        return [a] if a else []

    def do_config_set(self, spec):
        """As sim: on every node that is running, a paused one included (real Redis runs the command when it
        resumes: it is sent on a connection of its own, whose reply nobody reads); refusals are not errors."""
        targets = [a for a in (self.cl.sc.aliases if spec["node"] == "all" else [self.resolve(spec["node"])])
                   if a and self.cl.is_up(a)]
        args = ["CONFIG", "SET", spec["name"], redis_config_value(spec["value"])]
        for a in targets:
            if a in self.cl.paused:
                conn = Resp(self.cl.ports[a])
                conn.send(args)
                conn.close()  # the command waits in the socket; the node reads it, and runs it, when it resumes
            elif self.cl.connect(a):
                try:
                    self.cl.conns[a].call(*args)
                except RespError as e:
                    log(f"  CONFIG SET on {a} refused: {e}")
        return targets

    def do_meet(self, spec):
        a, target = self.node(spec["node"], "meet"), self.node(spec["target"], "meet target")
        if a and target:
            self.command(a, "CLUSTER MEET", "CLUSTER", "MEET", HOST, self.cl.ports[target])
        return [x for x in (a, target) if x]

    def do_forget(self, spec):
        """To the one node, as in sim: the others keep the target (and gossip it back within 60 s)."""
        a, target = self.node(spec["node"], "forget"), self.node(spec["target"], "forget target")
        if a and target:
            if target in self.cl.paused or not self.cl.is_up(target):
                self.action_error("CLUSTER FORGET", NOT_RUNNING)  # sim takes the id from the running target
            else:
                self.command(a, "CLUSTER FORGET", "CLUSTER", "FORGET", self.rec.latest[target].myself)
        return [x for x in (a, target) if x]

    def do_addslots(self, spec):
        a = self.node(spec["node"], "addslots")
        if a:
            ranges = []
            for s in spec["slots"]:
                lo, _, hi = str(s).partition("-")
                ranges += [lo, hi or lo]
            self.command(a, "CLUSTER ADDSLOTS", "CLUSTER", "ADDSLOTSRANGE", *ranges)
        return [a] if a else []

    def do_migrate_slots(self, spec):
        """What redis-cli --cluster reshard sends (reshard.py), started now, running while the trial goes on;
        "every other master" is, as for redis-cli, every master the source knows that answers."""
        src, dst = self.node(spec["from"], "migrate from"), self.node(spec["to"], "migrate to")
        if not (src and dst):
            return [x for x in (src, dst) if x]
        for a in (src, dst):
            if a in self.cl.paused or not self.cl.is_up(a):
                self.action_error("SETSLOT", f"{NOT_RUNNING} ({a})")
                return [src, dst]
        ids = {a: v.myself for a, v in self.rec.latest.items()}
        known = [self.rec.alias_of_id.get(i) for i in self.rec.latest[src].lines]
        others = [a for a in self.cl.pollable() if a in known and a not in (src, dst)
                  and a in self.rec.latest and self.rec.latest[a].own.is_master]
        reshard = Reshard(slot_list(spec["slots"]), src, dst, ids, dict(self.cl.ports), others,
                          lambda message: self.action_error("SETSLOT", message))
        reshard.start()
        self.reshards.append(reshard)
        return [src, dst]

    def do_clock_skew(self, spec):
        """Rewrites the node's libfaketime file (clocks.py); checks the node's clock with TIME when it answers."""
        a = self.node(spec["node"], "clock_skew")
        if a:
            offset_ms, drift_ppm = duration_ms(spec.get("offset", "0ms")), spec.get("drift_ppm", 0)
            self.cl.clocks.set(a, self.cl.ports[a], offset_ms, drift_ppm)
            self.log_clock(a, f"set to {offset_ms:+.0f} ms {drift_ppm:+g} ppm")
        return [a] if a else []

    def log_clock(self, alias, when):
        """The node's wall clock (TIME reads gettimeofday) against true time, if the node answers."""
        if alias in self.cl.pollable() and self.cl.connect(alias):
            seconds, micros = self.cl.conns[alias].call("TIME")
            off_ms = (int(seconds) + int(micros) / 1e6 - time.time()) * 1000
            log(f"  clock of {alias} {when}: {off_ms:+.1f} ms from true time "
                f"(expected {self.cl.clocks.expected_offset_ms(alias):+.1f})")

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


# The largest real cluster run on this 2-core machine (issue 14, item 6: 50 + 50 is what one box holds;
# results/fidelity-real.md, scenarios/large/idle_100.json and master_crash_100.json).
MAX_REAL_NODES = 100


def real_side_problem(sc, max_nodes=MAX_REAL_NODES):
    """None if real Redis can run this scenario here, else why not."""
    if len(sc.aliases) > max_nodes:
        return (f"{len(sc.aliases)} nodes: the real side runs every node on this one machine, and {MAX_REAL_NODES} nodes "
                "is the largest cluster whose timings a 2-core box resolves (at 200 one poll of every node takes "
                "0.6 s: results/fidelity-real-capacity.md; --max-real-nodes N to try more on a bigger box)")
    if sc.known_bugs:
        return (f"known_bugs {', '.join(sc.known_bugs)}: these switch bugs on in the simulator's protocol code; "
                "real Redis 7.0.15 has none of them (replay the repro without them to see what real Redis does)")
    if sc.workload and sc.workload.get("client", "generic") != "generic":
        return (f"workload.client {sc.workload['client']}: the real side runs its own client, which follows the generic "
                "profile; the library profiles (sim/client_profiles.cpp) are the libraries' defaults read from their "
                "source, not those libraries running")
    kinds = {action_kind(a) for a in sc.timeline}
    why = clock_skew_problem(sc) or shaping_problem(sc) or (synced_disk_problem() if "power_loss" in kinds else None)
    if why:
        return why
    if kinds & CUT_ACTIONS:
        why = iptables_problem()
        if why:
            return f"partition not supported here ({why})"
        return syn_schedule_problem(sc)
    return None


def start_delay_s(trial):
    """How long trial `trial` (1, 2, ...) waits between the cluster being ready and its time 0: frac(trial * the
    golden ratio) of a second. Readiness is seen by a poll that follows the nodes' own cron and ping schedule,
    so starting at once would put every trial's faults at about the same phase of the 100 ms cron and the 1 s
    ping cycle (manual_failover_force's election waited 50-90 ms for the next cron in 7 of 7 trials); these
    delays spread the phases evenly over the trials, as faults fall in production and in sim's seeds."""
    return (trial * 0.6180339887498949) % 1.0


def host_cpu_ticks():
    """(busy, total) CPU ticks of the whole machine so far, from /proc/stat's first line (idle and iowait
    are not busy)."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


def run_real_trial(sc, keep, base_port, trial=1, loglevel="notice", server="redis-server"):
    workdir = tempfile.mkdtemp(prefix=f"redis-compare-{sc.name}-")
    workdir_token = guard.track_dir(workdir)
    with_cuts = any(action_kind(a) in CUT_ACTIONS for a in sc.timeline)
    shaped = needs_shaping(sc)
    cluster = RealCluster(sc, workdir, with_cuts or shaped, base_port, loglevel, server)
    if any(action_kind(a) == "clock_skew" for a in sc.timeline):
        cluster.clocks = Clocks(workdir)
    workload = None
    try:
        if shaped:
            cluster.enable_shaping()
        cluster.create()
        if with_cuts:
            cluster.enable_cuts()
        if shaped:
            cluster.shaping.start_scenario()
        delay_s = start_delay_s(trial)
        time.sleep(delay_s)
        recorder = Recorder(min(STEADY_WINDOW_MS, sc.first_action_ms()))
        if sc.has_workload:
            workload = RealWorkload(sc, cluster, workdir)
            workload.spawn()  # the clients wait for time 0
        runner = TrialRunner(cluster, recorder, workload)
        busy_before, total_before = host_cpu_ticks()
        runner.run()
        busy_after, total_after = host_cpu_ticks()
        if shaped:
            cluster.shaping.check()
        record = recorder.record()
        record["action_errors"] = runner.action_errors
        record["start_delay_ms"] = round(delay_s * 1000)
        record["tcp_syn_linear_timeouts"] = host_syn_linear_timeouts()  # the sim side runs the same kernel
        # How loaded the machine was while the scenario ran (the servers, this tool, anything else): a real
        # side near every core busy runs its timers late, and its timings are the box's, not Redis's.
        busy_fraction = (busy_after - busy_before) / max(1, total_after - total_before)
        record["host_cpu"] = {"cores": os.cpu_count(), "busy_fraction": round(busy_fraction, 3)}
        sweeps = sorted(runner.sweep_ms)  # the loop polls at least once, at run_until
        sweep = {"sweeps": len(sweeps), "median": round(sweeps[len(sweeps) // 2], 1), "max": round(sweeps[-1], 1)}
        record["poll_sweep_ms"] = sweep
        log(f"  host CPU while the scenario ran: {busy_fraction:.0%} of {os.cpu_count()} cores busy; "
            f"{sweep['sweeps']} polls of every node, each {sweep['median']} ms (median), {sweep['max']} ms at most")
        if loglevel == "debug":
            record["heartbeat_bytes"] = heartbeat_bytes(packet_sizes_from_logs(workdir))
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
