"""The gateway: the only door of the system for web clients, scripts and tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gateway import criteria, errors, guard, ops, policy
from gateway.appraisal.router import router as appraisal_router
from gateway.config import get_settings
from gateway.evidence.router import router as evidence_router
from gateway.headers import SecurityHeaders
from gateway.identity.oidc import OpenIdClient
from gateway.identity.router import router as identity_router
from gateway.metrics import HttpMetrics
from gateway.notifications.router import router as notifications_router
from gateway.rpc import RpcClient
from gateway.submission.router import router as submission_router
from gateway.web import routes as web
from services.common.actor import actor_secret


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    actor_secret()  # outside development, no start without the key actors are signed with
    app.state.rpc = RpcClient(settings.amqp_uri, timeout=settings.rpc_timeout,
                              max_in_flight=settings.rpc_max_in_flight,
                              admission_wait=settings.rpc_admission_wait)
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
        # Every form FastAPI parses, on every route: few, small text fields.
        form_limits=guard.FORM_LIMITS,
        # The web client serves /docs from its own copy of Swagger UI (no CDN).
        docs_url=None,
        redoc_url=None,
    )
    errors.install(app)
    guard.install(app)
    # Last added runs first: headers on every answer, the guard before any body is read.
    app.add_middleware(guard.RequestGuard)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(HttpMetrics)
    app.include_router(ops.router)
    app.include_router(identity_router)
    app.include_router(criteria.router)
    app.include_router(submission_router)
    app.include_router(evidence_router)
    app.include_router(appraisal_router)
    app.include_router(notifications_router)
    web.install(app)
    # Reads the routes when the document is first asked for: routers included later count.
    policy.document_access(app)
    return app


app = create_app()
