"""The console served by the running service (uvicorn on its own loop), worked over HTTP:
a storm grouped in Telegram is listed and worked one by one, both faces stay in step, and a
reply is posted once however often Send is pressed."""

import asyncio
import re
from collections.abc import Awaitable, Callable

import httpx

from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi
from service.app import BrandPulse
from service.config import AppConfig
from tests.service.alerting import OTHER_AGENT, buttons, staff_messages
from tests.web.harness import (
    async_log_in,
    edits_of,
    live_console,
    post_storm,
    reply_env,
    until,
)


def web_service(sandbox_config: Callable[..., AppConfig], fake_x: FakeXApi) -> BrandPulse:
    config = sandbox_config(
        TELEGRAM_AGENT_IDS="4242,4243", BRANDPULSE_WEB_LISTEN="127.0.0.1:0", **reply_env(fake_x)
    )
    return BrandPulse(config)


async def test_a_storm_is_worked_one_by_one_on_the_web(
    fake_x: FakeXApi, fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    tweets = post_storm(fake_x, 20)
    app = web_service(sandbox_config, fake_x)
    async with live_console(app) as live, httpx.AsyncClient(base_url=live.url) as client:
        await until(lambda: len(app.store.mentions()) == 20, what="the storm stored")
        await until(lambda: delivered(app), what="every alert delivered")
        messages = staff_messages(fake_telegram)
        assert len(messages) < 20  # grouped in Telegram …
        [group] = [m for m in messages if m["text"].startswith("🔥")]
        csrf = await async_log_in(client, app)
        rows = (await client.get("/queue.json")).json()["rows"]
        assert len(rows) == 20  # … listed one by one on the web
        assert {r["author"] for r in rows} == {f"customer{n}" for n in range(20)}

        grouped = next(r for r in rows if r["group_id"] is not None)
        claimed = await client.post(f"/mentions/{grouped['mention_id']}/claim", data={"csrf": csrf})
        assert claimed.status_code == 303
        await until(
            lambda: any(
                "1 claimed by @ayse_support" in t
                for t in edits_of(fake_telegram, group["message_id"])
            ),
            what="the group's message edited to show the claim",
        )
        row = next(
            r
            for r in (await client.get("/queue.json")).json()["rows"]
            if r["mention_id"] == grouped["mention_id"]
        )
        assert row["claimed_by"] == "@ayse_support"
        page = (await client.get(f"/mentions/{grouped['mention_id']}")).text
        assert re.search(r"@ayse_support · claim · from web", page)

        target = next(r for r in rows if r["author"] == "customer7")
        await client.post(
            f"/mentions/{target['mention_id']}/reply",
            data={"csrf": csrf, "text": "So sorry, customer7! Check your DMs."},
        )
        page = (await client.get(f"/mentions/{target['mention_id']}")).text
        draft = re.search(r'action="/drafts/(\d+)/send"', page)
        assert draft, page
        for _ in range(3):  # a nervous triple click
            await client.post(f"/drafts/{draft.group(1)}/send", data={"csrf": csrf})
        await until(lambda: fake_x.posted, what="the reply posted on X")
        await until(lambda: not app.store.outbox("pending") and not app.store.outbox("sending"))
        [posted] = fake_x.posted
        assert posted.text == "So sorry, customer7! Check your DMs."
        assert posted.in_reply_to_tweet_id == tweets[7]


async def test_a_claim_in_telegram_shows_on_the_web(
    fake_x: FakeXApi, fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    fake_x.post_tweet("@AcmeSupport my order arrived broken, refund please", "maria")
    app = web_service(sandbox_config, fake_x)
    async with live_console(app) as live, httpx.AsyncClient(base_url=live.url) as client:
        await until(lambda: staff_messages(fake_telegram), what="the alert in Telegram")
        await async_log_in(client, app)
        [row] = (await client.get("/queue.json")).json()["rows"]
        assert row["claimed_by"] == ""
        [message] = staff_messages(fake_telegram)
        fake_telegram.press_button(
            message["chat"]["id"], message["message_id"], buttons(message)["claim"], OTHER_AGENT
        )

        async def claimed_on_the_web() -> bool:
            rows = (await client.get("/queue/rows")).text
            return "@ben_support" in rows

        await until_async(claimed_on_the_web)
        history = (await client.get(f"/mentions/{row['mention_id']}")).text
        assert "@ben_support · claim · from telegram" in history


async def until_async(condition: Callable[[], Awaitable[bool]], timeout: float = 10) -> None:
    """Await an asynchronous condition (a page the browser would poll)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        assert loop.time() < deadline, "not reached in time"
        await asyncio.sleep(0.1)


def delivered(app: BrandPulse) -> bool:
    outbox = app.store.outbox()
    return bool(outbox) and all(row.state == "sent" for row in outbox)


async def test_every_action_from_the_web_goes_through_the_workflow(
    fake_x: FakeXApi, fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    for n in range(3):
        fake_x.post_tweet(f"@AcmeSupport order {n} arrived broken, refund please", f"buyer{n}")
    app = web_service(sandbox_config, fake_x)
    async with live_console(app) as live, httpx.AsyncClient(base_url=live.url) as client:
        await until(lambda: len(staff_messages(fake_telegram)) == 3, what="three alerts")
        csrf = await async_log_in(client, app)
        rows = {r["author"]: r for r in (await client.get("/queue.json")).json()["rows"]}
        ids = {author: row["mention_id"] for author, row in rows.items()}

        async def act(author: str, verb: str, **form: str) -> str:
            response = await client.post(
                f"/mentions/{ids[author]}/{verb}", data={"csrf": csrf, **form}
            )
            assert response.status_code == 303, response.text
            page = (await client.get(f"/mentions/{ids[author]}")).text
            found = re.search(r'id="flash">([^<]*)<', page)
            return found.group(1) if found else ""

        assert (await act("buyer0", "snooze", **{"for": "s15"})).startswith("Snoozed until")
        assert await act("buyer0", "escalate") == "Escalated."
        assert await act("buyer1", "resolve") == "Resolved."
        assert (
            await act("buyer2", "not-relevant")
            == "Marked not relevant; the rules&#39; backtest will show it."
        )
        bad = await client.post(
            f"/mentions/{ids['buyer0']}/snooze", data={"csrf": csrf, "for": "1y"}
        )
        assert bad.status_code == 404

        left = (await client.get("/queue.json")).json()["rows"]
        assert [r["author"] for r in left] == ["buyer0"]  # resolved and dismissed ones leave
        assert left[0]["snoozed_until"] is not None
        assert (await client.get("/queue.json?state=snoozed")).json()["total"] == 1
        actions = [
            (a.action, a.origin)
            for alert in app.store.alerts()
            for a in app.store.agent_actions(alert.id or 0)
        ]
        assert sorted(actions) == sorted(
            [("snooze", "web"), ("escalate", "web"), ("resolve", "web"), ("not_relevant", "web")]
        )
        texts = [m["text"] for m in staff_messages(fake_telegram)]
        assert any("Resolved" in t for t in texts), texts
