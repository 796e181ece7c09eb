"""The scenario fields the comparison reads, from sim's own reading of the file."""

import json
import os
import subprocess
from dataclasses import dataclass

from .common import REPO, CompareError, duration_ms

@dataclass
class ImportedMember:
    """One node of an imported cluster (cluster.cluster_nodes), in sim's alias order."""
    alias: str
    name: str                 # the file's node id
    master: str               # a replica's master alias; None for masters
    slots: list               # a master's "first-last" / "slot" ranges, as in the file
    config_epoch: int         # a replica's is its master's, as CLUSTER NODES shows it
    no_failover: bool
    down_flag: str            # "fail" / "fail?": the node boots down, the others with that flag on it; "" up


@dataclass
class ImportedLayout:
    members: list             # ImportedMember, masters first
    current_epoch: int
    last_vote_epoch: int


def imported_layout(text):
    """sim/cluster_layout.cpp's reading of CLUSTER NODES / nodes.conf text, which sim has validated: masters
    in the file's order (m1..), then replicas in the file's order (r1..)."""
    lines, current_epoch, last_vote_epoch = [], None, 0
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "vars":
            pairs = dict(zip(fields[1::2], fields[2::2]))
            current_epoch = int(pairs.get("currentEpoch", 0))
            last_vote_epoch = int(pairs.get("lastVoteEpoch", 0))
            continue
        lines.append(fields)
    flags = lambda f: f[2].split(",")
    ordered = [f for f in lines if "master" in flags(f)] + [f for f in lines if "master" not in flags(f)]
    masters = sum("master" in flags(f) for f in lines)
    alias = {f[0]: (f"m{i + 1}" if i < masters else f"r{i - masters + 1}") for i, f in enumerate(ordered)}
    members = [ImportedMember(alias=alias[f[0]], name=f[0], master=None if f[3] == "-" else alias[f[3]],
                              slots=f[8:], config_epoch=int(f[6]), no_failover="nofailover" in flags(f),
                              down_flag=next((x for x in flags(f) if x in ("fail", "fail?")), ""))
               for f in ordered]
    if current_epoch is None:
        current_epoch = max(m.config_epoch for m in members)
    return ImportedLayout(members=members, current_epoch=current_epoch, last_vote_epoch=last_vote_epoch)


@dataclass
class Scenario:
    path: str
    name: str
    masters: int
    replicas_per_master: int
    spares: int
    config: dict
    timeline: list
    run_until_ms: float
    workload: dict    # the "workload" object, None without one (workload.py)
    known_bugs: list  # the simulator's rule-breaking switches (fuzzer repro files); real Redis has none
    expect: list      # the assertions, as in the file (judged on the real side by expect.py)
    network: dict     # the "network" object, {} without one (shaping.py)
    sets_syn_schedule: bool = False  # the file itself sets network.tcp_syn_linear_timeouts (cuts.py)
    printed: dict = None  # the whole --print-scenario document
    imported: ImportedLayout = None  # cluster.cluster_nodes: the cluster boots from nodes.conf files written for it

    @property
    def has_workload(self):
        return self.workload is not None

    @property
    def replicas(self):
        return len(self.imported.members) - self.masters if self.imported else self.masters * self.replicas_per_master

    @property
    def members(self):
        """The cluster's nodes (not spares) in alias order."""
        return self.aliases[:self.masters + self.replicas]

    @property
    def boots_down(self):
        """The members an imported file flags failing: they are not started."""
        return {m.alias for m in self.imported.members if m.down_flag} if self.imported else set()

    @property
    def aliases(self):
        """Every alias in alias order; its index + the base port is its port in the original layout."""
        n, k = self.masters, self.replicas
        return ([f"m{i}" for i in range(1, n + 1)] + [f"r{i}" for i in range(1, k + 1)]
                + [f"s{i}" for i in range(1, self.spares + 1)])

    def master_alias_of(self, replica_alias):
        if self.imported:
            return self.imported.members[self.aliases.index(replica_alias)].master
        k = int(replica_alias[1:])
        return f"m{(k - 1) % self.masters + 1}"

    def first_action_ms(self):
        return min((duration_ms(a["at"]) for a in self.timeline), default=self.run_until_ms)


def default_sim():
    """The sim binary of the build under test (RCSIM_SIM_BINARY, which CTest sets), else the default build's."""
    return os.environ.get("RCSIM_SIM_BINARY", str(REPO / "build" / "sim"))


def load_scenario(path, sim=None):
    """The scenario as `sim --print-scenario` writes it: validated by sim, defaults filled in, zones and hosts
    resolved (zone latencies as links, zone and host actions as the per-node ones they stand for), so the
    real side runs exactly what sim runs."""
    sim = sim or default_sim()
    try:
        r = subprocess.run([sim, "--scenario", path, "--print-scenario"], capture_output=True, text=True)
    except OSError as e:
        raise CompareError(f"{sim}: {e}")
    if r.returncode != 0:
        raise CompareError(f"{sim} --scenario {path} --print-scenario: {r.stderr.strip()}")
    doc = json.loads(r.stdout)
    cluster = doc["cluster"]
    imported = imported_layout(cluster["cluster_nodes"]) if "cluster_nodes" in cluster else None
    masters = sum(m.master is None for m in imported.members) if imported else cluster["masters"]
    return Scenario(path=path, name=doc["name"], masters=masters, imported=imported,
                    replicas_per_master=cluster.get("replicas_per_master", 0 if imported else 1),
                    spares=cluster.get("spares", 0), config=cluster.get("config", {}),
                    timeline=doc.get("timeline", []), run_until_ms=duration_ms(doc["run_until"]),
                    workload=doc.get("workload"), known_bugs=doc.get("known_bugs", []),
                    expect=doc.get("expect", []), network=doc.get("network", {}),
                    sets_syn_schedule=file_sets_syn_schedule(path), printed=doc)


def file_sets_syn_schedule(path):
    """Whether the scenario file names network.tcp_syn_linear_timeouts (--print-scenario always writes it)."""
    try:
        with open(path) as f:
            network = json.load(f).get("network", {})
    except (OSError, ValueError, AttributeError):
        return False  # sim read it, so it is JSON; anything odd here only loses the distinction
    return isinstance(network, dict) and "tcp_syn_linear_timeouts" in network


def action_kind(action):
    return next(k for k in action if k not in ("at", "why"))


def redis_config_value(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
