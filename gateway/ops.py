"""Operations endpoints: liveness, readiness across the bus, Prometheus metrics."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.config import get_settings
from gateway.rpc import Overloaded, RemoteError, RpcClient, RpcTimeout, ServiceUnavailable
from services.common.contracts import SERVICES

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The gateway process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _probe(rpc: RpcClient, service: str, timeout: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await rpc.call(service, "health", timeout=timeout)
        state = "ok"
    except RpcTimeout:
        state = "timeout"
    except Overloaded:
        state = "busy"  # answering others at capacity: up, and not this pod's problem
    except ServiceUnavailable:
        state = "unreachable"
    except RemoteError as exc:
        state = f"error: {exc.exc_type}"
    return {"status": state, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


@router.get(
    "/readyz",
    summary="200 when this gateway can serve: its broker connection is up",
    responses={503: {"description": "the broker is unreachable from this gateway"}},
)
async def readyz(request: Request) -> JSONResponse:
    """Readiness of this pod only (sẵn sàng phục vụ).

    A service that is down is everybody's problem, not this gateway's: failing here
    would take every gateway replica out of the load balancer at once, and routes that
    need no missing service would stop too. Those routes answer 503 with Retry-After
    themselves (gateway/errors.py); the body still names each service's state.
    """
    rpc: RpcClient = request.app.state.rpc
    if not rpc.connected:
        return JSONResponse(
            {"status": "not_ready", "broker": "down",
             "services": {s: {"status": "unknown"} for s in SERVICES}},
            status_code=503,
        )
    timeout = get_settings().readiness_timeout
    states = await asyncio.gather(*(_probe(rpc, s, timeout) for s in SERVICES))
    services = dict(zip(SERVICES, states, strict=True))
    degraded = any(s["status"] != "ok" for s in states)
    return JSONResponse(
        {"status": "degraded" if degraded else "ready", "broker": "ok", "services": services},
        status_code=200,
    )


@router.get("/metrics", summary="Prometheus metrics of the gateway")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
