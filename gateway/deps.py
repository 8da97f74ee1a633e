"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

from fastapi import Request

from gateway.rpc import RpcClient


def rpc(request: Request) -> RpcClient:
    """The process's RPC client: routes call services through it and never block."""
    return request.app.state.rpc
