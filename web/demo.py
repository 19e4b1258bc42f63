"""`main.py demo --web`: the real service and its web console against the sandbox, live.

Like `main.py demo` (local fakes of X, Reddit and Telegram, no credentials), but the service
keeps running: a realistic mention is planted every few seconds, a login link is printed, and the
console is served until Ctrl-C, so a newcomer can click through a live inbox in a minute.
"""

import asyncio
import contextlib
import itertools
import logging
import os
import random
import secrets
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

from core.states import WebRole
from sandbox.reddit_api import FakeReddit
from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi
from service.app import BrandPulse
from service.config import load_config
from service.demo import BRAND, CONFIG, MENTIONS, sandbox_env
from service.web_links import login_link
from web.server import ConsoleServer, WebListenError

AGENT_ID = 5501
AGENT_NAME = "@ayse_support"
PLANT_EVERY = 4.0  # seconds between planted mentions
# What keeps arriving: (author, followers, text); numbered so each is a new customer.
STREAM = [
    ("shopper", 800, f"@{BRAND} order {{n}} arrived broken, I want a refund"),
    ("buyer", 150, f"@{BRAND} still waiting for my refund on order {{n}}, nobody answers"),
    ("fan", 2_400, f"@{BRAND} love the new espresso machine, order {{n}} came a day early!"),
    ("newbie", 40, f"@{BRAND} do you ship order {{n}} to Norway?"),
    ("angry", 12_000, f"@{BRAND} charged twice for order {{n}}. Cancelling if not fixed today"),
]


def run_web_demo() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with (
        FakeXApi(brand_username=BRAND) as x,
        FakeReddit(username=BRAND) as reddit,
        FakeTelegram() as telegram,
        tempfile.TemporaryDirectory(prefix="brandpulse-web-demo-") as workdir,
    ):
        for author, followers, lang, text in MENTIONS:
            x.post_tweet(text, author, followers=followers, lang=lang)
        listen = os.environ.get("BRANDPULSE_WEB_LISTEN", "127.0.0.1:8080")
        env = {
            **sandbox_env(x, reddit, telegram, Path(workdir)),
            "X_POLL_EVERY": "2s",
            "TELEGRAM_AGENT_IDS": str(AGENT_ID),
            "BRANDPULSE_WEB_LISTEN": listen,
            "BRANDPULSE_WEB_URL": os.environ.get("BRANDPULSE_WEB_URL", f"http://{listen}"),
            "BRANDPULSE_WEB_SECRET": secrets.token_hex(32),  # sessions last as long as the demo
            "REPLY_QUIET_HOURS": "off",
        }
        # The node follows config.yaml as `main.py run` does (the rules page shows each rule's
        # file:line and the hot reload's result); its rule watcher reads the environment.
        with _environment(env):
            config = load_config(CONFIG, env)
            app = BrandPulse(config, config_path=CONFIG)
            try:
                console = ConsoleServer(app)
            except WebListenError as exc:
                print(f"demo --web did not start: {exc} (set BRANDPULSE_WEB_LISTEN=127.0.0.1:PORT)")
                app.close()
                return 2
            try:
                asyncio.run(_serve(app, console, x))
            finally:
                app.close()
    return 0


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """`values` in os.environ while the demo runs; the environment as it was afterwards."""
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


async def _serve(app: BrandPulse, console: ConsoleServer, x: FakeXApi) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    now = app.clock.now()
    agent = await asyncio.to_thread(
        login_link, app.store, app.config, WebRole.AGENT, str(AGENT_ID), AGENT_NAME, now
    )
    viewer = await asyncio.to_thread(
        login_link, app.store, app.config, WebRole.VIEWER, "", "demo viewer", now
    )
    print(f"BrandPulse web demo: fake X at {x.base_url}; a new mention every {PLANT_EVERY:.0f} s.")
    print(f"Log in as agent {AGENT_NAME} (one use, 10 minutes):\n  {agent}")
    print(f"Or as a viewer (may only look):\n  {viewer}")
    print("Ctrl-C stops the demo.", flush=True)
    planter = asyncio.create_task(_plant(x, stop))
    try:
        await app.run(stop, [console])
    finally:
        planter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await planter


async def _plant(x: FakeXApi, stop: asyncio.Event) -> None:
    """A realistic mention every few seconds, as customers write them."""
    for n in itertools.count(1000):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PLANT_EVERY)
            return
        author, followers, text = random.choice(STREAM)
        await asyncio.to_thread(
            x.post_tweet, text.format(n=n), f"{author}_{n}", followers=followers
        )
