"""Directed cuts between nodes as iptables rules on loopback."""

import os
import shutil
import subprocess

from . import guard
from .common import BUS_OFFSET, CompareError

CHAIN_PREFIX = "RCSIM_COMPARE_"  # + the first node's port: runs on other --base-port values coexist


def source_ip(port):
    """Each node's outgoing connections leave from its own loopback address (bind-source-addr), the
    only way packet filters can tell which node sent a packet: listeners stay on 127.0.0.1."""
    return f"127.1.{port >> 8}.{port & 255}"


SYN_LINEAR_TIMEOUTS_SYSCTL = "/proc/sys/net/ipv4/tcp_syn_linear_timeouts"  # Linux >= 6.5
SIM_SYN_LINEAR_TIMEOUTS = 4  # scenarios/README.md, network.tcp_syn_linear_timeouts


def host_syn_linear_timeouts():
    """How this kernel retransmits an unanswered SYN: its net.ipv4.tcp_syn_linear_timeouts, 0 before Linux
    6.5 (no such sysctl: every RTO doubles)."""
    try:
        with open(SYN_LINEAR_TIMEOUTS_SYSCTL) as f:
            return int(f.read())
    except FileNotFoundError:
        return 0


def syn_schedule_problem(sc):
    """None when the real side can run the scenario's SYN schedule here, else why not. A cut link is rebuilt
    through retransmitted SYNs, so their schedule sets when it reconnects after a heal. A scenario that
    leaves network.tcp_syn_linear_timeouts unset runs on whatever kernel this is, and its sim side is
    told which (redis-compare); one that sets it needs this kernel to match."""
    if not sc.sets_syn_schedule:
        return None
    wanted, here = sc.network.get("tcp_syn_linear_timeouts", SIM_SYN_LINEAR_TIMEOUTS), host_syn_linear_timeouts()
    if here == wanted:
        return None
    return (f"network.tcp_syn_linear_timeouts is {wanted}, but this kernel retransmits SYNs with "
            f"net.ipv4.tcp_syn_linear_timeouts = {here} (sysctl -w net.ipv4.tcp_syn_linear_timeouts={wanted} "
            "where the kernel has it, or change the scenario's)")


def run_checked(cmd, stdin_text=None):
    r = subprocess.run(cmd, input=stdin_text, capture_output=True, text=True)
    if r.returncode != 0:
        raise CompareError(f"{' '.join(cmd)} failed: {r.stderr.strip()}")


def iptables_problem():
    """None when iptables can filter here, else why not."""
    if os.geteuid() != 0:
        return "not root"
    if not shutil.which("iptables") or not shutil.which("iptables-restore"):
        return "iptables is not installed"
    r = subprocess.run(["iptables", "-w", "-L", "INPUT", "-n"], capture_output=True, text=True)
    if r.returncode != 0:
        return f"iptables does not work here: {r.stderr.strip()}"
    return None


def directed_matches(from_port, to_port):
    """iptables matches for what the node at from_port sends to the node at to_port: on its own connections
    (to the peer's listeners) and as replies on the peer's connections (from its own listeners, to the
    peer's source address)."""
    return [f"-p tcp -s {source_ip(from_port)} -m multiport --dports {to_port},{to_port + BUS_OFFSET}",
            f"-p tcp -d {source_ip(to_port)} -m multiport --sports {from_port},{from_port + BUS_OFFSET}"]


class Chain:
    """A chain of our own, jumped to by the first rule of a built-in chain (hook), deleted at the end; the
    guardian deletes it if the tool cannot."""

    def __init__(self, name, hook, table="filter"):
        self.name = name
        self.hook = hook
        self.table = table
        self.installed = False

    def install(self):
        self.installed = True
        self._delete()  # left behind by a run that was killed with SIGKILL
        run_checked(["iptables", "-w", "-t", self.table, "-N", self.name])
        self.guard_token = guard.track_command(["sh", "-c", "; ".join(
            f"iptables -w -t {self.table} " + " ".join(args) for args in self._deletion())])
        run_checked(["iptables", "-w", "-t", self.table, "-I", self.hook, "1", "-j", self.name])

    def remove(self):
        if self.installed:
            self._delete()
            guard.untrack(self.guard_token)
            self.installed = False

    def load(self, rules):
        """Replaces the chain's rules, each a match and a target."""
        lines = [f"*{self.table}", f"-F {self.name}"] + [f"-A {self.name} {rule}" for rule in rules] + ["COMMIT\n"]
        run_checked(["iptables-restore", "-w", "--noflush"], "\n".join(lines))

    def _delete(self):
        for args in self._deletion():
            subprocess.run(["iptables", "-w", "-t", self.table] + args, capture_output=True)

    def _deletion(self):
        return ["-D", self.hook, "-j", self.name], ["-F", self.name], ["-X", self.name]


class Cuts:
    """Directed cuts between nodes as packet filters in a chain of our own, hooked into INPUT so that a cut
    behaves like a lossy network (TCP retransmits, connections stay open) instead of failing sends."""

    def __init__(self, ports, base_port):
        self.chain = Chain(f"{CHAIN_PREFIX}{base_port}", "INPUT")
        self.ports = ports  # alias -> client port
        self.cut = set()  # (from alias, to alias)

    def install(self):
        self.chain.install()

    def remove(self):
        self.chain.remove()

    def set(self, pairs, down):
        self.cut = self.cut | set(pairs) if down else self.cut - set(pairs)
        self._apply()

    def heal(self):
        self.cut = set()
        self._apply()

    def _apply(self):
        self.chain.load([f"{match} -j DROP" for a, b in sorted(self.cut)
                         for match in directed_matches(self.ports[a], self.ports[b])])
