"""A minimal RESP2 client and parsers for CLUSTER NODES / INFO replies."""

import socket
from dataclasses import dataclass

from .common import CLUSTER_SLOTS, HOST, CompareError

class RespError(Exception):
    """An error reply (-ERR ...) from Redis."""


class Resp:
    """A minimal RESP2 client on one persistent socket: far cheaper per poll than spawning redis-cli."""

    def __init__(self, port, timeout_s=2.0):
        self.sock = socket.create_connection((HOST, port), timeout=timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def close(self):
        self.sock.close()

    def send(self, *commands):
        """Pipelines the commands (each a list of arguments) in one write."""
        out = bytearray()
        for args in commands:
            out += b"*%d\r\n" % len(args)
            for a in args:
                a = str(a).encode()
                out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)

    def reply(self):
        """The next reply; an error reply is returned as a RespError instance, not raised, so that a
        pipelined batch can always be read to its end."""
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n + 2)[:-2].decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise CompareError(f"unexpected RESP reply {line!r}")

    def call(self, *args):
        self.send(args)
        r = self.reply()
        if isinstance(r, RespError):
            raise r
        return r

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by server")
        self.buf += chunk

    def _line(self):
        while (i := self.buf.find(b"\r\n")) < 0:
            self._fill()
        line = bytes(self.buf[:i])
        del self.buf[:i + 2]
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data


@dataclass
class NodeLine:
    """One line of CLUSTER NODES."""
    id: str
    port: int
    flags: frozenset
    master_id: str  # "-" for a master
    config_epoch: int
    slots: frozenset  # (first, last) ranges; import/migrate markers are left out

    @property
    def is_master(self):
        return "master" in self.flags


def parse_cluster_nodes(text):
    """Returns (id of myself, {id: NodeLine})."""
    lines, myself = {}, None
    for raw in text.splitlines():
        f = raw.split()
        if len(f) < 8:
            continue
        addr = f[1].split("@")[0]
        slots = set()
        for tok in f[8:]:
            if tok.startswith("["):
                continue
            lo, _, hi = tok.partition("-")
            slots.add((int(lo), int(hi or lo)))
        line = NodeLine(id=f[0], port=int(addr.rsplit(":", 1)[1] or 0), flags=frozenset(f[2].split(",")),
                        master_id=f[3], config_epoch=int(f[6]), slots=frozenset(slots))
        lines[line.id] = line
        if "myself" in line.flags:
            myself = line.id
    return myself, lines


def parse_info(text):
    return dict(l.split(":", 1) for l in text.splitlines() if ":" in l and not l.startswith("#"))


@dataclass
class View:
    """What one node reported in one poll."""
    myself: str
    lines: dict
    info: dict

    @property
    def own(self):
        return self.lines[self.myself]


def owners_by_epoch(own_lines):
    """Per slot: the alias of the node claiming it in its own line ({alias: NodeLine}), the greatest
    configEpoch among several claims (then the greatest alias); None if none does."""
    owner = [None] * CLUSTER_SLOTS
    for alias, line in sorted(own_lines.items(), key=lambda item: (item[1].config_epoch, item[0])):
        for first, last in line.slots:
            owner[first:last + 1] = [alias] * (last - first + 1)
    return owner
