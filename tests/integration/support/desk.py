"""The desk as a process for browser tests: `python -m casedesk_desk` on a free loopback port,
ready once `/healthz` answers; and what the browser tests do with it in Debian's Chromium.

    desk = start_desk(env, log_dir)        # env: CASEDESK_OIDC_*, CASEDESK_TLS_* (as `desk`), ...
    desk.url                                # http://127.0.0.1:<port>
    desk.stop()

    with chromium() as browser:             # Playwright driving /usr/bin/chromium
        with new_page(browser) as page:
            sign_in(page, desk, keycloak, "l1.ivanova", "/queue")
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright import sync_api as playwright_sync  # a dev dependency: never skipped, never absent

from .services import free_ports

START_TIMEOUT_S = 30.0
CHROMIUM = os.environ.get("CASEDESK_CHROMIUM", "/usr/bin/chromium")


class DeskStartError(RuntimeError):
    pass


@dataclass
class DeskProcess:
    port: int
    log_path: Path
    _process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def start_desk(env: dict[str, str], log_dir: Path) -> DeskProcess:
    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}"
    full_env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "CASEDESK_DESK_HTTP_PORT": str(port),
        "CASEDESK_DESK_PUBLIC_URL": url,
        # No /metrics: its default (the HTTP port + 1000) is not a port this run reserved.
        "CASEDESK_METRICS_PORT": "0",
        **env,
    }
    log_path = log_dir / f"desk-{port}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "casedesk_desk"],
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    desk = DeskProcess(port, log_path, process)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise DeskStartError(f"the desk exited with {process.returncode}:\n{desk.log_tail()}")
        try:
            with opener.open(f"{url}/healthz", timeout=2) as reply:
                if reply.status == 200:
                    return desk
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            desk.stop()
            raise DeskStartError(
                f"the desk did not answer within {START_TIMEOUT_S:.0f}s:\n{desk.log_tail()}"
            )
        time.sleep(0.1)


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium by its path (Playwright's own download is unreachable here)."""
    if not Path(CHROMIUM).exists():
        raise AssertionError(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with playwright_sync.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def new_page(browser: Any) -> Iterator[Any]:
    """A page in a fresh browser context: its own cookies, so its own desk session."""
    context = browser.new_context(locale="ru-RU")
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    try:
        yield opened
    finally:
        context.close()


def sign_in(page: Any, desk: DeskProcess, keycloak: Any, username: str, path: str) -> None:
    """Through Keycloak's own login page, as a person would."""
    page.goto(f"{desk.url}{path}")
    page.wait_for_url(re.compile(re.escape(keycloak.issuer("casedesk")) + ".*"))
    page.fill("#username", username)
    page.fill("#password", username)
    page.click("#kc-login")
    page.wait_for_url(f"{desk.url}{path}")


def wait_until(page: Any, predicate: str, arg: Any, timeout_s: float = 20.0) -> None:
    """Polls `predicate(arg)` from the test: wait_for_function would evaluate it inside the page,
    where the desk's CSP (no eval) refuses it once it has to poll."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(predicate, arg):
        if time.monotonic() > deadline:
            raise AssertionError(f"{predicate} ({arg!r}) not true within {timeout_s:.0f} s")
        time.sleep(0.1)


def submit(page: Any, action: str, case_id: str) -> Any:
    """Click the action's button (or its form's) and return the response to that POST."""
    button = page.locator(f"form[action='/cases/{case_id}/{action}'] button")
    with page.expect_response(lambda r: r.request.method == "POST") as response:
        button.click()
    page.wait_for_load_state()
    return response.value
