"""The gateway: the only door of the system for web clients, scripts and tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gateway import errors, ops
from gateway.config import get_settings
from gateway.metrics import HttpMetrics
from gateway.rpc import RpcClient


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    app.state.rpc = RpcClient(settings.amqp_uri, timeout=settings.rpc_timeout)
    await app.state.rpc.connect()
    try:
        yield
    finally:
        await app.state.rpc.close()


def create_app() -> FastAPI:
    app = FastAPI(
        title="Chỉ số CCHC",
        summary="PAR Index self-assessment and appraisal: the public API",
        version="1.0.0",
        lifespan=lifespan,
    )
    errors.install(app)
    app.add_middleware(HttpMetrics)
    app.include_router(ops.router)
    return app


app = create_app()
