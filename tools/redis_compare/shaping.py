"""Per-link latency, jitter and loss on loopback: iptables queues a directed link's packets to netshape
(tools/netshape.cpp), which holds each for the link's delay or drops it, as the simulator's network does."""

import os
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from . import guard
from .common import BUS_OFFSET, REPO, CompareError, duration_ms, log
from .cuts import Chain, directed_matches, iptables_problem
from .scenario import action_kind

NETSHAPE_PACKAGE = "libnetfilter-queue-dev"
CHAIN_PREFIX = "RCSIM_SHAPE_"  # + the first node's port, which is also the NFQUEUE number: both are ours
STOP_TIMEOUT_S = 5
DEFAULT_LATENCY_US = 50  # the scenario README's default link


def netshape_path():
    """The netshape beside the sim binary of the run (RCSIM_NETSHAPE, which tools/redis-compare sets from
    --sim and CTest from its build dir), else the default build dir's."""
    return Path(os.environ.get("RCSIM_NETSHAPE", REPO / "build" / "netshape"))


@dataclass(frozen=True)
class Profile:
    """A directed link as the scenario README defines it (same defaults)."""
    latency_us: int = DEFAULT_LATENCY_US
    jitter_us: int = 0
    shape: str = "uniform"
    loss_ppm: int = 0

    def changed_by(self, spec):
        """This profile with the properties that a network block, a links entry or a link action sets."""
        changes = {}
        if "latency" in spec:
            changes["latency_us"] = round(duration_ms(spec["latency"]) * 1000)
        if "jitter" in spec:
            changes["jitter_us"] = round(duration_ms(spec["jitter"]) * 1000)
        if "shape" in spec:
            changes["shape"] = spec["shape"]
        if "loss" in spec:
            changes["loss_ppm"] = round(spec["loss"] * 1_000_000)  # as sim rounds it
        return replace(self, **changes)

    @property
    def native(self):
        """The simulator's default link: loopback's own delay (~0.01 ms one way) stands for it unshaped."""
        jitter_us = 0 if self.shape == "fixed" else self.jitter_us  # fixed ignores jitter
        return self.latency_us == DEFAULT_LATENCY_US and jitter_us == 0 and self.loss_ppm == 0


def needs_shaping(sc):
    network_wide = Profile().changed_by(sc.network)
    return (not network_wide.native or bool(sc.network.get("links"))
            or any(action_kind(a) == "link" for a in sc.timeline))


def shaping_problem(sc):
    """None when the scenario's network can be reproduced here, else why not."""
    if any(sc.network.get("chaos", {}).values()):
        return ("network chaos (messages dropped, duplicated or reordered beyond what TCP does) cannot "
                "happen on real TCP connections")
    if not needs_shaping(sc):
        return None
    why = iptables_problem()
    if why:
        return f"link shaping not supported here ({why})"
    if not os.access(netshape_path(), os.X_OK):
        return (f"link shaping needs {netshape_path()}, which is built only when {NETSHAPE_PACKAGE} is installed "
                f"(make deps; then make build)")
    return None


class Shaping:
    """Every directed link's profile, applied through netshape and a chain of our own in mangle's INPUT:
    a packet is delayed as it arrives, before filter's INPUT, where a cut (cuts.py) meets it, as in the
    simulator. Links that are native are not queued at all."""

    def __init__(self, sc, ports, base_port):
        self.sc = sc
        self.ports = dict(ports)  # alias -> client port
        self.base_port = base_port
        self.network_wide = Profile().changed_by(sc.network)
        self.profiles = {(a, b): self.network_wide for a in sc.aliases for b in sc.aliases if a != b}
        for spec in sc.network.get("links", []):  # later entries win, each over the network-wide values
            profile = self.network_wide.changed_by(spec)
            self.profiles[(spec["from"], spec["to"])] = profile
            if spec.get("both_ways"):
                self.profiles[(spec["to"], spec["from"])] = profile
        self.loss_on = False  # loss starts at scenario time 0, as in the simulator
        self.sent = {}  # (from port, to port) -> the profile netshape has
        # mangle's INPUT runs before filter's INPUT: a held packet meets the cuts when netshape releases it,
        # as sim checks cuts on arrival. Held on the way in, it no longer counts against the sending socket
        # (loopback orphans it on transmit); held in OUTPUT it did, and TCP's autocorking and small-queue
        # limits then held the next segments back: SET+WAIT over a 2 ms link took 6.1-6.8 ms, not 4.2.
        self.chain = Chain(f"{CHAIN_PREFIX}{base_port}", "INPUT", table="mangle")
        self.proc = None

    def start(self):
        """Before the nodes start: latency and jitter (network-wide and per link) hold during the cluster's
        creation, as in the simulator."""
        self.proc = subprocess.Popen(
            [str(netshape_path()), "--queue", str(self.base_port), "--first-port", str(self.base_port),
             "--nodes", str(len(self.sc.aliases)), "--bus-offset", str(BUS_OFFSET)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.guard_token = guard.track_pid(self.proc.pid)
        if self.proc.stdout.readline().strip() != "ready":
            self.proc.wait()
            raise CompareError(f"netshape did not start: {self.proc.stderr.read().strip()}")
        self.chain.install()
        self._apply()

    def start_scenario(self):
        """Scenario time 0: loss begins, as in the simulator."""
        self.loss_on = True
        self._apply()

    def change(self, pairs, spec):
        """A `link` action: the properties it sets, from now on; the others keep their current value."""
        for pair in pairs:
            self.profiles[pair] = self.profiles[pair].changed_by(spec)
        self._apply()

    def check(self):
        if self.proc.poll() is not None:
            raise CompareError(f"netshape ended during the trial (exit {self.proc.returncode}): "
                               f"{self.proc.stderr.read().strip()}")

    def stop(self):
        self.chain.remove()  # first: nothing new is queued while netshape releases what it holds
        if self.proc is None:
            return
        try:
            out, err = self.proc.communicate(timeout=STOP_TIMEOUT_S)  # EOF on its stdin ends it
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        guard.untrack(self.guard_token)
        stats = dict(item.split("=") for item in out.split()[1:]) if out.startswith("stats") else None
        if stats:
            log(f"  netshape: {stats['delayed']} packets delayed, {stats['dropped']} of {stats['data']} "
                f"data segments dropped")
        elif self.proc.returncode != 0:
            log(f"  netshape exited {self.proc.returncode}: {err.strip()}")
        self.proc = None

    def _effective(self, profile):
        return profile if self.loss_on else replace(profile, loss_ppm=0)

    def _apply(self):
        commands, rules = [], []
        for (a, b), profile in sorted(self.profiles.items()):
            profile, key = self._effective(profile), (self.ports[a], self.ports[b])
            if self.sent.get(key) != profile:
                commands.append(f"link {key[0]} {key[1]} {profile.latency_us} {profile.jitter_us} "
                                f"{profile.shape} {profile.loss_ppm}\n")
                self.sent[key] = profile
            if not profile.native:
                rules += [f"{match} -j NFQUEUE --queue-num {self.base_port} --queue-bypass"
                          for match in directed_matches(*key)]
        try:
            self.proc.stdin.write("".join(commands))
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.check()
            raise
        self.chain.load(rules)
