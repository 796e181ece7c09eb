"""The workload's clients on real Redis, run as `python3 -m redis_compare.client CONFIG.json` (one or more
processes per trial, apart from the 10 ms poll loop). Each process runs some of the clients in one event
loop; each client is sim/client.cpp's ClusterClient driven as sim/workload.cpp drives it: one command at a
time, slot map from CLUSTER SLOTS, MOVED/ASK followed, retries with back-off. Every write is logged when
it ends (workload.py reads the logs after the run).

The process waits for one line on stdin, the trial's time 0 (time.monotonic(), shared by every process on
the machine), starts its clients then, stops starting commands at run_until, lets the ones in flight end,
and exits. EOF before that line: exit at once (the trial was aborted)."""

import binascii
import errno
import heapq
import itertools
import json
import random
import selectors
import socket
import sys
import time
from collections import deque

from .common import CLUSTER_SLOTS, HOST

KEYS_PER_TAG = 10
LOCAL_KEY_TRIES = 100_000
MAX_ATTEMPTS = 5     # tries of a command (redirections not counted)
MAX_REDIRECTS = 16   # redis-py's RedisClusterRequestTTL
ASKING = b"*1\r\n$6\r\nASKING\r\n"
CLUSTER_SLOTS_REQUEST = b"*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n"


def key_name(index, hash_tags):
    """As sim/workload.cpp names keys: ten keys per hash tag."""
    return f"{{g{index // KEYS_PER_TAG}}}:{index}" if hash_tags else f"key:{index}"


def key_hash_slot(key):
    """Redis's keyHashSlot: CRC16 (XMODEM, which binascii.crc_hqx computes) of the key or its {tag}."""
    data = key.encode()
    start = data.find(b"{")
    if start >= 0:
        end = data.find(b"}", start + 1)
        if end > start + 1:
            data = data[start + 1:end]
    return binascii.crc_hqx(data, 0) & (CLUSTER_SLOTS - 1)


def command(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


# -- RESP replies

class ErrorReply(str):
    """An error reply's text, without the leading '-'."""


class Incomplete(Exception):
    pass


def parse_reply(buf, pos):
    """(reply, position after it) of the reply at buf[pos:], or Incomplete."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete
    kind, rest, pos = buf[pos], bytes(buf[pos + 1:end]), end + 2
    if kind == 43:  # +
        return rest.decode(), pos
    if kind == 45:  # -
        return ErrorReply(rest.decode()), pos
    if kind == 58:  # :
        return int(rest), pos
    if kind == 36:  # $
        n = int(rest)
        if n < 0:
            return None, pos
        if len(buf) < pos + n + 2:
            raise Incomplete
        return bytes(buf[pos:pos + n]).decode(), pos + n + 2
    if kind == 42:  # *
        n = int(rest)
        items = []
        for _ in range(max(n, 0)):
            item, pos = parse_reply(buf, pos)
            items.append(item)
        return (items if n >= 0 else None), pos
    raise ValueError(f"unexpected RESP reply {bytes(buf[pos:end])!r}")


# -- event loop

class Loop:
    """Timers and sockets; callbacks run one at a time."""

    def __init__(self):
        self.selector = selectors.DefaultSelector()
        self.timers = []  # heap of [when, seq, callback]; callback None = cancelled
        self.seq = itertools.count()

    def call_at(self, when, callback):
        entry = [when, next(self.seq), callback]
        heapq.heappush(self.timers, entry)
        return entry

    def call_later(self, delay_s, callback):
        return self.call_at(time.monotonic() + delay_s, callback)

    @staticmethod
    def cancel(entry):
        if entry is not None:
            entry[2] = None

    def run(self, finished):
        while not finished():
            while self.timers and self.timers[0][2] is None:
                heapq.heappop(self.timers)
            timeout = None if not self.timers else max(0.0, self.timers[0][0] - time.monotonic())
            for key, mask in self.selector.select(timeout):
                key.data.on_event(mask)
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                callback = heapq.heappop(self.timers)[2]
                if callback is not None:
                    callback()


class Conn:
    """One non-blocking TCP connection to a node; replies go to the callbacks given with the requests, in
    order. `on_closed(conn)` runs when the peer closes it or it fails (also a refused connect), not after
    close()."""

    def __init__(self, loop, port, source_ip, on_closed):
        self.loop, self.port, self.on_closed = loop, port, on_closed
        self.out, self.buf, self.waiters = bytearray(), bytearray(), deque()
        self.connected = False
        self.sock = socket.socket()
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if source_ip:
            self.sock.bind((source_ip, 0))  # shares the cuts of the node it sits beside (cuts.py)
        self.events = selectors.EVENT_READ | selectors.EVENT_WRITE
        loop.selector.register(self.sock, self.events, self)
        err = self.sock.connect_ex((HOST, port))
        if err not in (0, errno.EINPROGRESS):
            loop.call_later(0, self.fail)  # reported from a later event, like the simulator's

    def send(self, data, *callbacks):
        self.waiters.extend(callbacks)
        self.out += data
        if self.connected:
            self.flush()

    def flush(self):
        try:
            sent = self.sock.send(self.out)
        except BlockingIOError:
            sent = 0
        except OSError:
            return self.fail()
        del self.out[:sent]
        self.watch_writable(bool(self.out))

    def watch_writable(self, on):
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if on else 0)
        if events != self.events and self.sock is not None:
            self.events = events
            self.loop.selector.modify(self.sock, events, self)

    def on_event(self, mask):
        if mask & selectors.EVENT_WRITE:
            if not self.connected:
                if self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    return self.fail()
                self.connected = True
            self.flush()
        if mask & selectors.EVENT_READ and self.sock is not None:
            self.on_readable()

    def on_readable(self):
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            return self.fail()
        if not data:
            return self.fail()
        self.buf += data
        pos = 0
        try:
            while pos < len(self.buf):
                reply, pos = parse_reply(self.buf, pos)
                callback = self.waiters.popleft()
                callback(reply)
                if self.sock is None:  # closed by the callback
                    return
        except Incomplete:
            pass
        del self.buf[:pos]

    def close(self):
        if self.sock is not None:
            self.loop.selector.unregister(self.sock)
            self.sock.close()
            self.sock = None

    def fail(self):
        if self.sock is not None:
            self.close()
            self.on_closed(self)


# -- the cluster client (sim/client.cpp)

class Outcome:
    __slots__ = ("ok", "reply", "port", "failure", "last_sent")

    def __init__(self, ok, reply, port, failure, last_sent):
        self.ok, self.reply, self.port, self.failure, self.last_sent = ok, reply, port, failure, last_sent


class Op:
    __slots__ = ("request", "slot", "done", "fixed_port", "max_attempts", "attempts", "redirects", "last_sent",
                 "in_flight", "backoff")

    def __init__(self, request, slot, done, fixed_port, max_attempts):
        self.request, self.slot, self.done = request, slot, done
        self.fixed_port, self.max_attempts = fixed_port, max_attempts
        self.attempts, self.redirects, self.last_sent = 1, 0, 0.0
        self.in_flight = None  # (request id, conn, port, timeout timer)
        self.backoff = None


class ClusterClient:
    """One command at a time, routed by the slot map; see sim/client.hpp for every rule followed here."""

    def __init__(self, loop, rng, timeout_s, startup_ports, source_ip):
        self.loop, self.rng, self.timeout_s = loop, rng, timeout_s
        self.startup_ports, self.source_ip = startup_ports, source_ip
        self.slot_port = [0] * CLUSTER_SLOTS
        self.conns = {}  # port -> Conn
        self.next_id = itertools.count(1)
        self.op = None
        self.refresh = None  # (request id, conn, port, timer)
        self.refresh_waiters = []

    def busy(self):
        return self.op is not None

    def run(self, request, slot, done, port=0, retry=True):
        """request: the encoded command; slot: its key's (None: WAIT); port: send there (WAIT goes where the
        write went); retry=False: one attempt only (WAIT on a new connection would count nothing)."""
        assert self.op is None, "one command at a time"
        self.op = Op(request, slot, done, port, MAX_ATTEMPTS if retry else 1)
        self.attempt(0, False)

    def random_startup_port(self):
        return self.startup_ports[self.rng.randrange(len(self.startup_ports))]

    def connection(self, port):
        conn = self.conns.get(port)
        if conn is None:
            conn = self.conns[port] = Conn(self.loop, port, self.source_ip, self.on_closed)
        return conn

    def drop_connection(self, port):
        conn = self.conns.pop(port, None)
        if conn is not None:
            conn.close()

    def attempt(self, port, asking):
        op = self.op
        op.backoff = None
        if not port:
            port = op.fixed_port
        if not port and op.slot is not None:
            port = self.slot_port[op.slot]
        if not port:
            port = self.random_startup_port()
        conn = self.connection(port)
        request_id = next(self.next_id)
        on_reply = lambda reply: self.on_reply(request_id, reply)
        if asking:
            conn.send(ASKING + op.request, lambda _: None, on_reply)
        else:
            conn.send(op.request, on_reply)
        op.last_sent = time.monotonic()
        timer = self.loop.call_at(op.last_sent + self.timeout_s, lambda: self.on_op_timeout(request_id))
        op.in_flight = (request_id, conn, port, timer)

    def on_reply(self, request_id, reply):
        op = self.op
        if op is None or op.in_flight is None or op.in_flight[0] != request_id:
            return
        port = op.in_flight[2]
        self.loop.cancel(op.in_flight[3])
        op.in_flight = None
        if not isinstance(reply, ErrorReply):
            return self.finish(True, "none", reply, port)
        word = reply.split(" ", 1)[0]
        if word in ("MOVED", "ASK"):
            _, slot, address = reply.split()
            target = int(address.rsplit(":", 1)[1])
            op.redirects += 1
            if word == "MOVED":
                self.slot_port[int(slot)] = target  # the spec: update that slot at once,
                self.refresh_slots()                # and reload the whole map (Jedis renewSlotCache)
            if op.redirects > MAX_REDIRECTS:
                return self.finish(False, "too_many_redirections", reply, port)
            return self.attempt(target, word == "ASK")
        if word == "CLUSTERDOWN":
            self.refresh_slots()
            return self.retry_later("clusterdown", reply)
        if word == "TRYAGAIN":
            return self.retry_later("tryagain", reply)
        self.finish(False, "crossslot" if word == "CROSSSLOT" else "error", reply, port)

    def on_op_timeout(self, request_id):
        op = self.op
        if op is None or op.in_flight is None or op.in_flight[0] != request_id:
            return
        # The reply may still come: close the connection so it can never be taken for a later one's.
        self.drop_connection(op.in_flight[2])
        op.in_flight = None
        self.refresh_slots()
        self.retry_later("timeout", None)

    def on_closed(self, conn):
        if self.conns.get(conn.port) is conn:
            del self.conns[conn.port]
        op = self.op
        if op is not None and op.in_flight is not None and op.in_flight[1] is conn:
            self.loop.cancel(op.in_flight[3])
            op.in_flight = None
            self.refresh_slots()
            self.retry_later("connection", None)
        if self.refresh is not None and self.refresh[1] is conn:
            self.end_refresh()

    def retry_later(self, failure, reply):
        op = self.op
        if op.attempts >= op.max_attempts:
            return self.finish(False, failure, reply, 0)
        base_ms = min(1000, 50 << min(op.attempts - 1, 10))
        delay_ms = base_ms + self.rng.randrange(base_ms // 2 + 1)
        op.attempts += 1
        op.backoff = self.loop.call_later(delay_ms / 1000, lambda: self.attempt(0, False))

    def finish(self, ok, failure, reply, port):
        op, self.op = self.op, None
        op.done(Outcome(ok, reply, port, failure, op.last_sent))

    def refresh_slots(self, done=None):
        if done is not None:
            self.refresh_waiters.append(done)
        if self.refresh is not None:
            return
        port = self.random_startup_port()
        conn = self.connection(port)
        request_id = next(self.next_id)
        conn.send(CLUSTER_SLOTS_REQUEST, lambda reply: self.on_slots(request_id, reply))
        timer = self.loop.call_later(self.timeout_s, lambda: self.on_refresh_timeout(request_id))
        self.refresh = (request_id, conn, port, timer)

    def on_refresh_timeout(self, request_id):
        if self.refresh is not None and self.refresh[0] == request_id:
            self.drop_connection(self.refresh[2])
            self.end_refresh()

    def on_slots(self, request_id, reply):
        if self.refresh is None or self.refresh[0] != request_id:
            return
        if isinstance(reply, list) and not isinstance(reply, ErrorReply):
            slot_port = [0] * CLUSTER_SLOTS
            for entry in reply:
                first, last, master = entry[0], entry[1], entry[2]
                slot_port[first:last + 1] = [int(master[1])] * (last - first + 1)
            self.slot_port = slot_port
        self.end_refresh()

    def end_refresh(self):
        self.loop.cancel(self.refresh[3])
        self.refresh = None
        waiters, self.refresh_waiters = self.refresh_waiters, []
        for waiter in waiters:
            waiter()


# -- the workload (sim/workload.cpp's drivers)

class Driver:
    """One client of the workload: starts a command every `interval_s` from a random phase, or as soon as
    the last one ended when that was later (a closed loop); logs every write when it ends."""

    def __init__(self, workload, spec):
        self.w = workload
        self.index = spec["index"]
        self.rng = random.Random()
        self.client = ClusterClient(workload.loop, self.rng, workload.timeout_s, workload.startup_ports,
                                    spec.get("source_ip"))
        ranges = spec.get("local_slots")
        self.local_slots = None
        if ranges:
            self.local_slots = bytearray(CLUSTER_SLOTS)
            for first, last in ranges:
                self.local_slots[first:last + 1] = b"\1" * (last - first + 1)
        self.next_start = 0.0
        self.ready_at = 0.0  # when the last command ended (or the slot map loaded), as sim would see it
        self.lateness = 0.0  # how late this loop started the current command (its timers, not Redis)
        self.writes = 0

    def start(self):
        def loaded():
            self.next_start = time.monotonic() + self.rng.uniform(0, self.w.interval_s)
            self.schedule()
        self.client.refresh_slots(loaded)

    def schedule(self):
        self.ready_at = time.monotonic() - self.lateness
        if self.next_start >= self.w.end:
            return
        if self.next_start <= time.monotonic():
            self.start_op()
        else:
            self.w.loop.call_at(self.next_start, self.start_op)

    def choose_key(self):
        key = self.rng.randrange(self.w.keys)
        if self.local_slots is None:
            return key
        for _ in range(LOCAL_KEY_TRIES - 1):
            if self.local_slots[key_hash_slot(key_name(key, self.w.hash_tags))]:
                break
            key = self.rng.randrange(self.w.keys)
        return key

    def start_op(self):
        now = time.monotonic()
        if now >= self.w.end:
            return
        # sim starts a command at `due` exactly; this loop's timers fire up to a millisecond late (epoll
        # waits in whole ms). The schedule advances from `due`, and the command's end counts as if it had
        # started then: otherwise each late wake-up looked like a slow command to the closed loop, which
        # then restarted the schedule, and 5000 writes/s came out as ~1800.
        due = max(self.next_start, self.ready_at)
        self.lateness = max(0.0, now - due)
        self.next_start = max(self.next_start + self.w.interval_s, due)
        write = self.rng.random() < self.w.write_fraction
        key = key_name(self.choose_key(), self.w.hash_tags)
        slot = key_hash_slot(key)
        if not write:
            self.w.reads["attempted"] += 1
            self.client.run(command("GET", key), slot, self.read_done)
            return
        # Unique over all clients of the trial: the final value of a key names the write that produced it.
        value = self.writes * self.w.clients + self.index + 1
        self.writes += 1
        sent = now
        self.client.run(command("SET", key, value), slot,
                        lambda outcome: self.write_done(value, key, sent, outcome))

    def read_done(self, outcome):
        self.w.reads["ok" if outcome.ok else "failed"] += 1
        self.schedule()

    def write_done(self, value, key, sent, outcome):
        if not outcome.ok:
            self.w.log_write(value, key, self.index, 0, sent, outcome.last_sent, outcome.failure)
            return self.schedule()
        if self.w.wait is None:
            self.w.log_write(value, key, self.index, outcome.port, sent, outcome.last_sent, "ok")
            return self.schedule()
        port, exec_after = outcome.port, outcome.last_sent

        def waited(result):
            if result.ok and isinstance(result.reply, int) and result.reply >= self.w.wait["replicas"]:
                self.w.log_write(value, key, self.index, port, sent, exec_after, "ok")
            else:
                self.w.log_write(value, key, self.index, 0, sent, result.last_sent, "wait_short")
            self.schedule()
        self.client.run(command("WAIT", self.w.wait["replicas"], self.w.wait["timeout_ms"]), None, waited,
                        port, retry=False)


class Workload:
    def __init__(self, config, t0):
        self.t0 = t0
        self.end = t0 + config["run_until_ms"] / 1000
        self.clients = config["clients"]
        self.interval_s = config["interval_s"]
        self.write_fraction = config["write_fraction"]
        self.keys, self.hash_tags = config["keys"], config["hash_tags"]
        self.timeout_s = config["client_timeout_ms"] / 1000
        self.wait = config.get("wait")
        self.startup_ports = config["startup_ports"]
        self.reads = {"attempted": 0, "ok": 0, "failed": 0}
        self.loop = Loop()
        self.log = open(config["log"], "w", buffering=1 << 20)
        self.drivers = [Driver(self, spec) for spec in config["drivers"]]

    def ms(self, t):
        return (t - self.t0) * 1000

    def log_write(self, value, key, client, port, sent, exec_after, outcome):
        """value key client port sent_ms exec_after_ms done_ms outcome: "ok" = acknowledged by port, which
        ran it after exec_after, when the last attempt left; else why it failed (port 0)."""
        self.log.write(f"{value}\t{key}\t{client}\t{port}\t{self.ms(sent):.3f}\t{self.ms(exec_after):.3f}\t"
                       f"{self.ms(time.monotonic()):.3f}\t{outcome}\n")

    def run(self):
        self.loop.call_at(self.end, lambda: None)  # wakes the loop at the end even with no command pending
        for driver in self.drivers:
            driver.start()
        self.loop.run(lambda: time.monotonic() >= self.end and not any(d.client.busy() for d in self.drivers))
        self.log.write("reads\t{attempted}\t{ok}\t{failed}\n".format(**self.reads))
        self.log.close()


def main(config_path):
    with open(config_path) as f:
        config = json.load(f)
    line = sys.stdin.readline()
    if not line.strip():
        return  # the trial ended before time 0
    Workload(config, float(line)).run()


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except KeyboardInterrupt:
        sys.exit(130)
