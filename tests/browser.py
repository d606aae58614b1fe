"""Browser tests' machinery: the app served live, a headless chromium at phone width.

``live_server(settings, database_url, clock)`` runs ``create_app(...)`` under uvicorn in a thread
of the test process, on its own event loop and its own pool to the test's database (an asyncpg
pool belongs to the loop that made it), so respx, which patches httpx for the whole process,
still stands in for PayPal at the HTTP boundary, and the test's ``clock`` is the app's.

``browser`` is Debian's chromium (``/usr/bin/chromium``) driven by its ``chromedriver``, headless,
with a 390x844 viewport (a phone). Use it from a test module::

    from tests.browser import browser, chromium, live  # noqa: F401  (fixtures used by name)

``live`` serves the test's ``settings`` (override that fixture for PayPal) on the test's
database. ``screenshot(driver, name)`` saves ``<name>.png`` into ``$SCREENSHOT_DIR`` when that is
set (``SCREENSHOT_DIR=docs/screenshots`` refreshes the committed ones), else into a temporary
folder, so a test run leaves the working tree as it was.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from app.config import Settings
from app.db.postgres import PostgresDatabase
from app.main import create_app

CHROMIUM = os.environ.get("CHROMIUM_BINARY", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
PHONE = (390, 844)
SCREENSHOTS = Path(
    os.environ.get("SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="anchor-screenshots-")
)


@dataclass
class LiveServer:
    """The app at ``base_url`` (``http://127.0.0.1:<port>``), until ``stop()``."""

    base_url: str
    server: uvicorn.Server
    thread: threading.Thread

    def url(self, path: str) -> str:
        return self.base_url + path

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _serve_in_thread(
    settings: Settings, database_url: str, clock: Callable[[], datetime]
) -> LiveServer:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    failure: list[BaseException] = []
    holder: dict[str, uvicorn.Server] = {}
    ready = threading.Event()

    async def main() -> None:
        db = await PostgresDatabase.connect(database_url, max_size=3)
        try:
            app = create_app(settings, database=db, clock=clock)
            config = uvicorn.Config(
                app, log_level="warning", lifespan="on", ws="none", http="h11", access_log=False
            )
            server = uvicorn.Server(config)
            holder["server"] = server
            ready.set()
            await server.serve(sockets=[sock])
        finally:
            await db.close()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # reported to the test that started it
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=run, name="live-server", daemon=True)
    thread.start()
    ready.wait(timeout=30)
    if failure:
        raise RuntimeError("the live server did not start") from failure[0]
    server = holder["server"]
    for _ in range(300):
        if server.started or failure:
            break
        threading.Event().wait(0.05)
    if failure or not server.started:
        raise RuntimeError("the live server did not start") from (failure[0] if failure else None)
    return LiveServer(base_url=f"http://127.0.0.1:{port}", server=server, thread=thread)


@contextmanager
def live_server(
    settings: Settings, database_url: str, clock: Callable[[], datetime]
) -> Iterator[LiveServer]:
    """The app for ``settings`` served on ``database_url``, with ``clock`` as its time."""
    served = _serve_in_thread(settings, database_url, clock)
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture
def live(
    settings: Settings, database_url: str, clock: Callable[[], datetime]
) -> Iterator[LiveServer]:
    """The test's ``settings`` served live on the test's database."""
    with live_server(settings, database_url, clock) as served:
        yield served


def _binary(configured: str, name: str) -> str | None:
    return configured if Path(configured).exists() else shutil.which(name)


def chromium_available() -> bool:
    return bool(_binary(CHROMIUM, "chromium") and _binary(CHROMEDRIVER, "chromedriver"))


def new_driver(width: int = PHONE[0], height: int = PHONE[1]) -> webdriver.Chrome:
    """Headless chromium whose viewport is ``width`` x ``height`` CSS pixels (a phone)."""
    options = webdriver.ChromeOptions()
    options.binary_location = _binary(CHROMIUM, "chromium") or CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--force-device-scale-factor=1",
        "--lang=en-GB",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    options.add_experimental_option(
        "mobileEmulation",
        {"deviceMetrics": {"width": width, "height": height, "pixelRatio": 1.0, "touch": True}},
    )
    service = Service(executable_path=_binary(CHROMEDRIVER, "chromedriver") or CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    return driver


@pytest.fixture(scope="session")
def chromium() -> Iterator[webdriver.Chrome]:
    if not chromium_available():
        pytest.fail(
            "chromium and chromedriver are needed (apt-get install chromium chromium-driver)"
        )
    driver = new_driver()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(chromium: webdriver.Chrome) -> Iterator[webdriver.Chrome]:
    """One headless chromium for the session, its cookies cleared for each test."""
    chromium.delete_all_cookies()
    yield chromium
    chromium.get("about:blank")


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    """The page as a phone shows it, whole (its full height), as <name>.png (module doc)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    metrics = {
        "width": PHONE[0],
        "height": max(height, PHONE[1]),
        "deviceScaleFactor": 1,
        "mobile": True,
    }
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        path.write_bytes(driver.get_screenshot_as_png())
    finally:
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True},
        )
    return path
