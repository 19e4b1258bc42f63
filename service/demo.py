"""`main.py demo`: the real service against local fakes of X, Reddit and Telegram, no credentials.

It seeds a handful of realistic brand mentions, runs one pass of the service exactly as
`main.py run --once` would (the shipped config.yaml, only the base URLs and tokens point at the
sandbox), prints the alerts as a staff member sees them, shows the auto-replies the
`sorry-broken-order` rule posted on each platform, presses a button as an agent would and shows
the alert updated in place.
"""

import asyncio
import logging
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox.reddit_api import FakeReddit
from sandbox.seed import (
    BRAND,
    COMMUNITY_CHAT,
    GROUP_MESSAGES,
    MENTIONS,
    REDDIT_POSTS,
    STAFF_CHAT,
    SUBREDDIT,
    plant,
    service_env,
)
from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi
from service.app import BrandPulse
from service.config import load_config

CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"


def sandbox_env(
    x: FakeXApi, reddit: FakeReddit, telegram: FakeTelegram, workdir: Path
) -> dict[str, str]:
    """The environment that points the shipped config at the fakes (both demos use it)."""
    return {
        **service_env(x, reddit, telegram),
        "BRANDPULSE_DATABASE_URL": f"sqlite:///{workdir / 'demo.db'}",
    }


def run_demo(log_level: int = logging.WARNING, config_path: Path = CONFIG) -> int:
    """`log_level`: the demo prints what staff see; the service's own log only from WARNING."""
    logging.basicConfig(level=log_level, format="%(levelname)s %(name)s: %(message)s")
    with (
        FakeXApi(brand_username=BRAND) as x,
        FakeReddit(username=BRAND) as reddit,
        FakeTelegram() as telegram,
        tempfile.TemporaryDirectory(prefix="brandpulse-demo-") as workdir,
    ):
        plant(x, reddit, telegram)
        env = {
            **sandbox_env(x, reddit, telegram, Path(workdir)),
            # The shipped auto-reply rule, live, at any hour of the demo.
            "AUTO_REPLIES": "true",
            "AUTO_REPLY_DRY_RUN": "false",
            "REPLY_QUIET_HOURS": "off",
        }
        config = load_config(config_path, env)
        print(
            f"BrandPulse demo: fake X at {x.base_url}, fake Reddit at {reddit.base_url}, "
            f"fake Telegram at {telegram.base_url}"
        )
        print(
            f"{len(MENTIONS)} tweets to @{BRAND}, {len(REDDIT_POSTS)} posts in r/{SUBREDDIT} and "
            f"{len(GROUP_MESSAGES)} messages in a Telegram group. One pass of the service:\n"
        )

        app = BrandPulse(config)
        summary = asyncio.run(app.run_once())
        print(
            f"fetched {summary.fetched}, stored {summary.new} new, queued "
            f"{summary.alerts_queued} alerts, delivered {summary.delivered}"
        )
        print(_fetched_twice(summary.fetched - summary.new, config_path == CONFIG))
        for message in telegram.messages(STAFF_CHAT):
            print(_as_seen(message))
        print(
            "User text is escaped before staff see it: the @<b>sneaky</b> mention's HTML tags\n"
            "arrive as plain text, never as formatting; its right-to-left override is cut.\n"
        )
        _show_skipped(app)
        print(
            "Auto-replies posted on the customers' own platforms (rule sorry-broken-order).\n"
            "The demo switches them on, live (AUTO_REPLIES=true, AUTO_REPLY_DRY_RUN=false);\n"
            "a real deployment starts with them off, and in shadow mode once on (docs/replies.md):"
        )
        for tweet in x.posted:
            print(f"  X, in reply to tweet {tweet.in_reply_to_tweet_id}: {tweet.text}")
        for comment in reddit.comments_posted:
            print(f"  Reddit, under {comment.parent_fullname}: {comment.body}")
        for sent in telegram.sent:
            if sent.chat_id == COMMUNITY_CHAT:
                print(f"  Telegram, answering message {sent.reply_to}: {sent.text}")
        print()

        first = telegram.messages(STAFF_CHAT)[0]
        claim = first["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        agent = {"id": 5501, "first_name": "Ayşe", "username": "ayse_support", "is_bot": False}
        telegram.press_button(STAFF_CHAT, first["message_id"], claim, from_user=agent)
        print("Agent @ayse_support taps «Claim» on the first alert. Next pass:\n")
        asyncio.run(BrandPulse(config).run_once())
        print(_as_seen(telegram.messages(STAFF_CHAT)[0]))

        again = asyncio.run(BrandPulse(config).run_once())
        print(f"Polled again: {again.fetched} fetched, {again.delivered} sent (nothing twice).")
        app.close()
        streaming = BrandPulse(load_config(CONFIG, {**env, "X_MODE": "stream"}))
        asyncio.run(_show_stream(streaming, x, telegram))
        streaming.close()
    return 0


def _fetched_twice(extra: int, shipped_config: bool) -> str:
    """Why a first pass into an empty database fetches more than it stores, if it does."""
    if extra <= 0:
        return ""
    why = (
        f" (with the shipped config, r/{SUBREDDIT}'s new posts and the Reddit search for the "
        "brand's keywords both find the Reddit posts)"
        if shipped_config
        else ""
    )
    plural = "s" if extra > 1 else ""
    text = (
        f"Each source counts what it read: {extra} mention{plural} found by two sources{why} "
        "count twice in 'fetched' and are stored once."
    )
    return textwrap.fill(text, width=78) + "\n"


STREAMED = f"@{BRAND} the replacement kettle is broken too. Refund me, or I call my lawyer."


async def _show_stream(app: BrandPulse, x: FakeXApi, telegram: FakeTelegram) -> None:
    """`platforms.x.mode: stream`: the service running, one post pushed to it live."""
    print("\nX in real time (X_MODE=stream): the service runs, X's filtered stream pushes a post:")
    stop = asyncio.Event()
    service = asyncio.create_task(app.run(stop))
    try:
        if not await _within(10, lambda: x.stream.connected == 1):
            print("  the stream did not connect; see the log above")
            return
        rules = ", ".join(f"{rule.value} [{rule.tag}]" for rule in x.stream.rules)
        print(f"  stream rules reconciled from config.yaml: {rules}")
        before = len(telegram.messages(STAFF_CHAT))
        started = asyncio.get_running_loop().time()
        x.post_tweet(STREAMED, "kettle_again", followers=900)
        if await _within(10, lambda: len(telegram.messages(STAFF_CHAT)) > before):
            took = asyncio.get_running_loop().time() - started
            print(f"  published → alert in the staff chat in {took * 1000:.0f} ms:\n")
            print(_as_seen(telegram.messages(STAFF_CHAT)[-1]))
    finally:
        stop.set()
        await service


async def _within(seconds: float, condition: Callable[[], bool]) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def _as_seen(message: dict[str, Any]) -> str:
    """A Telegram message as plain text, with its buttons, in a box."""
    lines = []
    for line in message["text"].splitlines():
        lines.extend(textwrap.wrap(line, 76) or [""])
    markup = message.get("reply_markup") or {}
    buttons = [b["text"] for row in markup.get("inline_keyboard", []) for b in row]
    if buttons:
        lines.append("")
        lines.append("  ".join(f"[ {b} ]" for b in buttons))
    bar = "─" * 78
    return "\n".join([f"┌{bar}", *(f"│ {line}" for line in lines), f"└{bar}", ""])


def _show_skipped(app: BrandPulse) -> None:
    alerted = {row.mention_id for row in app.store.outbox()}
    quiet = [m for m in app.store.mentions() if m.id not in alerted]
    print("Not alerted (stored, with their triage):")
    for mention in quiet:
        why = ", ".join(map(str, mention.reasons or [])) or "no signal"
        rules = ", ".join(mention.rules or []) or "no rule"
        print(f"  @{mention.author_handle}: urgency {mention.urgency}, {rules} ({why})")
    print()
