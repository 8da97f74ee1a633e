import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.system import System

# Evidence: the system's trust list is a folder the tests write their CA into (the
# service reads it again when it changes), and the size limit lets a 50 MB upload
# through so its memory can be measured.
EVIDENCE_TRUST_ROOTS = Path(tempfile.mkdtemp(prefix="cchc-trust-"))
EVIDENCE_MAX_BYTES = 60 * 1024 * 1024
os.environ["CCHC_EVIDENCE_TRUST_ROOTS"] = str(EVIDENCE_TRUST_ROOTS)
os.environ["CCHC_EVIDENCE_MAX_BYTES"] = str(EVIDENCE_MAX_BYTES)


@pytest.fixture(scope="session")
def system(tmp_path_factory) -> Iterator[System]:
    system = System(tmp_path_factory.mktemp("system"))
    try:
        system.start()
        yield system
    finally:
        system.stop()


@pytest.fixture
def http(system: System) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=system.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
