"""The local supervisor restarts a crashed process and leaves the others alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = ("{python} -c 'import os, pathlib, time; "
         "pathlib.Path(\"{dir}/{name}.pid\").write_text(str(os.getpid())); time.sleep(600)'")


def _pid(path: Path, other_than: int | None = None, seconds: float = 15) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            pid = int(path.read_text())
            if pid != other_than:
                return pid
        time.sleep(0.1)
    raise TimeoutError(f"no new pid in {path}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_killed_process_comes_back_and_the_others_keep_running(tmp_path: Path) -> None:
    procfile = tmp_path / "Procfile"
    procfile.write_text("# two services\n" + "".join(
        f"{name}: {CHILD.format(python=sys.executable, dir=tmp_path, name=name)}\n"
        for name in ("alpha", "beta")))
    supervisor = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "supervise.py"), "-f", str(procfile)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        alpha, beta = _pid(tmp_path / "alpha.pid"), _pid(tmp_path / "beta.pid")
        os.kill(alpha, signal.SIGKILL)
        again = _pid(tmp_path / "alpha.pid", other_than=alpha)
        assert again != alpha and _alive(again)
        assert _alive(beta), "honcho's way: one exit stops everything"
        assert supervisor.poll() is None
    finally:
        supervisor.send_signal(signal.SIGTERM)
        output = supervisor.communicate(timeout=30)[0].decode()
    assert "alpha exited with -9" in output and "restarting in 1s" in output
    time.sleep(0.2)
    assert not _alive(again) and not _alive(beta), "a stop ends every child"
