"""A development server that answers like Zalo's ZNS API and keeps what it receives.

``python -m services.notify.devservers.zns`` on ``CCHC_DEV_ZNS_PORT`` (8026):

- ``POST /message/template`` with an ``access_token`` header and ``{phone,
  template_id, template_data, tracking_id}``: HTTP 200 always, the outcome in the
  body's ``error`` (0 success with ``data.msg_id``; −124 access token invalid; −108
  phone number invalid; −118 no Zalo account behind the number), as Zalo does.
- ``POST /v4/oa/access_token`` (form: refresh_token, app_id, grant_type; header
  secret_key): a new token pair; the refresh token used dies, as with Zalo's OAuth v4.
- ``GET /_dev/messages``, ``DELETE /_dev/messages``; ``POST /_dev/control`` with
  ``{"expire_token": true}``, ``{"fail": [{"error": -500, "times": 2}]}``,
  ``{"no_zalo": ["8491…"]}``, ``{"delay": 0.5}``, ``{"hold": true|false}`` (held
  requests wait; one whose caller hung up meanwhile is dropped, never recorded).

The tests run it in-process (``DevZns``) on loopback.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


class DevZns:
    def __init__(self, host: str = "127.0.0.1", port: int = 8026,
                 access_token: str = "dev-access-token",
                 refresh_token: str = "dev-refresh-token") -> None:
        self.host, self.port = host, port
        self.access_token, self.refresh_token = access_token, refresh_token
        self.messages: list[dict[str, Any]] = []
        self.refreshes = 0
        self.lock = threading.Lock()
        self.hold = threading.Event()
        self.failures: list[dict[str, Any]] = []
        self.no_zalo: set[str] = set()
        self.delay = 0.0
        # Requests being answered right now (past the hold).
        self.busy = 0
        self.server: ThreadingHTTPServer | None = None

    def control(self, **settings: Any) -> None:
        with self.lock:
            if settings.get("expire_token"):
                self.access_token = f"expired-{uuid.uuid4().hex}"
            if "fail" in settings:
                self.failures = [dict(f) for f in settings["fail"]]
            if "no_zalo" in settings:
                self.no_zalo = set(settings["no_zalo"])
            if "delay" in settings:
                self.delay = float(settings["delay"])
            if "hold" in settings:
                (self.hold.set if settings["hold"] else self.hold.clear)()

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()

    def to(self, phone: str) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.messages if m["phone"] == phone]

    def answer_template(self, token: str | None, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.busy += 1
        try:
            return self._answer_template(token, body)
        finally:
            with self.lock:
                self.busy -= 1

    def _answer_template(self, token: str | None, body: dict[str, Any]) -> dict[str, Any]:
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            if token != self.access_token:
                return {"error": -124, "message": "Access token is invalid"}
            if self.failures:
                failure = self.failures[0]
                failure["times"] = int(failure.get("times", 1)) - 1
                if failure["times"] <= 0:
                    self.failures.pop(0)
                return {"error": int(failure["error"]),
                        "message": failure.get("message", "Injected failure")}
            phone = str(body.get("phone") or "")
            if not (phone.isdigit() and phone.startswith("84") and 10 <= len(phone) <= 12):
                return {"error": -108, "message": "Phone number is invalid"}
            if phone in self.no_zalo:
                return {"error": -118, "message": "Zalo account not existed"}
            msg_id = uuid.uuid4().hex
            self.messages.append({
                "phone": phone, "template_id": str(body.get("template_id")),
                "template_data": body.get("template_data") or {},
                "tracking_id": body.get("tracking_id"), "msg_id": msg_id,
                "received_at": time.time(), "n": len(self.messages) + 1})
            return {"error": 0, "message": "Success", "data": {
                "msg_id": msg_id, "sent_time": str(int(time.time() * 1000)),
                "quota": {"dailyQuota": "500000", "remainingQuota": "499999"}}}

    def answer_refresh(self, form: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            if form.get("grant_type") != "refresh_token" or \
                    form.get("refresh_token") != self.refresh_token:
                return {"error": -14014, "error_name": "Invalid refresh token",
                        "error_description": "Refresh token is invalid or used"}
            self.refreshes += 1
            self.access_token = f"access-{uuid.uuid4().hex}"
            self.refresh_token = f"refresh-{uuid.uuid4().hex}"
            return {"access_token": self.access_token, "refresh_token": self.refresh_token,
                    "expires_in": "90000"}

    def start(self) -> DevZns:
        self.server = ThreadingHTTPServer((self.host, self.port), _http(self))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.hold.clear()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _http(zns: DevZns) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, status: int, value: Any) -> None:
            body = json.dumps(value, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _caller_gone(self) -> bool:
            try:
                return self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
            except BlockingIOError:
                return False
            except OSError:
                return True

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            raw = self._body()
            if self.path == "/message/template" and zns.hold.is_set():
                while zns.hold.is_set():
                    time.sleep(0.01)
                if self._caller_gone():
                    # Held while its caller died: dropped, as a proxy in front of Zalo
                    # drops a request whose client hung up before it was forwarded.
                    self.close_connection = True
                    return
            if self.path == "/message/template":
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    self._json(200, {"error": -201, "message": "Body is not JSON"})
                    return
                self._json(200, zns.answer_template(self.headers.get("access_token"), body))
            elif self.path == "/v4/oa/access_token":
                form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                self._json(200, zns.answer_refresh(form))
            elif self.path == "/_dev/control":
                zns.control(**json.loads(raw or b"{}"))
                self._json(200, {"ok": True})
            else:
                self._json(404, {"error": -404, "message": "Not found"})

        def do_GET(self) -> None:  # noqa: N802
            if self.path.startswith("/_dev/messages"):
                with zns.lock:
                    self._json(200, list(zns.messages))
            else:
                self._json(404, {"error": -404, "message": "Not found"})

        def do_DELETE(self) -> None:  # noqa: N802
            zns.clear()
            self._json(200, {"ok": True})

    return Handler


def main() -> None:
    port = int(os.environ.get("CCHC_DEV_ZNS_PORT", "8026"))
    zns = DevZns("127.0.0.1", port,
                 os.environ.get("CCHC_ZALO_ACCESS_TOKEN", "dev-access-token"),
                 os.environ.get("CCHC_ZALO_REFRESH_TOKEN", "dev-refresh-token")).start()
    print(f"ZNS phát triển trên http://127.0.0.1:{zns.port}/; tin Zalo đã nhận xem tại "
          f"http://127.0.0.1:{zns.port}/_dev/messages", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        zns.stop()


if __name__ == "__main__":
    main()
