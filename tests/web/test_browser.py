"""The console in a real browser: Playwright driving Debian's Chromium against the running
service and the sandbox. Screenshots of each page go to artifacts/web/ (ignored by git)."""

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from core.states import WebRole
from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi
from service.app import BrandPulse
from service.config import AppConfig
from service.web_links import login_link
from tests.conftest import REPO
from tests.service.alerting import OTHER_AGENT, buttons, staff_messages
from tests.web.conftest import CHROMIUM
from tests.web.harness import all_hostile, edits_of, live_console, post_storm, reply_env, until

ARTIFACTS = REPO / "artifacts" / "web"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="browser tests need Debian's Chromium at /usr/bin/chromium "
    "(apt-get install chromium; .ci/run installs it)",
)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """One backend is enough here: the storage paths are covered by the route tests."""
    return f"sqlite:///{tmp_path / 'brandpulse.db'}"


async def shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


SOLO = "@AcmeSupport your app crashed and deleted my saved cart. This is terrible!"
SOLO_START = "your app crashed"


async def test_the_inbox_in_a_browser(
    browser: object,
    fake_x: FakeXApi,
    fake_telegram: FakeTelegram,
    sandbox_config: Callable[..., AppConfig],
) -> None:
    tweets = post_storm(fake_x, 20)
    hostile = all_hostile()
    for name, text in hostile.items():
        fake_x.post_tweet(text, f"h_{name}"[:15])
    config = sandbox_config(
        TELEGRAM_AGENT_IDS="4242,4243", BRANDPULSE_WEB_LISTEN="127.0.0.1:0", **reply_env(fake_x)
    )
    app = BrandPulse(config)
    async with live_console(app) as live:
        await until(lambda: _delivered(app), what="every alert delivered", timeout=60)
        link = await asyncio.to_thread(
            login_link,
            app.store,
            app.config,
            WebRole.AGENT,
            "4242",
            "@ayse_support",
            app.clock.now(),
        )
        link = link.replace(app.config.web.public_url, live.url)
        context = await browser.new_context()  # type: ignore[attr-defined]
        page = await context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))

        await page.goto(link)
        await shot(page, "login")
        await page.click("#login")
        await page.wait_for_url(f"{live.url}/queue")
        await shot(page, "queue")

        # 20 refund complaints, grouped in Telegram, listed one by one here.
        messages = staff_messages(fake_telegram)
        [group] = [m for m in messages if m["text"].startswith("🔥")]
        rows = page.locator("#rows tr[data-mention]")
        assert await rows.count() == 20 + len(hostile)
        body = await page.locator("#rows").inner_text()
        assert all(f"@customer{n}" in body for n in range(20))

        # Hostile texts render as text, and none of their scripts ran.
        assert '<script>window.pwned=1;alert("x")</script>' in body
        assert "<img src=x onerror=alert(1)>" in body
        assert await page.locator("script").count() == 1  # ours: /static/console.js
        assert await page.locator("#rows img, #rows svg, #rows iframe, #rows form").count() == 0
        assert await page.evaluate("window.pwned === undefined")

        # Claim a grouped mention on the web: the group's Telegram message is edited.
        grouped = await _grouped_mention(app, group["message_id"])
        await page.click(f"#mention-{grouped} a[href='/mentions/{grouped}']")
        await page.click("#act-claim")
        await page.locator("#flash").wait_for()
        assert "Claimed" in await page.locator("#flash").inner_text()
        await shot(page, "mention-claimed")
        await until(
            lambda: any("1 claimed" in t for t in edits_of(fake_telegram, group["message_id"])),
            what="editMessageText on the group's message",
        )

        # Reply to one customer, double-click Send: exactly one reply on X.
        target = _mention_id_of(app, "customer7")
        await page.goto(f"{live.url}/mentions/{target}")
        await page.fill("#reply-text", "So sorry, customer7! Check your DMs.")
        await page.click("#write-reply")
        await page.locator("#send").dblclick()
        await page.locator("#flash").wait_for()
        await until(lambda: fake_x.posted, what="the reply on X")
        await until(lambda: _delivered(app), what="the outbox drained")
        assert [(p.text, p.in_reply_to_tweet_id) for p in fake_x.posted] == [
            ("So sorry, customer7! Check your DMs.", tweets[7])
        ]
        await shot(page, "mention-replied")

        # Claim pressed in Telegram: the web row changes without a reload. The storm folded
        # whole, so a customer writing after it gets an alert of their own.
        fake_x.post_tweet(SOLO, "solo_customer")
        await until(
            lambda: any(SOLO_START in m["text"] for m in staff_messages(fake_telegram)),
            what="the later customer's own alert",
            timeout=60,
        )
        await until(lambda: _delivered(app), what="every alert delivered")
        await page.goto(f"{live.url}/queue")
        [single] = [m for m in staff_messages(fake_telegram) if SOLO_START in m["text"]]
        single_mention = await _mention_of_message(app, single["message_id"])
        cell = page.locator(f"#mention-{single_mention} td.claimed")
        assert await cell.inner_text() == "—"
        fake_telegram.press_button(
            single["chat"]["id"], single["message_id"], buttons(single)["claim"], OTHER_AGENT
        )
        await cell.get_by_text("@ben_support").wait_for(timeout=10_000)
        await shot(page, "queue-after-telegram-claim")

        await page.goto(f"{live.url}/sources")
        assert "x:mentions" in await page.locator("main").inner_text()
        await shot(page, "sources")
        assert dialogs == []
        await context.close()


def _delivered(app: BrandPulse) -> bool:
    outbox = app.store.outbox()
    return bool(outbox) and all(row.state == "sent" for row in outbox)


def _mention_id_of(app: BrandPulse, handle: str) -> int:
    [found] = [m.id for m in app.store.mentions() if m.author_handle == handle]
    assert found is not None
    return found


async def _grouped_mention(app: BrandPulse, message_id: int) -> int:
    """A mention counted in the group message, not the one that opened it."""
    alerts = await asyncio.to_thread(app.store.alerts)
    found = [a.mention_id for a in alerts if a.delivery == "grouped" and a.message_id == message_id]
    assert found and found[0] is not None
    return found[0]


async def _mention_of_message(app: BrandPulse, message_id: int) -> int:
    alerts = await asyncio.to_thread(app.store.alerts)
    [found] = [a.mention_id for a in alerts if a.delivery == "sent" and a.message_id == message_id]
    assert found is not None
    return found
