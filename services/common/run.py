"""Run one service process: ``python -m services.common.run <service>``.

Patches the standard library for eventlet before anything else is imported, so the
database driver and the broker client yield to other workers.
"""

import eventlet

eventlet.monkey_patch()

import importlib  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

from nameko.runners import ServiceRunner  # noqa: E402

from services.common.config import http_port, settings  # noqa: E402
from services.common.contracts import SERVICES  # noqa: E402
from services.common.db import MAX_WORKERS  # noqa: E402


def nameko_config(service: str) -> dict[str, Any]:
    cfg = settings()
    return {
        "AMQP_URI": cfg.amqp_uri,
        "WEB_SERVER_ADDRESS": f"{cfg.bind_host}:{http_port(service)}",
        "serializer": "json",
        "max_workers": MAX_WORKERS,
    }


def service_class(service: str) -> type:
    return importlib.import_module(f"services.{service}.service").Service


def main(service: str) -> None:
    if service not in SERVICES:
        raise SystemExit(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s {service} %(levelname)s %(message)s"
    )
    runner = ServiceRunner(nameko_config(service))
    runner.add_service(service_class(service))

    def _stop(signum: int, frame: Any) -> None:
        eventlet.spawn_n(runner.stop)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    runner.start()
    logging.info("%s ready, operations on port %s", service, http_port(service))
    runner.wait()


if __name__ == "__main__":
    main(sys.argv[1])
