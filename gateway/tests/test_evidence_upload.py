"""The gateway's streaming of multipart uploads into the evidence store."""

import hashlib
import multiprocessing
import os
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from gateway.errors import Problem
from gateway.evidence.upload import receive_upload
from services.common.objectstore import FolderStore, ObjectStore, object_key
from services.common.tests import stores

BOUNDARY = "----cchc-boundary-7MA4YWxkTrZu0gW"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
MB = 1024 * 1024


def _field(name: str, value: str) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
            f"{value}\r\n").encode()


async def _body(fields: dict[str, str], file_size: int, head: bytes = b"%PDF-1.7\n",
                chunk: int = 64 * 1024, file_first: bool = True,
                filename: str = "bao cao.pdf") -> AsyncIterator[bytes]:
    """A multipart body produced as it is sent: the test holds no copy of the file."""
    text = b"".join(_field(k, v) for k, v in fields.items())
    if not file_first:
        yield text
    yield (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
           f"filename=\"{filename}\"\r\nContent-Type: application/pdf\r\n\r\n").encode()
    yield head
    left = file_size - len(head)
    block = b"0123456789abcdef" * (chunk // 16)
    while left > 0:
        piece = block[: min(chunk, left)]
        left -= len(piece)
        yield piece
    yield b"\r\n"
    if file_first:
        yield text
    yield f"--{BOUNDARY}--\r\n".encode()


def _expected_sha(size: int, head: bytes = b"%PDF-1.7\n", chunk: int = 64 * 1024) -> str:
    digest = hashlib.sha256(head)
    left = size - len(head)
    block = b"0123456789abcdef" * (chunk // 16)
    while left > 0:
        piece = block[: min(chunk, left)]
        left -= len(piece)
        digest.update(piece)
    return digest.hexdigest()


META = {"doc_number": "25/BC-UBND", "doc_date": "2023-03-31",
        "title": "Báo cáo CCHC quý I/2023", "section": "Mục II"}


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with stores.moto_s3() as endpoint:
        yield endpoint


@pytest.fixture(params=["folder", "s3"])
def store(request, tmp_path: Path) -> ObjectStore:
    endpoint = request.getfixturevalue("moto_endpoint") if request.param == "s3" else None
    return stores.folder_or_s3(request.param, tmp_path, endpoint)


@pytest.mark.anyio
@pytest.mark.parametrize("file_first", [True, False])
async def test_fields_and_file_in_any_order(store: ObjectStore, file_first: bool) -> None:
    got = await receive_upload(_body(META, 300_000, file_first=file_first), CONTENT_TYPE,
                               store, limit=MB)
    assert got.fields == META
    assert got.filename == "bao cao.pdf"
    assert got.kind == "pdf"
    assert got.stored.size == 300_000
    assert got.stored.sha256 == _expected_sha(300_000)
    assert store.exists(object_key(got.stored.sha256))
    assert b"".join(store.iter_chunks(object_key(got.stored.sha256)))[:9] == b"%PDF-1.7\n"


def _ingest_peak(root: str, size: int) -> tuple[int, int, int]:
    """In a fresh process: stream ``size`` bytes through the gateway's ingest.

    tracemalloc counts every thread of its process; in the test process the threads
    of other tests (moto's server, the anyio portal) would be counted too.
    """
    import asyncio

    store = FolderStore(Path(root))

    async def run() -> tuple[int, int, int]:
        tracemalloc.start()
        try:
            got = await receive_upload(_body(META, size), CONTENT_TYPE, store, limit=size + MB)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        stored = os.path.getsize(store.root / object_key(got.stored.sha256))
        return got.stored.size, stored, peak

    return asyncio.run(run())


def test_a_50_mb_upload_streams_in_bounded_memory(tmp_path: Path) -> None:
    size = 50 * MB
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        seen, stored, peak = pool.submit(_ingest_peak, str(tmp_path / "store"), size).result()
    assert seen == stored == size
    print(f"\ngateway ingest of 50 MB: peak traced memory {peak / 1e6:.2f} MB")
    assert peak < 4 * MB


@pytest.mark.anyio
async def test_past_the_limit_is_413_and_nothing_is_kept(store: ObjectStore) -> None:
    with pytest.raises(Problem) as err:
        await receive_upload(_body(META, 7 * MB), CONTENT_TYPE, store, limit=6 * MB)
    assert (err.value.status, err.value.code) == (413, "file_too_large")
    assert list(store.list("incoming/")) == []
    assert list(store.list("sha256/")) == []


@pytest.mark.anyio
async def test_no_file_part_is_422(tmp_path: Path) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield _field("doc_number", "1/KH") + f"--{BOUNDARY}--\r\n".encode()

    with pytest.raises(Problem) as err:
        await receive_upload(body(), CONTENT_TYPE, FolderStore(tmp_path / "s"), limit=MB)
    assert err.value.status == 422


@pytest.mark.anyio
async def test_not_multipart_is_400(tmp_path: Path) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"{}"

    with pytest.raises(Problem) as err:
        await receive_upload(body(), "application/json", FolderStore(tmp_path / "s"), limit=MB)
    assert err.value.status == 400


@pytest.mark.anyio
async def test_a_body_cut_short_leaves_nothing(store: ObjectStore) -> None:

    async def body() -> AsyncIterator[bytes]:
        count = 0
        async for piece in _body(META, 2 * MB):
            yield piece
            count += 1
            if count == 10:
                raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await receive_upload(body(), CONTENT_TYPE, store, limit=4 * MB)
    assert list(store.list("incoming/")) == []
    assert list(store.list("sha256/")) == []
