"""The object store: where uploaded files live, a local folder or S3 (MinIO).

Evidence files (tài liệu kiểm chứng) and the signed summaries are kept here. Any
process may import it: the gateway streams uploads into it, the evidence service reads
files back to check signatures and deletes them, submission keeps signed summaries. It
therefore imports neither nameko nor eventlet nor asyncio: every call is plain,
blocking I/O that the gateway runs in a thread and the services run in a green thread.

Objects are content-addressed: one stored object per content, however many criteria
link to it. An upload is first read to its end into a holding place of the store's while
it is hashed and measured (``ObjectStore.receive``); once its SHA-256 is known, it is kept
under ``sha256/<hex>`` unless that key already holds an object, and the holding place is
dropped. The folder store holds it in ``incoming/<uuid>`` and renames it to its key. S3
holds it in a temporary file of the process (in memory up to ``PART_SIZE``): one HEAD and,
when the content is new, one PUT straight to its key (multipart past ``PART_SIZE``), where
an object in ``incoming/`` would cost the server a PUT, a copy and a delete besides. Two
identical uploads at once both write the same bytes to the same key: still one object.
``incoming/`` then holds only what a folder store's crashed writer left behind, and
leftovers of S3 uploads from before they were spooled; the evidence service sweeps both.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, BinaryIO, Protocol

from minio import Minio
from minio.error import S3Error
from pydantic_settings import BaseSettings, SettingsConfigDict

CHUNK = 256 * 1024
# S3 multipart part size; minio buffers one part in memory, so this bounds the memory
# an upload takes in the gateway (5 MiB is the minimum S3 allows).
PART_SIZE = 5 * 1024 * 1024
# How much of the head is kept to tell the type by content.
HEAD_BYTES = 64 * 1024


class StoreSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CCHC_EVIDENCE_", extra="ignore")

    store: str = "folder"  # folder | s3
    s3_endpoint: str = "127.0.0.1:9000"
    s3_secure: bool = False
    s3_bucket: str = "cchc-evidence"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_region: str | None = None


class FileTooLarge(Exception):
    """The upload went past the configured limit; nothing is kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"file larger than {limit} bytes")
        self.limit = limit


def object_key(sha256: str) -> str:
    return f"sha256/{sha256}"


class Received(Protocol):
    """An upload read to its end into the store's holding place, not yet under its key."""

    seen: Ingest

    def keep(self, key: str) -> bool:
        """Store it under ``key`` unless the key already holds an object (being keyed by
        content, the same bytes); True when this call stored it."""


class ObjectStore(Protocol):
    def put(self, key: str, source: BinaryIO, length: int = -1) -> None:
        """Copy ``source`` until EOF (or ``length`` bytes, when known) into ``key``."""

    def receive(self, source: BinaryIO, limit: int) -> AbstractContextManager[Received]:
        """Read ``source`` to its end into a holding place, hashing it on the way; what
        is not kept by the end of the block is dropped. Past ``limit`` bytes it raises
        ``FileTooLarge`` and nothing is kept."""

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def iter_chunks(self, key: str) -> Iterator[bytes]: ...

    def list(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        """Keys under ``prefix`` ("incoming/" or "sha256/") with their last change."""

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        """A path on local disk holding the object, for readers that need to seek."""


class FolderStore:
    """Objects as files under one folder; the default, for a single machine."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "incoming").mkdir(parents=True, exist_ok=True)
        (root / "sha256").mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"key outside the store: {key}")
        return path

    def put(self, key: str, source: BinaryIO, length: int = -1) -> None:
        path = self._path(key)
        try:
            with open(path, "wb") as out:
                shutil.copyfileobj(source, out, CHUNK)
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    @contextmanager
    def receive(self, source: BinaryIO, limit: int) -> Iterator[Received]:
        # Written inside the store's folder, so keeping it is a rename on one file system.
        incoming = f"incoming/{uuid.uuid4().hex}"
        try:
            seen = Ingest(source, limit)
            self.put(incoming, seen)  # type: ignore[arg-type]
            yield _InFolder(self, seen, self._path(incoming))
        finally:
            self._path(incoming).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def iter_chunks(self, key: str) -> Iterator[bytes]:
        with open(self._path(key), "rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk

    def list(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        folder = self._path(prefix)
        if folder.is_dir():
            for path in folder.iterdir():
                yield (f"{prefix}{path.name}",
                       datetime.fromtimestamp(path.stat().st_mtime, UTC))

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        yield self._path(key)


class S3Store:
    """Objects in an S3 bucket through the ``minio`` SDK (MinIO in production)."""

    def __init__(self, client: Minio, bucket: str) -> None:
        self.client = client
        self.bucket = bucket
        if not client.bucket_exists(bucket):
            client.make_bucket(bucket)

    @classmethod
    def from_settings(cls, cfg: StoreSettings) -> S3Store:
        client = Minio(cfg.s3_endpoint, access_key=cfg.s3_access_key,
                       secret_key=cfg.s3_secret_key, secure=cfg.s3_secure,
                       region=cfg.s3_region)
        return cls(client, cfg.s3_bucket)

    def put(self, key: str, source: BinaryIO, length: int = -1) -> None:
        # minio sends one PUT up to PART_SIZE, past it a multipart upload, one PART_SIZE
        # buffer at a time; parallel parts would multiply the memory an upload holds.
        self.client.put_object(self.bucket, key, source, length=length, part_size=PART_SIZE,
                               num_parallel_uploads=1)

    @contextmanager
    def receive(self, source: BinaryIO, limit: int) -> Iterator[Received]:
        # Held in memory up to PART_SIZE: minio reads a file that small whole into memory
        # for its one PUT anyway. Larger ones roll over to an unnamed temporary file,
        # which the OS removes even when the process dies.
        with tempfile.SpooledTemporaryFile(max_size=PART_SIZE, prefix="cchc-upload-") as spool:
            seen = Ingest(source, limit)
            shutil.copyfileobj(seen, spool, CHUNK)
            yield _Spooled(self, seen, spool)

    def exists(self, key: str) -> bool:
        try:
            self.client.stat_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in {"NoSuchKey", "NoSuchObject", "ResourceNotFound"}:
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self.client.remove_object(self.bucket, key)

    def iter_chunks(self, key: str) -> Iterator[bytes]:
        response = self.client.get_object(self.bucket, key)
        try:
            yield from response.stream(CHUNK)
        finally:
            response.close()
            response.release_conn()

    def list(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        for item in self.client.list_objects(self.bucket, prefix=prefix, recursive=True):
            yield item.object_name, item.last_modified

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        # One file, not a directory around it: making and removing a directory per
        # check showed in the evidence service's profile.
        with tempfile.NamedTemporaryFile(prefix="cchc-evidence-") as out:
            for chunk in self.iter_chunks(key):
                out.write(chunk)
            out.flush()
            yield Path(out.name)


def open_store(data_dir: Path | None = None, cfg: StoreSettings | None = None) -> ObjectStore:
    """The store the environment asks for (``CCHC_EVIDENCE_STORE``)."""
    cfg = cfg or StoreSettings()
    if cfg.store == "s3":
        return S3Store.from_settings(cfg)
    if cfg.store != "folder":
        raise ValueError(f"CCHC_EVIDENCE_STORE must be folder or s3, not {cfg.store!r}")
    if data_dir is None:
        data_dir = Path(os.environ.get("CCHC_DATA_DIR", "var"))
    return FolderStore(data_dir / "evidence")


class Ingest:
    """A reader over an upload that hashes, measures and keeps the head as bytes pass.

    The store reads from it; past ``limit`` bytes it raises ``FileTooLarge`` so the
    store aborts and nothing is kept.
    """

    def __init__(self, source: BinaryIO, limit: int) -> None:
        self.source = source
        self.limit = limit
        self.size = 0
        self.head = b""
        self._hash = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        chunk = self.source.read(n)
        if chunk:
            self.size += len(chunk)
            if self.size > self.limit:
                raise FileTooLarge(self.limit)
            self._hash.update(chunk)
            if len(self.head) < HEAD_BYTES:
                self.head += chunk[: HEAD_BYTES - len(self.head)]
        return chunk

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


@dataclass
class _InFolder:
    store: FolderStore
    seen: Ingest
    path: Path

    def keep(self, key: str) -> bool:
        target = self.store._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            return False
        os.replace(self.path, target)
        return True


@dataclass
class _Spooled:
    store: S3Store
    seen: Ingest
    spool: IO[bytes]

    def keep(self, key: str) -> bool:
        if self.store.exists(key):
            return False
        self.spool.seek(0)
        self.store.put(key, self.spool, self.seen.size)  # type: ignore[arg-type]
        return True


def store_upload(store: ObjectStore, source: BinaryIO, limit: int) -> Ingest:
    """Stream ``source`` into the store under its content hash; returns what was seen.

    Raises ``FileTooLarge`` (nothing kept) when the upload passes ``limit``.
    """
    with store.receive(source, limit) as upload:
        upload.keep(object_key(upload.seen.sha256))
    return upload.seen
