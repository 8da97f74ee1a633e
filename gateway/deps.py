"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

import asyncio

from fastapi import Request

from gateway.config import get_settings
from gateway.rpc import RpcClient
from services.common.objectstore import ObjectStore, open_store

_store_lock = asyncio.Lock()


async def rpc(request: Request) -> RpcClient:
    """The process's RPC client: routes call services through it and never block.

    ``async`` so that FastAPI runs it on the event loop, not through its thread pool.
    """
    return request.app.state.rpc


async def object_store(request: Request) -> ObjectStore:
    """The file store named by ``CCHC_EVIDENCE_STORE``, opened once (S3 checks its bucket).

    Evidence files and signed summaries both go there, so every gateway replica and the
    evidence service see the same files.
    """
    store = getattr(request.app.state, "object_store", None)
    if store is None:
        async with _store_lock:
            store = getattr(request.app.state, "object_store", None)
            if store is None:
                store = await asyncio.to_thread(open_store, get_settings().data_dir)
                request.app.state.object_store = store
    return store
