import os

import pytest

AMQP = os.environ.get("CCHC_TEST_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def amqp_uri() -> str:
    return AMQP
