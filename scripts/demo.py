"""Load the demo data into a running system and print how to sign in.

Talks to the services over the bus, as the gateway does: the first administrator
can only be created from inside.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import yaml

from gateway.rpc import RemoteError, RpcClient, ServiceUnavailable
from services.common.actor import sign_actor
from services.common.contracts import CRITERIA, IDENTITY, SUBMISSION

DATA = Path(__file__).resolve().parent.parent / "data" / "demo"
CATALOGS = DATA.parent / "catalogs"
DEMO_PASSWORD = "Demo@2026"


def wait_ready(base: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=3).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    sys.exit(f"the system did not become ready at {base}/readyz")


async def _when_listening(call: Callable[[], Awaitable[Any]], seconds: float = 60) -> Any:
    """On a fresh broker the gateway can be ready before a service's queue exists."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await call()
        except ServiceUnavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def load(amqp_uri: str) -> dict:
    rpc = RpcClient(amqp_uri)
    await rpc.connect()
    try:
        admin = await _when_listening(lambda: rpc.call(
            IDENTITY, "ensure_admin", password=os.environ.get("CCHC_BOOTSTRAP_ADMIN_PASSWORD")
        ))
        units = yaml.safe_load((DATA / "units.yaml").read_text(encoding="utf-8"))
        await rpc.call(IDENTITY, "upsert_units", units)
        # The demo loads from inside, with the key the gateway signs actors with.
        actor = sign_actor({"username": "demo", "roles": ["admin"]})
        for user in yaml.safe_load((DATA / "users.yaml").read_text(encoding="utf-8")):
            try:
                await rpc.call(IDENTITY, "create_user", user, password=DEMO_PASSWORD,
                               actor=actor)
            except RemoteError as exc:
                if "username_taken" not in str(exc.args_):
                    raise
        await load_catalogs(rpc)
        await load_campaign(rpc, units)
        return {**admin, "window": await demo_window(rpc)}
    finally:
        await rpc.close()


def check_sign_in(base: str, username: str, password: str) -> str:
    """Signs in through the gateway, as a person would: the real OpenID flow."""
    response = httpx.post(f"{base}/api/v1/auth/login",
                          json={"username": username, "password": password}, timeout=30)
    if response.status_code != 200:
        return f"sign-in failed ({response.status_code} {response.json().get('code')})"
    token = response.json()["access_token"]
    me = httpx.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    return f"signed in as {', '.join(me.json()['roles'])}"


async def load_catalogs(rpc: RpcClient) -> None:
    """The shipped criteria sets, once: a second `make run` finds them by name and year."""
    present = {(c["name"], c["year"]) for c in await rpc.call(CRITERIA, "list_catalogs")}
    for path in sorted(CATALOGS.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if (data["name"], data["year"]) not in present:
            await rpc.call(CRITERIA, "create_catalog", data)


DEMO_CAMPAIGN = "Tự đánh giá Chỉ số CCHC cấp xã (demo)"


async def load_campaign(rpc: RpcClient, units: list[dict]) -> int | None:
    """A campaign of the communes on the commune set, open until 17:00 in two weeks."""
    if any(c["name"] == DEMO_CAMPAIGN for c in await rpc.call(SUBMISSION, "list_campaigns")):
        return None
    catalog = next((c for c in await rpc.call(CRITERIA, "list_catalogs")
                    if c["unit_type"] == "commune"), None)
    if catalog is None:
        return None
    vn = ZoneInfo("Asia/Ho_Chi_Minh")
    today = datetime.now(vn).replace(hour=8, minute=0, second=0, microsecond=0)
    locks = (today + timedelta(days=14)).replace(hour=17)
    created = await rpc.call(SUBMISSION, "create_campaign", {
        "name": DEMO_CAMPAIGN, "year": catalog["year"], "catalog_id": catalog["id"],
        "unit_codes": [u["code"] for u in units if u["type"] == "commune"],
        "windows": {"self_assessment": {"opens_at": (today - timedelta(days=1)).isoformat(),
                                        "locks_at": locks.isoformat()}},
    }, {"username": "admin", "roles": ["admin"], "unit_code": None})
    return created["id"]


async def demo_window(rpc: RpcClient) -> str | None:
    """The demo window as the system keeps it, read back: what a person set is shown."""
    campaign = next((c for c in await rpc.call(SUBMISSION, "list_campaigns")
                     if c["name"] == DEMO_CAMPAIGN), None)
    if campaign is None:
        return None
    window = (await rpc.call(SUBMISSION, "get_campaign", campaign["id"]))["windows"].get(
        "self_assessment")
    if window is None:
        return None

    def shown(value: str) -> str:
        return datetime.fromisoformat(value).astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime(
            "%d/%m/%Y %H:%M")

    return (f"{DEMO_CAMPAIGN}: tự đánh giá từ {shown(window['opens_at'])} đến "
            f"{shown(window['locks_at'])} (giờ Việt Nam), {window['state']}")


def main() -> None:
    base = f"http://127.0.0.1:{os.environ.get('CCHC_GATEWAY_PORT', '8000')}"
    wait_ready(base)
    admin = asyncio.run(load(os.environ.get("CCHC_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")))
    users = yaml.safe_load((DATA / "users.yaml").read_text(encoding="utf-8"))
    lines = [
        "",
        "=" * 68,
        f"  Chỉ số CCHC is running: open {base}",
        f"  API documentation: {base}/docs    readiness: {base}/readyz",
    ]
    if admin["created"] and not os.environ.get("CCHC_BOOTSTRAP_ADMIN_PASSWORD"):
        lines.append(
            f"  Sign in as admin / {admin['password']}  (generated; set "
            "CCHC_BOOTSTRAP_ADMIN_PASSWORD to choose it)"
        )
    elif admin["created"]:
        lines.append("  Sign in as admin with CCHC_BOOTSTRAP_ADMIN_PASSWORD")
    else:
        lines.append("  Sign in as admin with the password you set before")
    if admin.get("window"):
        lines.append(f"  {admin['window']}")
    lines.append(f"  Demo accounts (password {DEMO_PASSWORD}), each signed in just now:")
    for user in users:
        outcome = check_sign_in(base, user["username"], DEMO_PASSWORD)
        lines.append(f"    {user['username']:<22} {outcome}")
    lines.append(
        f"  Sign in: curl -s {base}/api/v1/auth/login -H 'Content-Type: application/json' "
        f"-d '{{\"username\": \"{users[0]['username']}\", \"password\": \"{DEMO_PASSWORD}\"}}'"
    )
    web, zns = (os.environ.get("CCHC_DEV_MAIL_WEB_PORT", "8025"),
                os.environ.get("CCHC_DEV_ZNS_PORT", "8026"))
    lines += [f"  Mails sent (development SMTP): http://127.0.0.1:{web}/ and var/mail/",
              f"  Zalo messages sent (development ZNS): http://127.0.0.1:{zns}/_dev/messages"]
    lines += ["  Ctrl-C stops everything.", "=" * 68, ""]
    print("\n".join(lines), flush=True)
    if "--stay" in sys.argv:
        # Under honcho a process that exits stops the others: stay until Ctrl-C.
        signal.pause()


if __name__ == "__main__":
    main()
