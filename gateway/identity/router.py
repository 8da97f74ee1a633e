"""Sign-in, the caller's profile, units and accounts (đăng nhập, đơn vị, tài khoản)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakError, KeycloakPostError

from gateway.config import get_settings
from gateway.deps import rpc
from gateway.errors import Problem, problem_response
from gateway.identity.oidc import InvalidToken, OpenIdClient
from gateway.identity.schemas import (
    Account,
    AuditEntry,
    IssuedAccount,
    LoginIn,
    Me,
    PasswordIn,
    RefreshIn,
    Role,
    RolesIn,
    TokenPair,
    Unit,
    UnitIn,
    UserIn,
)
from gateway.policy import (
    Principal,
    authenticated,
    ensure_unit_scope,
    openid,
    public,
    require_roles,
    signed_in,
)
from gateway.rpc import RemoteError, RpcClient
from services.common.contracts import IDENTITY

router = APIRouter(prefix="/api/v1", tags=["identity"])

# 200 accounts are hashed in one call; give it more than an ordinary call's time.
BULK_TIMEOUT = 120.0

_BAD_CREDENTIALS = ("Sai tên đăng nhập hoặc mật khẩu / wrong username or password")


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _locked_response(retry_after: int, detail: str | None = None) -> JSONResponse:
    response = problem_response(
        429, "account_locked",
        detail or (f"Tài khoản tạm khoá do đăng nhập sai nhiều lần, thử lại sau {retry_after} "
                   f"giây / too many failed sign-ins, try again in {retry_after} seconds"),
        retry_after=retry_after,
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


def _provider_down() -> Problem:
    return Problem(503, "identity_provider_unavailable",
                   "Máy chủ đăng nhập không trả lời / the sign-in server is unavailable")


async def _gate(rpc_: RpcClient, username: str) -> JSONResponse | None:
    """429 while the name is locked, counted in the identity database for every replica."""
    try:
        await rpc_.call(IDENTITY, "sign_in_gate", username)
    except RemoteError as exc:
        error = exc.domain_error
        if error is not None and error.code == "account_locked":
            return _locked_response(int(error.extra["retry_after"]), error.detail)
        raise
    return None


async def _sign_in(
    rpc_: RpcClient, client: OpenIdClient, username: str, password: str, ip: str | None,
    reason: str = "bad_credentials",
) -> dict[str, Any] | JSONResponse:
    """A token pair from the provider, or the response that refuses it (401/429)."""
    locked = await _gate(rpc_, username)
    if locked is not None:
        return locked
    # The local provider counts every password it checks itself (its token endpoint
    # has no side door); Keycloak's failures are counted here, for every replica.
    counted_by_provider = get_settings().identity_provider == "local"
    try:
        tokens = await client.password_grant(username, password)
    except (KeycloakAuthenticationError, KeycloakPostError):
        if counted_by_provider:
            locked = await _gate(rpc_, username)
            if locked is not None:
                return locked
        else:
            outcome = await rpc_.call(IDENTITY, "record_sign_in", username, False, ip, reason)
            if outcome["locked"]:
                return _locked_response(int(outcome["retry_after"]))
        raise Problem(401, "invalid_credentials", _BAD_CREDENTIALS) from None
    except KeycloakError:
        raise _provider_down() from None
    if not counted_by_provider:
        await rpc_.call(IDENTITY, "record_sign_in", username, True, ip)
    return tokens


async def _pair(client: OpenIdClient, tokens: dict[str, Any]) -> TokenPair:
    try:
        claims = await client.verify(tokens["access_token"])
    except InvalidToken:
        # The provider signed with a key we could not fetch yet (just rotated).
        raise _provider_down() from None
    return TokenPair(
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        expires_in=int(tokens.get("expires_in", 0)),
        refresh_expires_in=tokens.get("refresh_expires_in"),
        token_type="Bearer",
        must_change_password=bool(claims.get("must_change_password")),
    )


@router.post(
    "/auth/login", response_model=TokenPair, dependencies=[Depends(public)],
    summary="Sign in with username and password",
    responses={401: {"description": "wrong credentials"},
               429: {"description": "locked after repeated failures; Retry-After says how long"}},
)
async def login(
    body: LoginIn, request: Request, rpc_: RpcClient = Depends(rpc),
    client: OpenIdClient = Depends(openid),
) -> Any:
    # Usernames are lower case in both providers; the lock counts the name, not its spelling.
    username = body.username.strip().lower()
    result = await _sign_in(rpc_, client, username, body.password, _ip(request))
    if isinstance(result, JSONResponse):
        return result
    return await _pair(client, result)


@router.post("/auth/refresh", response_model=TokenPair, dependencies=[Depends(public)],
             summary="A new token pair for a refresh token")
async def refresh(body: RefreshIn, client: OpenIdClient = Depends(openid)) -> TokenPair:
    try:
        tokens = await client.refresh_grant(body.refresh_token)
        return await _pair(client, tokens)
    except (KeycloakAuthenticationError, KeycloakPostError, InvalidToken):
        raise Problem(401, "invalid_refresh_token",
                      "Phiên đăng nhập đã hết hạn, vui lòng đăng nhập lại / "
                      "refresh token invalid or expired") from None
    except KeycloakError:
        raise _provider_down() from None


@router.post(
    "/auth/logout", status_code=204, dependencies=[Depends(public)],
    summary="Sign out: the session of this refresh token ends, its tokens stop refreshing",
    responses={401: {"description": "the refresh token is not one of ours"}},
)
async def logout(body: RefreshIn, client: OpenIdClient = Depends(openid)) -> Response:
    # Public like refresh: the refresh token is the credential, and an expired access
    # token must not keep anyone from ending their session.
    try:
        await client.logout(body.refresh_token)
    except (KeycloakAuthenticationError, KeycloakPostError):
        raise Problem(401, "invalid_refresh_token",
                      "Phiên đăng nhập không hợp lệ / refresh token invalid") from None
    except KeycloakError:
        raise _provider_down() from None
    return Response(status_code=204)


@router.post(
    "/auth/password", response_model=TokenPair,
    summary="Change one's password; the answer is a new token pair",
    responses={422: {"description": "wrong old password or a weak new one"}},
)
async def change_password(
    body: PasswordIn, request: Request, principal: Principal = Depends(signed_in),
    rpc_: RpcClient = Depends(rpc), client: OpenIdClient = Depends(openid),
) -> Any:
    ip = _ip(request)
    # The old password is checked by the provider, like a sign-in, and counts as one.
    try:
        checked = await _sign_in(rpc_, client, principal.username, body.old_password, ip,
                                 reason="wrong_old_password")
    except Problem as exc:
        if exc.code == "invalid_credentials":
            raise Problem(422, "wrong_old_password",
                          "Mật khẩu hiện tại không đúng / the current password is wrong") from None
        raise
    if isinstance(checked, JSONResponse):
        return checked
    await rpc_.call(IDENTITY, "set_password", principal.username, body.new_password, ip,
                    old_password=body.old_password)
    result = await _sign_in(rpc_, client, principal.username, body.new_password, ip)
    if isinstance(result, JSONResponse):
        return result
    return await _pair(client, result)


@router.get("/me", response_model=Me, summary="Who I am")
async def me(principal: Principal = Depends(signed_in)) -> Me:
    return Me(username=principal.username, full_name=principal.full_name,
              roles=sorted(principal.roles), unit_code=principal.unit_code,
              department_code=principal.department_code,
              must_change_password=principal.must_change_password)


@router.post("/units", summary="Create or update units in bulk")
async def upsert_units(
    units: list[UnitIn], _: Principal = Depends(require_roles("admin")),
    rpc_: RpcClient = Depends(rpc),
) -> dict[str, int]:
    return await rpc_.call(IDENTITY, "upsert_units", [u.model_dump() for u in units])


@router.get("/units", response_model=list[Unit], summary="Units, optionally of one type")
async def list_units(
    type: str | None = Query(None, examples=["commune"]),
    _: Principal = Depends(authenticated), rpc_: RpcClient = Depends(rpc),
) -> list[dict[str, Any]]:
    return await rpc_.call(IDENTITY, "list_units", type)


@router.post(
    "/users", status_code=201, response_model=IssuedAccount | list[IssuedAccount],
    summary="Issue one account, or many from a list; initial passwords are shown once",
)
async def create_users(
    request: Request,
    body: UserIn | list[UserIn] = Body(...),
    principal: Principal = Depends(require_roles("admin")),
    rpc_: RpcClient = Depends(rpc),
) -> Any:
    actor, ip = principal.signed_actor(), _ip(request)
    if isinstance(body, list):
        return await rpc_.call(IDENTITY, "create_users", [u.model_dump() for u in body],
                               actor=actor, ip=ip, timeout=BULK_TIMEOUT)
    return await rpc_.call(IDENTITY, "create_user", body.model_dump(), actor=actor, ip=ip)


@router.get(
    "/users", response_model=list[Account],
    summary="Accounts; a unit's leader sees those of their own unit (to assign criteria)",
)
async def list_users(
    unit_code: str | None = None, role: Role | None = None,
    department_code: str | None = None,
    principal: Principal = Depends(require_roles("admin", "unit_leader")),
    rpc_: RpcClient = Depends(rpc),
) -> list[dict[str, Any]]:
    if "admin" not in principal.roles:
        unit_code = unit_code or principal.unit_code
        if unit_code is None:
            raise Problem(403, "forbidden_unit",
                          "Tài khoản không thuộc đơn vị nào / the account has no unit")
        ensure_unit_scope(principal, unit_code)
    return await rpc_.call(IDENTITY, "list_users", unit_code, role, department_code)


@router.get("/users/{username}", response_model=Account, summary="One account")
async def get_user(
    username: str, _: Principal = Depends(require_roles("admin")), rpc_: RpcClient = Depends(rpc),
) -> dict[str, Any]:
    return await rpc_.call(IDENTITY, "get_user", username)


@router.put("/users/{username}/roles", summary="Replace an account's roles")
async def set_roles(
    username: str, body: RolesIn, request: Request,
    principal: Principal = Depends(require_roles("admin")), rpc_: RpcClient = Depends(rpc),
) -> dict[str, Any]:
    return await rpc_.call(IDENTITY, "set_roles", username, list(body.roles),
                           actor=principal.signed_actor(), ip=_ip(request))


@router.get("/audit", response_model=list[AuditEntry],
            summary="Sign-ins, failures, password and role changes, account creation")
async def audit_log(
    subject: str | None = None, action: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    _: Principal = Depends(require_roles("admin")), rpc_: RpcClient = Depends(rpc),
) -> list[dict[str, Any]]:
    return await rpc_.call(IDENTITY, "audit_log", subject, action, limit)
