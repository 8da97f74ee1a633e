"""Object stores for tests: a folder, or S3 served by moto on loopback (the real SDK).

Shared by the services' tests, the gateway's and the cross-service ones, so the moto
server is started one way everywhere.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from minio import Minio
from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from services.common.objectstore import FolderStore, ObjectStore, S3Store

ACCESS_KEY = "cchc"
SECRET_KEY = "cchc-secret"
REGION = "us-east-1"


@contextmanager
def moto_s3(requests: list[str] | None = None) -> Iterator[str]:
    """moto's S3 served over HTTP on loopback; yields its ``host:port``.

    With ``requests``, each request moto receives is appended to it as ``"METHOD
    /bucket/key?query"``, and `` copy`` after a server-side copy: tests count what the
    store asks of the server without touching the SDK.
    """
    app = DomainDispatcherApplication(create_backend_app)

    def logged(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if requests is not None:
            query = environ.get("QUERY_STRING")
            requests.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}"
                            + (f"?{query}" if query else "")
                            + (" copy" if "HTTP_X_AMZ_COPY_SOURCE" in environ else ""))
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, logged, threaded=True,
                         request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


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
