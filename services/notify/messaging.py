"""The channels: templates rendered from files, email over SMTP, Zalo over ZNS.

Each send answers with an ``Outcome``: sent, retry (a transient failure: try again
later), failed (permanent: never again) or fallback (Zalo says the person has no
Zalo account: tell them by email instead). Zalo reports errors with HTTP 200 and an
``error`` field in the body, so the body is what is read, never only the status.
"""

from __future__ import annotations

import json
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from functools import lru_cache
from pathlib import Path
from typing import Any

import requests
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from services.notify.config import NotifySettings
from services.notify.domain import vn_number, vn_time

TEMPLATES = Path(__file__).resolve().parent / "templates"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined,
                      keep_trailing_newline=False, autoescape=False)
    env.filters["vn_time"] = vn_time
    env.filters["vn_number"] = vn_number
    return env


def render_email(kind: str, context: dict[str, Any]) -> tuple[str, str]:
    """(subject, body) of ``templates/<kind>.email.txt``: its first line is the subject."""
    text = _environment().get_template(f"{kind}.email.txt").render(**context).strip()
    subject, _, body = text.partition("\n")
    return subject.strip(), body.strip() + "\n"


def render_zalo(kind: str, context: dict[str, Any]) -> dict[str, str]:
    """ZNS template_data of ``templates/<kind>.zalo.json``."""
    return json.loads(_environment().get_template(f"{kind}.zalo.json").render(**context))


@dataclass(frozen=True)
class Outcome:
    status: str  # sent | retry | failed | fallback
    error: str | None = None
    provider_id: str | None = None


class Mailer:
    """One SMTP connection, kept open across messages and reopened after an error."""

    def __init__(self, cfg: NotifySettings) -> None:
        self.cfg = cfg
        self.smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        smtp = smtplib.SMTP(self.cfg.smtp_host, self.cfg.smtp_port,
                            timeout=self.cfg.smtp_timeout)
        if self.cfg.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context(cafile=self.cfg.smtp_ca_file))
        if self.cfg.smtp_username:
            smtp.login(self.cfg.smtp_username, self.cfg.smtp_password or "")
        return smtp

    def send(self, to: str, content: dict[str, Any], message_id: str) -> Outcome:
        msg = EmailMessage()
        msg["From"] = self.cfg.smtp_sender
        msg["To"] = to
        msg["Subject"] = content["subject"]
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        # The same Message-ID on every attempt: if a reply was lost and the message
        # goes again, mail clients show it once (RFC 1047's duplicate window).
        msg["Message-ID"] = message_id
        msg.set_content(content["body"], charset="utf-8")
        try:
            if self.smtp is None:
                self.smtp = self._connect()
            self.smtp.send_message(msg)
            return Outcome("sent", provider_id=message_id)
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            code, reply = next(iter(exc.recipients.values()))
            return _smtp_outcome(code, reply)
        except smtplib.SMTPResponseException as exc:
            self.close()
            return _smtp_outcome(exc.smtp_code, exc.smtp_error)
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            return Outcome("retry", f"smtp: {exc!r}"[:500])

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.close()
            except OSError:
                pass
            self.smtp = None


def _smtp_outcome(code: int, reply: bytes | str) -> Outcome:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    status = "failed" if 500 <= code < 600 else "retry"
    return Outcome(status, f"smtp {code} {text}"[:500])


# ZNS error codes (in the body of a 200): what each means for us.
ZNS_TOKEN_INVALID = -124
ZNS_NO_ZALO_ACCOUNT = -118
ZNS_BAD_PHONE = -108
# Permanent: the request itself is wrong and will stay wrong.
ZNS_PERMANENT = frozenset({ZNS_BAD_PHONE, -109, -112, -115, -117, -131, -137})


class TokenStore:
    """Where the Official Account's current access and refresh tokens live."""

    def current(self) -> str:
        raise NotImplementedError

    def refresh(self, used: str) -> str:
        raise NotImplementedError


class ZaloClient:
    """ZNS's template API, with one refresh of the access token on −124."""

    def __init__(self, cfg: NotifySettings, tokens: TokenStore) -> None:
        self.cfg = cfg
        self.tokens = tokens
        self.http = requests.Session()

    def send(self, phone: str, content: dict[str, Any], tracking_id: str) -> Outcome:
        body = {"phone": phone, "template_id": content["template_id"],
                "template_data": content["template_data"], "tracking_id": tracking_id}
        token = self.tokens.current()
        for refreshed in (False, True):
            try:
                response = self.http.post(f"{self.cfg.zalo_api_url}/message/template",
                                          json=body, headers={"access_token": token},
                                          timeout=self.cfg.zalo_timeout)
            except requests.RequestException as exc:
                return Outcome("retry", f"zalo: {exc!r}"[:500])
            if response.status_code >= 500 or response.status_code == 429:
                return Outcome("retry", f"zalo http {response.status_code}")
            try:
                answer = response.json()
                error = int(answer.get("error", 0))
            except (ValueError, AttributeError, TypeError):
                return Outcome("retry", f"zalo: unreadable answer {response.text[:200]!r}")
            if error == 0:
                return Outcome("sent", provider_id=str((answer.get("data") or {})
                                                       .get("msg_id") or tracking_id))
            message = f"zalo {error} {answer.get('message', '')}".strip()[:500]
            if error == ZNS_TOKEN_INVALID and not refreshed:
                try:
                    token = self.tokens.refresh(token)
                except (requests.RequestException, ValueError, KeyError) as exc:
                    return Outcome("retry", f"{message}; refresh failed: {exc!r}"[:500])
                continue
            if error == ZNS_NO_ZALO_ACCOUNT:
                return Outcome("fallback", message)
            if error in ZNS_PERMANENT:
                return Outcome("failed", message)
            return Outcome("retry", message)
        return Outcome("retry", "zalo: token still invalid after a refresh")

    def close(self) -> None:
        self.http.close()


def refresh_zalo_token(cfg: NotifySettings, refresh_token: str) -> tuple[str, str]:
    """Zalo OAuth v4: a new (access_token, refresh_token); the old refresh token dies."""
    response = requests.post(
        f"{cfg.zalo_oauth_url}/v4/oa/access_token",
        headers={"secret_key": cfg.zalo_app_secret},
        data={"refresh_token": refresh_token, "app_id": cfg.zalo_app_id,
              "grant_type": "refresh_token"},
        timeout=cfg.zalo_timeout,
    )
    answer = response.json()
    if "access_token" not in answer:
        raise ValueError(f"zalo oauth: {answer}")
    return answer["access_token"], answer.get("refresh_token") or refresh_token


def message_id(delivery_id: int) -> str:
    """The email's Message-ID, the same on every attempt of one delivery."""
    return f"<cchc-delivery-{delivery_id}@cchc.local>"
