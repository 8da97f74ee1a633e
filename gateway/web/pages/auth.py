"""Đăng nhập, đổi mật khẩu, đăng xuất: the session over the API's tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from gateway.policy import Principal, page_signed_in, public
from gateway.web.api import Api, ApiError
from gateway.web.render import page, redirect
from gateway.web.session import clear_tokens, posted_form, write_tokens

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    # Only a path of this site: never a redirect to another origin.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@router.get("/login", dependencies=[Depends(public)])
async def login_form(request: Request, next: str = "/") -> Response:
    return page(request, "login.html", next=_safe_next(next), username="")


@router.post("/login", dependencies=[Depends(public)])
async def login(request: Request) -> Response:
    form = await posted_form(request)
    username = str(form.get("username") or "")
    target = _safe_next(str(form.get("next") or "/"))
    try:
        tokens = await Api(request).post("/auth/login", json={
            "username": username, "password": str(form.get("password") or "")})
    except ApiError as exc:
        return page(request, "login.html", status_code=exc.status, error=exc,
                    next=target, username=username)
    response = redirect(request, "/password" if tokens["must_change_password"] else target)
    write_tokens(response, request, tokens)
    return response


@router.get("/password")
async def password_form(
    request: Request, me: Annotated[Principal, Depends(page_signed_in)]
) -> Response:
    return page(request, "password.html", me)


@router.post("/password")
async def change_password(
    request: Request, me: Annotated[Principal, Depends(page_signed_in)]
) -> Response:
    form = await posted_form(request)
    new = str(form.get("new_password") or "")
    if new != str(form.get("confirm_password") or ""):
        error = ApiError(422, {"code": "password_mismatch",
                               "detail": "Hai lần nhập mật khẩu mới không khớp / "
                                         "the new passwords differ"})
        return page(request, "password.html", me, status_code=422, error=error)
    try:
        tokens = await Api(request).post("/auth/password", json={
            "old_password": str(form.get("old_password") or ""), "new_password": new})
    except ApiError as exc:
        return page(request, "password.html", me, status_code=exc.status, error=exc)
    response = redirect(request, "/?ok=password")
    write_tokens(response, request, tokens)
    return response


@router.post("/logout", dependencies=[Depends(public)])
async def logout(request: Request) -> Response:
    await posted_form(request)
    response = redirect(request, "/login")
    clear_tokens(response)
    return response
