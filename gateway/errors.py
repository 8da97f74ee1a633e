"""Every error leaves the gateway as ``application/problem+json`` (RFC 9457)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from gateway.rpc import Overloaded, RemoteError, RpcTimeout, ServiceUnavailable

PROBLEM = "application/problem+json"
RETRY_AFTER_SECONDS = 5
# At capacity the queue drains in well under a second: come back soon.
OVERLOADED_RETRY_AFTER_SECONDS = 1


class Problem(Exception):
    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.extra = status, code, detail, extra


def problem_response(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": f"urn:cchc:problem:{code}", "title": code, "status": status, "code": code,
            "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def from_remote(exc: RemoteError) -> Problem:
    """A service's ``DomainError`` keeps its code and status; anything else is our fault."""
    error = exc.domain_error
    if error is None:
        return Problem(500, "internal_error", "Lỗi hệ thống / internal error")
    return Problem(error.status, error.code, error.detail, **error.extra)


def answer(problem: Problem) -> JSONResponse:
    """A 503 from a service (evidence's ``check_busy``) says when to come back, as the
    gateway's own do, so clients and the pages retry it instead of failing."""
    response = problem_response(problem.status, problem.code, problem.detail, **problem.extra)
    if problem.status == 503:
        seconds = problem.extra.get("retry_after", RETRY_AFTER_SECONDS)
        response.headers["Retry-After"] = str(seconds)
    return response


def _retry_later(code: str, seconds: int, detail: str) -> JSONResponse:
    return answer(Problem(503, code, detail, retry_after=seconds))


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return answer(exc)

    @app.exception_handler(RemoteError)
    async def _remote(_: Request, exc: RemoteError) -> JSONResponse:
        return answer(from_remote(exc))

    @app.exception_handler(RpcTimeout)
    async def _timeout(_: Request, exc: RpcTimeout) -> JSONResponse:
        return problem_response(
            504, "service_timeout",
            "Dịch vụ không trả lời kịp, vui lòng thử lại / a service did not answer in time",
        )

    @app.exception_handler(Overloaded)
    async def _overloaded(_: Request, exc: Overloaded) -> JSONResponse:
        # Refused before anything was sent: nothing happened, retrying is always safe.
        return _retry_later(
            "overloaded", OVERLOADED_RETRY_AFTER_SECONDS,
            "Hệ thống đang bận vì nhiều người gửi cùng lúc, vui lòng thử lại sau 1 giây / "
            "the system is at capacity, retry in a second")

    @app.exception_handler(ServiceUnavailable)
    async def _unavailable(_: Request, exc: ServiceUnavailable) -> JSONResponse:
        # A crashed process is restarted within seconds (supervisor locally, the pod
        # in a cluster): the client may retry after a short wait.
        return _retry_later(
            "service_unavailable", RETRY_AFTER_SECONDS,
            "Dịch vụ tạm thời không sẵn sàng, vui lòng thử lại sau ít giây / "
            "a service is unavailable, retry in a few seconds")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]}
                  for e in exc.errors()]
        return problem_response(422, "invalid_input",
                                "Dữ liệu không hợp lệ / invalid input", errors=errors)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        return problem_response(exc.status_code, f"http_{exc.status_code}", str(exc.detail))
