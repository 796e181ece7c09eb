"""Constants, errors and small helpers shared by the real side and the comparison."""

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
HOST = "127.0.0.1"
# Default of --base-port, the first node's client port. Client and bus ports (+BUS_OFFSET) stay below
# Linux's ephemeral range (32768-60999): a bus port in it could be held by some outgoing connection (or its
# TIME-WAIT) when a restarted node must bind it again.
FIRST_PORT = 20001
BUS_OFFSET = 10000
CLUSTER_SLOTS = 16384
POLL_INTERVAL_S = 0.010
STEADY_WINDOW_MS = 10_000
TOLERANCE = 0.15
# Durations under SMALL_TIME_S on both sides agree within SMALL_TIME_TOLERANCE_S (issue 14: ±50 ms under 300 ms).
SMALL_TIME_S = 0.300
SMALL_TIME_TOLERANCE_S = 0.050
RATE_KEYS = ("ping_sent", "pong_sent", "ping_received", "pong_received")
EXIT_SKIPPED = 3

# Actions after which the trouble that a failover answers begins; the fault of a failover is the last of
# these, at or before the promotion, that touched the old master or the new one.
FAULT_ACTIONS = {"crash", "power_loss", "pause", "isolate", "partition", "block", "flap", "failover"}
# Actions that end a fault: the recovery rows (old master demoted, every node ok) count from the last of them.
# A flap ends with its link up at `until` (the real side fires that edge as "_flap_edge").
RECOVERY_ACTIONS = {"heal", "unblock", "resume", "restart"}
CUT_ACTIONS = {"partition", "isolate", "block", "unblock", "heal", "flap"}


class CompareError(Exception):
    """A failure that ends the run with a message rather than a traceback."""


class Skipped(Exception):
    """This scenario cannot be run on real Redis here; not a failure of the tool."""


def duration_ms(text):
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)(us|ms|s|m)", text)
    if not m:
        raise CompareError(f"bad duration {text!r}")
    return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}[m.group(2)]


def log(msg):
    print(msg, file=sys.stderr, flush=True)
