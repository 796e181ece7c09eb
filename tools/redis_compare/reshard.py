"""migrate_slots on real Redis: per slot, the commands `redis-cli --cluster reshard` sends
(clusterManagerMoveSlot and clusterManagerMigrateKeysInSlot in redis-cli.c, 7.0.15), in its order.

A resharding takes real time (a few round trips per slot, more with keys), so it runs in a thread on
connections of its own while the trial keeps polling and firing the timeline; `sim` moves every slot at
one instant."""

import threading
import time

from .common import HOST, log
from .resp import Resp, RespError

MIGRATE_PIPELINE = 10        # CLUSTER_MANAGER_MIGRATE_PIPELINE: keys per GETKEYSINSLOT and MIGRATE
MIGRATE_TIMEOUT_MS = 60000   # CLUSTER_MANAGER_MIGRATE_TIMEOUT
# The source gave its last slot away when the target was told first, and became the target's replica:
# redis-cli accepts this reply from the source (issue #9223).
SOURCE_NOW_REPLICA = "ERR Please use SETSLOT only with masters."


class ReshardFailed(Exception):
    """A command of the resharding was refused: redis-cli stops there, and so do we."""


def slot_list(spec):
    """[0, 7, "100-200"] -> every slot, in the file's order."""
    slots = []
    for item in spec:
        lo, _, hi = str(item).partition("-")
        slots += range(int(lo), int(hi or lo) + 1)
    return slots


class Reshard:
    """Moves `slots` from one master to another as redis-cli does, slot after slot: SETSLOT IMPORTING on
    the target, SETSLOT MIGRATING on the source, GETKEYSINSLOT + MIGRATE in batches until the slot is
    empty, then SETSLOT NODE on the target, the source and every other master (ports: {alias: port})."""

    def __init__(self, slots, source, target, ids, ports, other_masters, on_error):
        self.slots = slots
        self.source, self.target = source, target
        self.ids = ids                    # alias -> node id, as the nodes reported themselves
        self.ports = ports
        self.other_masters = other_masters
        self.on_error = on_error          # called with the message of a refused command
        self.stopping = False
        self.keys_moved = 0
        self.thread = threading.Thread(target=self._run, name=f"reshard-{source}-{target}", daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        """At the end of the trial: no new slot is started, the one under way finishes."""
        self.stopping = True
        self.thread.join()

    def _run(self):
        conns = {}
        started = time.monotonic()
        done = 0
        try:
            for a in [self.source, self.target] + self.other_masters:
                conns[a] = Resp(self.ports[a], timeout_s=MIGRATE_TIMEOUT_MS / 1000)
            for slot in self.slots:
                if self.stopping:
                    break
                self._move_slot(conns, slot)
                done += 1
        except (ReshardFailed, OSError) as e:
            self.on_error(f"migrate_slots {self.source} -> {self.target}, slot {self.slots[done]}: {e}")
        finally:
            for conn in conns.values():
                conn.close()
        log(f"  migrate_slots {self.source} -> {self.target}: {done} of {len(self.slots)} slots and "
            f"{self.keys_moved} keys moved in {(time.monotonic() - started) * 1000:.0f} ms")

    def _move_slot(self, conns, slot):
        src, dst = self.source, self.target
        self._call(conns, dst, "CLUSTER", "SETSLOT", slot, "IMPORTING", self.ids[src])
        self._call(conns, src, "CLUSTER", "SETSLOT", slot, "MIGRATING", self.ids[dst])
        while keys := self._call(conns, src, "CLUSTER", "GETKEYSINSLOT", slot, MIGRATE_PIPELINE):
            # No REPLACE: redis-cli adds it only after a BUSYKEY reply and a value check, which we do not
            # repeat; a BUSYKEY stops the resharding here.
            self._call(conns, src, "MIGRATE", HOST, self.ports[dst], "", 0, MIGRATE_TIMEOUT_MS, "KEYS", *keys)
            self.keys_moved += len(keys)
        # The target first: it bumps its configEpoch and broadcasts the slot (redis-cli, issue #7116).
        self._call(conns, dst, "CLUSTER", "SETSLOT", slot, "NODE", self.ids[dst])
        try:
            self._call(conns, src, "CLUSTER", "SETSLOT", slot, "NODE", self.ids[dst])
        except ReshardFailed as e:
            if not str(e).endswith(SOURCE_NOW_REPLICA):
                raise
        for other in self.other_masters:
            self._call(conns, other, "CLUSTER", "SETSLOT", slot, "NODE", self.ids[dst])

    @staticmethod
    def _call(conns, alias, *args):
        try:
            return conns[alias].call(*args)
        except RespError as e:
            raise ReshardFailed(f"{' '.join(map(str, args[:4]))} on {alias}: {e}") from None
