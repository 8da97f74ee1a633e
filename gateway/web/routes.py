"""Puts the web client into the gateway: pages, static assets, what a refused page shows."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from gateway.policy import PageForbidden, PasswordChangeRequired, SignInRequired
from gateway.web.labels import role_names
from gateway.web.pages import admin, assessment, auth, council, docs, files, home, inbox, results
from gateway.web.problems import ApiError
from gateway.web.render import HERE, page, redirect


def _next(request: Request) -> str:
    path = request.url.path
    return path + (f"?{request.url.query}" if request.url.query else "")


def install(app: FastAPI) -> None:
    """Routes under ``/`` (the API keeps /api/v1), assets under /static."""
    for module in (auth, home, assessment, files, admin, council, results, inbox, docs):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _: SignInRequired) -> Response:
        from urllib.parse import quote

        return redirect(request, f"/login?next={quote(_next(request))}")

    @app.exception_handler(PasswordChangeRequired)
    async def _password(request: Request, _: PasswordChangeRequired) -> Response:
        return redirect(request, "/password")

    @app.exception_handler(PageForbidden)
    async def _forbidden(request: Request, exc: PageForbidden) -> Response:
        error = ApiError(403, {"code": "forbidden_role", "detail":
                               f"Trang này dành cho: {role_names(exc.required_roles)}"})
        return page(request, "problem.html", exc.principal, status_code=403, error=error,
                    heading="Bạn không có quyền mở trang này")

    @app.exception_handler(ApiError)
    async def _refused(request: Request, exc: ApiError) -> Response:
        # A page whose reading the API refused (not yours, not found, service down).
        heading, explanation = REFUSED_PAGES.get(exc.code, ("Không thực hiện được", None))
        # An explained stage needs no red banner repeating its heading.
        return page(request, "problem.html", getattr(request.state, "principal", None),
                    status_code=exc.status, error=None if explanation else exc,
                    heading=heading, explanation=explanation)


# Refusals that are a stage of the year rather than a fault: said as such.
REFUSED_PAGES: dict[str, tuple[str, str]] = {
    "results_not_published": (
        "Kết quả chưa được công bố",
        "Chỉ số, xếp loại và xếp hạng hiện ở đây khi kết quả được công bố, sau khi Hội đồng "
        "thẩm định hoàn tất. Lãnh đạo các đơn vị nhận được thông báo khi đó."),
}
