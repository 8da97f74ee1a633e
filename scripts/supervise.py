"""Runs every process of a Procfile and restarts the one that exits, as a pod would.

``honcho start`` stops everything when one process exits: a ``kill -9`` of one service
took the whole local system down. Here a process that ends is started again after a
short pause (doubling up to ``MAX_BACKOFF`` while it keeps crashing, back to the first
pause once it has run for ``STABLE_SECONDS``), and the others keep running. Ctrl-C or
SIGTERM stops them all: TERM first, KILL after ``STOP_GRACE`` seconds.

The Procfile's format is honcho's (``name: command``, ``#`` comments, ``$VAR`` expanded
by the shell), so lines added for new processes work unchanged.

    python scripts/supervise.py [-f Procfile]
"""

from __future__ import annotations

import argparse
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0
STABLE_SECONDS = 60.0
STOP_GRACE = 10.0
_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")


@dataclass
class Process:
    name: str
    command: str
    child: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    backoff: float = FIRST_BACKOFF
    restart_at: float | None = None
    restarts: int = 0
    buffer: bytes = field(default=b"", repr=False)


def read_procfile(path: Path) -> list[Process]:
    processes = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _LINE.match(line.strip())
        if match and not line.lstrip().startswith("#"):
            processes.append(Process(match.group(1), match.group(2)))
    return processes


class Supervisor:
    def __init__(self, processes: list[Process]) -> None:
        self.processes = processes
        self.selector = selectors.DefaultSelector()
        self.stopping = False
        self.width = max((len(p.name) for p in processes), default=1)

    def say(self, name: str, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        sys.stdout.write(f"{stamp} {name.ljust(self.width)} | {text}\n")
        sys.stdout.flush()

    def start(self, process: Process) -> None:
        # Its own process group: a stop reaches the shell's children too.
        process.child = subprocess.Popen(
            ["/bin/sh", "-c", f"exec {process.command}"], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        process.started_at, process.restart_at = time.monotonic(), None
        assert process.child.stdout is not None
        os.set_blocking(process.child.stdout.fileno(), False)
        self.selector.register(process.child.stdout, selectors.EVENT_READ, process)
        self.say("system", f"{process.name} started with pid {process.child.pid}")

    def _drain(self, process: Process, final: bool = False) -> None:
        assert process.child is not None and process.child.stdout is not None
        try:
            data = process.child.stdout.read() or b""
        except (BlockingIOError, ValueError):
            data = b""
        process.buffer += data
        *lines, process.buffer = process.buffer.split(b"\n")
        if final and process.buffer:
            lines, process.buffer = [*lines, process.buffer], b""
        for line in lines:
            self.say(process.name, line.decode("utf-8", "replace"))

    def _reap(self, process: Process) -> None:
        assert process.child is not None
        code = process.child.poll()
        if code is None:
            return
        self._drain(process, final=True)
        self.selector.unregister(process.child.stdout)
        process.child.stdout.close()  # type: ignore[union-attr]
        process.child = None
        if self.stopping:
            return
        ran = time.monotonic() - process.started_at
        if ran >= STABLE_SECONDS:
            process.backoff = FIRST_BACKOFF
        process.restart_at = time.monotonic() + process.backoff
        process.restarts += 1
        self.say("system", f"{process.name} exited with {code} after {ran:.1f}s; "
                           f"restarting in {process.backoff:g}s")
        process.backoff = min(process.backoff * 2, MAX_BACKOFF)

    def run(self) -> int:
        for process in self.processes:
            self.start(process)
        while not self.stopping:
            for key, _ in self.selector.select(timeout=0.2):
                self._drain(key.data)
            now = time.monotonic()
            for process in self.processes:
                if process.child is not None:
                    self._reap(process)
                elif process.restart_at is not None and now >= process.restart_at:
                    self.start(process)
        return self.stop()

    def stop(self) -> int:
        self.stopping = True
        running = [p for p in self.processes if p.child is not None]
        for process in running:
            self.say("system", f"stopping {process.name}")
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        while any(p.child is not None for p in running) and time.monotonic() < deadline:
            for process in running:
                if process.child is not None:
                    self._reap(process)
            time.sleep(0.1)
        for process in running:
            if process.child is not None:
                _signal_group(process, signal.SIGKILL)
                process.child.wait()
        return 0


def _signal_group(process: Process, sig: signal.Signals) -> None:
    assert process.child is not None
    try:
        os.killpg(process.child.pid, sig)
    except ProcessLookupError:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-f", "--procfile", type=Path, default=Path("Procfile"))
    args = parser.parse_args(argv)
    supervisor = Supervisor(read_procfile(args.procfile))

    def _stop(signum: int, _frame: object) -> None:
        supervisor.stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
