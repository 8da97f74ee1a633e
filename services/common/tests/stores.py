"""Object stores for tests: a folder, or S3 served by moto on loopback (the real SDK).

Shared by the services' tests, the gateway's and the cross-service ones, so the moto
server is started one way everywhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from minio import Minio
from moto.server import ThreadedMotoServer

from services.common.objectstore import FolderStore, ObjectStore, S3Store

ACCESS_KEY = "cchc"
SECRET_KEY = "cchc-secret"
REGION = "us-east-1"


@contextmanager
def moto_s3() -> Iterator[str]:
    """moto's S3 served over HTTP on loopback; yields its ``host:port``."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"{host}:{port}"
    finally:
        server.stop()


def s3_client(endpoint: str) -> Minio:
    return Minio(endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY, secure=False,
                 region=REGION)


def s3_store(endpoint: str, prefix: str = "evidence") -> S3Store:
    """A store in a fresh bucket of the moto server at ``endpoint``."""
    return S3Store(s3_client(endpoint), f"{prefix}-{uuid.uuid4().hex[:12]}")


def folder_or_s3(kind: str, tmp_path: Path, endpoint: str | None) -> ObjectStore:
    """The store a ``params=["folder", "s3"]`` fixture asks for."""
    if kind == "folder":
        return FolderStore(tmp_path / "store")
    assert endpoint is not None
    return s3_store(endpoint)
