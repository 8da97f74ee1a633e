"""The gateway: the only door of the system for web clients, scripts and tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gateway import criteria, errors, ops, policy
from gateway.config import get_settings
from gateway.evidence.router import router as evidence_router
from gateway.identity.oidc import OpenIdClient
from gateway.identity.router import router as identity_router
from gateway.metrics import HttpMetrics
from gateway.rpc import RpcClient
from gateway.submission.router import router as submission_router
from gateway.web import routes as web


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    app.state.rpc = RpcClient(settings.amqp_uri, timeout=settings.rpc_timeout)
    await app.state.rpc.connect()
    app.state.openid = OpenIdClient(settings)
    try:
        yield
    finally:
        await app.state.openid.close()
        await app.state.rpc.close()


def create_app() -> FastAPI:
    app = FastAPI(
        title="Chỉ số CCHC",
        summary="PAR Index self-assessment and appraisal: the public API",
        version="1.0.0",
        lifespan=lifespan,
        # The web client serves /docs from its own copy of Swagger UI (no CDN).
        docs_url=None,
        redoc_url=None,
    )
    errors.install(app)
    app.add_middleware(HttpMetrics)
    app.include_router(ops.router)
    app.include_router(identity_router)
    app.include_router(criteria.router)
    app.include_router(submission_router)
    app.include_router(evidence_router)
    web.install(app)
    # Reads the routes when the document is first asked for: routers included later count.
    policy.document_access(app)
    return app


app = create_app()
