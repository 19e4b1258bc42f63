"""The dashboard in a real browser (Playwright driving Debian's Chromium) over the report's
seeded history: click the "over 60 min" first-response bar and land on exactly its mentions,
download the CSV, and screenshot /dashboard and /agents on a laptop and a phone
(artifacts/web/, ignored by git)."""

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlencode

import pytest

from core.clock import FakeClock
from core.states import WebRole
from service.app import BrandPulse
from service.config import AppConfig
from service.web_links import login_link
from tests.service.test_report import SINCE, UNTIL, seed
from tests.web.conftest import CHROMIUM
from tests.web.harness import until, web_app
from tests.web.test_browser import database_url, shot  # noqa: F401
from web.server import ConsoleServer

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="browser tests need Debian's Chromium at /usr/bin/chromium "
    "(apt-get install chromium; .ci/run installs it)",
)
PERIOD = urlencode({"from": SINCE.isoformat(), "to": UNTIL.isoformat()})
SIZES = {"1280": {"width": 1280, "height": 800}, "390": {"width": 390, "height": 844}}


@pytest.fixture
async def console(
    sandbox_config: Callable[..., AppConfig],
) -> AsyncIterator[tuple[BrandPulse, str]]:
    """The console alone over the seeded history (no service running to change it)."""
    app = web_app(sandbox_config, FakeClock(UNTIL))
    await asyncio.to_thread(seed, app.store)
    server = ConsoleServer(app)
    stop = asyncio.Event()
    serving = asyncio.create_task(server.serve(stop))
    try:
        await until(lambda: server.server.started, what="the console to start")
        yield app, f"http://127.0.0.1:{server.port}"
    finally:
        stop.set()
        await asyncio.wait_for(serving, 15)
        app.close()


async def page_width(page: object) -> int:
    """How wide the page is laid out, in CSS pixels (more than the viewport: it scrolls)."""
    return await page.evaluate("document.documentElement.scrollWidth")  # type: ignore[attr-defined]


async def test_the_dashboard_in_a_browser(
    browser: object,
    console: tuple[BrandPulse, str],
) -> None:
    app, url = console
    link = await asyncio.to_thread(
        login_link, app.store, app.config, WebRole.VIEWER, "", "a lead", app.clock.now()
    )
    context = await browser.new_context(  # type: ignore[attr-defined]
        viewport=SIZES["1280"], accept_downloads=True
    )
    page = await context.new_page()
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status >= 400 else None)
    await page.goto(link.replace(app.config.web.public_url, url))
    await page.click("#login")
    await page.wait_for_url(f"{url}/queue")

    await page.goto(f"{url}/dashboard?{PERIOD}")
    assert "33%" in await page.locator("#headline").inner_text()
    assert await page.locator("svg.pygal-chart").count() == 6
    await shot(page, "dashboard-1280x800")
    await page.set_viewport_size(SIZES["390"])
    await shot(page, "dashboard-390x844")
    assert await page_width(page) <= 390  # nothing wider than the phone: no sideways scroll
    await page.set_viewport_size(SIZES["1280"])

    # The figures behind a chart are one click away.
    await page.locator("#chart-response summary").click()
    assert await page.locator("#human-gt60").inner_text() == "1"
    # Click the "over 60 min" bar of human first responses: exactly mention 4 (90 minutes).
    bar = page.locator("#chart-response svg a[*|href*='responder=human'][*|href*='bucket=gt60']")
    await bar.click()
    await page.wait_for_url("**/queue?**bucket=gt60**")
    rows = page.locator("#rows tr[data-mention]")
    assert await rows.count() == 1
    assert "mention 4" in await rows.first.inner_text()
    await shot(page, "dashboard-over-60-min")

    # Its CSV: one row per mention listed.
    async with page.expect_download() as download_info:
        await page.click("#export")
    download = await download_info.value
    text = Path(await download.path()).read_text(encoding="utf-8")
    assert [row["text"] for row in csv.DictReader(io.StringIO(text))] == ["mention 4"]

    await page.goto(f"{url}/dashboard?{PERIOD}")
    async with page.expect_download() as download_info:
        await page.click("#export-all")
    download = await download_info.value
    text = Path(await download.path()).read_text(encoding="utf-8")
    assert len(list(csv.DictReader(io.StringIO(text)))) == 6

    await page.goto(f"{url}/agents?{PERIOD}")
    assert "@ana_s" in await page.locator("#agents").inner_text()
    await shot(page, "agents-1280x800")
    await page.set_viewport_size(SIZES["390"])
    await shot(page, "agents-390x844")
    assert await page_width(page) <= 390
    # Nothing the CSP refused, no script error, every resource of the pages found (the
    # console says so of the browser's own /favicon.ico request, which no page makes).
    assert missing == []
    assert [e for e in errors if "status of 404" not in e] == []
    await context.close()
