"""The evidence service's access to the stored files and to signature checking."""

from __future__ import annotations

import json
import os
import resource
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import eventlet
import eventlet.semaphore
from eventlet.green import subprocess
from nameko.extensions import DependencyProvider
from prometheus_client import Counter
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.config import settings
from services.common.errors import DomainError
from services.common.objectstore import ObjectStore, object_key, open_store
from services.evidence.signatures import UNREADABLE


class CheckSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CCHC_EVIDENCE_", extra="ignore")

    # Folder of PEM roots the province trusts; read at every check, so a new CA's root
    # counts without a restart.
    trust_roots: Path | None = None
    # Seconds one PDF may take; below the gateway's RPC timeout (CCHC_RPC_TIMEOUT).
    check_timeout: float = 6.0
    # Address space of one checking child (a crafted PDF's object streams can ask for
    # gigabytes); past it the child fails and the file is reported unreadable.
    check_memory_bytes: int = 768 * 1024 * 1024
    # Children checking at once in this process (each is a CPU-bound Python); more
    # callers wait for a slot, and past the check timeout get 503 check_busy.
    check_concurrency: int = max(1, os.cpu_count() or 1)


_slots: dict[int, eventlet.semaphore.Semaphore] = {}


def _slot(concurrency: int) -> eventlet.semaphore.Semaphore:
    return _slots.setdefault(concurrency, eventlet.semaphore.Semaphore(concurrency))


def _memory_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:  # runs in the child between fork and exec
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def check_in_subprocess(path: Path, trust_roots: Path | None, timeout: float,
                        memory_bytes: int | None = None,
                        concurrency: int | None = None) -> dict[str, Any]:
    """``signatures.check_pdf`` in a child process, killed past ``timeout``.

    pyhanko's tokenizer reads byte by byte in Python: a crafted 20 MB file keeps it busy
    for a minute, holding the GIL. A child process has a hard time limit and a memory
    limit and holds no lock of ours. Children are kept warm between checks (``Checker``);
    one that timed out, failed or found a file unreadable is killed and replaced. At most
    ``concurrency`` checks run at once.
    """
    cfg = CheckSettings()
    memory_bytes = memory_bytes or cfg.check_memory_bytes
    slot = _slot(concurrency or cfg.check_concurrency)
    if not slot.acquire(timeout=timeout):
        raise DomainError("check_busy",
                          "Đang kiểm tra nhiều tệp, vui lòng thử lại sau ít giây / "
                          "too many signature checks at once, retry in a few seconds", 503)
    try:
        return _run_check(path, trust_roots, timeout, memory_bytes)
    finally:
        slot.release()


CHECKERS_STARTED = Counter(
    "cchc_evidence_checkers_started",
    "Signature-checking children started (a new one after a timeout, a failure, an "
    "unreadable file or RECYCLE_AFTER checks).")
# A child has parsed untrusted files: after this many it makes way for a fresh one.
RECYCLE_AFTER = 200


class CheckerGone(Exception):
    """The child exited (its memory limit, a crash) before it answered."""


class Checker:
    """One warm checking child: Python started and pyhanko imported once."""

    def __init__(self, memory_bytes: int) -> None:
        # stderr is the service's own: what a dying child says lands in its log.
        # Buffered pipes: eventlet's green Popen leaves them unbuffered by default, and
        # then readline() reads the answer a byte at a time, each byte a trip through the
        # hub (a third of the evidence service's CPU per upload in bench/evidence_upload).
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.evidence.signatures", "--serve"],
            bufsize=-1, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            preexec_fn=_memory_limit(memory_bytes))  # noqa: PLW1509
        self.checks = 0
        CHECKERS_STARTED.inc()

    def check(self, path: Path, trust_roots: Path | None) -> dict[str, Any]:
        request = json.dumps({"path": str(path), "roots": str(trust_roots or "")})
        try:
            self.process.stdin.write(request.encode() + b"\n")
            self.process.stdin.flush()
            answer = self.process.stdout.readline()
        except (BrokenPipeError, ConnectionError) as exc:
            raise CheckerGone(str(exc)) from None
        if not answer:
            raise CheckerGone(f"exit code {self.process.wait()}")
        self.checks += 1
        return json.loads(answer)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


# Idle children by their memory limit; never more than the concurrency's slots.
_idle: dict[int, list[Checker]] = {}


def warm(count: int, memory_bytes: int) -> None:
    """Starts ``count`` idle children now, so the first uploads of the day do not each
    wait for Python and pyhanko to start."""
    idle = _idle.setdefault(memory_bytes, [])
    idle.extend(Checker(memory_bytes) for _ in range(max(0, count - len(idle))))


def _run_check(path: Path, trust_roots: Path | None, timeout: float,
               memory_bytes: int) -> dict[str, Any]:
    idle = _idle.setdefault(memory_bytes, [])
    checker = idle.pop() if idle else Checker(memory_bytes)
    # eventlet's Timeout: the pipe's read is green, the hub stays free meanwhile.
    try:
        with eventlet.Timeout(timeout):
            result = checker.check(path, trust_roots)
    except eventlet.Timeout:
        checker.stop()
        return {"state": UNREADABLE, "signatures": [],
                "reason": f"checking took longer than {timeout:g} s"}
    except CheckerGone as exc:
        checker.stop()
        return {"state": UNREADABLE, "signatures": [], "reason": f"checker failed: {exc}"}
    if result["state"] == UNREADABLE or checker.checks >= RECYCLE_AFTER:
        checker.stop()  # a hostile file may have left it bloated or half-broken
    else:
        idle.append(checker)
    return result


@dataclass
class Files:
    store: ObjectStore
    trust_roots: Path | None
    check_timeout: float = 6.0

    def exists(self, sha256: str) -> bool:
        return self.store.exists(object_key(sha256))

    def delete(self, sha256: str) -> None:
        self.store.delete(object_key(sha256))

    def stale(self, older_than: datetime) -> tuple[list[str], list[str]]:
        """Uploads left half-way (``incoming/``) and stored hashes, both older than a moment."""
        incoming = [k for k, at in self.store.list("incoming/") if at < older_than]
        hashes = [k.removeprefix("sha256/") for k, at in self.store.list("sha256/")
                  if at < older_than]
        return incoming, hashes

    def check_signatures(self, sha256: str) -> dict[str, Any]:
        return self.check_key(object_key(sha256))

    def check_key(self, key: str) -> dict[str, Any]:
        """The signature checks of any stored object (evidence, or a signed summary)."""
        with self.store.local_path(key) as path:
            return check_in_subprocess(path, self.trust_roots, self.check_timeout)


class EvidenceFiles(DependencyProvider):
    """Opens the store named by ``CCHC_EVIDENCE_STORE`` once per process."""

    def setup(self) -> None:
        cfg = CheckSettings()
        self.files = Files(open_store(settings().data_dir), cfg.trust_roots, cfg.check_timeout)
        warm(cfg.check_concurrency, cfg.check_memory_bytes)

    def get_dependency(self, worker_ctx: Any) -> Files:
        return self.files
