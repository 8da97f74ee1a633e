import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from minio import Minio
from moto.server import ThreadedMotoServer
from sqlalchemy.orm import Session

from services.conftest import migrated_session
from services.evidence.storage import FolderStore, ObjectStore, S3Store
from services.evidence.tests.pki import CA


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 served over HTTP on loopback: the real minio SDK talks to it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_store(moto_endpoint: str) -> S3Store:
    client = Minio(moto_endpoint, access_key="test", secret_key="test", secure=False,
                   region="us-east-1")
    return S3Store(client, f"evidence-{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["folder", "s3"])
def store(request, tmp_path: Path) -> ObjectStore:
    if request.param == "folder":
        return FolderStore(tmp_path / "store")
    return request.getfixturevalue("s3_store")


@pytest.fixture(scope="session")
def ca() -> CA:
    return CA()


@pytest.fixture
def trust_dir(tmp_path: Path, ca: CA) -> Path:
    ca.write_pem(tmp_path / "roots")
    return tmp_path / "roots"


@pytest.fixture
def session(sqlite_url: str) -> Iterator[Session]:
    yield from migrated_session("evidence", sqlite_url)
