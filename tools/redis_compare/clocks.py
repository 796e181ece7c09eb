"""clock_skew on real Redis: every node of a scenario with clock_skew runs under libfaketime, each with a
control file of its own that the tool rewrites when the node's skew changes.

What sim's clock_skew changes (sim/host.cpp): a host's local clock, local = true + offset + drift since
the skew was set. Redis reads it as the wall clock (mstime/ustime: gettimeofday), which times everything
in the cluster (node timeout, PFAIL, election delays, data age, manual failover); the offset is a step of
that clock only, as `date -s` steps CLOCK_REALTIME. The drift also changes the rate of the node's timers,
which Redis runs on CLOCK_MONOTONIC.

libfaketime (Debian 0.9.10) does the wall-clock part exactly, measured: with FAKETIME_DONT_FAKE_MONOTONIC=1
an offset in the control file steps gettimeofday/CLOCK_REALTIME only, read again at every call
(FAKETIME_NO_CACHE=1), and "x<rate>" makes the wall clock run at that rate counted from the process's start
(so the offset is corrected for the time already run). It cannot step only the wall clock and also slow or
speed up CLOCK_MONOTONIC: faking the monotonic clock applies the offset to it too, and then a step back
stalls every timer. Timers therefore run at true rate (libfaketime only scales epoll_wait's timeout), which
differs from sim by drift_ppm of the cron's 100 ms period: drifts beyond MAX_DRIFT_PPM are refused.

Two more measured facts: libfaketime's initialisation deadlocks with jemalloc (a failed dlsym allocates,
jemalloc's first allocation reads the clock, which re-enters libfaketime), so the preloaded nodes load
glibc's libc ahead of jemalloc and allocate with glibc's malloc; and libfaketime leaves a shared memory
segment and a semaphore per process in /dev/shm when the process is killed, removed here after each kill.
"""

import os
import time

from . import guard
from .scenario import action_kind

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
LIBC = "/lib/x86_64-linux-gnu/libc.so.6"
# Timers run at true rate under libfaketime: with at most 1% drift sim's 100 ms cron period differs from
# real Redis's by at most 1 ms, Redis's clock resolution.
MAX_DRIFT_PPM = 10_000


def clock_skew_problem(sc):
    """None if every clock_skew of the scenario can be reproduced here, else why not."""
    skews = [a["clock_skew"] for a in sc.timeline if action_kind(a) == "clock_skew"]
    if not skews:
        return None
    for path in (LIBFAKETIME, LIBC):
        if not os.path.exists(path):
            return f"clock_skew needs {path} (apt-get install -y faketime)"
    too_fast = [s["drift_ppm"] for s in skews if abs(s.get("drift_ppm", 0)) > MAX_DRIFT_PPM]
    if too_fast:
        return (f"clock_skew drift_ppm {too_fast[0]}: beyond ±{MAX_DRIFT_PPM} ppm. libfaketime drifts the wall "
                "clock but not CLOCK_MONOTONIC, on which Redis runs its timers: the 100 ms cron would run at "
                "true rate, off by more than 1 ms per period from sim's drifted one")
    return None


class Clocks:
    """The libfaketime control file of every node: "<offset in s> x<rate>" (libfaketime's FAKETIME syntax)."""

    def __init__(self, workdir):
        self.dir = workdir
        self.skew = {}      # alias -> (offset_ms, drift_ppm, set_at: time.monotonic() of the clock_skew)
        self.started = {}   # alias -> time.monotonic() just before its process started
        self.shm_tokens = {}  # pid -> guard token of the /dev/shm cleanup

    def env(self, alias, port):
        """The environment of a node's process; call right before starting it (its clock starts now)."""
        self.started[alias] = time.monotonic()
        path = os.path.join(self.dir, f"faketime-{port}.rc")
        self._write(alias, path)
        env = {k: v for k, v in os.environ.items() if not k.startswith("FAKETIME")}
        env.update(LD_PRELOAD=f"{LIBFAKETIME} {LIBC}", FAKETIME_TIMESTAMP_FILE=path, FAKETIME_NO_CACHE="1",
                   FAKETIME_DONT_FAKE_MONOTONIC="1")
        return env

    def process_started(self, pid):
        self.shm_tokens[pid] = guard.track_command(["rm", "-f"] + shm_files(pid))

    def process_ended(self, pid):
        for path in shm_files(pid):
            if os.path.exists(path):
                os.remove(path)
        guard.untrack(self.shm_tokens.pop(pid))

    def set(self, alias, port, offset_ms, drift_ppm):
        """From now on the node's wall clock reads true time + offset and runs drift_ppm fast; it replaces an
        earlier skew and survives restarts (sim's skew belongs to the host)."""
        self.skew[alias] = (offset_ms, drift_ppm, time.monotonic())
        self._write(alias, os.path.join(self.dir, f"faketime-{port}.rc"))

    def expected_offset_ms(self, alias):
        """How far the node's wall clock should read from true time now."""
        offset_ms, drift_ppm, set_at = self.skew.get(alias, (0.0, 0.0, time.monotonic()))
        return offset_ms + drift_ppm / 1e6 * (time.monotonic() - set_at) * 1000

    def _write(self, alias, path):
        offset_ms, drift_ppm, set_at = self.skew.get(alias, (0.0, 0.0, 0.0))
        rate = 1 + drift_ppm / 1e6
        # libfaketime runs the rate from the process's start; sim's drift counts from the skew.
        offset_s = offset_ms / 1000 - (rate - 1) * (set_at - self.started[alias])
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{offset_s:+.6f} x{rate:.9f}\n")
        os.replace(tmp, path)  # read at every clock call: never half written


def shm_files(pid):
    return [f"/dev/shm/faketime_shm_{pid}", f"/dev/shm/sem.faketime_sem_{pid}"]
