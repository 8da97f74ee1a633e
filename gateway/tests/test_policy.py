from fastapi import APIRouter, Depends, FastAPI

from gateway.policy import (
    Principal,
    authenticated,
    document_access,
    public,
    require_roles,
    signed_in,
)


def test_principal_keeps_our_roles_only_and_passes_an_actor() -> None:
    principal = Principal.from_claims({
        "preferred_username": "hoa.tt", "name": "Trần Thị Hoa",
        "realm_access": {"roles": ["unit_leader", "offline_access", "uma_authorization"]},
        "unit_code": "X-HUONGVINH", "department_code": "", "must_change_password": True,
    })
    assert principal.roles == frozenset({"unit_leader"})
    assert principal.department_code is None and principal.must_change_password
    assert principal.as_actor() == {"username": "hoa.tt", "roles": ["unit_leader"],
                                    "unit_code": "X-HUONGVINH", "department_code": None}


def test_require_roles_refuses_unknown_roles() -> None:
    try:
        require_roles("king")
    except ValueError:
        return
    raise AssertionError("an unknown role must be refused when the route is declared")


def test_every_operation_gets_its_access_rule_in_openapi() -> None:
    router = APIRouter(prefix="/api/v1")

    @router.get("/open", dependencies=[Depends(public)])
    async def open_() -> None: ...

    @router.get("/mine")
    async def mine(_: Principal = Depends(authenticated)) -> None: ...

    @router.get("/me")
    async def me(_: Principal = Depends(signed_in)) -> None: ...

    @router.post("/admin")
    async def admin(_: Principal = Depends(require_roles("admin", "viewer"))) -> None: ...

    @router.get("/forgotten")
    async def forgotten() -> None: ...

    nested = APIRouter(prefix="/nested", dependencies=[Depends(require_roles("appraiser"))])

    @nested.get("/x")
    async def x() -> None: ...

    router.include_router(nested)
    app = FastAPI()
    app.include_router(router)
    document_access(app)
    paths = app.openapi()["paths"]
    access = {p: next(iter(ops.values()))["x-cchc-access"] for p, ops in paths.items()}
    assert access == {
        "/api/v1/open": {"kind": "public"},
        "/api/v1/mine": {"kind": "signed_in", "password_change_exempt": False},
        "/api/v1/me": {"kind": "signed_in", "password_change_exempt": True},
        "/api/v1/admin": {"kind": "roles", "roles": ["admin", "viewer"]},
        "/api/v1/forgotten": {"kind": "none"},
        "/api/v1/nested/x": {"kind": "roles", "roles": ["appraiser"]},
    }


def test_unit_scope_lets_members_and_cross_unit_roles_through() -> None:
    from gateway.errors import Problem
    from gateway.policy import ensure_unit_scope

    staff = Principal("a", "A", frozenset({"unit_staff"}), "X1", None)
    appraiser = Principal("b", "B", frozenset({"appraiser"}), None, "SNV")
    ensure_unit_scope(staff, "X1")
    ensure_unit_scope(appraiser, "X1", across_units=("admin", "appraiser"))
    for principal, unit in ((staff, "X2"), (appraiser, "X1")):
        try:
            ensure_unit_scope(principal, unit)
        except Problem as exc:
            assert (exc.status, exc.code) == (403, "forbidden_unit")
        else:
            raise AssertionError("another unit must be refused")
