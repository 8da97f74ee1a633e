"""What every service answers: health over RPC, operations over HTTP, its outbox relay."""

from __future__ import annotations

import json
import logging
from typing import Any

import kombu.exceptions
import nameko.rpc
from nameko.amqp.publish import Publisher
from nameko.events import EventDispatcher
from nameko.exceptions import get_module_path
from nameko.exceptions import registry as exception_registry
from nameko.rpc import rpc
from nameko.timer import timer
from nameko.web.handlers import http
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from werkzeug.wrappers import Request, Response

from services.common.config import settings
from services.common.db import Database, transaction
from services.common.errors import DomainError
from services.common.metrics import OUTBOX_OLDEST_AGE, OUTBOX_PENDING, EntrypointMetrics
from services.common.outbox import backlog, publish_pending

# A DomainError raised by a service this one calls (criteria's score_rejected, the
# submission lock's window_locked) reaches our caller as itself, with its code, status
# and extras, rather than as nameko's opaque RemoteError, which would be a 500.
exception_registry[get_module_path(DomainError)] = DomainError

log = logging.getLogger(__name__)


class _ReplyPublisher(Publisher):
    """Replies go without publisher confirms: waiting for the broker's ack of every
    answer was a tenth of the submission service's time in the deadline rush, and
    buys nothing. A reply is not a fact: the work has committed before it is sent, and
    a reply the broker loses (it died) leaves its caller timing out, exactly as when
    the caller's reply queue dies with the broker; the client retries with its
    Idempotency-Key. Events, which are facts, keep their confirms (the outbox).
    """

    use_confirms = False


class _Responder(nameko.rpc.Responder):
    """An RPC reply that cannot be sent because the broker is gone is dropped, not fatal.

    nameko kills the whole container when sending a reply fails, so a broker restart
    took down every service busy at that moment, and they stayed down. The caller's
    reply queue died with the broker anyway: nobody waits for this answer. The work
    itself has committed; the client retries with its Idempotency-Key and gets the
    stored answer. The request, not acked on the dead channel, is redelivered by the
    broker if it kept it and replayed the same way.
    """

    publisher_cls = _ReplyPublisher

    def send_response(self, result: Any, exc_info: Any) -> Any:
        try:
            return super().send_response(result, exc_info)
        except (kombu.exceptions.OperationalError, ConnectionError, OSError) as exc:
            log.warning("reply to %s dropped, the broker is unreachable: %s",
                        self.message.properties.get("reply_to"), exc)
            return result, exc_info


# RpcConsumer.handle_result builds its Responder from this module attribute: every
# service that imports this base gets the patient one.
nameko.rpc.Responder = _Responder  # type: ignore[misc]


class ServiceBase:
    """Base of the six services; subclasses set ``name`` and add their entrypoints."""

    name: str

    db = Database()
    dispatch = EventDispatcher()
    entrypoint_metrics = EntrypointMetrics()

    @rpc
    def health(self) -> dict[str, str]:
        self.db.execute(text("SELECT 1"))
        return {"service": self.name, "status": "ok", "database": "ok"}

    @http("GET", "/healthz")
    def healthz(self, request: Request) -> Response:
        return Response("ok", mimetype="text/plain")

    @http("GET", "/readyz")
    def readyz(self, request: Request) -> Response:
        try:
            state = self.health()
            status = 200
        except Exception as exc:  # readiness must report, not raise
            state = {"service": self.name, "status": "down", "database": repr(exc)}
            status = 503
        return Response(json.dumps(state), status=status, mimetype="application/json")

    @http("GET", "/metrics")
    def metrics(self, request: Request) -> Response:
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)

    @timer(interval=settings().outbox_interval)
    def relay_outbox(self) -> None:
        publish_pending(self.db, self.dispatch)

    @timer(interval=settings().gauge_interval)
    def measure(self) -> None:
        """Gauges of state for the alert rules: the outbox backlog, and the service's own."""
        with transaction(self.db):  # reads only: ends the worker's transaction cleanly
            pending, oldest = backlog(self.db)
            OUTBOX_PENDING.labels(self.name).set(pending)
            OUTBOX_OLDEST_AGE.labels(self.name).set(oldest)
            self.measure_state()

    def measure_state(self) -> None:
        """A service with state worth a gauge (submission: units sent) sets it here."""
