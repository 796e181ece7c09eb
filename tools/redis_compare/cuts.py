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


class Cuts:
    """Directed cuts between nodes as packet filters in a chain of our own, hooked into INPUT so that a cut
    behaves like a lossy network (TCP retransmits, connections stay open) instead of failing sends."""

    def __init__(self, ports, base_port):
        self.chain = f"{CHAIN_PREFIX}{base_port}"
        self.ports = ports  # alias -> client port
        self.cut = set()  # (from alias, to alias)
        self.installed = False

    def install(self):
        self.installed = True
        self._delete_chain()  # left behind by a run that was killed with SIGKILL
        run_checked(["iptables", "-w", "-N", self.chain])
        self.guard_token = guard.track_command(["sh", "-c", "; ".join(
            "iptables -w " + " ".join(args) for args in self._chain_deletion())])
        run_checked(["iptables", "-w", "-I", "INPUT", "1", "-j", self.chain])

    def remove(self):
        if self.installed:
            self._delete_chain()
            guard.untrack(self.guard_token)
            self.installed = False

    def _delete_chain(self):
        for args in self._chain_deletion():
            subprocess.run(["iptables", "-w"] + args, capture_output=True)

    def _chain_deletion(self):
        return ["-D", "INPUT", "-j", self.chain], ["-F", self.chain], ["-X", self.chain]

    def set(self, pairs, down):
        self.cut = self.cut | set(pairs) if down else self.cut - set(pairs)
        self._apply()

    def heal(self):
        self.cut = set()
        self._apply()

    def _apply(self):
        # What a node sends travels on its own connections (to the peer's listeners) and as replies on
        # the peer's connections (from its own listeners, to the peer's source address): drop both.
        rules = ["*filter", f"-F {self.chain}"]
        for a, b in sorted(self.cut):
            pa, pb = self.ports[a], self.ports[b]
            rules.append(f"-A {self.chain} -p tcp -s {source_ip(pa)} -m multiport "
                         f"--dports {pb},{pb + BUS_OFFSET} -j DROP")
            rules.append(f"-A {self.chain} -p tcp -d {source_ip(pb)} -m multiport "
                         f"--sports {pa},{pa + BUS_OFFSET} -j DROP")
        rules.append("COMMIT\n")
        run_checked(["iptables-restore", "-w", "--noflush"], "\n".join(rules))
