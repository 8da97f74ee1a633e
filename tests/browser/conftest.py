"""Headless Chromium (Debian's) driven by Playwright against the real system.

Every page a test visits goes through ``Browser.check``: a screenshot kept under
var/test-reports/screenshots/, axe-core run on it (no serious or critical
violation), and no script error or console error collected so far.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, sync_playwright

from tests.system import ROOT, System

CHROMIUM = os.environ.get("CCHC_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "var" / "test-reports" / "screenshots"
PHONE = {"width": 360, "height": 780}
WIDE = {"width": 1280, "height": 900}
_axe = Axe()


@dataclass
class Tab:
    """One person's browser tab, with what went wrong in it."""

    page: Page
    base_url: str
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    def go(self, path: str) -> Page:
        self.page.goto(self.base_url + path)
        return self.page

    def check(self, name: str, *, phone: bool = False) -> None:
        """Screenshot, axe-core and the console: the checks every page passes."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.wait_for_load_state("networkidle")
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
        if phone:
            size = self.page.viewport_size
            self.page.set_viewport_size(PHONE)
            self.page.screenshot(path=str(SCREENSHOTS / f"{name}-360px.png"), full_page=True)
            width = self.page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{name}: {width}px wide at 360 px"
            if size:
                self.page.set_viewport_size(size)
        results = _axe.run(self.page)
        bad = [f"{v['id']} ({v['impact']}): {v['help']} — "
               f"{[n['target'] for n in v['nodes']][:3]}"
               for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
        assert not bad, f"{name}: axe-core found {bad}"
        assert not self.errors, f"{name}: script or console errors {self.errors}"
        assert not self.outside, f"{name}: requests outside the gateway {self.outside}"

    def fill_form(self, values: dict[str, str]) -> None:
        for label, value in values.items():
            self.page.get_by_label(label, exact=True).fill(value)

    def alert(self) -> str:
        return self.page.get_by_role("alert").inner_text()


# Package scope: sync Playwright keeps an event loop running in this thread while it
# lives, and the other tests call asyncio.run; so the browser stops with this package.
@pytest.fixture(scope="package")
def chromium(system: System) -> Iterator[Any]:
    # Pictures of failures are of this run only.
    for stale in SCREENSHOTS.glob("FAILED-*.png"):
        stale.unlink()
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/bootstrap.sh installs Debian's chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield browser
        browser.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def open_tab(chromium: Any, system: System,
             request: pytest.FixtureRequest) -> Iterator[Callable[..., Tab]]:
    """``open_tab(wide=True)`` → a fresh browser (own cookies) on the system's gateway."""
    contexts: list[BrowserContext] = []
    gateway = re.compile(rf"^https?://127\.0\.0\.1:{system.gateway_port}/")

    def make(*, wide: bool = True) -> Tab:
        context = chromium.new_context(viewport=WIDE if wide else PHONE, locale="vi-VN",
                                       timezone_id="Asia/Ho_Chi_Minh", accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        tab = Tab(page, system.base_url)

        def guard(route: Any) -> None:
            # Nothing from the internet: a province network may be closed.
            if gateway.match(route.request.url) or route.request.url.startswith("data:"):
                route.continue_()
            else:
                tab.outside.append(route.request.url)
                route.abort()

        page.route("**/*", guard)
        page.on("pageerror", lambda exc: tab.errors.append(f"pageerror: {exc}"))
        page.on("console", lambda msg: tab.errors.append(f"console: {msg.text}")
                if msg.type == "error" and not _expected_http_error(msg.text) else None)
        return tab

    yield make
    failed = request.node.stash.get(_FAILED, False)
    for n, context in enumerate(contexts):
        if failed:
            # What the person saw when the test failed, kept with the other artefacts.
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            for page in context.pages:
                page.screenshot(path=str(SCREENSHOTS / f"FAILED-{request.node.name}-{n}.png"),
                                full_page=True)
        context.close()


def _expected_http_error(text: str) -> bool:
    # Chromium logs every 4xx answer of a page load ("Failed to load resource"); the
    # tests provoke those on purpose (422, 409, 423) and check the message shown.
    return text.startswith("Failed to load resource: the server responded with a status of 4")


def sign_in(tab: Tab, username: str, password: str) -> Page:
    page = tab.go("/login")
    tab.fill_form({"Tên đăng nhập": username, "Mật khẩu": password})
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_load_state("networkidle")
    return page
