"""The scenario's `workload` on a real cluster, and sim/workload.cpp's lost-acknowledged-write checker.

The clients run in processes of their own (client.py), apart from the 10 ms poll loop; this side spawns
them before time 0, starts them at time 0, follows the roles and cuts the checker's reasons need while the
trial runs, and after run_until settles the cluster as the simulator does and reads every acknowledged key
back from its owner."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .client import MAX_ATTEMPTS, key_hash_slot
from . import guard
from .common import CompareError, duration_ms, log
from .cuts import source_ip
from .expect import slot_owners
from .record import RoleWatch
from .resp import RespError, owners_by_epoch, parse_info

# Commands per second one client process is given (WAIT counts): wait_writes' 10 clients, 5,000 writes/s
# with WAIT, cost one process ~36 us of CPU per command; split over 2 or 4 processes they cost more (64, 88).
COMMANDS_PER_PROCESS_S = 10_000
MAX_PROCESSES = 4
READ_BATCH = 1000
CUT_KINDS = {"partition", "isolate", "block"}  # a fault that cuts the touched nodes (sim/world.cpp)


class WorkloadSpec:
    """The scenario's `workload` with scenarios/README.md's defaults."""

    def __init__(self, doc):
        self.clients = doc.get("clients", 1)
        self.writes_per_s = doc.get("writes_per_s", 100)
        self.reads_per_s = doc.get("reads_per_s", 0)
        self.keys = doc.get("keys", 1000)
        self.hash_tags = doc.get("hash_tags", False)
        self.client_timeout_ms = duration_ms(doc.get("client_timeout", "1s"))
        wait = doc.get("wait")
        self.wait = None if wait is None else {"replicas": wait.get("replicas", 1),
                                               "timeout_ms": int(duration_ms(wait.get("timeout", "100ms")))}
        self.placement = doc.get("placement", [])

    @property
    def rate(self):
        return self.writes_per_s + self.reads_per_s

    def process_count(self):
        commands_s = self.writes_per_s * (2 if self.wait else 1) + self.reads_per_s
        return max(1, min(self.clients, MAX_PROCESSES, math.ceil(commands_s / COMMANDS_PER_PROCESS_S)))


class RealWorkload:
    """The clients of one trial and what the checker needs to know about the run (times in ms of scenario
    time, as the recorder's)."""

    def __init__(self, sc, cluster, workdir):
        self.sc, self.cl, self.dir = sc, cluster, workdir
        self.spec = WorkloadSpec(sc.workload)
        self.node_timeout_ms = int(sc.config.get("cluster-node-timeout", 15000))
        self.procs = []
        self.t0 = None
        self.alias_of_id = {}
        self.roles = RoleWatch()
        self.demotions = {}    # alias -> [t]: seen replica after master
        self.promotions = {}   # alias -> [t]: seen master after replica
        self.replaced = {}     # alias -> [t]: its replica was seen master
        self.cut_history = {}  # alias -> [(t, cut?)]
        self.cut_pairs = set()
        self.resumes = []      # (t, alias) resumed by the settling

    # -- before and during the run

    def spawn(self):
        """Starts the client processes; they wait for time 0."""
        if self.spec.clients == 0 or self.spec.rate <= 0:
            return
        views = self.cl.poll()
        members = self.sc.members
        drivers = [self.driver_spec(i, views) for i in range(self.spec.clients)]
        count = self.spec.process_count()
        for k in range(count):
            config = {"run_until_ms": self.sc.run_until_ms, "clients": self.spec.clients,
                      "interval_s": self.spec.clients / self.spec.rate,
                      "write_fraction": self.spec.writes_per_s / self.spec.rate,
                      "keys": self.spec.keys, "hash_tags": self.spec.hash_tags,
                      "client_timeout_ms": self.spec.client_timeout_ms, "wait": self.spec.wait,
                      "startup_ports": [self.cl.ports[a] for a in members],
                      "log": os.path.join(self.dir, f"writes-{k}.tsv"), "drivers": drivers[k::count]}
            path = os.path.join(self.dir, f"clients-{k}.json")
            with open(path, "w") as f:
                json.dump(config, f)
            with open(os.path.join(self.dir, f"clients-{k}.err"), "w") as err:
                proc = subprocess.Popen([sys.executable, "-m", "redis_compare.client", path],
                                        cwd=Path(__file__).resolve().parent.parent,
                                        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
            proc.guard_token = guard.track_pid(proc.pid)
            self.procs.append(proc)

    def driver_spec(self, index, views):
        """Client i beside placement[i] writes only keys of the slots that node (or its master) serves at
        time 0, and, when the nodes connect from addresses of their own (cuts, shaping), from that node's, so that every rule
        cutting the node cuts the client too."""
        spec = {"index": index}
        if index < len(self.spec.placement):
            alias = self.spec.placement[index]
            view = views.get(alias)
            if view is not None:
                serving = view.own if view.own.is_master else view.lines.get(view.own.master_id)
                if serving is not None and serving.slots:
                    spec["local_slots"] = sorted(serving.slots)
            if self.cl.source_addrs:
                spec["source_ip"] = source_ip(self.cl.ports[alias])
        return spec

    def start(self, t0):
        """Time 0: every client process starts its clients now."""
        self.t0 = t0
        for p in self.procs:
            p.stdin.write(f"{t0!r}\n".encode())
            p.stdin.close()

    def now_ms(self):
        return (time.monotonic() - self.t0) * 1000

    def observe(self, t, views):
        for alias, v in views.items():
            self.alias_of_id[v.myself] = alias
        for alias, before, now in self.roles.changes(views):
            if now.is_master:
                self.promotions.setdefault(alias, []).append(t)
                old = self.alias_of_id.get(before.master_id)
                if old:
                    self.replaced.setdefault(old, []).append(t)
            else:
                self.demotions.setdefault(alias, []).append(t)

    def after_action(self, t, kind, touched):
        """The nodes an action at `t` cut off or reconnected, as the simulator's fault history has them: a
        partition, isolate or block cuts the nodes it touched (isolate: only the isolated node), unblock
        and a flap's up edge reconnect them, heal reconnects every node. `t` is when the action started,
        as the recorder's fault_ms: the packet filters are in place ~10-20 ms later (iptables-restore)."""
        pairs = set(self.cl.cuts.cut) if self.cl.cuts else set()
        added, removed = pairs - self.cut_pairs, self.cut_pairs - pairs
        self.cut_pairs = pairs
        if kind == "heal":
            changes = [(a, False) for a in self.sc.aliases]
        elif kind in CUT_KINDS or added:
            changes = [(a, True) for a in touched]
        elif removed:
            changes = [(a, False) for a in touched]
        else:
            changes = []
        for alias, cut in changes:
            self.cut_history.setdefault(alias, []).append((t, cut))

    # -- after the run

    def kill(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            guard.untrack(p.guard_token)
        self.procs = []

    def check(self, fired):
        """Waits for the clients' last commands, settles the cluster, reads every acknowledged key back and
        returns the record's "writes" (the fields of sim's summary.json)."""
        self.wait_for_clients()
        views = self.settle()
        writes, reads = self.read_logs()
        finals, owner = self.read_back(writes, views)
        return self.judge(writes, reads, finals, owner, fired)

    def wait_for_clients(self):
        # The slowest last command: every attempt timed out after its back-off, then WAIT.
        limit_s = MAX_ATTEMPTS * (self.spec.client_timeout_ms / 1000 + 1.5) + self.spec.client_timeout_ms / 1000 + 5
        deadline = time.monotonic() + limit_s
        for k, p in enumerate(self.procs):
            try:
                p.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise CompareError(f"client process {k} still running {limit_s:.0f} s after run_until "
                                   f"(logs in {self.dir})")
            if p.returncode != 0:
                with open(os.path.join(self.dir, f"clients-{k}.err")) as f:
                    raise CompareError(f"client process {k} exited {p.returncode}: {f.read().strip()[-2000:]}")

    def settle(self):
        """As Workload::settle: heal, resume paused nodes, then poll until every live member agrees on every
        slot's owner, every one is ok, no two serving masters share a configEpoch and every replica's link
        is up, at most 3 x node timeout + 10 s; then 1 s more. Returns the last poll's views."""
        if self.cl.cuts:
            self.cl.cuts.heal()
            self.after_action(self.now_ms(), "heal", [])
        for alias in sorted(self.cl.paused):
            os.kill(self.cl.procs[alias].pid, signal.SIGCONT)
            self.cl.paused.discard(alias)
            self.resumes.append((self.now_ms(), alias))
        deadline = time.monotonic() + (3 * self.node_timeout_ms + 10_000) / 1000
        while True:
            views = self.cl.poll()
            self.observe(self.now_ms(), views)
            if self.settled(views) or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        views = self.cl.poll()
        self.observe(self.now_ms(), views)
        return views

    def settled(self, views):
        members = {a: v for a, v in views.items() if len(v.lines) > 1}
        if not members:
            return False
        owners = {a: slot_owners(v) for a, v in members.items()}
        reference = next(iter(owners.values()))
        if None in reference or any(o != reference for o in owners.values()):
            return False
        epochs = [v.own.config_epoch for v in members.values() if v.own.is_master and v.own.slots]
        if len(epochs) != len(set(epochs)) or any(v.info.get("cluster_state") != "ok" for v in members.values()):
            return False
        for alias, v in members.items():
            if not v.own.is_master:
                repl = parse_info(self.cl.conns[alias].call("INFO", "replication"))
                if repl.get("master_link_status") != "up":
                    return False
        return True

    def read_logs(self):
        """{value: write} from every client process's log, and the reads counted."""
        writes, reads = {}, {"attempted": 0, "ok": 0, "failed": 0}
        for k in range(len(self.procs)):
            with open(os.path.join(self.dir, f"writes-{k}.tsv")) as f:
                for line in f:
                    fields = line.rstrip("\n").split("\t")
                    if fields[0] == "reads":
                        for name, n in zip(("attempted", "ok", "failed"), fields[1:]):
                            reads[name] += int(n)
                        continue
                    value, key, client, port, sent, exec_after, done, outcome = fields
                    writes[int(value)] = Write(int(value), key, int(client), int(port), float(sent),
                                               float(exec_after), float(done), outcome)
        return writes, reads

    def read_back(self, writes, views):
        """{key: final value or None} of every acknowledged key, and the reader of each slot: the owner: the live node
        serving it in its own view, the greatest configEpoch if several claim it. The readers may serve
        reads while the cluster is down (cluster-allow-reads-when-down), as the simulator reads the
        process's data set directly."""
        owner = owners_by_epoch({a: v.own for a, v in views.items() if v.own.is_master})
        keys_of = {}
        for w in writes.values():
            if w.acked:
                reader = owner[key_hash_slot(w.key)]
                if reader is not None:
                    keys_of.setdefault(reader, set()).add(w.key)
        finals = {}
        for reader, keys in keys_of.items():
            conn = self.cl.conns[reader]
            conn.call("CONFIG", "SET", "cluster-allow-reads-when-down", "yes")
            keys = sorted(keys)
            for i in range(0, len(keys), READ_BATCH):
                batch = keys[i:i + READ_BATCH]
                conn.send(*(["GET", k] for k in batch))
                for k in batch:
                    value = conn.reply()
                    if isinstance(value, RespError):
                        raise CompareError(f"GET {k} on {reader}: {value}")
                    finals[k] = None if value is None else int(value)
        return finals, owner

    def judge(self, writes, reads, finals, owner, fired):
        """sim/workload.cpp's Workload::check on the logged writes."""
        alias_of_port = {port: a for a, port in self.cl.ports.items()}
        crashes = events_of(fired, {"crash", "power_loss"})
        restarts = events_of(fired, {"restart"})
        resumes = events_of(fired, {"resume"})
        for t, alias in self.resumes:
            resumes.setdefault(alias, []).append(t)
        report = {"attempted": 0, "acked": 0, "failed": 0, "lost": 0, "lost_by_reason": {}, "lost_by_node": {},
                  "max_loss_window_ms": -1, "loss_bound_ms": self.node_timeout_ms * 3 // 2 + 200,
                  "first_lost_ack_ms": -1, "last_lost_ack_ms": -1, "failed_by_reason": {}, "reads": reads}
        lost_lines = []
        for w in sorted(writes.values(), key=lambda w: w.value):
            report["attempted"] += 1
            if not w.acked:
                report["failed"] += 1
                count(report["failed_by_reason"], w.outcome)
                continue
            report["acked"] += 1
            final = finals.get(w.key)
            u = writes.get(final) if final is not None else None
            # Survives when the key holds w's value, or a write's not known to precede w.
            if final is not None and (final == w.value or u is None or not (u.acked and u.done < w.sent)):
                continue
            node = alias_of_port.get(w.port)
            reader = owner[key_hash_slot(w.key)]
            cut = self.cut_before(node, w.done)
            reason = self.reason(node, w, reader, cut, crashes, restarts, resumes)
            report["lost"] += 1
            count(report["lost_by_reason"], reason)
            count(report["lost_by_node"], node or "?")
            ack_ms = int(w.done)
            report["first_lost_ack_ms"] = ack_ms if report["first_lost_ack_ms"] < 0 else min(
                report["first_lost_ack_ms"], ack_ms)
            report["last_lost_ack_ms"] = max(report["last_lost_ack_ms"], ack_ms)
            if cut is not None:
                report["max_loss_window_ms"] = max(report["max_loss_window_ms"], int(w.done - cut))
            lost_lines.append({"write": w.value, "key": w.key, "client": w.client, "acked_by": node or "?",
                               "sent_ms": w.sent, "ack_ms": w.done, "reason": reason, "cut_ms": cut,
                               "window_ms": None if cut is None else w.done - cut, "final_value": final,
                               "read_from": reader or "?"})
        with open(os.path.join(self.dir, "lost_writes.jsonl"), "w") as f:
            f.writelines(json.dumps(line) + "\n" for line in lost_lines)
        log(f"  writes: {report['attempted']} attempted, {report['acked']} acked, {report['lost']} lost "
            f"{report['lost_by_reason']}, loss window {report['max_loss_window_ms']} ms")
        return report

    def cut_before(self, alias, t):
        cut = None
        for at, is_cut in self.cut_history.get(alias, []):
            if at > t:
                break
            cut = at if is_cut else None
        return cut

    def reason(self, node, w, reader, cut, crashes, restarts, resumes):
        """Why an acknowledged write was lost: sim/workload.hpp's reasons, from what the polls and the
        timeline saw of the node that acknowledged it."""
        if node is None:
            return "no_owner" if reader is None else "unexplained"
        crash = first_at_or_after(crashes.get(node, []), w.exec_after)
        demoted = first_at_or_after(self.demotions.get(node, []), w.exec_after)
        if crash is not None and (demoted is None or crash < demoted):
            restarted = first_at_or_after(restarts.get(node, []), crash) is not None
            return "restarted_empty" if restarted and reader == node else "crashed_before_replication"
        if demoted is not None and any(w.exec_after <= t <= w.done for t in resumes.get(node, [])):
            return "paused_master"
        if demoted is not None and cut is not None:
            return "minority_master"
        if demoted is not None and (last_at_or_before(self.replaced.get(node, []), w.done)
                                    > last_at_or_before(self.promotions.get(node, []), w.done)):
            return "replaced_master"
        if demoted is not None:
            return "demoted_master"
        return "no_owner" if reader is None else "unexplained"


class Write:
    __slots__ = ("value", "key", "client", "port", "sent", "exec_after", "done", "outcome")

    def __init__(self, value, key, client, port, sent, exec_after, done, outcome):
        self.value, self.key, self.client, self.port = value, key, client, port
        self.sent, self.exec_after, self.done, self.outcome = sent, exec_after, done, outcome

    @property
    def acked(self):
        return self.outcome == "ok"


def events_of(fired, kinds):
    out = {}
    for t, kind, touched in fired:
        if kind in kinds:
            for alias in touched:
                out.setdefault(alias, []).append(t)
    return out


def first_at_or_after(times, t):
    return next((x for x in sorted(times) if x >= t), None)


def last_at_or_before(times, t):
    return max((x for x in times if x <= t), default=-1)


def count(counts, key):
    counts[key] = counts.get(key, 0) + 1
