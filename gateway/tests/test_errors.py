from gateway.errors import from_remote
from gateway.rpc import RemoteError


def test_domain_error_keeps_code_status_and_extras() -> None:
    problem = from_remote(
        RemoteError("DomainError", "x", ["window_locked", "Đã khoá / locked", "423", {"at": "t"}])
    )
    assert (problem.status, problem.code, problem.extra) == (423, "window_locked", {"at": "t"})


def test_any_other_remote_error_is_ours_and_hides_its_text() -> None:
    problem = from_remote(RemoteError("KeyError", "'secret internals'", ["secret internals"]))
    assert problem.status == 500
    assert "secret" not in problem.detail


def test_overload_is_a_503_with_a_short_retry_after_and_its_own_code() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from gateway.errors import install
    from gateway.rpc import Overloaded, ServiceUnavailable

    app = FastAPI()
    install(app)

    @app.get("/busy")
    async def busy() -> None:
        raise Overloaded("submission: 32 calls already in flight")

    @app.get("/down")
    async def down() -> None:
        raise ServiceUnavailable("submission has no running process")

    with TestClient(app) as client:
        busy_answer, down_answer = client.get("/busy"), client.get("/down")
    assert busy_answer.status_code == down_answer.status_code == 503
    assert busy_answer.headers["Retry-After"] == "1"
    assert busy_answer.json()["code"] == "overloaded"
    assert "thử lại" in busy_answer.json()["detail"]
    assert down_answer.json()["code"] == "service_unavailable"


def test_a_services_503_says_when_to_retry() -> None:
    """Evidence's check_busy comes over RPC: it carries Retry-After like the gateway's own."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from gateway.errors import install

    app = FastAPI()
    install(app)

    @app.get("/checks")
    async def checks() -> None:
        raise RemoteError("DomainError", "x", ["check_busy", "Đang kiểm tra / busy", 503])

    @app.get("/locked")
    async def locked() -> None:
        raise RemoteError("DomainError", "x", ["window_locked", "Đã khoá / locked", 423])

    with TestClient(app) as client:
        busy, closed = client.get("/checks"), client.get("/locked")
    assert (busy.status_code, busy.json()["code"]) == (503, "check_busy")
    assert busy.headers["Retry-After"] == "5"
    assert closed.status_code == 423 and "Retry-After" not in closed.headers
