"""A backstop for cleanup: a forked guardian process undoes what the tool set up when the tool dies.

The tool's own finally blocks end its processes, remove its packet filters and delete its temp dirs on a
normal end, on errors and on SIGINT/SIGTERM/SIGHUP. None of that runs when the tool is killed with SIGKILL
(or crashes in the interpreter). The guardian, forked before anything is started, holds the read end of a
pipe; the tool registers every process, temp dir and undo command on it and unregisters it once undone.
When the pipe reaches end of file (the tool ended, however) the guardian kills the processes still
registered, runs the undo commands and deletes the dirs, in the reverse order of registration.
"""

import json
import os
import shutil
import signal
import subprocess

_writer = None
_next_token = 0


def start():
    """Forks the guardian; call once, before any process, dir or rule is made."""
    global _writer
    assert _writer is None, "the guardian is already running"
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(write_fd)
        _guardian(read_fd)  # never returns
    os.close(read_fd)
    _writer = os.fdopen(write_fd, "w", buffering=1)


def track_pid(pid):
    return _register("pid", pid)


def track_dir(path):
    return _register("dir", path)


def track_command(argv):
    """A command to run at the end if the tool did not undo its effect itself (e.g. delete a chain)."""
    return _register("cmd", list(argv))


def untrack(token):
    """The tool undid it itself (or keeps it on purpose, like --keep's dirs)."""
    _send({"op": "drop", "token": token})


def _register(kind, value):
    global _next_token
    _next_token += 1
    _send({"op": "add", "token": _next_token, "kind": kind, "value": value})
    return _next_token


def _send(message):
    assert _writer is not None, "guard.start() must run before anything is tracked"
    _writer.write(json.dumps(message) + "\n")


def _guardian(read_fd):
    # Its own session: a Ctrl-C or a kill of the tool's process group must not end it before it cleans up.
    os.setsid()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    entries = {}  # token -> (kind, value), in registration order
    with os.fdopen(read_fd) as pipe:
        for line in pipe:
            message = json.loads(line)
            if message["op"] == "add":
                entries[message["token"]] = (message["kind"], message["value"])
            else:
                entries.pop(message["token"], None)
    for kind, value in reversed(list(entries.values())):
        try:
            if kind == "pid":
                os.kill(value, signal.SIGKILL)  # also ends a stopped process
            elif kind == "cmd":
                subprocess.run(value, capture_output=True)
            else:
                shutil.rmtree(value, ignore_errors=True)
        except OSError:
            pass  # already gone
    os._exit(0)
