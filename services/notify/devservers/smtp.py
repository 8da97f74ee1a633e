"""A development SMTP server (aiosmtpd) that keeps every message it accepts.

``python -m services.notify.devservers.smtp`` listens for SMTP on
``CCHC_DEV_SMTP_PORT`` (2525) and shows the mails on ``CCHC_DEV_MAIL_WEB_PORT``
(8025): ``/`` as a page, ``/messages`` as JSON; each is also written as an .eml file
under ``var/mail/``. ``POST /control`` tells it to misbehave, as relays do:
``{"fail_next": 3, "fail_code": 451}`` refuses the next three messages,
``{"reject": ["x@y.vn"]}`` answers 550 for those recipients, ``{"delay": 0.5}`` waits
before accepting each message, ``{"hold": true}`` stalls new transactions until
``{"hold": false}``. The tests run it in-process (``DevSmtp``) on loopback.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import ssl
import sys
import threading
import time
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class _Handler:
    def __init__(self, box: DevSmtp) -> None:
        self.box = box

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          mail_options: list[str]) -> str:
        while self.box.hold.is_set():
            await asyncio.sleep(0.01)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address.lower() in self.box.rejected:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.box.lock:
            self.box.busy += 1
        try:
            if self.box.delay:
                await asyncio.sleep(self.box.delay)
            with self.box.lock:
                if self.box.fail_next > 0:
                    self.box.fail_next -= 1
                    return f"{self.box.fail_code} 4.3.0 Tạm thời không nhận / try again later"
            self.box.keep(envelope)
            return "250 2.0.0 Message accepted for delivery"
        finally:
            with self.box.lock:
                self.box.busy -= 1


def _authenticator(credentials: tuple[str, str]) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str,
              auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(), auth_data.password.decode()) == credentials
        return AuthResult(success=ok, handled=False)

    return check


class DevSmtp:
    """The server and what it received: ``messages`` is a list of dicts."""

    def __init__(self, host: str = "127.0.0.1", port: int = 2525,
                 web_port: int | None = None, folder: Path | None = None,
                 tls_context: ssl.SSLContext | None = None,
                 credentials: tuple[str, str] | None = None) -> None:
        self.host, self.port, self.web_port, self.folder = host, port, web_port, folder
        self.messages: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.hold = threading.Event()
        self.fail_next = 0
        self.fail_code = 451
        self.delay = 0.0
        self.rejected: set[str] = set()
        # Messages whose final dot arrived and that are being accepted right now.
        self.busy = 0
        # With a TLS context and credentials it behaves as a province's relay does:
        # STARTTLS first, then AUTH, or nothing is accepted.
        secure: dict[str, Any] = {}
        if tls_context is not None:
            secure.update(tls_context=tls_context, require_starttls=True)
        if credentials is not None:
            secure.update(authenticator=_authenticator(credentials), auth_required=True)
        self.controller = Controller(_Handler(self), hostname=host, port=port,
                                     decode_data=False, **secure)
        self.web: ThreadingHTTPServer | None = None

    def keep(self, envelope: Any) -> None:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        body = parsed.get_body(("plain",))
        record = {
            "mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
            "to": str(parsed["To"] or ""), "subject": str(parsed["Subject"] or ""),
            "message_id": str(parsed["Message-ID"] or ""),
            "body": body.get_content() if body is not None else "",
            "received_at": time.time(),
        }
        with self.lock:
            record["n"] = len(self.messages) + 1
            self.messages.append(record)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / f"{record['n']:06d}.eml").write_bytes(envelope.content)

    def control(self, **settings: Any) -> None:
        with self.lock:
            if "fail_next" in settings:
                self.fail_next = int(settings["fail_next"])
            if "fail_code" in settings:
                self.fail_code = int(settings["fail_code"])
            if "delay" in settings:
                self.delay = float(settings["delay"])
            if "reject" in settings:
                self.rejected = {a.lower() for a in settings["reject"]}
            if "hold" in settings:
                (self.hold.set if settings["hold"] else self.hold.clear)()

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()

    def to(self, address: str) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.messages if address in m["rcpt_tos"]]

    def start(self) -> DevSmtp:
        self.controller.start()
        if self.web_port is not None:
            self.web = ThreadingHTTPServer((self.host, self.web_port), _web(self))
            threading.Thread(target=self.web.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.hold.clear()
        if self.controller.loop.is_running():
            self.controller.stop()
        if self.web is not None:
            self.web.shutdown()
            self.web = None


def _web(box: DevSmtp) -> type[BaseHTTPRequestHandler]:
    class Web(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            with box.lock:
                messages = list(box.messages)
            if self.path.startswith("/messages"):
                self._send(200, json.dumps(messages, ensure_ascii=False).encode(),
                           "application/json; charset=utf-8")
                return
            rows = "".join(
                f"<tr><td>{m['n']}</td><td>{html.escape(', '.join(m['rcpt_tos']))}</td>"
                f"<td><details><summary>{html.escape(m['subject'])}</summary>"
                f"<pre>{html.escape(m['body'])}</pre></details></td></tr>"
                for m in reversed(messages))
            page = (f"<!doctype html><html lang='vi'><meta charset='utf-8'>"
                    f"<title>Thư đã gửi (máy chủ SMTP phát triển)</title>"
                    f"<h1>Thư đã gửi: {len(messages)}</h1><table border='1' cellpadding='4'>"
                    f"<tr><th>#</th><th>Người nhận</th><th>Tiêu đề</th></tr>{rows}</table>")
            self._send(200, page.encode(), "text/html; charset=utf-8")

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            try:
                box.control(**json.loads(self.rfile.read(length) or b"{}"))
            except (ValueError, TypeError) as exc:
                self._send(400, str(exc).encode(), "text/plain; charset=utf-8")
                return
            self._send(204, b"", "text/plain")

        def do_DELETE(self) -> None:  # noqa: N802
            box.clear()
            self._send(204, b"", "text/plain")

    return Web


def main() -> None:
    port = int(os.environ.get("CCHC_DEV_SMTP_PORT", "2525"))
    web = int(os.environ.get("CCHC_DEV_MAIL_WEB_PORT", "8025"))
    folder = Path(os.environ.get("CCHC_DATA_DIR", "var")) / "mail"
    box = DevSmtp("127.0.0.1", port, web, folder).start()
    print(f"SMTP phát triển trên 127.0.0.1:{port}; thư xem tại http://127.0.0.1:{web}/ "
          f"và trong {folder}/", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        box.stop()
        sys.exit(0)


if __name__ == "__main__":
    main()
