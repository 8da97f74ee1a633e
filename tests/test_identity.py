"""Identity and access over HTTP, against the real processes (issue 3)."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable

import httpx
import pytest
from jwcrypto import jwk, jwt
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakAuthenticationError
from sqlalchemy import create_engine, text

from gateway.rpc import RpcClient
from services.common.contracts import DEFAULT_CLIENT_ID, IDENTITY, ROLES
from tests.conftest import ADMIN_PASSWORD, bearer
from tests.system import AMQP, DB_PREFIX, PG, System

Login = Callable[[str, str], dict[str, str]]
MakeUser = Callable[..., tuple[str, dict[str, str]]]


def _issuer(system: System) -> str:
    return f"http://127.0.0.1:{system.service_port(IDENTITY)}/realms/cchc"


def _signing_key() -> tuple[str, str]:
    """The provider's newest key, read from its database as an insider with a copy would."""
    engine = create_engine(f"{PG}/{DB_PREFIX}identity")
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT kid, private_pem FROM signing_keys WHERE retired_at IS NULL "
            "ORDER BY created_at DESC LIMIT 1")).one()
    engine.dispose()
    return row.kid, row.private_pem


def _token(claims: dict, kid: str, key: jwk.JWK, alg: str = "RS256") -> str:
    token = jwt.JWT(header={"alg": alg, "kid": kid, "typ": "JWT"}, claims=claims)
    token.make_signed_token(key)
    return token.serialize()


def _claims(system: System, **overrides) -> dict:
    now = int(time.time())
    claims = {
        "exp": now + 300, "iat": now, "iss": _issuer(system), "aud": DEFAULT_CLIENT_ID,
        "typ": "Bearer", "sub": "admin", "preferred_username": "admin", "name": "X",
        "realm_access": {"roles": ["admin"]}, "must_change_password": False,
    }
    claims.update(overrides)
    return claims


# --- Sign-in, refresh, password, me -----------------------------------------------------

def test_login_me_refresh_in_local_mode(http: httpx.Client) -> None:
    response = http.post("/api/v1/auth/login",
                         json={"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 200, response.text
    pair = response.json()
    assert pair["token_type"] == "Bearer" and pair["expires_in"] > 0
    assert pair["must_change_password"] is False
    me = http.get("/api/v1/me", headers=bearer(pair["access_token"]))
    assert me.status_code == 200
    assert me.json()["username"] == "admin" and me.json()["roles"] == ["admin"]

    refreshed = http.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    new = refreshed.json()
    assert new["access_token"] != pair["access_token"]
    assert http.get("/api/v1/me", headers=bearer(new["access_token"])).status_code == 200
    # A refresh token is not an access token, and an access token does not refresh.
    assert http.get("/api/v1/me", headers=bearer(pair["refresh_token"])).status_code == 401
    wrong = http.post("/api/v1/auth/refresh", json={"refresh_token": pair["access_token"]})
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "invalid_refresh_token"


def test_wrong_password_is_401_problem(http: httpx.Client) -> None:
    response = http.post("/api/v1/auth/login", json={"username": "admin", "password": "nope!"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "invalid_credentials"
    unknown = http.post("/api/v1/auth/login", json={"username": "nobody", "password": "x"})
    assert unknown.status_code == 401
    # The admin is not locked by one failure; a success clears the count.
    assert http.post("/api/v1/auth/login",
                     json={"username": "admin", "password": ADMIN_PASSWORD}).status_code == 200


def test_issued_password_must_be_changed_before_anything_else(
    http: httpx.Client, admin_headers: dict[str, str]
) -> None:
    username = f"issued.{uuid.uuid4().hex[:6]}"
    created = http.post("/api/v1/users", headers=admin_headers, json={
        "username": username, "full_name": "Lê Thị Thu", "roles": ["unit_staff"],
        "unit_code": "X-HUONGVINH"})
    assert created.status_code == 201, created.text
    issued = created.json()["initial_password"]
    assert created.json()["username"] == username and len(issued) >= 12

    first = http.post("/api/v1/auth/login", json={"username": username, "password": issued})
    assert first.status_code == 200
    assert first.json()["must_change_password"] is True
    headers = bearer(first.json()["access_token"])
    blocked = http.get("/api/v1/units", headers=headers)
    assert blocked.status_code == 403
    assert blocked.json()["code"] == "password_change_required"
    me = http.get("/api/v1/me", headers=headers)
    assert me.status_code == 200 and me.json()["must_change_password"] is True

    weak = http.post("/api/v1/auth/password", headers=headers,
                     json={"old_password": issued, "new_password": "short"})
    assert weak.status_code == 422 and weak.json()["code"] == "weak_password"
    wrong_old = http.post("/api/v1/auth/password", headers=headers,
                          json={"old_password": "not-it-at-all", "new_password": "Good-pass-123"})
    assert wrong_old.status_code == 422 and wrong_old.json()["code"] == "wrong_old_password"

    changed = http.post("/api/v1/auth/password", headers=headers,
                        json={"old_password": issued, "new_password": "Good-pass-123"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["must_change_password"] is False
    new_headers = bearer(changed.json()["access_token"])
    assert http.get("/api/v1/units", headers=new_headers).status_code == 200
    # The issued password no longer works; the old session cannot be refreshed.
    assert http.post("/api/v1/auth/login",
                     json={"username": username, "password": issued}).status_code == 401
    stale = http.post("/api/v1/auth/refresh", json={"refresh_token": first.json()["refresh_token"]})
    assert stale.status_code == 401
    assert http.post("/api/v1/auth/login", json={"username": username,
                                                  "password": "Good-pass-123"}).status_code == 200


# --- Bad tokens -----------------------------------------------------------------------------

def test_missing_garbage_forged_expired_and_foreign_tokens_are_401(
    http: httpx.Client, system: System, admin_headers: dict[str, str]
) -> None:
    assert http.get("/api/v1/me", headers=admin_headers).status_code == 200
    kid, pem = _signing_key()
    real = jwk.JWK.from_pem(pem.encode())
    other = jwk.JWK.generate(kty="RSA", size=2048)
    hmac = jwk.JWK(kty="oct", k=jwk.base64url_encode(b"x" * 32))
    cases = {
        "missing": {},
        "garbage": bearer("not.a.token"),
        "no token after the scheme": {"Authorization": "Bearer"},
        "basic": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        "forged (other key, real kid)": bearer(_token(_claims(system), kid, other)),
        "unknown kid": bearer(_token(_claims(system), "made-up-kid", other)),
        "hmac": bearer(_token(_claims(system), kid, hmac, alg="HS256")),
        "expired": bearer(_token(_claims(system, exp=int(time.time()) - 120), kid, real)),
        "wrong audience": bearer(_token(_claims(system, aud="another-client"), kid, real)),
        "wrong issuer": bearer(_token(_claims(system, iss="http://evil/realms/cchc"), kid, real)),
        "refresh type": bearer(_token(_claims(system, typ="Refresh"), kid, real)),
    }
    for name, headers in cases.items():
        response = http.get("/api/v1/me", headers=headers)
        assert response.status_code == 401, (name, response.text)
        assert response.headers["content-type"].startswith("application/problem+json"), name
        assert response.json()["code"] == "unauthenticated", name
    # The control: the same real key and claims, valid, are accepted.
    valid = http.get("/api/v1/me", headers=bearer(_token(_claims(system), kid, real)))
    assert valid.status_code == 200


# --- Role matrix ----------------------------------------------------------------------------

def _operations(http: httpx.Client) -> list[tuple[str, str, dict]]:
    spec = http.get("/openapi.json").json()
    found = []
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                found.append((method.upper(), path, operation.get("x-cchc-access")))
    return found


def _fill(path: str) -> str:
    # Any value will do: access is decided before a path parameter is looked at.
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_route_declares_its_access_and_refuses_anonymous_callers(
    http: httpx.Client
) -> None:
    operations = _operations(http)
    assert len(operations) >= 9
    for method, path, access in operations:
        assert access is not None and access["kind"] != "none", (
            f"{method} {path} declares no access rule: use authenticated, require_roles "
            "or public from gateway.policy")
        if access["kind"] == "public":
            continue
        response = http.request(method, _fill(path))
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.json()["code"] == "unauthenticated"
    public = {(m, p) for m, p, a in operations if a["kind"] == "public"}
    assert public == {("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/refresh"),
                      ("POST", "/api/v1/auth/logout")}


def _problem_body(response: httpx.Response) -> object:
    """The JSON body, if any: some routes answer files (XLSX, PDF)."""
    if response.headers.get("content-type", "").startswith(("application/json",
                                                             "application/problem+json")):
        return response.json()
    return None


def test_role_matrix_every_route_every_role(
    http: httpx.Client, make_user: MakeUser, login: Login
) -> None:
    tokens = {role: make_user([role], unit_code="X-HUONGVINH", department_code="SNV")[1]
              for role in sorted(ROLES)}
    checked = 0
    for method, path, access in _operations(http):
        if access["kind"] == "signed_in":
            # Any role may call it; only unit scope may refuse, never the role or the token.
            for role, headers in tokens.items():
                response = http.request(method, _fill(path), headers=headers)
                assert response.status_code not in (401, 500), (role, method, path)
                body = _problem_body(response)
                assert not (isinstance(body, dict) and body.get("code") in {
                    "forbidden_role", "password_change_required"}), (role, method, path)
            continue
        if access["kind"] != "roles":
            continue
        for role, headers in tokens.items():
            response = http.request(method, _fill(path), headers=headers)
            body = _problem_body(response)
            code = body.get("code") if isinstance(body, dict) else None
            if role in access["roles"]:
                assert code != "forbidden_role", (role, method, path)
                assert response.status_code not in (401, 500), (role, method, path, response.text)
            else:
                assert response.status_code == 403, (role, method, path, response.status_code)
                assert code == "forbidden_role", (role, method, path)
            checked += 1
    assert checked >= 5 * 5


def test_an_unchanged_issued_password_is_refused_on_every_route(
    http: httpx.Client, admin_headers: dict[str, str]
) -> None:
    username = f"fresh.{uuid.uuid4().hex[:6]}"
    issued = http.post("/api/v1/users", headers=admin_headers, json={
        "username": username, "full_name": "Mới", "roles": ["admin"]}).json()["initial_password"]
    headers = bearer(http.post("/api/v1/auth/login", json={
        "username": username, "password": issued}).json()["access_token"])
    for method, path, access in _operations(http):
        if access["kind"] == "public" or access.get("password_change_exempt"):
            continue
        response = http.request(method, _fill(path), headers=headers)
        assert response.status_code == 403, (method, path)
        assert response.json()["code"] == "password_change_required", (method, path)


# --- Units and accounts ---------------------------------------------------------------------

def test_units_upsert_and_list(http: httpx.Client, admin_headers: dict[str, str],
                               make_user: MakeUser) -> None:
    response = http.post("/api/v1/units", headers=admin_headers, json=[
        {"code": "SNV", "name": "Sở Nội vụ", "type": "department"},
        {"code": "X-PHUTHUAN", "name": "Xã Phú Thuận", "type": "commune",
         "parent_code": "PHUVANG"}])
    assert response.status_code == 200, response.text
    _, viewer = make_user("viewer")
    communes = http.get("/api/v1/units", params={"type": "commune"}, headers=viewer).json()
    assert {"code": "X-PHUTHUAN", "name": "Xã Phú Thuận", "type": "commune",
            "parent_code": "PHUVANG"} in communes
    assert all(u["type"] == "commune" for u in communes)
    bad = http.post("/api/v1/units", headers=admin_headers, json=[{"code": ""}])
    assert bad.status_code == 422


def test_duplicate_and_invalid_accounts(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    user = {"username": f"dup.{uuid.uuid4().hex[:6]}", "full_name": "A", "roles": ["viewer"]}
    assert http.post("/api/v1/users", headers=admin_headers, json=user).status_code == 201
    again = http.post("/api/v1/users", headers=admin_headers, json=user)
    assert again.status_code == 409 and again.json()["code"] == "username_taken"
    king = http.post("/api/v1/users", headers=admin_headers, json={**user, "roles": ["king"]})
    assert king.status_code == 422


def test_role_change_is_effective_and_audited(
    http: httpx.Client, admin_headers: dict[str, str], make_user: MakeUser, login: Login
) -> None:
    username, headers = make_user("viewer")
    assert http.get("/api/v1/audit", headers=headers).status_code == 403
    changed = http.put(f"/api/v1/users/{username}/roles", headers=admin_headers,
                       json={"roles": ["admin"]})
    assert changed.status_code == 200 and changed.json()["roles"] == ["admin"]
    # Roles travel in the token: the next sign-in carries them.
    fresh = login(username, "Changed-pass-2026")
    assert http.get("/api/v1/audit", headers=fresh).status_code == 200
    log = http.get("/api/v1/audit", params={"subject": username}, headers=admin_headers).json()
    actions = [e["action"] for e in log]
    assert {"user_created", "sign_in", "password_changed", "roles_changed"} <= set(actions)
    role_change = next(e for e in log if e["action"] == "roles_changed")
    assert role_change["actor"] == "admin" and role_change["ip"] == "127.0.0.1"
    assert role_change["detail"] == {"before": ["viewer"], "after": ["admin"]}


def test_keys_rotate_and_old_tokens_still_verify(
    http: httpx.Client, admin_headers: dict[str, str], login: Login
) -> None:
    async def rotate() -> str:
        rpc = RpcClient(AMQP)
        await rpc.connect()
        try:
            return (await rpc.call(IDENTITY, "rotate_signing_key"))["kid"]
        finally:
            await rpc.close()

    new_kid = asyncio.run(rotate())
    time.sleep(1.1)  # CCHC_JWKS_MIN_REFRESH_SECONDS, set in tests/conftest.py
    # The gateway has never seen this kid: it must fetch the set again, not refuse.
    fresh = login("admin", ADMIN_PASSWORD)
    assert jwt.JWT(jwt=fresh["Authorization"][7:]).token.jose_header["kid"] == new_kid
    assert http.get("/api/v1/me", headers=fresh).status_code == 200
    assert http.get("/api/v1/me", headers=admin_headers).status_code == 200




# --- Lockout, bulk issuance -------------------------------------------------------------------

def test_repeated_failures_lock_the_account_with_429_and_retry_after(
    http: httpx.Client, make_user: MakeUser, admin_headers: dict[str, str]
) -> None:
    username, _ = make_user("unit_staff", unit_code="X-HUONGVINH")
    attempts = [http.post("/api/v1/auth/login", json={"username": username, "password": "bad"})
                for _ in range(5)]
    assert [a.status_code for a in attempts] == [401, 401, 401, 401, 429]
    # Locked: even the right password is refused until the lock ends.
    locked = http.post("/api/v1/auth/login",
                       json={"username": username, "password": "Changed-pass-2026"})
    assert locked.status_code == 429
    assert locked.json()["code"] == "account_locked"
    assert 0 < int(locked.headers["Retry-After"]) <= 900
    assert locked.json()["retry_after"] == int(locked.headers["Retry-After"])
    # Counted on the server: a second client (another replica's caller) sees the lock too,
    # whatever case the name is typed in.
    with httpx.Client(base_url=str(http.base_url), timeout=30) as other:
        assert other.post("/api/v1/auth/login", json={
            "username": username.upper(), "password": "Changed-pass-2026"}).status_code == 429
    log = http.get("/api/v1/audit", params={"subject": username, "action": "sign_in_failed"},
                   headers=admin_headers).json()
    assert len(log) == 5 and all(e["ip"] == "127.0.0.1" for e in log)
    assert log[0]["detail"]["locked"] is True


def test_bulk_issuance_of_200_accounts_in_one_call(
    http: httpx.Client, admin_headers: dict[str, str], login: Login
) -> None:
    batch = uuid.uuid4().hex[:6]
    users = [{"username": f"bulk{batch}.{i:03d}", "full_name": f"Cán bộ xã số {i}",
              "email": f"cb{i}@xa.demo.vn", "roles": ["unit_staff"], "unit_code": "X-PHUDIEN"}
             for i in range(200)]
    started = time.perf_counter()
    response = http.post("/api/v1/users", headers=admin_headers, json=users, timeout=120)
    seconds = time.perf_counter() - started
    assert response.status_code == 201, response.text
    issued = response.json()
    assert [i["username"] for i in issued] == [u["username"] for u in users]
    assert len({i["initial_password"] for i in issued}) == 200
    print(f"\nbulk issuance: 200 accounts in {seconds:.2f} s")
    assert seconds < 30
    # Each issued password signs in, and must be changed first.
    for account in (issued[0], issued[199]):
        first = http.post("/api/v1/auth/login", json={
            "username": account["username"], "password": account["initial_password"]})
        assert first.status_code == 200 and first.json()["must_change_password"] is True
    again = http.post("/api/v1/users", headers=admin_headers, json=users[:3] + [{
        "username": f"bulk{batch}.new", "full_name": "X", "roles": ["viewer"]}])
    assert again.status_code == 409
    assert again.json()["usernames"] == [u["username"] for u in users[:3]]


# --- The Keycloak client against the local provider -----------------------------------------

@pytest.mark.anyio
async def test_keycloak_openid_client_against_the_local_provider(system: System) -> None:
    server = f"http://127.0.0.1:{system.service_port(IDENTITY)}/"
    client = KeycloakOpenID(server_url=server, realm_name="cchc", client_id=DEFAULT_CLIENT_ID)
    well_known = await client.a_well_known()
    assert well_known["issuer"] == _issuer(system)
    assert well_known["token_endpoint"].endswith("/realms/cchc/protocol/openid-connect/token")
    with pytest.raises(KeycloakAuthenticationError):
        await client.a_token("admin", "wrong-password")
    token = await client.a_token("admin", ADMIN_PASSWORD)
    assert token["token_type"] == "Bearer" and token["refresh_expires_in"] > 0
    claims = await client.a_decode_token(token["access_token"])  # fetches certs itself
    assert claims["iss"] == _issuer(system) and claims["aud"] == DEFAULT_CLIENT_ID
    assert claims["realm_access"]["roles"] == ["admin"]
    assert claims["preferred_username"] == "admin" and claims["typ"] == "Bearer"
    assert claims["exp"] > time.time()
    info = await client.a_userinfo(token["access_token"])
    assert info["preferred_username"] == "admin" and info["sub"] == "admin"
    refreshed = await client.a_refresh_token(token["refresh_token"])
    assert (await client.a_decode_token(refreshed["access_token"]))["sid"] == claims["sid"]
    certs = await client.a_certs()
    assert all(k["kty"] == "RSA" and "d" not in k for k in certs["keys"])


def test_tokens_survive_a_restart_of_the_identity_service(
    http: httpx.Client, system: System
) -> None:
    before = http.post("/api/v1/auth/login",
                       json={"username": "admin", "password": ADMIN_PASSWORD}).json()
    system.kill(IDENTITY)
    system.start_service(IDENTITY)
    system.wait_ready(60)
    # The provider verifies the refresh token with the key it kept in its database.
    after = http.post("/api/v1/auth/refresh", json={"refresh_token": before["refresh_token"]})
    assert after.status_code == 200, after.text
    kid = jwt.JWT(jwt=before["access_token"]).token.jose_header["kid"]
    assert jwt.JWT(jwt=after.json()["access_token"]).token.jose_header["kid"] == kid
    assert http.get("/api/v1/me", headers=bearer(before["access_token"])).status_code == 200


def test_a_leader_lists_the_accounts_of_their_own_unit_only(
    http: httpx.Client, make_user: MakeUser, admin_headers: dict[str, str]
) -> None:
    unit = f"X-{uuid.uuid4().hex[:6].upper()}"
    leader, leader_headers = make_user("unit_leader", unit_code=unit)
    staff, _ = make_user("unit_staff", unit_code=unit)
    make_user("unit_staff", unit_code="X-ELSEWHERE")
    mine = http.get("/api/v1/users", headers=leader_headers)
    assert mine.status_code == 200
    assert sorted(u["username"] for u in mine.json()) == sorted([leader, staff])
    only_staff = http.get("/api/v1/users", params={"role": "unit_staff"}, headers=leader_headers)
    assert [u["username"] for u in only_staff.json()] == [staff]
    other = http.get("/api/v1/users", params={"unit_code": "X-ELSEWHERE"},
                     headers=leader_headers)
    assert other.status_code == 403 and other.json()["code"] == "forbidden_unit"
    everyone = http.get("/api/v1/users", params={"role": "unit_leader", "unit_code": unit},
                        headers=admin_headers).json()
    assert [u["username"] for u in everyone] == [leader]
    assert "password_hash" not in everyone[0]


def _jwks_fetches(http: httpx.Client) -> float:
    text_ = http.get("/metrics").text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text_.splitlines()
               if line.startswith("cchc_gateway_jwks_fetches_total"))


def test_made_up_kids_do_not_flood_the_provider(
    http: httpx.Client, system: System, admin_headers: dict[str, str]
) -> None:
    assert http.get("/api/v1/me", headers=admin_headers).status_code == 200
    other = jwk.JWK.generate(kty="RSA", size=2048)
    tokens = [_token(_claims(system), f"kid-{i}", other) for i in range(30)]
    before = _jwks_fetches(http)
    started = time.monotonic()
    for token in tokens:
        assert http.get("/api/v1/me", headers=bearer(token)).status_code == 401
    elapsed = time.monotonic() - started
    # At most one refetch per CCHC_JWKS_MIN_REFRESH_SECONDS (1 s in tests).
    assert _jwks_fetches(http) - before <= int(elapsed) + 1
