"""The console's routes through Starlette's test client: who gets in, who may act, and what
hostile mention texts look like on its pages."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from core.clock import FakeClock
from core.states import WebRole
from sandbox.telegram_api import FakeTelegram
from service.app import BrandPulse
from service.config import AppConfig
from tests.faults.test_hostile_input import HOSTILE
from tests.service.alerting import ingest, mention, step
from tests.web.harness import (
    AGENT_ID,
    console_client,
    link_token,
    log_in,
    web_app,
)

PAGES = ["/queue", "/queue.json", "/queue.csv", "/queue/rows", "/mentions/1", "/sources"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(sandbox_config: Callable[..., AppConfig], clock: FakeClock) -> BrandPulse:
    return web_app(sandbox_config, clock)


@pytest.fixture
def client(app: BrandPulse) -> TestClient:
    return console_client(app)


@pytest.fixture
async def one_alert(app: BrandPulse, clock: FakeClock) -> None:
    """Mention 1 ("order 1 arrived broken") is in, triaged and alerted."""
    ingest(app, mention(1, clock))
    await step(app)


@pytest.mark.usefixtures("one_alert")
async def test_nothing_is_readable_without_a_session(app: BrandPulse, client: TestClient) -> None:
    for path in PAGES:
        response = client.get(path, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/login"), path
    page = client.get("/login")
    assert "send <code>/web</code> to the bot" in page.text
    assert "order 1" not in page.text
    response = client.post("/mentions/1/claim", data={"csrf": "x"}, follow_redirects=False)
    assert response.status_code == 401
    assert app.store.alerts()[0].state == "open"


async def test_a_link_logs_in_once_with_a_strict_httponly_cookie(
    app: BrandPulse, client: TestClient
) -> None:
    token = link_token(app, WebRole.AGENT, AGENT_ID, "@ayse_support")

    shown = client.get(f"/login?token={token}")  # a link preview fetching it spends nothing
    assert shown.status_code == 200 and 'id="login"' in shown.text
    response = client.post("/login", data={"token": token}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/queue")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    assert client.get("/queue").status_code == 200

    other = console_client(app)
    again = other.post("/login", data={"token": token}, follow_redirects=False)
    assert again.status_code == 403 and "already used" in again.text
    assert other.get("/queue", follow_redirects=False).status_code == 303
    unknown = other.post("/login", data={"token": "made-up"}, follow_redirects=False)
    assert unknown.status_code == 403 and "not known" in unknown.text
    [row] = app.store.engine.connect().exec_driver_sql("SELECT token_hash FROM web_login").all()
    assert token not in row[0]  # only the hash is stored


async def test_an_expired_link_is_refused(
    app: BrandPulse, client: TestClient, clock: FakeClock
) -> None:
    token = link_token(app, WebRole.VIEWER, "", "auditor")
    clock.advance(timedelta(minutes=10, seconds=1))
    response = client.post("/login", data={"token": token}, follow_redirects=False)
    assert response.status_code == 403 and "expired" in response.text
    assert client.get("/queue", follow_redirects=False).status_code == 303


async def test_the_cookie_is_secure_behind_https(
    sandbox_config: Callable[..., AppConfig], clock: FakeClock
) -> None:
    app = web_app(sandbox_config, clock, BRANDPULSE_WEB_URL="https://inbox.example.com")
    client = console_client(app, https=True)
    token = link_token(app, WebRole.VIEWER, "", "auditor")
    response = client.post("/login", data={"token": token}, follow_redirects=False)
    assert "; secure" in response.headers["set-cookie"].lower()


@pytest.mark.usefixtures("one_alert")
async def test_a_viewer_may_look_but_not_act(app: BrandPulse, client: TestClient) -> None:
    csrf = log_in(client, app, WebRole.VIEWER)
    [row] = app.store.mentions()
    page = client.get(f"/mentions/{row.id}")
    assert page.status_code == 200 and "order 1 arrived broken" in page.text
    assert 'id="act-claim"' not in page.text  # no buttons for viewers
    response = client.post(f"/mentions/{row.id}/claim", data={"csrf": csrf})
    assert response.status_code == 403
    assert app.store.alerts()[0].state == "open"
    assert app.store.agent_actions(app.store.alerts()[0].id or 0) == []


@pytest.mark.usefixtures("one_alert")
async def test_a_post_without_the_csrf_token_is_refused(
    app: BrandPulse, client: TestClient
) -> None:
    log_in(client, app)
    [row] = app.store.mentions()
    for form in ({}, {"csrf": "forged"}):
        response = client.post(f"/mentions/{row.id}/claim", data=form)
        assert response.status_code == 403 and "CSRF" in response.text
    assert app.store.alerts()[0].state == "open"


@pytest.mark.usefixtures("one_alert")
async def test_an_agent_taken_off_the_list_can_no_longer_act(
    app: BrandPulse, client: TestClient
) -> None:
    csrf = log_in(client, app)
    telegram = app.config.platforms.telegram.model_copy(update={"agents": [4243]})
    platforms = app.config.platforms.model_copy(update={"telegram": telegram})
    app.config = app.config.model_copy(update={"platforms": platforms})
    [row] = app.store.mentions()
    response = console_client_with(app, client).post(
        f"/mentions/{row.id}/claim", data={"csrf": csrf}
    )
    assert response.status_code == 403


def console_client_with(app: BrandPulse, client: TestClient) -> TestClient:
    """The same cookies, on a console built from the app's new config."""
    fresh = console_client(app)
    fresh.cookies = client.cookies
    return fresh


async def test_hostile_texts_are_shown_as_text(
    fake_telegram: FakeTelegram, app: BrandPulse, clock: FakeClock
) -> None:
    texts = {**HOSTILE, "script": '@AcmeSupport refund <script>alert("x")</script> broken'}
    texts["href"] = "@AcmeSupport refund <a href='javascript:alert(1)'>x</a> broken"
    for n, (name, text) in enumerate(texts.items()):
        escaped = text.replace("{", "{{").replace("}", "}}")  # mention() formats its text
        ingest(app, mention(n, clock, text=escaped, author=f"<b>{name}</b>"))
    await step(app)
    client = console_client(app)
    log_in(client, app, WebRole.VIEWER)
    queue = client.get("/queue?state=")
    assert queue.headers["content-security-policy"].startswith("default-src 'self'")
    assert "script-src 'self';" in queue.headers["content-security-policy"]
    pages = [queue.text, client.get("/queue/rows").text]
    pages += [client.get(f"/mentions/{m.id}").text for m in app.store.mentions()]
    for page in pages:
        assert "<script>alert" not in page and "<script>x" not in page
        assert "<b>html</b>" not in page and "href='javascript" not in page
        assert 'href="javascript' not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in queue.text
    assert "@&lt;b&gt;html&lt;/b&gt;" in queue.text
    assert "<script" not in queue.text.replace('<script src="/static/console.js" defer>', "")


async def test_health_and_metrics_are_routes_of_the_console(
    app: BrandPulse, client: TestClient
) -> None:
    assert client.get("/livez").text == "ok\n"
    health = client.get("/health")
    assert health.status_code == 503  # no node has a heartbeat: nothing runs
    assert "no BrandPulse node is running" in health.json()["problems"][0]
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and "brandpulse_" in metrics.text


async def test_the_queue_filters_and_pages_every_open_mention(
    app: BrandPulse, clock: FakeClock
) -> None:
    for n in range(1, 61):
        ingest(app, mention(n, clock, followers=n))
    for _ in range(5):  # the flood budget spreads the messages over minutes
        await step(app)
        clock.advance(timedelta(minutes=1))
    client = console_client(app)
    log_in(client, app)
    first = client.get("/queue.json").json()
    assert first["total"] == 60 and len(first["rows"]) == 50
    second = client.get("/queue.json?page=2").json()
    assert len(second["rows"]) == 10
    ids = [r["mention_id"] for r in first["rows"] + second["rows"]]
    assert len(set(ids)) == 60
    dues = [r["due_at"] for r in first["rows"] + second["rows"]]
    assert dues == sorted(dues)  # soonest deadline first
    assert client.get("/queue.json?platform=reddit").json()["total"] == 0
    assert client.get("/queue.json?platform=x").json()["total"] == 60
    assert client.get("/queue.json?breached=1").json()["total"] == 0
    clock.advance(timedelta(hours=6))
    assert client.get("/queue.json?breached=1").json()["total"] == 60
    assert client.get("/queue.json?mine=1").json()["total"] == 0
    assert client.get("/queue.csv").text.splitlines()[0].startswith("mention_id,alert_id")


async def test_the_sources_page_shows_the_x_streams_connection(
    app: BrandPulse, clock: FakeClock
) -> None:
    figures = {
        "connected_since": "2026-01-05T08:00:00+00:00",
        "last_keepalive": "2026-01-05T08:59:40+00:00",
        "reconnects": 2,
        "posts_received": 31,
        "gap_fills": 3,
        "problem": "",
    }
    app.store.record_stream("x:stream", app.store.node, clock.now(), figures)
    client = console_client(app)
    log_in(client, app, WebRole.VIEWER)
    page = client.get("/sources").text
    assert "x:stream" in page
    assert "Stream: connected since 2026-01-05T08:00:00+00:00" in page
    assert "reconnects 2; posts received 31; gap fills 3" in page
