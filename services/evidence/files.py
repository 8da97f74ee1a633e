"""The evidence service's access to the stored files and the trust list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from asn1crypto import x509
from eventlet import tpool
from nameko.extensions import DependencyProvider
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.config import settings
from services.evidence.signatures import check_pdf, load_trust_roots
from services.evidence.storage import ObjectStore, object_key, open_store


class TrustSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CCHC_EVIDENCE_", extra="ignore")

    trust_roots: Path | None = None


class TrustList:
    """The roots in ``CCHC_EVIDENCE_TRUST_ROOTS``, read again when a file there changes,
    so a province adds a CA's root without restarting the service."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._stamp: tuple[tuple[str, float], ...] | None = None
        self._roots: list[x509.Certificate] = []

    def _current_stamp(self) -> tuple[tuple[str, float], ...]:
        if self.folder is None or not self.folder.is_dir():
            return ()
        return tuple(sorted((p.name, p.stat().st_mtime) for p in self.folder.iterdir()))

    @property
    def roots(self) -> list[x509.Certificate]:
        stamp = self._current_stamp()
        if stamp != self._stamp:
            self._roots, self._stamp = load_trust_roots(self.folder), stamp
        return self._roots


@dataclass
class Files:
    store: ObjectStore
    trust: TrustList

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
        # Parsing and hashing a 20 MB PDF is CPU work: in eventlet's pool of real threads
        # the hub keeps serving other workers meanwhile. pyhanko's sync API runs
        # asyncio.run, which works there because that OS thread has no running loop.
        with self.store.local_path(object_key(sha256)) as path:
            return tpool.execute(check_pdf, path, self.trust.roots)


class EvidenceFiles(DependencyProvider):
    """Opens the store named by ``CCHC_EVIDENCE_STORE`` and loads the trust roots once."""

    def setup(self) -> None:
        self.files = Files(open_store(settings().data_dir),
                           TrustList(TrustSettings().trust_roots))

    def get_dependency(self, worker_ctx: Any) -> Files:
        return self.files
