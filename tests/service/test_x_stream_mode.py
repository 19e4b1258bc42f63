"""`platforms.x.mode: stream` through the shipped config.yaml: live alerts, health, one stream."""

import asyncio
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core.clock import FakeClock
from core.leases import Leases, source_lease
from core.store import Store
from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi
from service.app import BrandPulse
from service.config import AppConfig, load_config
from service.health import HealthReport, collect
from tests.conftest import SHIPPED_CONFIG, STAFF_CHAT

ANGRY = "@AcmeSupport my order arrived broken and nobody answers. I want a refund!"
STREAM = "/2/tweets/search/stream"


async def _until(condition: Callable[[], bool], timeout: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


def stream_connects(fake_x: FakeXApi) -> list[int]:
    return [c.status for c in fake_x.requests if c.path == STREAM]


async def test_stream_mode_alerts_live_and_health_shows_the_connection(
    fake_x: FakeXApi, fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    app = BrandPulse(sandbox_config(X_MODE="stream"))
    assert "x:stream" in [p.source for p, _push in app.pushed]
    assert app.pollers == []  # no X polling in stream mode
    stop = asyncio.Event()
    service = asyncio.create_task(app.run(stop))
    try:
        await _until(lambda: fake_x.stream.connected == 1)
        fake_x.post_tweet(ANGRY, "angry_customer", followers=48_000)
        await _until(lambda: any(m.chat_id == STAFF_CHAT for m in fake_telegram.sent))
        alert = next(m for m in fake_telegram.sent if m.chat_id == STAFF_CHAT)
        assert "angry_customer" in alert.text and "refund" in alert.text
        (mention,) = app.store.mentions()
        assert mention.source == "x:stream"
        tags = {rule.get("tag") for rule in mention.raw["matching_rules"]}
        assert "brandpulse:mentions" in tags
        await _until(lambda: _stream_figures(app).get("posts_received") == 1)
        report = await app.health()
        assert report.healthy, report.problems()
        (line,) = [text for text in report.lines() if text.strip().startswith("stream:")]
        assert "connected since" in line and "posts received 1" in line
        assert {r.tag for r in fake_x.stream.rules} == {
            "brandpulse:mentions",
            "brandpulse:keyword:Acme",
        }
    finally:
        stop.set()
        await asyncio.wait_for(service, 10)
    # No X search polling: the gap fill at connect is the only recent-search traffic.
    assert len(fake_x.calls("/2/tweets/search/recent")) <= 2 * len(fake_x.stream.rules)
    assert fake_x.calls("/2/users/") == []


def _health(app: BrandPulse) -> HealthReport:
    return collect(app.store, app.clock, timedelta(minutes=10))


def _stream_figures(app: BrandPulse) -> dict[str, Any]:
    rows = [s for s in _health(app).sources if s.source == "x:stream"]
    return (rows[0].stream or {}) if rows else {}


async def test_a_second_node_opens_no_second_stream_and_takes_over_when_the_first_stops(
    fake_x: FakeXApi, fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    config = sandbox_config(X_MODE="stream")
    # A short lease, so the takeover (after the first node's lease period) comes soon.
    service = config.service.model_copy(update={"lease_ttl": timedelta(seconds=2)})
    config = config.model_copy(update={"service": service})
    first, second = BrandPulse(config), BrandPulse(config)
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    running_first = asyncio.create_task(first.run(stop_first))
    await _until(lambda: fake_x.stream.connected == 1)
    running_second = asyncio.create_task(second.run(stop_second))
    try:
        await _until(lambda: len(_health(second).nodes) == 2)
        stop_first.set()
        await asyncio.wait_for(running_first, 10)
        await _until(lambda: fake_x.stream.connects == 2 and fake_x.stream.connected == 1)
        tweet_id = fake_x.post_tweet(ANGRY, "angry_customer")
        await _until(lambda: [m.external_id for m in second.store.mentions()] == [tweet_id])
    finally:
        stop_first.set()
        stop_second.set()
        await asyncio.gather(running_first, running_second)
    assert 429 not in stream_connects(fake_x)  # never a second connection at once


async def test_editing_the_x_searches_updates_the_stream_rules_while_running(
    tmp_path: Path,
    sandbox_env: dict[str, str],
    fake_x: FakeXApi,
    fake_telegram: FakeTelegram,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Hot reload reads the environment of the process, as in production.
    for name, value in {**sandbox_env, "X_MODE": "stream"}.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "config.yaml"
    shipped = SHIPPED_CONFIG.read_text(encoding="utf-8")
    path.write_text(shipped, encoding="utf-8")
    app = BrandPulse(load_config(path), config_path=path)
    stop = asyncio.Event()
    service = asyncio.create_task(app.run(stop))
    try:
        await _until(lambda: fake_x.stream.connected == 1)
        searches = "    searches:\n      - name: kettles\n        query: kettle recall\n"
        path.write_text(shipped.replace("    searches: []\n", searches, 1), encoding="utf-8")
        stamp = 2_000_000_000_000_000_000
        os.utime(path, ns=(stamp, stamp))  # a distinct mtime, however fast the test runs
        await _until(lambda: "brandpulse:search:kettles" in {r.tag for r in fake_x.stream.rules})
    finally:
        stop.set()
        await asyncio.wait_for(service, 10)
    assert fake_x.stream.connects == 1


def test_health_counts_a_down_stream_as_a_problem_only_while_a_node_holds_it(
    database_url: str,
) -> None:
    store = Store.open(database_url)
    try:
        clock = FakeClock()
        leases = Leases(store.engine, "node-a", timedelta(seconds=30), clock)
        figures = {
            "connected_since": None,
            "last_keepalive": "2026-01-05T08:59:00+00:00",
            "reconnects": 3,
            "posts_received": 12,
            "gap_fills": 4,
            "problem": "disconnected: X refused the connection (429 TooManyConnections)",
        }
        store.record_stream("x:stream", "node-a", clock.now(), figures)
        report = collect(store, clock, timedelta(minutes=10))
        assert not any("x:stream" in p for p in report.problems())  # nobody streams: stale
        leases.beat()
        assert leases.hold(source_lease("x:stream"))
        report = collect(store, clock, timedelta(minutes=10))
        assert "x:stream: disconnected: X refused the connection (429 TooManyConnections)" in (
            report.problems()
        )
        (line,) = [text for text in report.lines() if text.strip().startswith("stream:")]
        assert "NOT connected" in line and "reconnects 3" in line and "gap fills 4" in line
        assert report.as_json()["sources"][0]["stream"]["posts_received"] == 12
    finally:
        store.close()


def test_a_quiet_connected_stream_is_healthy_however_long_no_post_came(database_url: str) -> None:
    store = Store.open(database_url)
    try:
        clock = FakeClock()
        leases = Leases(store.engine, "node-a", timedelta(seconds=30), clock)
        figures = {
            "connected_since": "2026-01-05T06:00:00+00:00",
            "last_keepalive": "2026-01-05T08:59:50+00:00",
            "reconnects": 0,
            "posts_received": 0,
            "gap_fills": 1,
            "problem": "",
        }
        store.record_stream("x:stream", "node-a", clock.now(), figures)
        clock.advance(timedelta(hours=3))  # no post, so no poll-like success, for three hours
        leases.beat()
        assert leases.hold(source_lease("x:stream"))
        report = collect(store, clock, timedelta(minutes=10), source_max_age=timedelta(hours=1))
        assert not any("x:stream" in problem for problem in report.problems())
    finally:
        store.close()
