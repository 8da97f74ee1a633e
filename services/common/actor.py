"""Who acted (người thực hiện), signed by the gateway and checked by the service.

A service must not believe an ``actor`` dictionary because it came over RabbitMQ:
anyone who reaches the broker could send ``{"username": "x", "roles": ["admin"]}``.
The gateway, which verified the caller's token, signs the actor it passes with an
HMAC-SHA256 key shared by the gateway and the services (``CCHC_ACTOR_SECRET``) and
a short expiry; a privileged RPC calls ``verified_actor`` and acts only on what the
signature covers. Verifying needs no network and no provider, so every service can
use it the same way in local and Keycloak mode.

Outside development the key must be set; in development a fixed key keeps
``make run`` and the tests working without configuration.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from typing import Any

from services.common.config import settings
from services.common.errors import DomainError

# Long enough for a bulk issuance queued behind others, short enough that a copied
# message is soon worthless.
ACTOR_TTL_SECONDS = 300
_DEVELOPMENT_SECRET = "cchc-development-actor-key"


class ActorSecretMissing(RuntimeError):
    pass


def actor_secret() -> bytes:
    cfg = settings()
    if cfg.actor_secret:
        return cfg.actor_secret.encode()
    if cfg.env == "development":
        return _DEVELOPMENT_SECRET.encode()
    raise ActorSecretMissing("CCHC_ACTOR_SECRET must be set outside development")


def _mac(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(actor_secret(), canonical.encode(), hashlib.sha256).hexdigest()


def sign_actor(actor: dict[str, Any], ttl: int = ACTOR_TTL_SECONDS) -> dict[str, Any]:
    """``actor`` with ``exp`` and ``sig``: what the gateway sends for a privileged call."""
    body = {k: v for k, v in actor.items() if k not in ("sig", "exp")}
    body["exp"] = int(time.time()) + ttl
    return {**body, "sig": _mac(body)}


def _refused(detail: str) -> DomainError:
    return DomainError("actor_unverified",
                       f"Không xác minh được người thực hiện / {detail}", 401)


def verified_actor(
    signed: Any, *, roles: Iterable[str] | None = None, now: float | None = None
) -> dict[str, Any]:
    """The actor if its signature and expiry hold (and it has one of ``roles``).

    401 ``actor_unverified`` for a missing, forged or expired actor; 403
    ``forbidden_role`` when it lacks the roles.
    """
    if not isinstance(signed, dict) or not isinstance(signed.get("sig"), str):
        raise _refused("unsigned actor")
    body = {k: v for k, v in signed.items() if k != "sig"}
    if not hmac.compare_digest(_mac(body), signed["sig"]):
        raise _refused("bad signature")
    exp = body.get("exp")
    if not isinstance(exp, int) or exp < (now if now is not None else time.time()):
        raise _refused("expired actor")
    wanted = set(roles or ())
    if wanted and not wanted & set(body.get("roles") or ()):
        raise DomainError("forbidden_role",
                          f"Vai trò của bạn không được phép / needs one of the roles: "
                          f"{', '.join(sorted(wanted))}", 403,
                          {"required_roles": sorted(wanted)})
    body.pop("exp")
    return body
