"""The pages' way into the system: the public API, called in-process.

A page does what a script would do: it calls /api/v1 with the session's bearer token,
through the same routers, policy, validation and services. Nothing is decided twice,
and a refusal comes back as the API's problem+json, whose Vietnamese ``detail`` the
page shows beside the form.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import Request

from gateway.web.problems import ApiError
from gateway.web.session import access_token

__all__ = ["Api", "ApiError"]


class Api:
    """``await Api(request).get("/campaigns")`` → the JSON, or raises ApiError."""

    PREFIX = "/api/v1"

    def __init__(self, request: Request) -> None:
        self.request = request

    def _client(self) -> httpx.AsyncClient:
        peer = self.request.client
        # The API records who signed in from where: pass the browser's address along.
        transport = httpx.ASGITransport(
            app=self.request.app, client=(peer.host, peer.port) if peer else ("127.0.0.1", 0))
        headers = {}
        token = access_token(self.request)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        scheme = self.request.url.scheme
        return httpx.AsyncClient(transport=transport, base_url=f"{scheme}://gateway.internal",
                                 headers=headers, timeout=None)

    async def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async with self._client() as client:
            response = await client.request(method, self.PREFIX + path, **kwargs)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            raise ApiError(response.status_code, body if isinstance(body, dict) else {})
        return response

    async def get(self, path: str, **kwargs: Any) -> Any:
        return (await self.send("GET", path, **kwargs)).json()

    async def get_or(self, default: Any, path: str, **kwargs: Any) -> Any:
        """The JSON, or ``default`` when there is nothing yet (404): the council's view of
        an assessment not sent, say."""
        try:
            return await self.get(path, **kwargs)
        except ApiError as exc:
            if exc.status == 404:
                return default
            raise

    async def post(self, path: str, **kwargs: Any) -> Any:
        response = await self.send("POST", path, **kwargs)
        return response.json() if response.content else None

    async def put(self, path: str, **kwargs: Any) -> Any:
        response = await self.send("PUT", path, **kwargs)
        return response.json() if response.content else None

    async def delete(self, path: str, **kwargs: Any) -> None:
        await self.send("DELETE", path, **kwargs)
