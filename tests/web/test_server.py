"""The console server of a running node: the port answers from the start, the pages are built
at the first request (a node nobody visits keeps their memory), once for concurrent requests;
idle, it never wakes, and every response still carries the current Date."""

import asyncio
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi
from service.app import BrandPulse
from service.config import AppConfig
from tests.conftest import REPO
from tests.web.harness import live_console


async def test_the_console_is_built_at_the_first_request_and_only_once(
    fake_x: FakeXApi, fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    app = BrandPulse(sandbox_config(BRANDPULSE_WEB_LISTEN="127.0.0.1:0"))
    async with live_console(app) as live:
        assert live.console.app.console is None  # serving, nothing built yet
        async with httpx.AsyncClient(base_url=live.url) as client:
            first = await asyncio.gather(*(client.get("/login") for _ in range(5)))
            assert [r.status_code for r in first] == [200] * 5
            assert all("web link" in r.text for r in first)  # a page of the console
            built = live.console.app.console
            assert built is not None
            assert (await client.get("/login")).status_code == 200
        assert live.console.app.console is built  # one console serves every later request


async def test_health_probes_do_not_build_the_console(
    fake_x: FakeXApi, fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    app = BrandPulse(sandbox_config(BRANDPULSE_WEB_LISTEN="127.0.0.1:0"))
    async with live_console(app) as live:
        async with httpx.AsyncClient(base_url=live.url) as client:
            live_probe = await client.get("/livez")
            head = await client.head("/livez")
        assert (live_probe.status_code, live_probe.text) == (200, "ok\n")
        assert live_probe.headers["content-type"] == "text/plain; charset=utf-8"
        assert (head.status_code, head.content) == (200, b"")
        assert live.console.app.console is None  # the Docker HEALTHCHECK alone builds no pages


def test_pygal_waits_for_the_first_chart() -> None:
    probe = "import sys, web.console; print(sorted(m for m in sys.modules if 'pygal' in m))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


async def test_an_idle_console_never_wakes_and_each_response_is_dated_as_it_is_sent(
    fake_x: FakeXApi, fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    app = BrandPulse(sandbox_config(BRANDPULSE_WEB_LISTEN="127.0.0.1:0"))
    async with live_console(app) as live:
        ticks = 0
        tick = live.console.server.on_tick

        async def counted(counter: int) -> bool:
            nonlocal ticks
            ticks += 1
            return await tick(counter)

        live.console.server.on_tick = counted  # type: ignore[method-assign]
        async with httpx.AsyncClient(base_url=live.url) as client:
            first = await client.get("/livez")
            # uvicorn's own loop would have refreshed its Date header ten times by now.
            await asyncio.sleep(1.2)
            second = await client.get("/login")
        assert ticks == 0
    sent = [parsedate_to_datetime(r.headers["date"]) for r in (first, second)]
    assert [r.headers.get_list("date") for r in (first, second)] == [
        [first.headers["date"]],
        [second.headers["date"]],
    ]
    assert sent[0] < sent[1] <= datetime.now(UTC)  # a second apart: each dated when it was sent
