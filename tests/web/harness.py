"""Helpers for the web console's tests: the console of a staff app, login links, sessions."""

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
from starlette.testclient import TestClient

from core.clock import FakeClock
from core.states import WebRole
from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi
from service.app import BrandPulse
from service.config import AppConfig
from service.web_links import login_link
from tests.service.alerting import staff_app
from web.console import build_console
from web.server import ConsoleServer, console_context

AGENT_ID = "4242"  # tests.service.alerting.AGENT
AGENT_NAME = "@ayse_support"


def console_client(app: BrandPulse, https: bool = False) -> TestClient:
    base = "https://testserver" if https else "http://testserver"
    return TestClient(build_console(console_context(app), key="test-key"), base_url=base)


def link_token(app: BrandPulse, role: WebRole, user_id: str = "", name: str = "") -> str:
    link = login_link(app.store, app.config, role, user_id, name or "someone", app.clock.now())
    found = re.search(r"[?&]token=([^&]+)", link)
    assert found, link
    return found.group(1)


def log_in(client: TestClient, app: BrandPulse, role: WebRole = WebRole.AGENT) -> str:
    """Log `client` in through a fresh link; the session's CSRF token (from a page's form)."""
    user = AGENT_ID if role == WebRole.AGENT else ""
    token = link_token(app, role, user, AGENT_NAME if user else "a viewer")
    response = client.post("/login", data={"token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/queue").text)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF field on the page"
    return found.group(1)


def web_app(sandbox_config: Callable[..., AppConfig], clock: FakeClock, **env: str) -> BrandPulse:
    return staff_app(sandbox_config, clock, BRANDPULSE_WEB_LISTEN="127.0.0.1:0", **env)


@dataclass
class Live:
    app: BrandPulse
    url: str
    console: ConsoleServer


@contextlib.asynccontextmanager
async def live_console(app: BrandPulse) -> AsyncIterator[Live]:
    """The long-running service with its console on a free port, on this test's loop."""
    console = ConsoleServer(app)
    stop = asyncio.Event()
    service = asyncio.create_task(app.run(stop, [console]))
    url = f"http://127.0.0.1:{console.port}"
    try:
        await until(lambda: console.server.started, what="the console to start")
        yield Live(app, url, console)
    finally:
        stop.set()
        await asyncio.wait_for(service, 15)


async def until(condition: Callable[[], object], timeout: float = 15, what: str = "") -> None:
    """Await a condition the running service makes true (an event, not a fixed sleep)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"not reached in {timeout} s: {what or condition}"
        await asyncio.sleep(0.05)


async def async_log_in(client: httpx.AsyncClient, app: BrandPulse) -> str:
    token = await asyncio.to_thread(link_token, app, WebRole.AGENT, AGENT_ID, AGENT_NAME)
    response = await client.post("/login", data={"token": token})
    assert response.status_code == 303, response.text
    return csrf_of((await client.get("/queue")).text)


REFUND = "@AcmeSupport order {n} arrived broken and nobody answers. I want a refund!"


def reply_env(fake_x: FakeXApi) -> dict[str, str]:
    """User-context keys, so agents' replies are posted on the fake X."""
    return {
        "X_CONSUMER_KEY": fake_x.consumer_key,
        "X_CONSUMER_SECRET": "secret",
        "X_ACCESS_TOKEN": fake_x.access_token,
        "X_ACCESS_TOKEN_SECRET": "secret",
        "X_POLL_EVERY": "1s",
    }


def post_storm(fake_x: FakeXApi, count: int = 20) -> list[str]:
    """`count` different customers' refund complaints at once: grouping folds them."""
    return [
        fake_x.post_tweet(REFUND.format(n=n), f"customer{n}", followers=100 + n)
        for n in range(count)
    ]


def edits_of(fake_telegram: FakeTelegram, message_id: int) -> list[str]:
    """The texts of the editMessageText calls the bot made on `message_id`."""
    edits = [
        served.request.params
        for served in fake_telegram.requests
        if served.path.lower().endswith("/editmessagetext") and served.status == 200
    ]
    return [str(e.get("text", "")) for e in edits if str(e.get("message_id")) == str(message_id)]


# The hostile texts of tests/faults, and what a web page must survive as well: 21 in all.
WEB_HOSTILE = {
    "script": '@AcmeSupport refund <script>window.pwned=1;alert("x")</script> broken',
    "img": "@AcmeSupport refund <img src=x onerror=alert(1)> broken",
    "svg": "@AcmeSupport refund <svg onload=alert(1)></svg> broken",
    "js_href": "@AcmeSupport refund <a href='javascript:alert(1)'>click</a> broken",
    "iframe": '@AcmeSupport refund <iframe src="http://evil.example"></iframe> broken',
    "style": "@AcmeSupport refund <style>body{display:none}</style> broken",
    "attr": '@AcmeSupport refund " onmouseover="alert(1)" x=" broken',
    "template": "@AcmeSupport refund {{ 7*7 }} {% raw %} ${7*7} broken",
    "entity": "@AcmeSupport refund &lt;script&gt;alert(1)&lt;/script&gt; &#60;b&#62; broken",
    "comment": "@AcmeSupport refund <!-- --><script>alert(1)</script> broken",
    "meta": '@AcmeSupport refund <meta http-equiv="refresh" content="0;url=http://evil.example">',
    "form": '@AcmeSupport refund <form action="http://evil.example"><button>Win</button></form>',
    "csv": '=HYPERLINK("http://evil.example","refund") @AcmeSupport broken',
}


def all_hostile() -> dict[str, str]:
    from tests.faults.test_hostile_input import HOSTILE

    return {**HOSTILE, **WEB_HOSTILE}
