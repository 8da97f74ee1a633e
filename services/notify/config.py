"""Settings of the notify service: the SMTP relay, Zalo's ZNS API, retries, reminders.

The defaults reach the development servers that ``make run`` starts
(services/notify/devservers): SMTP on 127.0.0.1:2525 and a ZNS-compatible API on
127.0.0.1:8026. A province sets ``CCHC_SMTP_*`` and ``CCHC_ZALO_*`` to its own.
"""

from __future__ import annotations

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class NotifySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CCHC_", extra="ignore")

    # Email (thư điện tử) through an SMTP relay.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    # PEM file of the roots the relay's certificate is checked against (unset: the
    # system's store). The certificate must name smtp_host.
    smtp_ca_file: str | None = None
    smtp_sender: str = "Phần mềm Chỉ số CCHC <cchc-noreply@localhost>"
    smtp_timeout: float = 10.0
    # Connections held open at once: each sends its messages one after another.
    smtp_connections: int = 4

    # Zalo ZNS (tin nhắn Zalo theo mẫu): POST {api_url}/message/template.
    zalo_enabled: bool = True
    zalo_api_url: str = "http://127.0.0.1:8026"
    # OAuth v4: refresh the Official Account's access token when ZNS answers -124.
    zalo_oauth_url: str = "http://127.0.0.1:8026"
    zalo_app_id: str = "cchc-dev"
    zalo_app_secret: str = "dev-secret"
    zalo_access_token: str = "dev-access-token"
    zalo_refresh_token: str = "dev-refresh-token"
    # Template ids as Zalo approved them, per kind of notice ("kind=id,kind=id");
    # a kind without one uses zalo_default_template_id.
    zalo_template_ids: str = ""
    zalo_default_template_id: str = "100000"
    zalo_timeout: float = 10.0
    zalo_connections: int = 8

    # Sending: each failure waits base × 2^(n-1) seconds (at most cap), then the
    # delivery is dead-lettered (failed) after max_attempts.
    notify_retry_base_seconds: float = 30.0
    notify_retry_cap_seconds: float = 3600.0
    notify_max_attempts: int = 6
    # A delivery being sent is leased this long: a replica that died mid-send leaves
    # it to be taken again once the lease has run out.
    notify_lease_seconds: float = 60.0
    # Deliveries one sender takes at a time (one query for several messages).
    notify_lease_batch: int = 20
    notify_delivery_interval: float = 0.5
    notify_reminder_interval: float = 1.0

    # Where people sign in, written into account notices.
    public_url: str = "http://127.0.0.1:8000"

    @model_validator(mode="after")
    def _lease_outlasts_an_attempt(self) -> NotifySettings:
        # A sender starts a send only while a whole attempt fits in its lease, so a
        # lease shorter than one attempt would never send anything.
        if self.notify_lease_seconds <= max(self.smtp_timeout, 3 * self.zalo_timeout):
            raise ValueError("CCHC_NOTIFY_LEASE_SECONDS must exceed CCHC_SMTP_TIMEOUT and "
                             "3 × CCHC_ZALO_TIMEOUT")
        return self

    def template_id(self, kind: str) -> str:
        for pair in filter(None, (p.strip() for p in self.zalo_template_ids.split(","))):
            name, _, value = pair.partition("=")
            if name.strip() == kind and value.strip():
                return value.strip()
        return self.zalo_default_template_id


def notify_settings() -> NotifySettings:
    return NotifySettings()
