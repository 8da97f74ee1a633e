"""Who may call what: the one place the gateway decides access (phân quyền).

Routes say who may call them in their signature:

    @router.get("/x")
    async def x(principal: Principal = Depends(authenticated)) -> ...: ...     # signed in
    @router.post("/y")
    async def y(principal: Principal = Depends(require_roles("admin"))) -> ...  # admin only

``authenticated`` verifies the bearer token (signature against the realm's keys,
issuer, audience, expiry) and refuses an account that must still change its issued
password. ``require_roles`` adds a role check. A route open to anyone says so with
``dependencies=[Depends(public)]``; ``document_access`` writes every operation's rule
into the OpenAPI document as ``x-cchc-access``, which the role-matrix test reads, so
a route added later is checked without anyone listing it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.errors import Problem
from gateway.identity.oidc import InvalidToken, OpenIdClient, ProviderUnavailable
from services.common.actor import sign_actor
from services.common.contracts import ROLES


@dataclass(frozen=True)
class Principal:
    """Who is calling, from a verified token."""

    username: str
    full_name: str
    roles: frozenset[str]  # admin, unit_leader, unit_staff, appraiser, viewer
    unit_code: str | None
    department_code: str | None
    must_change_password: bool = field(default=False, compare=False)

    def as_actor(self) -> dict[str, Any]:
        """What services receive over RPC to record and scope who acted."""
        return {
            "username": self.username,
            "roles": sorted(self.roles),
            "unit_code": self.unit_code,
            "department_code": self.department_code,
        }

    def signed_actor(self) -> dict[str, Any]:
        """``as_actor`` signed for privileged RPCs, which check it (services/common/actor.py)."""
        return sign_actor(self.as_actor())

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Principal:
        roles = (claims.get("realm_access") or {}).get("roles") or []
        return cls(
            username=str(claims["preferred_username"]),
            full_name=str(claims.get("name") or claims["preferred_username"]),
            # Keycloak adds its own realm roles (offline_access, ...): keep ours only.
            roles=frozenset(r for r in roles if r in ROLES),
            unit_code=claims.get("unit_code") or None,
            department_code=claims.get("department_code") or None,
            must_change_password=bool(claims.get("must_change_password")),
        )


_bearer = HTTPBearer(auto_error=False, description="Access token from POST /api/v1/auth/login")


def _unauthenticated(detail: str) -> Problem:
    return Problem(401, "unauthenticated",
                   f"Chưa đăng nhập hoặc phiên không hợp lệ / {detail}")


async def openid(request: Request) -> OpenIdClient:
    # async: FastAPI runs a plain ``def`` dependency on a worker thread, a hop per request.
    return request.app.state.openid


async def signed_in(
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    client: OpenIdClient = Depends(openid),
) -> Principal:
    """A verified caller, even one who must still change the issued password.

    Only for the routes such a caller may use: changing the password and /me.
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthenticated("missing bearer token")
    try:
        claims = await client.verify(credentials.credentials)
        return Principal.from_claims(claims)
    except (InvalidToken, KeyError):
        raise _unauthenticated("invalid or expired token") from None
    except ProviderUnavailable:
        raise Problem(503, "identity_provider_unavailable",
                      "Máy chủ đăng nhập không trả lời / the sign-in server is unavailable"
                      ) from None


async def authenticated(principal: Principal = Depends(signed_in)) -> Principal:
    """A verified caller whose account is in use (issued password already changed)."""
    if principal.must_change_password:
        raise Problem(
            403, "password_change_required",
            "Cần đổi mật khẩu được cấp trước khi dùng hệ thống (POST /api/v1/auth/password) / "
            "change the issued password first",
        )
    return principal


def _roles_rule(
    roles: tuple[str, ...], base: Callable[..., Awaitable[Principal]],
    refuse: Callable[[frozenset[str], Principal], Exception],
) -> Callable[..., Awaitable[Principal]]:
    unknown = set(roles) - ROLES
    if unknown or not roles:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    wanted = frozenset(roles)

    async def _require(principal: Principal = Depends(base)) -> Principal:
        if not principal.roles & wanted:
            raise refuse(wanted, principal)
        return principal

    _require.required_roles = wanted  # type: ignore[attr-defined]
    return _require


def _forbidden_role(wanted: frozenset[str], _: Principal) -> Problem:
    return Problem(
        403, "forbidden_role",
        f"Vai trò của bạn không được phép / needs one of the roles: {', '.join(sorted(wanted))}",
        required_roles=sorted(wanted),
    )


def require_roles(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller, if they hold at least one of ``roles``; else 403."""
    return _roles_rule(roles, authenticated, _forbidden_role)


def ensure_unit_scope(
    principal: Principal, unit_code: str, *, across_units: tuple[str, ...] = ("admin",)
) -> None:
    """403 ``forbidden_unit`` unless the caller belongs to ``unit_code`` or holds one of
    ``across_units`` (roles that work on every unit: admin, and e.g. appraiser, viewer
    where a route allows them)."""
    if principal.roles & set(across_units) or principal.unit_code == unit_code:
        return
    raise Problem(403, "forbidden_unit",
                  f"Bạn không thuộc đơn vị {unit_code} / not a member of unit {unit_code}",
                  unit_code=unit_code)


async def public() -> None:
    """Marks a route as open without a token, on purpose (sign-in, refresh)."""


# --- The web pages: the same rules, the token from the session cookie ---------------------

class SignInRequired(Exception):
    """A page asked without a usable session: the web client sends the person to sign in."""


class PasswordChangeRequired(Exception):
    """A page asked by an account that must first change its issued password."""


class PageForbidden(Exception):
    """A page the person's roles do not open; the web client shows why."""

    def __init__(self, required_roles: frozenset[str], principal: Principal) -> None:
        super().__init__(", ".join(sorted(required_roles)))
        self.required_roles = required_roles
        self.principal = principal


async def page_signed_in(request: Request, client: OpenIdClient = Depends(openid)) -> Principal:
    """The person behind the session cookie, verified like a bearer token.

    An expired access token is renewed once with the session's refresh token
    (gateway.web.session keeps both); the renewed pair is written back by the page.
    """
    from gateway.web.session import current_claims  # the web package imports this module

    try:
        claims = await current_claims(request, client)
    except (InvalidToken, KeyError):
        raise SignInRequired() from None
    except ProviderUnavailable:
        raise Problem(503, "identity_provider_unavailable",
                      "Máy chủ đăng nhập không trả lời / the sign-in server is unavailable"
                      ) from None
    return Principal.from_claims(claims)


async def page_authenticated(request: Request,
                             principal: Principal = Depends(page_signed_in)) -> Principal:
    """As ``authenticated``: an issued password must be changed before any other page.

    The person is kept on the request too, so that a page the API then refuses is still
    shown under their own header (name, notifications, sign-out)."""
    if principal.must_change_password:
        raise PasswordChangeRequired()
    request.state.principal = principal
    return principal


def page_roles(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """As ``require_roles``, for pages: the person, if they hold one of ``roles``."""
    return _roles_rule(roles, page_authenticated, PageForbidden)


# --- The access rule of every route, in the OpenAPI document ------------------------------

def route_access(dependant: Dependant) -> dict[str, Any]:
    """``{"kind": "public"|"signed_in"|"roles"|"none", ...}`` from a route's dependencies."""
    roles: set[str] = set()
    kinds: set[str] = set()

    def walk(dep: Dependant) -> None:
        for sub in dep.dependencies:
            call = sub.call
            if call is public:
                kinds.add("public")
            elif hasattr(call, "required_roles"):
                kinds.add("roles")
                roles.update(call.required_roles)
            elif call is authenticated or call is page_authenticated:
                kinds.add("authenticated")
            elif call is signed_in or call is page_signed_in:
                kinds.add("signed_in")
            walk(sub)

    walk(dependant)
    if "roles" in kinds:
        return {"kind": "roles", "roles": sorted(roles)}
    if "authenticated" in kinds:
        return {"kind": "signed_in", "password_change_exempt": False}
    if "signed_in" in kinds:
        return {"kind": "signed_in", "password_change_exempt": True}
    if "public" in kinds:
        return {"kind": "public"}
    return {"kind": "none"}


def document_access(app: FastAPI) -> None:
    """Adds ``x-cchc-access`` to every operation of the app's OpenAPI document."""

    build = app.openapi  # FastAPI's own, with every setting of the app

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        # FastAPI includes routers lazily: iter_route_contexts yields each route with the
        # dependencies its routers added, as get_openapi itself sees it.
        for route in iter_route_contexts(app.routes):
            if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
                continue
            access = route_access(route.dependant)
            for method in route.methods or ():
                operation = schema.get("paths", {}).get(route.path_format, {}).get(method.lower())
                if operation is not None:
                    operation["x-cchc-access"] = access
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
