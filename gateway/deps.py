"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

from fastapi import Request

from gateway.rpc import RpcClient


async def rpc(request: Request) -> RpcClient:
    """The process's RPC client: routes call services through it and never block.

    ``async`` so that FastAPI runs it on the event loop, not through its thread pool.
    """
    return request.app.state.rpc
