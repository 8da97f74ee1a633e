"""Evidence over HTTP: the gateway's routes, policy, limits, and the evidence service.

The system runs with the trust list and size limit of ``tests/conftest.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx

from tests.conftest import EVIDENCE_MAX_BYTES

MB = 1024 * 1024
UPLOAD = "/api/v1/assessments/{aid}/entries/{code}/evidence"


def _generated(size: int) -> Iterator[bytes]:
    yield b"%PDF-1.7\n"
    left = size - 9
    block = b"0" * (256 * 1024)
    while left > 0:
        piece = block[: min(len(block), left)]
        left -= len(piece)
        yield piece


def _multipart(boundary: str, size: int) -> Iterator[bytes]:
    """A multipart body generated as it is sent, with no Content-Length."""
    for name, value in (("doc_number", "7/BC-UBND"), ("title", "Báo cáo lớn")):
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
               f"{value}\r\n").encode()
    yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
           f"filename=\"lon.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").encode()
    yield from _generated(size)
    yield f"\r\n--{boundary}--\r\n".encode()


def _stream_upload(http: httpx.Client, headers: dict, aid: int, code: str,
                   size: int) -> httpx.Response:
    boundary = uuid.uuid4().hex
    return http.post(UPLOAD.format(aid=aid, code=code), timeout=120,
                     headers={**headers,
                              "Content-Type": f"multipart/form-data; boundary={boundary}"},
                     content=_multipart(boundary, size))


def test_upload_needs_a_token_and_a_unit_role(http: httpx.Client, make_user) -> None:
    files = {"file": ("a.pdf", b"%PDF-1.7\n", "application/pdf")}
    data = {"doc_number": "1/BC-UBND", "title": "Báo cáo"}
    assert http.post(UPLOAD.format(aid=1, code="2.3"), files=files,
                     data=data).status_code == 401
    _, viewer = make_user(["viewer"])
    refused = http.post(UPLOAD.format(aid=1, code="2.3"), files=files, data=data,
                        headers=viewer)
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden_role"


def test_past_the_limit_is_413_by_length_and_while_streaming(http: httpx.Client,
                                                             make_user) -> None:
    _, leader = make_user(["unit_leader"], unit_code="X-LIMIT")
    declared = http.post(UPLOAD.format(aid=1, code="2.3"), headers=leader,
                         files={"file": ("big.pdf", b"%PDF" + b"0" * (EVIDENCE_MAX_BYTES + MB),
                                         "application/pdf")},
                         data={"doc_number": "1/BC", "title": "x"})
    assert declared.status_code == 413
    streamed = _stream_upload(http, leader, 1, "2.3", EVIDENCE_MAX_BYTES + MB)
    assert streamed.status_code == 413
    assert streamed.json()["code"] == "file_too_large"
    assert streamed.headers["content-type"] == "application/problem+json"


def test_unknown_evidence_is_404(http: httpx.Client, make_user) -> None:
    _, leader = make_user(["unit_leader"], unit_code="X-NONE")
    assert http.get("/api/v1/evidence/999999", headers=leader).status_code == 404
    gone = http.delete(UPLOAD.format(aid=1, code="2.3") + "/999999", headers=leader)
    assert gone.status_code == 404
    assert http.get("/api/v1/evidence/1").status_code == 401


def test_not_multipart_is_400(http: httpx.Client, make_user) -> None:
    _, leader = make_user(["unit_leader"], unit_code="X-BAD")
    response = http.post(UPLOAD.format(aid=1, code="2.3"), headers=leader, json={"a": 1})
    assert response.status_code == 400
    assert response.json()["code"] == "bad_multipart"


def test_routes_are_documented(http: httpx.Client) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    upload = paths["/api/v1/assessments/{aid}/entries/{code}/evidence"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert upload["x-cchc-access"]["roles"] == ["unit_leader", "unit_staff"]
    assert "get" in paths["/api/v1/evidence/{evidence_id}"]
    assert "delete" in paths["/api/v1/assessments/{aid}/entries/{code}/evidence/{evidence_id}"]
