from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from services.conftest import migrated_session
from services.evidence.tests.pki import CA


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
