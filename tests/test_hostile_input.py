"""Issue 16 over the real processes: nobody in without a token, bodies bounded, sessions
that end, a lockout without a side door, headers on every answer."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest

from gateway.rpc import RemoteError, RpcClient
from services.common.contracts import CRITERIA, IDENTITY
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD, bearer
from tests.system import AMQP, System


def _raw_request(port: int, head: str, body_parts: list[bytes], wait: float = 5) -> bytes:
    """Sends ``head`` and ``body_parts`` on a raw socket; returns what came back in time.

    A raw socket, because an HTTP client only reads the answer once it has sent the
    whole body: here we see whether the server answers before it has the body.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(head.encode())
        try:
            for part in body_parts:
                sock.sendall(part)
        except OSError:
            pass  # the server answered and closed before taking everything: the point
        answer = b""
        deadline = time.monotonic() + wait
        try:
            while not _complete(answer) and time.monotonic() < deadline:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except TimeoutError:
            pass
        except ConnectionResetError:
            pass
        return answer


def _complete(answer: bytes) -> bool:
    head, found, body = answer.partition(b"\r\n\r\n")
    if not found:
        return False
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return True


def _status(answer: bytes) -> int | None:
    if not answer.startswith(b"HTTP/1.1 "):
        return None
    return int(answer[9:12])


def test_an_anonymous_upload_is_refused_before_its_body_is_read(system: System) -> None:
    # 2 MB announced, 1 KB sent: a server that read the body first would still be waiting.
    head = ("POST /api/v1/assessments/1/submit HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n"
            f"Content-Length: {2 * 1024 * 1024}\r\n\r\n")
    answer = _raw_request(system.gateway_port, head, [b"--b\r\n" + b"x" * 1024])
    assert _status(answer) == 401, answer[:300]
    assert b"application/problem+json" in answer and b'"unauthenticated"' in answer


def test_a_forged_token_does_not_open_the_body_either(system: System) -> None:
    head = ("PUT /api/v1/assessments/1/entries/1.1 HTTP/1.1\r\nHost: x\r\n"
            "Authorization: Bearer not.a.token\r\nContent-Type: application/json\r\n"
            "Content-Length: 100000\r\n\r\n")
    assert _status(_raw_request(system.gateway_port, head, [b"{"])) == 401


def test_a_body_announced_too_large_is_413_at_once(
    system: System, admin_headers: dict[str, str]
) -> None:
    head = ("POST /api/v1/campaigns HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: {admin_headers['Authorization']}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {50 * 1024 * 1024}\r\n\r\n")
    answer = _raw_request(system.gateway_port, head, [])
    assert _status(answer) == 413 and b'"body_too_large"' in answer


def test_a_chunked_body_is_cut_off_when_it_passes_the_limit(
    system: System, admin_headers: dict[str, str]
) -> None:
    head = ("POST /api/v1/campaigns HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: {admin_headers['Authorization']}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"x" * (512 * 1024)
    frames = [b"%x\r\n%s\r\n" % (len(chunk), chunk)] * 12 + [b"0\r\n\r\n"]  # 6 MB > 4 MB
    answer = _raw_request(system.gateway_port, head, frames)
    assert _status(answer) == 413 and b'"body_too_large"' in answer


def test_a_form_with_too_many_fields_is_a_4xx_problem(
    http: httpx.Client, admin_headers: dict[str, str]
) -> None:
    fields = {f"f{i}": "x" for i in range(100)}
    response = http.post("/api/v1/assessments/1/submit", headers=admin_headers, data=fields,
                         files={"signed_summary": ("s.pdf", b"%PDF-1.4", "application/pdf")})
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_refresh_tokens_rotate_and_logout_ends_the_session(http: httpx.Client) -> None:
    first = http.post("/api/v1/auth/login",
                      json={"username": "admin", "password": ADMIN_PASSWORD}).json()
    second = http.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    second = second.json()
    # Presenting the used one again ends the family: the newest stops working too.
    reuse = http.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert (reuse.status_code, reuse.json()["code"]) == (401, "invalid_refresh_token")
    assert http.post("/api/v1/auth/refresh",
                     json={"refresh_token": second["refresh_token"]}).status_code == 401

    other = http.post("/api/v1/auth/login",
                      json={"username": "admin", "password": ADMIN_PASSWORD}).json()
    out = http.post("/api/v1/auth/logout", json={"refresh_token": other["refresh_token"]})
    assert out.status_code == 204
    assert http.post("/api/v1/auth/refresh",
                     json={"refresh_token": other["refresh_token"]}).status_code == 401
    bad = http.post("/api/v1/auth/logout", json={"refresh_token": "forged"})
    assert bad.status_code == 401 and bad.headers["content-type"] == "application/problem+json"


def test_the_providers_own_token_endpoint_counts_towards_the_lock(
    http: httpx.Client, system: System, make_user
) -> None:
    username, _ = make_user("viewer")
    direct = f"http://127.0.0.1:{system.service_port(IDENTITY)}/realms/cchc/protocol/" \
             "openid-connect/token"
    for _ in range(5):
        answer = httpx.post(direct, data={"grant_type": "password", "client_id": "cchc-gateway",
                                          "username": username, "password": "guess"})
        assert answer.status_code == 401
        assert answer.headers["cache-control"] == "no-store"
    locked = http.post("/api/v1/auth/login", json={"username": username,
                                                   "password": USER_PASSWORD})
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0


def test_an_actor_from_the_bus_is_not_believed(http: httpx.Client,
                                               admin_headers: dict[str, str]) -> None:
    async def forge() -> RemoteError:
        rpc = RpcClient(AMQP)
        await rpc.connect()
        try:
            with pytest.raises(RemoteError) as err:
                await rpc.call(IDENTITY, "set_roles", "admin", ["viewer"],
                               actor={"username": "admin", "roles": ["admin"]})
            with pytest.raises(RemoteError):
                await rpc.call(IDENTITY, "create_user",
                               {"username": "intruder", "full_name": "X", "roles": ["admin"]},
                               password="Intruder-pass-1",
                               actor={"username": "admin", "roles": ["admin"]})
            return err.value
        finally:
            await rpc.close()

    error = asyncio.run(forge()).domain_error
    assert error is not None and error.code == "actor_unverified"
    assert http.get("/api/v1/users/intruder", headers=admin_headers).status_code == 404
    assert "admin" in http.get("/api/v1/users/admin", headers=admin_headers).json()["roles"]


def test_security_headers_on_pages_and_no_store_on_tokens(http: httpx.Client) -> None:
    docs = http.get("/docs")
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]
    assert docs.headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in docs.headers
    behind_tls = http.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert behind_tls.headers["strict-transport-security"].startswith("max-age=")
    login = http.post("/api/v1/auth/login", json={"username": "admin",
                                                  "password": ADMIN_PASSWORD})
    assert login.headers["cache-control"] == "no-store"
    wrong = http.post("/api/v1/auth/login", json={"username": "nobody", "password": "x"})
    assert wrong.headers["cache-control"] == "no-store"


def test_a_missing_service_is_a_fast_503_with_retry_after_and_the_gateway_stays_ready(
    http: httpx.Client, system: System, admin_headers: dict[str, str]
) -> None:
    system.kill(CRITERIA)
    time.sleep(1.2)  # the gateway trusts what it learnt about listeners for a second
    try:
        started = time.monotonic()
        response = http.get("/api/v1/catalogs", headers=admin_headers)
        assert response.status_code == 503 and time.monotonic() - started < 3
        assert response.json()["code"] == "service_unavailable"
        assert int(response.headers["Retry-After"]) > 0
        # Routes that need no criteria still serve, and this pod stays in the balancer.
        assert http.get("/api/v1/me", headers=admin_headers).status_code == 200
        ready = http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"
        assert ready.json()["services"][CRITERIA]["status"] == "unreachable"
    finally:
        system.start_service(CRITERIA)
    system.wait_ready(60)
    assert http.get("/api/v1/catalogs", headers=admin_headers).status_code == 200


def test_the_admin_token_used_above_still_works(http: httpx.Client) -> None:
    """Rotation and logout ended their own sessions only."""
    pair = http.post("/api/v1/auth/login",
                     json={"username": "admin", "password": ADMIN_PASSWORD}).json()
    assert http.get("/api/v1/me", headers=bearer(pair["access_token"])).status_code == 200


def test_a_yaml_alias_bomb_is_refused_at_once(
    http: httpx.Client, admin_headers: dict[str, str]
) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        name = chr(ord("a") + i)
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    bomb = "\n".join(lines).encode()  # ~400 bytes; 9**9 strings if expanded
    started = time.monotonic()
    response = http.post("/api/v1/catalogs", content=bomb,
                         headers={**admin_headers, "Content-Type": "application/yaml"})
    assert (response.status_code, response.json()["code"]) == (422, "yaml_alias_refused")
    assert time.monotonic() - started < 2


def test_an_xlsx_zip_bomb_is_refused_before_it_is_unpacked(
    http: httpx.Client, admin_headers: dict[str, str]
) -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/sharedStrings.xml", b"<sst>" + b"A" * (40 * 1024 * 1024))
    assert len(buffer.getvalue()) < 200 * 1024
    response = http.post("/api/v1/catalogs", content=buffer.getvalue(), headers={
        **admin_headers,
        "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
    assert response.status_code == 422, response.text
    assert "xlsx_too_large" in response.text


@pytest.mark.parametrize("text", ["nul\u0000here", "lone \udb95 surrogate"])
def test_text_the_databases_cannot_store_is_a_422_not_a_500(
    http: httpx.Client, admin_headers: dict[str, str], text: str
) -> None:
    import json

    body = json.dumps([{"code": "X-NUL", "name": text, "type": "commune"}])
    response = http.post("/api/v1/units", content=body.encode(),
                         headers={**admin_headers, "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["code"] in {"invalid_text", "invalid_input"}
    if "\x00" in text:
        query = http.get("/api/v1/users", params={"unit_code": text}, headers=admin_headers)
        assert query.status_code == 422, query.text


def test_pages_pass_the_guard_with_their_session_cookie_and_not_without(
    system: System, http: httpx.Client, admin_headers: dict[str, str]
) -> None:
    token = admin_headers["Authorization"].removeprefix("Bearer ")
    head = ("POST /assessments/1/submit HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n"
            f"Content-Length: {2 * 1024 * 1024}\r\n")
    # No session: refused before the body, like the API.
    assert _status(_raw_request(system.gateway_port, head + "\r\n", [b"--b\r\n"])) == 401
    # Only a refresh cookie (a session being renewed): no upload-sized body.
    renewing = head + "Cookie: cchc_refresh=whatever\r\n\r\n"
    assert _status(_raw_request(system.gateway_port, renewing, [b"--b\r\n"])) == 413
    # A real session: the page itself answers (here: a form without its CSRF token).
    page = http.post("/admin/units", data={"code": "X-COOKIE"},
                     cookies={"cchc_access": token}, follow_redirects=False)
    assert page.status_code != 401 and "unauthenticated" not in page.text
