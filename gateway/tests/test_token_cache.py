"""Verified tokens are kept: one signature check per token, and ``exp`` still rules."""

from __future__ import annotations

import time
from typing import Any

import pytest

from gateway.config import Settings
from gateway.identity.oidc import InvalidToken, OpenIdClient

pytestmark = pytest.mark.anyio


class _Counting(OpenIdClient):
    def __init__(self, claims: dict[str, Any]) -> None:
        super().__init__(Settings(token_leeway_seconds=0))
        self.claims, self.decoded = claims, 0

    async def keys(self, *, stale_kid: bool = False) -> Any:
        return None

    async def _decode(self, token: str, key_set: Any) -> dict[str, Any]:
        self.decoded += 1
        if token == "forged":
            raise ValueError("bad signature")
        return dict(self.claims)


async def test_a_token_is_checked_once_and_refused_once_expired() -> None:
    client = _Counting({"sub": "u1", "preferred_username": "congchuc",
                        "exp": time.time() + 60})
    first = await client.verify("good")
    first["preferred_username"] = "admin"  # a caller's change does not reach the cache
    assert (await client.verify("good"))["preferred_username"] == "congchuc"
    assert client.decoded == 1
    for _ in range(2):
        with pytest.raises(InvalidToken):
            await client.verify("forged")
    assert client.decoded == 3  # a refused token is never kept

    client.claims["exp"] = time.time() - 1  # what the provider's check would now refuse
    client._verified["old"] = (time.time() - 1, {"sub": "u1"})
    await client.verify("old")
    assert client.decoded == 4  # an expired entry is checked again, not served
