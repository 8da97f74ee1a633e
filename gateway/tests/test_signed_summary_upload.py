"""The signed summary's upload into S3: what it asks of the server, and what it keeps."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from gateway.errors import Problem
from gateway.submission.uploads import PREFIX, forget_signed_summary, store_signed_summary
from services.common.objectstore import S3Store
from services.common.tests import stores

PDF = b"%PDF-1.7\n" + b"bang tong hop " * 40_000


@pytest.fixture
def logged_s3() -> Iterator[tuple[S3Store, list[str]]]:
    requests: list[str] = []
    with stores.moto_s3(requests) as endpoint:
        store = stores.s3_store(endpoint, prefix="summaries")
        requests.clear()  # the bucket's creation
        yield store, requests


def test_a_new_summary_is_one_head_and_one_put_and_a_resent_one_only_a_head(logged_s3) -> None:
    store, requests = logged_s3
    first = store_signed_summary(store, io.BytesIO(PDF), "bang.pdf")
    key = f"/{store.bucket}/{first['ref']}"
    assert first["ref"].startswith(PREFIX) and first["created"] is True
    assert requests == [f"HEAD {key}", f"PUT {key}"]
    assert b"".join(store.iter_chunks(first["ref"])) == PDF

    requests.clear()
    again = store_signed_summary(store, io.BytesIO(PDF), "bang.pdf")
    assert (again["ref"], again["created"]) == (first["ref"], False)
    assert requests == [f"HEAD {key}"]
    forget_signed_summary(store, again)  # not this upload's object: it stays
    assert store.exists(first["ref"])


@pytest.mark.parametrize(("data", "status"), [(b"PK\x03\x04 a zip", 415), (PDF * 30, 413)])
def test_a_refused_summary_sends_nothing(logged_s3, monkeypatch, data: bytes,
                                         status: int) -> None:
    store, requests = logged_s3
    monkeypatch.setenv("CCHC_MAX_SIGNED_SUMMARY_BYTES", str(len(PDF) * 20))
    with pytest.raises(Problem) as err:
        store_signed_summary(store, io.BytesIO(data), "bang.pdf")
    assert err.value.status == status
    assert requests == []
    assert list(store.list("")) == []
