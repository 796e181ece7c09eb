"""One fresh cluster of redis-server processes: start, create, connect, poll, kill."""

import math
import os
import shutil
import socket
import struct
import subprocess
import time

from . import guard
from .common import BUS_OFFSET, CLUSTER_SLOTS, HOST, REPO, CompareError
from .cuts import Cuts, source_ip
from .resp import Resp, RespError, View, parse_cluster_nodes, parse_info
from .scenario import redis_config_value
from .shaping import Shaping

def synced_disk_path():
    """The LD_PRELOAD shim of tools/synced_disk.cpp, beside the sim binary of the run (RCSIM_SYNCED_DISK, which
    tools/redis-compare sets from --sim)."""
    return os.environ.get("RCSIM_SYNCED_DISK", str(REPO / "build" / "libsynced_disk.so"))


def synced_disk_problem():
    """None when a node can lose power as in the simulator (only its fsynced nodes.conf survives), else why not."""
    if not os.path.exists(synced_disk_path()):
        return f"power_loss needs {synced_disk_path()} (tools/synced_disk.cpp; `make build` makes it)"
    return None


def port_in_use(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return True
    return False


def redis_cli_slot_range(master_index, masters):
    """The slots `redis-cli --cluster create` gives its master_index-th master, as (first, last):
    a float cursor advanced by 16384/masters per master, each range ending at lround(cursor +
    slots_per_node - 1) in float arithmetic, the last at 16383 (sim/cluster_layout.cpp's layout_by_rule)."""
    def f32(x):
        return struct.unpack("f", struct.pack("f", x))[0]
    slots_per_node, cursor, first = f32(CLUSTER_SLOTS / masters), 0.0, 0
    for m in range(master_index + 1):
        last = math.floor(f32(f32(cursor + slots_per_node) - 1) + 0.5)  # lround, for x >= 0
        if last > CLUSTER_SLOTS or m == masters - 1:
            last = CLUSTER_SLOTS - 1
        last = max(last, first)
        if m == master_index:
            return first, last
        first, cursor = last + 1, f32(cursor + slots_per_node)


class RealCluster:
    """One fresh cluster of redis-server processes in a temp dir, for one trial."""

    def __init__(self, scenario, workdir, source_addrs, base_port, loglevel="notice", server="redis-server"):
        self.server = server  # the redis-server (or valkey-server) binary
        self.base_port = base_port
        self.loglevel = loglevel  # debug logs every bus packet a node processes (with --keep: which message did what)
        self.sc = scenario
        self.dir = workdir
        self.source_addrs = source_addrs  # each node connects from its own address: for cuts and shaping
        self.ports = {a: base_port + i for i, a in enumerate(scenario.aliases)}  # alias order
        self.procs = {}   # alias -> Popen
        self.paused = set()
        self.conns = {}   # alias -> Resp, for nodes that answer
        self.cuts = None
        self.shaping = None  # shaping.Shaping when the scenario shapes links
        self.clocks = None  # clocks.Clocks when the scenario skews clocks: every node runs under libfaketime

    # -- processes

    def start(self, alias):
        port = self.ports[alias]
        # argv[0] is the bare name: redis-server titles its process "redis-server HOST:PORT [cluster]" from it.
        args = [os.path.basename(self.server), "--port", port, "--bind", HOST, "--cluster-enabled", "yes",
                "--cluster-config-file", f"nodes-{port}.conf", "--appendonly", "no", "--save", "",
                "--dbfilename", f"dump-{port}.rdb", "--dir", self.dir, "--daemonize", "no",
                "--repl-diskless-sync-delay", 0,
                "--logfile", os.path.join(self.dir, f"{port}.log"), "--loglevel", self.loglevel]
        if self.source_addrs:
            # Peers must learn 127.0.0.1 (where we listen), not the source address they see; protected
            # mode would refuse replicas connecting from 127.1.x.y (it trusts 127.0.0.1 only), and it is
            # not needed while we listen on 127.0.0.1 alone.
            args += ["--cluster-announce-ip", HOST, "--bind-source-addr", source_ip(port),
                     "--protected-mode", "no"]
        for name, value in self.sc.config.items():
            args += [f"--{name}", redis_config_value(value)]
        if self.sc.imported and alias in self.sc.members and self.sc.imported.members[self.sc.aliases.index(alias)].no_failover:
            args += ["--cluster-replica-no-failover", "yes"]
        # sim's disk holds nodes.conf only: a node boots without data (a replica's last full sync wrote one).
        self._remove(f"dump-{port}.rdb")
        env = self.clocks.env(alias, port) if self.clocks else dict(os.environ)
        # synced_disk keeps a copy of nodes.conf as last fsynced, for power_loss() to put back (a scenario
        # with power_loss is refused without it).
        if os.path.exists(synced_disk_path()):
            env["LD_PRELOAD"] = " ".join(filter(None, [synced_disk_path(), env.get("LD_PRELOAD", "")]))
        proc = subprocess.Popen([str(a) for a in args], executable=shutil.which(self.server), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        proc.guard_token = guard.track_pid(proc.pid)
        if self.clocks:
            self.clocks.process_started(proc.pid)
        self.procs[alias] = proc

    def lose_disk(self, alias):
        """Deletes the node's files: nodes-P.conf (and its synced copy) and dump-P.rdb (the one a replica's
        full sync wrote)."""
        port = self.ports[alias]
        for name in (f"nodes-{port}.conf", f"nodes-{port}.conf.synced", f"dump-{port}.rdb"):
            self._remove(name)

    def power_loss(self, alias):
        """kill -9, and the disk as a power loss leaves it (sim/host.hpp, Disk::lose_unsynced): nodes-P.conf
        as last fsynced (synced_disk's copy), or none if it never was; kill -9 alone keeps every write in
        the page cache."""
        self.kill(alias)
        conf = os.path.join(self.dir, f"nodes-{self.ports[alias]}.conf")
        if os.path.exists(conf + ".synced"):
            shutil.copyfile(conf + ".synced", conf)
        elif os.path.exists(conf):
            os.remove(conf)

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
        members = self.sc.members
        if self.sc.imported:
            self._write_imported_confs()
        running = [a for a in self.sc.aliases if a not in self.sc.boots_down]
        for alias in running:
            self.start(alias)
        self.wait_until("every node to answer PING", lambda: all(self.connect(a) for a in running), 20)
        if not self.sc.imported:
            self._form(members)
        self.wait_until("cluster_state:ok, every node known and replicas synced",
                        lambda: self._ready(members), 60 + len(members))  # 100 nodes: ~1 min of gossip

    def _form(self, members):
        """What `redis-cli --cluster create` sends (clusterManagerCommandCreate), with replicas paired in
        alias order as the scenario defines them (rk replicates m((k-1) mod N + 1)) and as sim pairs them:
        redis-cli shuffles replicas among masters at random when every node has the same IP, which gave
        a scenario's r1 configEpoch 4, 5 or 6 from trial to trial. Slots by redis-cli's split, configEpoch
        i+1 for the i-th node, MEET of every node with the first, then REPLICATE once all have met."""
        masters = self.sc.masters
        for i, alias in enumerate(members[:masters]):
            self.conns[alias].call("CLUSTER", "ADDSLOTSRANGE", *redis_cli_slot_range(i, masters))
        for i, alias in enumerate(members):
            self.conns[alias].call("CLUSTER", "SET-CONFIG-EPOCH", i + 1)
        for alias in members[1:]:
            self.conns[alias].call("CLUSTER", "MEET", HOST, self.ports[members[0]])
        self.wait_until("every node to know every other", lambda: self._all_met(members), 30 + len(members))
        ids = {a: self.conns[a].call("CLUSTER", "MYID") for a in members}
        for alias in members[masters:]:
            self.conns[alias].call("CLUSTER", "REPLICATE", ids[self.sc.master_alias_of(alias)])

    def _write_imported_confs(self):
        """An imported cluster boots as sim boots it (World::restart_as_created_cluster): every node from a
        nodes.conf naming the file's ids, roles, slots and epochs, at this trial's ports."""
        layout = self.sc.imported
        names = {m.alias: m.name for m in layout.members}
        now_ms = int(time.time() * 1000)  # any non-zero pong time loads as "now" (clusterLoadConfig)
        lines = {}
        for m in layout.members:
            port = self.ports[m.alias]
            role = "master" if m.master is None else "slave"
            flags = role + ("," + m.down_flag if m.down_flag else "") + (",nofailover" if m.no_failover else "")
            epoch = m.config_epoch
            lines[m.alias] = (f"{m.name} {HOST}:{port}@{port + BUS_OFFSET} ", f"{flags} {names.get(m.master, '-')} 0 "
                              f"{now_ms} {epoch} connected" + "".join(" " + r for r in m.slots))
        tail = f"vars currentEpoch {layout.current_epoch} lastVoteEpoch {layout.last_vote_epoch}\n"
        for m in layout.members:
            conf = "".join(head + ("myself," if a == m.alias else "") + rest + "\n" for a, (head, rest) in lines.items())
            with open(os.path.join(self.dir, f"nodes-{self.ports[m.alias]}.conf"), "w") as f:
                f.write(conf + tail)

    def _all_met(self, members):
        views = self.poll()
        return all(a in views and len(views[a].lines) == len(members)
                   and not any("handshake" in l.flags for l in views[a].lines.values()) for a in members)

    def _ready(self, members):
        views = self.poll()
        replicas = len(members) - self.sc.masters
        for a in members:
            if a in self.sc.boots_down:
                continue
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

    def enable_cuts(self):
        self.cuts = Cuts(dict(self.ports), self.base_port)
        self.cuts.install()

    def enable_shaping(self):
        """Before the nodes start (see Shaping.start)."""
        self.shaping = Shaping(self.sc, self.ports, self.base_port)
        self.shaping.start()
