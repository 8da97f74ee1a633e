import hashlib
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator

import pytest
from minio import Minio

from services.common.objectstore import (
    PART_SIZE,
    FileTooLarge,
    FolderStore,
    ObjectStore,
    S3Store,
    object_key,
    store_upload,
)
from services.common.tests import stores


class Repeated(io.RawIOBase):
    """``size`` bytes of a pattern, produced as read: the test holds no copy of the file."""

    def __init__(self, size: int, pattern: bytes = b"%PDF-1.7\n") -> None:
        self.left = size
        self.pattern = pattern * (65536 // len(pattern) + 1)

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return (self.pattern * (n // len(self.pattern) + 1))[:n]


def _incoming(store: ObjectStore) -> list[str]:
    if isinstance(store, FolderStore):
        return [p.name for p in (store.root / "incoming").iterdir()]
    assert isinstance(store, S3Store)
    return [o.object_name for o in store.client.list_objects(store.bucket, prefix="incoming/",
                                                             recursive=True)]


def test_same_content_is_stored_once(store: ObjectStore) -> None:
    first = store_upload(store, io.BytesIO(b"%PDF-1.4 hello"), limit=1000)
    second = store_upload(store, io.BytesIO(b"%PDF-1.4 hello"), limit=1000)
    assert first.sha256 == second.sha256
    assert first.size == 14 and first.head == b"%PDF-1.4 hello"
    assert b"".join(store.iter_chunks(object_key(first.sha256))) == b"%PDF-1.4 hello"
    assert _incoming(store) == []


def test_an_upload_past_the_limit_leaves_nothing(store: ObjectStore) -> None:
    with pytest.raises(FileTooLarge):
        store_upload(store, Repeated(3 * 1024 * 1024), limit=2 * 1024 * 1024)
    assert _incoming(store) == []


def test_delete_and_local_path(store: ObjectStore) -> None:
    seen = store_upload(store, io.BytesIO(b"\x89PNG\r\n\x1a\nxyz"), limit=100)
    key = object_key(seen.sha256)
    with store.local_path(key) as path:
        assert path.read_bytes() == b"\x89PNG\r\n\x1a\nxyz"
    store.delete(key)
    assert not store.exists(key)


def test_folder_store_refuses_keys_outside_it(tmp_path) -> None:
    with pytest.raises(ValueError):
        FolderStore(tmp_path / "s").exists("../../etc/passwd")


@pytest.fixture
def logged_s3() -> Iterator[tuple[S3Store, list[str]]]:
    """An S3 store on a moto server of its own that logs every request it receives."""
    requests: list[str] = []
    with stores.moto_s3(requests) as endpoint:
        store = stores.s3_store(endpoint)
        requests.clear()  # the bucket's creation
        yield store, requests


def test_an_s3_upload_is_one_head_and_one_put_to_its_key(logged_s3) -> None:
    store, requests = logged_s3
    data = os.urandom(1024 * 1024)  # the size of a typical signed PDF of evidence
    key = f"/{store.bucket}/{object_key(hashlib.sha256(data).hexdigest())}"
    seen = store_upload(store, io.BytesIO(data), limit=2 * len(data))
    assert requests == [f"HEAD {key}", f"PUT {key}"]  # no incoming/, no copy, no delete
    assert b"".join(store.iter_chunks(object_key(seen.sha256))) == data

    requests.clear()
    store_upload(store, io.BytesIO(data), limit=2 * len(data))
    assert requests == [f"HEAD {key}"]  # the same content again: nothing sent


def test_an_s3_upload_past_one_part_goes_in_parts_to_its_key(logged_s3) -> None:
    store, requests = logged_s3
    seen = store_upload(store, Repeated(2 * PART_SIZE + 1), limit=3 * PART_SIZE)
    key = f"/{store.bucket}/{object_key(seen.sha256)}"
    assert [r.split("?")[0] for r in requests] == [
        f"HEAD {key}", f"POST {key}", f"PUT {key}", f"PUT {key}", f"PUT {key}", f"POST {key}"]
    assert requests[1].startswith(f"POST {key}?uploads")  # initiated on the final key
    assert store.exists(object_key(seen.sha256))


def test_an_s3_upload_past_the_limit_sends_nothing_and_keeps_no_file(
        logged_s3, tmp_path, monkeypatch) -> None:
    store, requests = logged_s3
    spool_dir = tmp_path / "tmp"
    spool_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool_dir))
    # Past PART_SIZE, so the spool has gone from memory to a file before the limit.
    with pytest.raises(FileTooLarge):
        store_upload(store, Repeated(PART_SIZE + 2 * 1024 * 1024), limit=PART_SIZE + 1024 * 1024)
    assert requests == []
    assert list(store.list("")) == []
    assert list(spool_dir.iterdir()) == []


@pytest.fixture(params=["folder", "s3"])
def measured_store(request, tmp_path) -> ObjectStore:
    """As ``store``, but moto in a process of its own: it keeps objects in memory, and
    in this process it would be counted against our side of the upload."""
    if request.param == "folder":
        return FolderStore(tmp_path / "store")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                               "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    request.addfinalizer(lambda: (server.terminate(), server.wait(10)))
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    client = Minio(f"127.0.0.1:{port}", access_key="test", secret_key="test", secure=False,
                   region="us-east-1")
    return S3Store(client, "measured")


def test_a_50_mb_upload_does_not_take_50_mb(measured_store: ObjectStore) -> None:
    size = 50 * 1024 * 1024
    tracemalloc.start()
    try:
        seen = store_upload(measured_store, Repeated(size), limit=size + 1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen.size == size
    assert measured_store.exists(object_key(seen.sha256))
    print(f"\n{type(measured_store).__name__}: peak {peak / 1e6:.1f} MB for a 50 MB upload")
    # The folder writes chunk by chunk; S3 holds one multipart part (PART_SIZE) at a time,
    # which minio copies while it signs and sends it: a bound that does not grow with the file.
    bound = 2 * 1024 * 1024 if isinstance(measured_store, FolderStore) else 4 * PART_SIZE
    assert peak < bound
