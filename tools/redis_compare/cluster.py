"""One fresh cluster of redis-server processes: start, create, connect, poll, kill."""

import os
import socket
import subprocess
import time

from . import guard
from .common import BUS_OFFSET, HOST, CompareError
from .cuts import Cuts, source_ip
from .resp import Resp, RespError, View, parse_cluster_nodes, parse_info
from .scenario import redis_config_value
from .shaping import Shaping

def port_in_use(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return True
    return False


class RealCluster:
    """One fresh cluster of redis-server processes in a temp dir, for one trial."""

    def __init__(self, scenario, workdir, source_addrs, base_port):
        self.base_port = base_port
        self.sc = scenario
        self.dir = workdir
        self.source_addrs = source_addrs  # each node connects from its own address: for cuts and shaping
        self.ports = {a: base_port + i for i, a in enumerate(scenario.aliases)}  # changed by map_aliases
        self.procs = {}   # alias -> Popen
        self.paused = set()
        self.conns = {}   # alias -> Resp, for nodes that answer
        self.cuts = None
        self.shaping = None  # shaping.Shaping when the scenario shapes links
        self.clocks = None  # clocks.Clocks when the scenario skews clocks: every node runs under libfaketime

    # -- processes

    def start(self, alias):
        port = self.ports[alias]
        args = ["redis-server", "--port", port, "--bind", HOST, "--cluster-enabled", "yes",
                "--cluster-config-file", f"nodes-{port}.conf", "--appendonly", "no", "--save", "",
                "--dbfilename", f"dump-{port}.rdb", "--dir", self.dir, "--daemonize", "no",
                "--repl-diskless-sync-delay", 0,
                "--logfile", os.path.join(self.dir, f"{port}.log")]
        if self.source_addrs:
            # Peers must learn 127.0.0.1 (where we listen), not the source address they see; protected
            # mode would refuse replicas connecting from 127.1.x.y (it trusts 127.0.0.1 only), and it is
            # not needed while we listen on 127.0.0.1 alone.
            args += ["--cluster-announce-ip", HOST, "--bind-source-addr", source_ip(port),
                     "--protected-mode", "no"]
        for name, value in self.sc.config.items():
            args += [f"--{name}", redis_config_value(value)]
        # sim's disk holds nodes.conf only: a node boots without data (a replica's last full sync wrote one).
        self._remove(f"dump-{port}.rdb")
        env = self.clocks.env(alias, port) if self.clocks else None
        proc = subprocess.Popen([str(a) for a in args], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        proc.guard_token = guard.track_pid(proc.pid)
        if self.clocks:
            self.clocks.process_started(proc.pid)
        self.procs[alias] = proc

    def lose_disk(self, alias):
        """Deletes the node's files: nodes-P.conf and dump-P.rdb (the one a replica's full sync wrote)."""
        for name in (f"nodes-{self.ports[alias]}.conf", f"dump-{self.ports[alias]}.rdb"):
            self._remove(name)

    def _remove(self, name):
        path = os.path.join(self.dir, name)
        if os.path.exists(path):
            os.remove(path)

    def kill(self, alias):
        proc = self.procs.pop(alias, None)
        self.disconnect(alias)
        self.paused.discard(alias)
        if proc:
            proc.kill()  # SIGKILL also ends a stopped process
            proc.wait()
            guard.untrack(proc.guard_token)
            if self.clocks:
                self.clocks.process_ended(proc.pid)

    def is_up(self, alias):
        return alias in self.procs

    def shutdown(self):
        for alias in list(self.procs):
            self.kill(alias)
        if self.cuts:
            self.cuts.remove()
        if self.shaping:
            self.shaping.stop()

    # -- connections

    def connect(self, alias):
        """Connects if the node answers PING; returns whether it is connected."""
        if alias in self.conns:
            return True
        try:
            conn = Resp(self.ports[alias])
        except OSError:
            return False
        try:
            conn.call("PING")
        except (OSError, RespError):
            conn.close()
            return False
        self.conns[alias] = conn
        return True

    def disconnect(self, alias):
        conn = self.conns.pop(alias, None)
        if conn:
            conn.close()

    def pollable(self):
        return [a for a in self.sc.aliases if self.is_up(a) and a not in self.paused]

    def poll(self):
        """CLUSTER NODES + CLUSTER INFO of every live node: {alias: View}. Requests go out to every node
        first, then the replies are read, so one round costs about one round trip, not one per node."""
        live = [a for a in self.pollable() if self.connect(a)]
        views = {}
        try:
            for a in live:
                self.conns[a].send(["CLUSTER", "NODES"], ["CLUSTER", "INFO"])
            for a in live:
                nodes, info = self.conns[a].reply(), self.conns[a].reply()
                if isinstance(nodes, str) and isinstance(info, str):  # a node still loading answers errors
                    myself, lines = parse_cluster_nodes(nodes)
                    views[a] = View(myself, lines, parse_info(info))
        except OSError as e:
            raise CompareError(f"{a} (port {self.ports[a]}) stopped answering: {e} (logs in {self.dir})")
        return views

    def wait_until(self, what, predicate, timeout_s):
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                raise CompareError(f"timed out after {timeout_s} s waiting for {what} (logs in {self.dir})")
            time.sleep(0.05)

    # -- creation

    def create(self):
        """Starts every node and makes the cluster as create-cluster does; returns once every node is ok,
        knows every other node and every replica has finished its first sync."""
        for port in self.ports.values():
            if port_in_use(port) or port_in_use(port + BUS_OFFSET):
                raise CompareError(f"port {port} or {port + BUS_OFFSET} is already in use on {HOST}")
        for alias in self.sc.aliases:
            self.start(alias)
        self.wait_until("every node to answer PING", lambda: all(self.connect(a) for a in self.sc.aliases), 20)
        members = self.sc.aliases[:self.sc.masters * (1 + self.sc.replicas_per_master)]
        cmd = (["redis-cli", "--cluster", "create"] + [f"{HOST}:{self.ports[a]}" for a in members]
               + ["--cluster-replicas", str(self.sc.replicas_per_master), "--cluster-yes"])
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise CompareError(f"redis-cli --cluster create failed:\n{r.stdout}{r.stderr}")
        self.wait_until("cluster_state:ok, every node known and replicas synced",
                        lambda: self._ready(members), 60 + len(members))  # 100 nodes: ~1 min of gossip
        self.map_aliases(self.poll())

    def _ready(self, members):
        views = self.poll()
        replicas = len(members) - self.sc.masters
        for a in members:
            v = views.get(a)
            if not v or v.info.get("cluster_state") != "ok" or int(v.info["cluster_known_nodes"]) != len(members):
                return False
            if sum("slave" in l.flags for l in v.lines.values()) != replicas:
                return False
            if "slave" in v.own.flags:
                repl = parse_info(self.conns[a].call("INFO", "replication"))
                if repl.get("master_link_status") != "up":
                    return False
        return True

    def map_aliases(self, views):
        """redis-cli pairs replicas with masters its own way: rk becomes the replica of
        m(((k-1) mod N)+1), the j-th such alias taking that master's j-th replica in port order."""
        by_port = {v.own.port: v.own for v in views.values()}
        n = self.sc.masters
        replicas_of = {}
        for i in range(1, n + 1):
            master = by_port[self.ports[f"m{i}"]]
            if not master.is_master:
                raise CompareError(f"m{i} (port {master.port}) is not a master after creation")
            replicas_of[f"m{i}"] = sorted(l.port for l in by_port.values() if l.master_id == master.id)
        taken = {m: 0 for m in replicas_of}
        for k in range(1, n * self.sc.replicas_per_master + 1):
            m = self.sc.master_alias_of(f"r{k}")
            if taken[m] >= len(replicas_of[m]):
                raise CompareError(f"{m} has only {len(replicas_of[m])} replicas after creation")
            self.ports[f"r{k}"] = replicas_of[m][taken[m]]
            taken[m] += 1
        self.procs = {a: self.procs[self._original_alias(self.ports[a])] for a in self.sc.aliases}
        self.conns = {a: self.conns[self._original_alias(self.ports[a])] for a in self.sc.aliases}

    def _original_alias(self, port):
        return self.sc.aliases[port - self.base_port]

    def enable_cuts(self):
        self.cuts = Cuts(dict(self.ports), self.base_port)
        self.cuts.install()

    def enable_shaping(self):
        """Before the nodes start (see Shaping.start)."""
        self.shaping = Shaping(self.sc, self.ports, self.base_port)
        self.shaping.start()
