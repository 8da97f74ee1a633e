"""A multipart upload streamed straight into the evidence store, in bounded memory.

The request body is parsed as it arrives (python-multipart's push parser over
Starlette's ``request.stream()``): text fields are kept (they are small, and capped),
the file part is handed chunk by chunk to ``store_upload`` running in a worker
thread, because the store's SDK (minio, or plain file writes) blocks. A small queue
between the two keeps at most a few chunks in memory; the thread hashes, measures and
keeps the head to tell the type, and gives up past the size limit.
"""

from __future__ import annotations

import asyncio
import queue
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header

from gateway.errors import Problem
from services.common.objectstore import FileTooLarge, Ingest, ObjectStore, store_upload
from services.common.sniffing import sniff_kind

FILE_FIELD = "file"
MAX_FIELD_BYTES = 8 * 1024
QUEUE_CHUNKS = 8
_EOF = b""


class _Aborted(Exception):
    """The request ended before the file did: the store drops what it had."""


class _QueueReader:
    """A blocking file-like view of the chunks the event loop pushes into a queue."""

    def __init__(self, chunks: queue.Queue[bytes | BaseException]) -> None:
        self.chunks = chunks
        self.buffer = b""
        self.done = False

    def read(self, n: int = -1) -> bytes:
        while not self.done and (n < 0 or len(self.buffer) < n):
            item = self.chunks.get()
            if isinstance(item, BaseException):
                raise item
            if item == _EOF:
                self.done = True
            self.buffer += item
        if n < 0:
            n = len(self.buffer)
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out


@dataclass
class Received:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    stored: Ingest | None = None

    @property
    def kind(self) -> str:
        return sniff_kind(self.stored.head) if self.stored else "unknown"


def _too_large(limit: int) -> Problem:
    return Problem(413, "file_too_large",
                   f"Tệp vượt quá giới hạn {limit // (1024 * 1024)} MB / the file is larger "
                   f"than the {limit // (1024 * 1024)} MB limit", limit=limit)


def _bad(detail: str) -> Problem:
    return Problem(400, "bad_multipart", f"Dữ liệu tải lên không hợp lệ / {detail}")


class _Part:
    def __init__(self) -> None:
        self.header_field = b""
        self.header_value = b""
        self.name: str | None = None
        self.filename: str | None = None
        self.data: list[bytes] = []
        self.size = 0


async def receive_upload(body: AsyncIterator[bytes], content_type: str, store: ObjectStore,
                         limit: int) -> Received:
    """Parse the multipart ``body``; the part named ``file`` goes into ``store``.

    Raises ``Problem`` 400 (not multipart, two files), 413 (too large), 422 (no file).
    """
    mime, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if mime != b"multipart/form-data" or not boundary:
        raise _bad("expected multipart/form-data with a boundary")

    received = Received()
    events: list[tuple[str, _Part, bytes]] = []
    current = _Part()

    def on_part_begin() -> None:
        nonlocal current
        current = _Part()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        current.header_field += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        current.header_value += data[start:end]

    def on_header_end() -> None:
        if current.header_field.lower() == b"content-disposition":
            _, params = parse_options_header(current.header_value)
            current.name = params.get(b"name", b"").decode("utf-8", "replace")
            if b"filename" in params:
                current.filename = params[b"filename"].decode("utf-8", "replace")
        current.header_field = current.header_value = b""

    def on_headers_finished() -> None:
        events.append(("begin", current, b""))

    def on_part_data(data: bytes, start: int, end: int) -> None:
        events.append(("data", current, bytes(data[start:end])))

    def on_part_end() -> None:
        events.append(("end", current, b""))

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field,
        "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    })

    chunks: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=QUEUE_CHUNKS)
    storing: asyncio.Task[Ingest] | None = None

    async def push(item: bytes | BaseException) -> None:
        # Waits while the store is slower than the client; stops when the store gave up.
        while True:
            if storing is not None and storing.done():
                storing.result()  # raises FileTooLarge or the store's error
                return
            try:
                chunks.put_nowait(item)
                return
            except queue.Full:
                await asyncio.sleep(0.002)

    try:
        async for chunk in body:
            try:
                parser.write(chunk)
            except Exception as exc:  # the parser's errors are the client's malformed body
                raise _bad(str(exc)[:200]) from None
            for event, part, data in events:
                is_file = part.name == FILE_FIELD and part.filename is not None
                if event == "begin" and is_file:
                    if storing is not None:
                        raise _bad("only one file per upload")
                    received.filename = part.filename
                    storing = asyncio.create_task(
                        asyncio.to_thread(store_upload, store, _QueueReader(chunks), limit))
                elif event == "data" and is_file:
                    await push(data)
                elif event == "end" and is_file:
                    await push(_EOF)
                elif event == "data" and part.name:
                    part.size += len(data)
                    if part.size > MAX_FIELD_BYTES:
                        raise _bad(f"field {part.name} is too long")
                    part.data.append(data)
                elif event == "end" and part.name:
                    received.fields[part.name] = b"".join(part.data).decode("utf-8", "replace")
            events.clear()
        parser.finalize()
        if storing is None:
            raise Problem(422, "file_missing",
                          "Chưa chọn tệp tài liệu kiểm chứng / the 'file' part is missing")
        received.stored = await storing
    except FileTooLarge:
        raise _too_large(limit) from None
    except BaseException:
        if storing is not None and not storing.done():
            # Unblock the store thread so it deletes what it wrote.
            while True:
                try:
                    chunks.put_nowait(_Aborted())
                    break
                except queue.Full:
                    try:
                        chunks.get_nowait()
                    except queue.Empty:
                        pass
            try:
                await storing
            except BaseException:  # the store's own error adds nothing to the first
                pass
        raise
    return received
