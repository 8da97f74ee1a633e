from collections.abc import Iterator

import httpx
import pytest

from tests.system import System


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
