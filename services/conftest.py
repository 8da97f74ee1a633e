"""Fixtures of the services' own tests. Runs under eventlet, like the services do.

nameko's pytest plugin stopped monkey-patching in 2.14; without this a test that
starts a container can hang.
"""

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import gc  # noqa: E402
import os  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402
from prometheus_client import REGISTRY  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from services.common.db import make_engine  # noqa: E402
from services.common.migrate import upgrade  # noqa: E402
from services.common.objectstore import ObjectStore, S3Store  # noqa: E402
from services.common.tests import stores  # noqa: E402

PG = os.environ.get("CCHC_TEST_PG", "postgresql+psycopg2://postgres:postgres@127.0.0.1:5432")
AMQP = os.environ.get("CCHC_TEST_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")


@pytest.fixture(autouse=True)
def no_connection_left_to_the_collector(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails a test that leaves a database connection for the garbage collector to find.

    The collector would otherwise find it later, during some other test, and its clean-up
    used to switch green threads midway through that test's code (services/common/db.py,
    _reset_on_return): a rare failure far from its cause.
    """
    if request.node.get_closest_marker("leaves_a_connection"):
        yield
        return
    # What outlived the tests before is frozen, so the collection below walks only what
    # this test made: about 150 ms a test on this heap otherwise.
    gc.freeze()
    before = _abandoned_connections()
    yield
    gc.collect()
    assert _abandoned_connections() == before, \
        "a database session or connection was left open: close it (or use a with block)"


def _abandoned_connections() -> float:
    return REGISTRY.get_sample_value("cchc_db_connections_abandoned_total") or 0.0


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards."""
    name = f"cchc_unit_{uuid.uuid4().hex[:10]}"
    admin = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def migrated_session(service: str, url: str) -> Iterator[Session]:
    upgrade(service, url)
    engine = make_engine(url)
    session = sessionmaker(engine, expire_on_commit=False)()
    try:
        yield session
    finally:
        session.close()
        engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'service.db'}"


@pytest.fixture
def rabbit_config() -> dict:
    return {"AMQP_URI": AMQP, "serializer": "json", "WEB_SERVER_ADDRESS": "127.0.0.1:0"}


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 served over HTTP on loopback: the real minio SDK talks to it."""
    with stores.moto_s3() as endpoint:
        yield endpoint


@pytest.fixture
def s3_store(moto_endpoint: str) -> S3Store:
    return stores.s3_store(moto_endpoint)


@pytest.fixture(params=["folder", "s3"])
def store(request, tmp_path) -> ObjectStore:
    """The object store, once as a folder and once in S3."""
    endpoint = request.getfixturevalue("moto_endpoint") if request.param == "s3" else None
    return stores.folder_or_s3(request.param, tmp_path, endpoint)
