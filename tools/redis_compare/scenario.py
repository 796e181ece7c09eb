"""The scenario fields the comparison reads, from sim's own reading of the file."""

import json
import os
import subprocess
from dataclasses import dataclass

from .common import REPO, CompareError, duration_ms

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

    @property
    def has_workload(self):
        return self.workload is not None

    @property
    def aliases(self):
        """Every alias in alias order; its index + the base port is its port in the original layout."""
        n, k = self.masters, self.masters * self.replicas_per_master
        return ([f"m{i}" for i in range(1, n + 1)] + [f"r{i}" for i in range(1, k + 1)]
                + [f"s{i}" for i in range(1, self.spares + 1)])

    def master_alias_of(self, replica_alias):
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
    return Scenario(path=path, name=doc["name"], masters=cluster["masters"],
                    replicas_per_master=cluster.get("replicas_per_master", 1),
                    spares=cluster.get("spares", 0), config=cluster.get("config", {}),
                    timeline=doc.get("timeline", []), run_until_ms=duration_ms(doc["run_until"]),
                    workload=doc.get("workload"), known_bugs=doc.get("known_bugs", []),
                    expect=doc.get("expect", []), network=doc.get("network", {}))


def action_kind(action):
    return next(k for k in action if k != "at")


def redis_config_value(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
