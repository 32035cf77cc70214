"""The browser harness: the real stack serving the built app, driven in Debian's
Chromium through Playwright.

One stack for the browser tests (Redis, a migrated database of the suite's kind, one daphne, a
qcluster) and one user with a workspace. Each test gets `ui`: a fresh browser
context (signed in unless the test asks for `anonymous_ui`) whose console errors,
console warnings and page errors are collected; `ui.check(step)` runs axe-core on
the page as it is and saves a full-page screenshot under test-artifacts/. After the
test body, a last check runs, and the test fails on any console problem or any
serious or critical accessibility violation seen on the way.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.live_stack import (
    LIVE_PASSWORD,
    ROOT,
    LiveStack,
    live_database,
    live_stack,
    wait_for,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]
AXE = ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
MANIFEST = ROOT / "frontend" / "dist" / ".vite" / "manifest.json"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
USERNAME = "erin"
# Expectations wait this long by default: the machine may be busy with other suites.
TIMEOUT_MS = 20_000


def launch_chromium(playwright):
    """Debian's Chromium, headless; nothing downloads a browser."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@dataclass
class Site:
    """The running stack as the tests see it."""

    stack: LiveStack
    base_url: str
    username: str
    password: str
    workspace: str
    api: httpx.Client  # signed in with a JWT, for setting things up

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"


# Package scope, not session: sync Playwright keeps an event loop running in this
# thread while it is open, which would break every async test collected after tests/e2e;
# and the stack's processes end with the browser tests.
@pytest.fixture(scope="package")
def site(tmp_path_factory) -> Iterator[Site]:
    if not MANIFEST.exists():
        pytest.fail(
            "The web app is not built (frontend/dist/.vite/manifest.json is missing): run "
            "`make web` first (`make test` builds it before pytest)."
        )
    directory = tmp_path_factory.mktemp("e2e-stack")
    with (
        live_database(directory) as database_url,
        live_stack(
            directory,
            daphnes=1,
            qcluster=True,
            # Every test signs in, several within a minute: above the production rate.
            env={"DATABASE_URL": database_url, "THROTTLE_LOGIN": "300/minute"},
        ) as stack,
    ):
        base = stack.http_urls[0]
        api = httpx.Client(base_url=base, timeout=60)
        registered = api.post(
            "/api/auth/register", json={"username": USERNAME, "password": LIVE_PASSWORD}
        )
        assert registered.status_code == 201, registered.text
        workspaces = registered.json()["workspaces"]
        assert len(workspaces) == 1, workspaces
        tokens = api.post("/api/auth/token", json={"username": USERNAME, "password": LIVE_PASSWORD})
        api.headers["Authorization"] = f"Bearer {tokens.json()['access']}"
        wait_for(
            lambda: api.get("/api/health").json()["workers"]["status"] == "ok",
            timeout=90,
            what="the qcluster",
        )
        try:
            yield Site(stack, base, USERNAME, LIVE_PASSWORD, workspaces[0]["id"], api)
        finally:
            api.close()


@pytest.fixture(scope="package")
def browser() -> Iterator:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="package")
def signed_in_state(browser, site) -> dict:
    """Cookies of a session signed in through the API (the form has a test of its own)."""
    context = browser.new_context(base_url=site.base_url)
    try:
        sign_in_through_api(context, site)
        return context.storage_state()
    finally:
        context.close()


def sign_in_through_api(context, site: Site) -> None:
    context.request.get("/api/auth/login/")  # the CSRF cookie
    csrf = next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")
    answer = context.request.post(
        "/api/auth/login/",
        data={"username": site.username, "password": site.password},
        headers={"X-CSRFToken": csrf, "Referer": site.base_url + "/"},
    )
    assert answer.ok, answer.text()


# Chromium logs every non-2xx response as a console error of its own. A test that
# provokes one on purpose (a wrong password, an ended session) says so with
# `ui.expect_http_error(status, path)`; nothing else is ever allowed.
FAILED_RESOURCE = re.compile(
    r"^Failed to load resource: the server responded with a status of (\d+)"
)


@dataclass
class ConsoleProblem:
    kind: str
    text: str
    where: str
    url: str = ""

    def __str__(self) -> str:
        return f"[{self.kind}] {self.text} ({self.where})"

    def http_error(self) -> tuple[int, str] | None:
        """(status, path) when this is Chromium reporting a failed response."""
        match = FAILED_RESOURCE.match(self.text)
        return (int(match.group(1)), urlsplit(self.url).path) if match else None


@dataclass
class UI:
    """One test's browser page, with what it saw going wrong."""

    page: object
    site: Site
    name: str
    console: list[ConsoleProblem] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)
    expected_http_errors: set[tuple[int, str]] = field(default_factory=set)

    def expect_http_error(self, status: int, path: str) -> None:
        """The test provokes this response on purpose: its console line is no problem."""
        self.expected_http_errors.add((status, path))

    def goto(self, path: str):
        return self.page.goto(self.site.url(path))

    @property
    def path(self) -> str:
        parts = urlsplit(self.page.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def check(self, step: str) -> None:
        """axe-core on the page as it stands (serious and critical violations are kept
        for the test's verdict) and a full-page screenshot."""
        self.audit(step)
        self.screenshot(step)

    def audit(self, step: str) -> None:
        if not self.page.evaluate("() => typeof window.axe !== 'undefined'"):
            # evaluate, not a <script> tag: no page policy can refuse it.
            self.page.evaluate(AXE.read_text())
        found = self.page.evaluate(
            """async () => {
                const result = await window.axe.run(document, {resultTypes: ["violations"]});
                return result.violations
                    .filter((v) => v.impact === "serious" || v.impact === "critical")
                    .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                                  targets: v.nodes.map((n) => n.target.join(" ")).slice(0, 8)}));
            }"""
        )
        for v in found:
            self.violations.append(
                f"{step} on {self.path}: {v['id']} ({v['impact']}: {v['help']}) at "
                + ", ".join(v["targets"])
            )

    def screenshot(self, step: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.name}-{slug(step)}.png"
        self.page.screenshot(path=path, full_page=True)
        self.screenshots.append(path)

    def verdict(self) -> str:
        """What went wrong on the way, empty when nothing did."""
        lines = []
        console = [p for p in self.console if p.http_error() not in self.expected_http_errors]
        if console:
            lines.append("Console errors, warnings and page errors:")
            lines += [f"  {p}" for p in console]
        if self.violations:
            lines.append("axe-core violations (serious or critical):")
            lines += [f"  {v}" for v in self.violations]
        return "\n".join(lines)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:120]


def watch(page, ui: UI) -> None:
    def on_console(message) -> None:
        if message.type in ("error", "warning"):
            location = message.location or {}
            where = f"{location.get('url', '?')}:{location.get('lineNumber', '?')}"
            ui.console.append(
                ConsoleProblem(message.type, message.text, where, location.get("url", ""))
            )

    page.on("console", on_console)
    page.on(
        "pageerror",
        lambda error: ui.console.append(ConsoleProblem("pageerror", str(error), ui.path)),
    )


def open_ui(browser, site: Site, request, storage_state: dict | None) -> Iterator[UI]:
    context = browser.new_context(
        base_url=site.base_url,
        storage_state=storage_state,
        viewport={"width": 1280, "height": 900},
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    ui = UI(page=page, site=site, name=slug(request.node.name))
    for old in SCREENSHOTS.glob(f"{ui.name}-*.png"):  # a previous run's, not to be mistaken
        old.unlink()
    watch(page, ui)
    request.node._browser_ui = ui
    try:
        yield ui
    finally:
        context.close()


@pytest.fixture
def ui(browser, site, signed_in_state, request) -> Iterator[UI]:
    """A signed-in page."""
    yield from open_ui(browser, site, request, signed_in_state)


@pytest.fixture
def anonymous_ui(browser, site, request) -> Iterator[UI]:
    """A page of a browser that has never signed in."""
    yield from open_ui(browser, site, request, None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """After a browser test's body: one last audit and screenshot, then fail the test
    on anything its pages logged or any serious accessibility violation."""
    try:
        result = yield
    except BaseException:
        ui = getattr(item, "_browser_ui", None)
        if ui is not None:
            with contextlib.suppress(Exception):  # never hide the failure it illustrates
                ui.screenshot("failed")
            print(ui.verdict())  # shown with the failure: what else went wrong on the way
        raise
    ui = getattr(item, "_browser_ui", None)
    if ui is not None:
        ui.check("end")
        problems = ui.verdict()
        if problems:
            pytest.fail(problems, pytrace=False)
    return result
