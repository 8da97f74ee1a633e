"""A small server speaking the part of Keycloak's admin REST API we provision through.

It runs on the loopback under eventlet's WSGI server, so ``KeycloakAdmin`` talks real
HTTP to it: paths, status codes (201 + Location, 204, 409) and bodies as Keycloak 24
answers them. It records what it was asked, for the tests to look at.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import eventlet
from eventlet import wsgi
from werkzeug.wrappers import Request, Response

REALM_ROLES = ("admin", "unit_leader", "unit_staff", "appraiser", "viewer", "offline_access")


class FakeKeycloak:
    def __init__(self, realm: str = "cchc", admin: tuple[str, str] = ("kcadmin", "kcpass")):
        self.realm = realm
        self.admin = admin
        self.users: dict[str, dict[str, Any]] = {}  # id -> representation
        self.passwords: dict[str, tuple[str, bool]] = {}  # id -> (value, temporary)
        self.roles: dict[str, set[str]] = {}  # id -> realm role names
        self.role_ids = {name: str(uuid.uuid4()) for name in REALM_ROLES}
        self.fail_creates_after: int | None = None
        self.calls: list[str] = []
        self._token = uuid.uuid4().hex

    # --- serving ---------------------------------------------------------------------
    def start(self) -> str:
        self._sock = eventlet.listen(("127.0.0.1", 0))
        self._thread = eventlet.spawn(wsgi.server, self._sock, self.wsgi, log_output=False)
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def stop(self) -> None:
        self._thread.kill()
        self._sock.close()

    def wsgi(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        self.calls.append(f"{request.method} {request.path}")
        return self.route(request)(environ, start_response)

    # --- the API ---------------------------------------------------------------------
    def route(self, request: Request) -> Response:
        path, method = request.path, request.method
        if path == "/realms/master/protocol/openid-connect/token" and method == "POST":
            form = request.form
            if (form.get("client_id"), form.get("username"), form.get("password")) != (
                    "admin-cli", *self.admin):
                return _json({"error": "invalid_grant",
                              "error_description": "Invalid user credentials"}, 401)
            return _json({"access_token": self._token, "expires_in": 60,
                          "refresh_token": "r", "refresh_expires_in": 1800,
                          "token_type": "Bearer"})
        if request.headers.get("Authorization") != f"Bearer {self._token}":
            return _json({"error": "HTTP 401 Unauthorized"}, 401)
        base = f"/admin/realms/{self.realm}"
        if path == f"{base}/users" and method == "POST":
            return self._create(request)
        if path == f"{base}/users" and method == "GET":
            name = request.args.get("username", "")
            found = [u for u in self.users.values()
                     if (u["username"] == name if request.args.get("exact") == "true"
                         else name in u["username"])]
            return _json(found)
        if match := re.fullmatch(rf"{base}/roles/([^/]+)", path):
            name = match.group(1)
            if name not in self.role_ids:
                return _json({"error": "Could not find role"}, 404)
            return _json({"id": self.role_ids[name], "name": name, "composite": False,
                          "clientRole": False, "containerId": self.realm})
        if match := re.fullmatch(rf"{base}/users/([^/]+)(/.*)?", path):
            user_id, rest = match.group(1), match.group(2) or ""
            if user_id not in self.users:
                return _json({"error": "User not found"}, 404)
            return self._user(request, user_id, rest)
        return _json({"error": "Unable to find matching target resource method"}, 404)

    def _create(self, request: Request) -> Response:
        body = json.loads(request.data)
        if self.fail_creates_after is not None and len(self.users) >= self.fail_creates_after:
            return _json({"errorMessage": "unknown_error"}, 500)
        if any(u["username"] == body["username"].lower() for u in self.users.values()):
            return _json({"errorMessage": "User exists with same username"}, 409)
        user_id = str(uuid.uuid4())
        self.users[user_id] = {**body, "id": user_id, "username": body["username"].lower()}
        self.roles[user_id] = {"offline_access"}
        for credential in body.get("credentials", []):
            self.passwords[user_id] = (credential["value"], credential.get("temporary", False))
        response = Response(status=201)
        response.headers["Location"] = (
            f"{request.host_url}admin/realms/{self.realm}/users/{user_id}")
        return response

    def _user(self, request: Request, user_id: str, rest: str) -> Response:
        method = request.method
        if rest == "" and method == "GET":
            return _json(self.users[user_id])
        if rest == "" and method == "PUT":
            # Keycloak replaces the attributes map wholesale with the one sent.
            self.users[user_id].update(json.loads(request.data))
            return Response(status=204)
        if rest == "/reset-password" and method == "PUT":
            body = json.loads(request.data)
            self.passwords[user_id] = (body["value"], body.get("temporary", True))
            return Response(status=204)
        if rest == "/role-mappings/realm":
            if method == "GET":
                return _json([{"id": self.role_ids[n], "name": n}
                              for n in sorted(self.roles[user_id])])
            names = {r["name"] for r in json.loads(request.data)}
            if any(self.role_ids.get(r["name"]) != r["id"] for r in json.loads(request.data)):
                return _json({"error": "Role not found"}, 404)
            if method == "POST":
                self.roles[user_id] |= names
            elif method == "DELETE":
                self.roles[user_id] -= names
            return Response(status=204)
        return _json({"error": "not here"}, 404)

    def by_username(self, username: str) -> tuple[str, dict[str, Any]]:
        return next((i, u) for i, u in self.users.items() if u["username"] == username)


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")
