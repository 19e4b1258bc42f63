"""The rules workbench in a real browser (Debian's Chromium): a backtest of a pasted candidate
from the page, its difference listed and each mention opening; screenshots of /rules at a
desktop's 1280×800 and a phone's 390×844 go to artifacts/web/ (ignored by git)."""

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from core.clock import FakeClock
from core.states import WebRole
from listeners.base import Batch
from service.app import BrandPulse
from service.config import load_config
from service.web_links import login_link
from tests.service.alerting import mention
from tests.web.conftest import CHROMIUM
from tests.web.harness import live_console
from tests.web.test_browser import shot
from tests.web.test_rules_page import CANDIDATE, MAIN, SEEDED, TEAM, edit

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="browser tests need Debian's Chromium at /usr/bin/chromium "
    "(apt-get install chromium; .ci/run installs it)",
)
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


@pytest.mark.parametrize("size", list(SIZES))
async def test_a_backtest_from_the_page_lists_the_difference(
    browser: object, tmp_path: Path, size: str
) -> None:
    path = tmp_path / "config.yaml"
    url = f"sqlite:///{tmp_path / 'brandpulse.db'}"
    path.write_text(MAIN.format(url=url) + "web: {listen: '127.0.0.1:0'}\n", encoding="utf-8")
    edit(tmp_path / "team.yaml", TEAM, 1)
    clock = FakeClock()
    app = BrandPulse(load_config(path, {}), clock=clock, config_path=path)
    seeded = [
        mention(n, clock, text=text, ago=timedelta(days=days, minutes=1))
        for n, (text, days) in SEEDED.items()
    ]
    app.pipeline.ingest("x:mentions", Batch(seeded, None), clock.now())
    ids = {int(row.external_id) % 1000: row.id for row in app.store.mentions()}
    try:
        async with live_console(app) as live:
            link = await asyncio.to_thread(
                login_link, app.store, app.config, WebRole.VIEWER, "", "a viewer", clock.now()
            )
            width, height = SIZES[size]
            context = await browser.new_context(viewport={"width": width, "height": height})  # type: ignore[attr-defined]
            page = await context.new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda dialog: dialogs.append(dialog.message))
            await page.goto(link.replace(app.config.web.public_url, live.url))
            await page.click("#login")
            await page.wait_for_url(f"{live.url}/queue")
            await page.click("nav a[href='/rules']")
            await page.wait_for_url(f"{live.url}/rules")
            owner = await page.locator("tr[data-rule='refunds'] small").inner_text()
            assert owner == "owner <img src=x onerror=alert(1)>"  # shown as text
            await shot(page, f"rules-{size}")

            await page.fill("#candidate", CANDIDATE)
            await page.click("#backtest-button")
            await page.locator("#backtest-result").wait_for()
            listed = {}
            for kind in ("new", "gone", "changed"):
                rows = page.locator(f"table[data-kind='{kind}'] tr[data-mention]")
                listed[kind] = {
                    int(m)
                    for m in await rows.evaluate_all("rows => rows.map(row => row.dataset.mention)")
                }
            assert listed == {"new": {ids[4]}, "gone": {ids[2]}, "changed": {ids[1], ids[3]}}
            await shot(page, f"rules-backtest-{size}")

            await page.click(f"table[data-kind='new'] a[href='/mentions/{ids[4]}']")
            await page.wait_for_url(f"{live.url}/mentions/{ids[4]}")
            assert "hello there" in await page.locator("#mention").inner_text()
            assert dialogs == []
            await context.close()
    finally:
        app.close()
