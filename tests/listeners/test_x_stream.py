"""The X stream listener against the fake stream: X's disconnect rules, gap fills, rules.

Every wait of the listener (reconnect backoff, the 21 s stall timer, the lease retry) goes
through `FakeTimers.sleep`, so a test moves time on by hand and never waits for it.
"""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core.clock import FakeClock
from core.config_file import load_yaml
from core.store import Store
from listeners.x import make_client
from listeners.x_config import XConfig, XSearch
from listeners.x_rules import RuleSync, rules_from_config
from listeners.x_stream import LEASE_WAIT, STALL_AFTER, XStreamListener
from rules.engine import Engine
from rules.triage import Triage
from sandbox.x_api import FakeXApi
from service.config import AppConfig
from service.pipeline import Pipeline
from service.polling import SourcePoller

STREAM = "/2/tweets/search/stream"


class FakeTimers:
    """`sleep` that returns only when the test advances time past its deadline."""

    def __init__(self) -> None:
        self.now = 0.0
        self.asked: list[float] = []
        self._waiting: list[tuple[float, asyncio.Future[None]]] = []

    async def sleep(self, seconds: float) -> None:
        self.asked.append(seconds)
        future = asyncio.get_running_loop().create_future()
        entry = (self.now + seconds, future)
        self._waiting.append(entry)
        try:
            await future
        finally:
            self._waiting.remove(entry)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for due, future in self._waiting:
            if due <= self.now and not future.done():
                future.set_result(None)

    def waits_for(self, seconds: float) -> bool:
        """Some sleep of exactly `seconds` (from now) is pending."""
        return any(due - self.now == seconds for due, _ in self._waiting)

    @property
    def backoffs(self) -> list[float]:
        return [s for s in self.asked if s != STALL_AFTER]


async def until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


@pytest.fixture
def fake() -> Iterator[FakeXApi]:
    with FakeXApi(stream_keepalive=0.05) as fake:
        yield fake


def config(fake: FakeXApi, **changes: Any) -> XConfig:
    values: dict[str, Any] = {
        "api_base": fake.base_url,
        "bearer_token": fake.bearer_token,
        "account": "AcmeSupport",
        "keywords": ["acme"],
    }
    return XConfig(**{**values, **changes})


def listener(fake: FakeXApi, timers: FakeTimers, **changes: Any) -> XStreamListener:
    x = config(fake, **changes)
    searches = [(s.name, s.query) for s in x.searches]
    rules = rules_from_config(x.account, x.mentions, searches, x.keywords)
    return XStreamListener("x:stream", x, rules, make_client(x), sleep=timers.sleep)


class Running:
    def __init__(self, stream: XStreamListener, held: bool = True) -> None:
        self.stream = stream
        self.held = held
        self.reports: list[dict[str, Any]] = []

    async def hold(self) -> bool:
        return self.held

    async def report(self, figures: dict[str, Any]) -> None:
        self.reports.append(figures)


@contextlib.asynccontextmanager
async def running(stream: XStreamListener, held: bool = True) -> AsyncIterator[Running]:
    state = Running(stream, held)
    task = asyncio.create_task(stream.run(state.hold, state.report))
    try:
        yield state
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@contextlib.asynccontextmanager
async def connected(stream: XStreamListener, fake: FakeXApi) -> AsyncIterator[Running]:
    """`stream` running, holding the lease, once its connection to the fake is open."""
    async with running(stream) as state:
        await until(lambda: fake.stream.connected == 1)
        yield state


@pytest.fixture
def timers() -> FakeTimers:
    return FakeTimers()


@pytest.fixture
def stream(fake: FakeXApi, timers: FakeTimers) -> XStreamListener:
    return listener(fake, timers)


def pending_ids(stream: XStreamListener) -> set[str]:
    return set(stream._pending)


async def test_a_streamed_post_is_a_mention_like_a_polled_one_with_its_matching_rules(
    fake: FakeXApi, stream: XStreamListener
) -> None:
    async with connected(stream, fake):
        tweet_id = fake.post_tweet("@AcmeSupport where is my order?", "alice", followers=321)
        await until(lambda: tweet_id in pending_ids(stream))
    mention = stream._pending[tweet_id]
    assert (mention.platform, mention.source, mention.author_handle) == ("x", "x:stream", "alice")
    assert mention.author_followers == 321
    assert mention.url == f"https://x.com/alice/status/{tweet_id}"
    assert mention.raw["matching_rules"][0]["tag"] == "brandpulse:mentions"
    # The same expansions and fields as the poller asks for.
    connect = next(c for c in fake.requests if c.path == STREAM).query
    assert connect["expansions"] == "author_id"
    assert "public_metrics" in connect["user.fields"]
    assert "conversation_id" in connect["tweet.fields"]


async def test_a_drop_mid_line_reconnects_at_once_and_loses_nothing(
    fake: FakeXApi, caplog: pytest.LogCaptureFixture, timers: FakeTimers, stream: XStreamListener
) -> None:
    async with connected(stream, fake) as state:
        before = fake.post_tweet("@AcmeSupport first", "alice")
        await until(lambda: before in pending_ids(stream))
        fake.stream.drop_stream(mid_line=True)
        await until(lambda: fake.stream.connects == 2 and fake.stream.connected == 1)
        after = fake.post_tweet("@AcmeSupport second", "bob")
        await until(lambda: after in pending_ids(stream))
        assert timers.backoffs == []  # at once: no wait at all
        assert state.reports[-1]["reconnects"] == 1
        assert "malformed" not in caplog.text  # the half line never became a line
        batch = await stream.fetch(None)
    ids = [m.external_id for m in batch.mentions]
    assert sorted(ids) == sorted([before, after])  # once each, though the gap fill saw both
    assert json.loads(batch.next_cursor or "{}")["since_id"] == max(ids, key=int)


async def test_no_data_for_21_seconds_is_a_stall_and_reconnects(
    fake: FakeXApi, timers: FakeTimers, stream: XStreamListener
) -> None:
    async with connected(stream, fake) as state:
        fake.stream.stall_stream()
        await until(lambda: timers.waits_for(STALL_AFTER))
        timers.advance(STALL_AFTER - 1)
        await asyncio.sleep(0)  # let the listener run: 20 s of silence is not a stall yet
        assert timers.waits_for(1) and fake.stream.connects == 1
        timers.advance(1)
        await until(lambda: fake.stream.connects == 2 and fake.stream.connected == 1)
        assert any("stalled" in r["problem"] for r in state.reports)
        await until(lambda: state.reports[-1]["connected_since"] is not None)
        assert state.reports[-1]["problem"] == ""


async def test_429_on_connect_waits_from_60_s_doubling(
    fake: FakeXApi, timers: FakeTimers, stream: XStreamListener
) -> None:
    async with connected(stream, fake) as state:
        fake.fail_next(429, times=2)
        fake.stream.drop_stream()
        await until(lambda: timers.waits_for(60))
        assert "429" in state.reports[-1]["problem"]
        timers.advance(60)
        await until(lambda: timers.waits_for(120))
        timers.advance(120)
        await until(lambda: fake.stream.connects == 2)
    assert timers.backoffs == [60, 120]


async def test_server_errors_wait_from_5_s_and_network_errors_250_ms_more_each_time(
    fake: FakeXApi, timers: FakeTimers, stream: XStreamListener
) -> None:
    async with connected(stream, fake):
        fake.fail_next(503, times=2)
        fake.stream.drop_stream()
        await until(lambda: timers.waits_for(5))
        timers.advance(5)
        await until(lambda: timers.waits_for(10))
        timers.advance(10)
        await until(lambda: fake.stream.connects == 2)
        for _ in range(2):
            fake.drop_next_connection()
        fake.stream.drop_stream()
        await until(lambda: timers.waits_for(0.25))
        timers.advance(0.25)
        await until(lambda: timers.waits_for(0.5))
        timers.advance(0.5)
        await until(lambda: fake.stream.connects == 3)
    # After the drop of a good connection: at once (no wait), then 0.25 s, 0.5 s.
    assert timers.backoffs == [5, 10, 0.25, 0.5]


async def test_a_node_without_the_lease_opens_no_stream(
    fake: FakeXApi, timers: FakeTimers, stream: XStreamListener
) -> None:
    async with running(stream, held=False):
        await until(lambda: timers.waits_for(LEASE_WAIT))
        timers.advance(LEASE_WAIT)
        await until(lambda: timers.asked.count(LEASE_WAIT) == 2)
    assert [c for c in fake.requests if c.path == STREAM] == []


async def test_a_malformed_line_is_skipped_and_the_stream_goes_on(
    fake: FakeXApi, caplog: pytest.LogCaptureFixture, stream: XStreamListener
) -> None:
    async with connected(stream, fake):
        fake.stream.send_raw(b'{"data": {"id": "12", "text": 5}}\r\n<html>oops</html>\r\n')
        good = fake.post_tweet("@AcmeSupport still here", "alice")
        await until(lambda: good in pending_ids(stream))
    assert pending_ids(stream) == {good}
    assert caplog.text.count("skipped a malformed line") == 2
    assert fake.stream.connects == 1


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store.open(database_url)
    yield opened
    opened.close()


async def test_a_post_published_while_disconnected_arrives_once_through_the_gap_fill(
    fake: FakeXApi, store: Store, timers: FakeTimers, stream: XStreamListener
) -> None:
    pipeline = Pipeline(store, Engine(AppConfig(), Triage.default(["en"])))
    clock = FakeClock()
    job = SourcePoller(stream, pipeline, store, clock, timedelta(seconds=30), timedelta(hours=1))
    stream.on_buffered = job.push

    def stored() -> list[str]:
        return sorted(m.external_id for m in store.mentions())

    async with connected(stream, fake):
        streamed = fake.post_tweet("@AcmeSupport before", "alice")
        await until(lambda: stored() == [streamed])
        fake.fail_next(503)
        fake.stream.drop_stream()
        await until(lambda: timers.waits_for(5))
        missed = fake.post_tweet("@AcmeSupport while you were away", "bob")
        timers.advance(5)
        await until(lambda: stored() == sorted([streamed, missed]))
        again = fake.post_tweet("@AcmeSupport after", "carol")
        await until(lambda: stored() == sorted([streamed, missed, again]))
    assert fake.stream.tweets_sent == 2  # `missed` only ever came through recent search
    searches = fake.calls("/2/tweets/search/recent")
    assert searches[-1].query["since_id"] == streamed  # the newest saved from the stream
    by_id = {m.external_id: m for m in store.mentions()}
    assert by_id[missed].raw["matching_rules"] == [
        {"tag": "brandpulse:mentions", "via": "gap_fill"}
    ]
    assert stream.figures.gap_fills == 2  # the start and the reconnect


async def test_after_a_restart_the_gap_since_the_newest_saved_post_is_filled(
    fake: FakeXApi, store: Store
) -> None:
    pipeline = Pipeline(store, Engine(AppConfig(), Triage.default(["en"])))

    def node() -> XStreamListener:
        stream = listener(fake, FakeTimers())
        every, backfill = timedelta(seconds=30), timedelta(hours=1)
        stream.on_buffered = SourcePoller(
            stream, pipeline, store, FakeClock(), every, backfill
        ).push
        return stream

    def stored() -> list[str]:
        return sorted(m.external_id for m in store.mentions())

    async with running(node()):
        await until(lambda: fake.stream.connected == 1)
        saved = fake.post_tweet("@AcmeSupport before the restart", "alice")
        await until(lambda: stored() == [saved])
    await until(lambda: fake.stream.connected == 0)
    missed = fake.post_tweet("@AcmeSupport while the service was down", "bob")
    async with running(node()):
        await until(lambda: stored() == sorted([saved, missed]))
    assert fake.calls("/2/tweets/search/recent")[-1].query["since_id"] == saved


async def test_rules_are_reconciled_and_another_apps_rule_is_left_alone(fake: FakeXApi) -> None:
    theirs = fake.stream.add_rule("acme lang:de", "marketing-dashboard")
    stale = fake.stream.add_rule("old query", "brandpulse:search:gone")
    kept = fake.stream.add_rule("@AcmeSupport", "brandpulse:mentions")
    timers = FakeTimers()
    searches = [XSearch(name="brand", query='"Acme" -is:retweet')]
    stream = listener(fake, timers, searches=searches)
    async with running(stream):
        await until(lambda: fake.stream.connected == 1)
    in_force = {(r.value, r.tag): r.id for r in fake.stream.rules}
    assert in_force == {
        ("acme lang:de", "marketing-dashboard"): theirs,
        ("@AcmeSupport", "brandpulse:mentions"): kept,
        ('"Acme" -is:retweet', "brandpulse:search:brand"): in_force[
            ('"Acme" -is:retweet', "brandpulse:search:brand")
        ],
        ("acme", "brandpulse:keyword:acme"): in_force[("acme", "brandpulse:keyword:acme")],
    }
    assert stale not in in_force.values()
    posts = [c for c in fake.calls("/2/tweets/search/stream/rules", "POST")]
    assert posts[0].query == {"dry_run": "true"}  # validated before anything changes
    deletes = [c.body for c in posts if isinstance(c.body, dict) and "delete" in c.body]
    assert deletes == [{"delete": {"ids": [stale]}}]


async def test_an_invalid_rule_is_reported_with_its_config_line(
    fake: FakeXApi, tmp_path: Path
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "platforms:\n"
        "  x:\n"
        "    searches:\n"
        "      - name: good\n"
        "        query: acme\n"
        "      - name: typo\n"
        "        query: 'acme lnag:en'\n"
    )
    document = load_yaml(path)
    timers = FakeTimers()
    searches = [XSearch(name="good", query="acme"), XSearch(name="typo", query="acme lnag:en")]
    x = config(fake, searches=searches, keywords=[])
    rules = rules_from_config(x.account, x.mentions, [(s.name, s.query) for s in searches], [])
    stream = XStreamListener(
        "x:stream",
        x,
        rules,
        make_client(x),
        sleep=timers.sleep,
        locate=lambda where: str(document.locate(where)),
    )
    async with running(stream) as state:
        await until(lambda: fake.stream.connected == 1)
    problem = state.reports[-1]["problem"]
    assert f"{path}:7 platforms.x.searches[1].query" in problem
    assert "'acme lnag:en'" in problem and "invalid operator 'lnag'" in problem
    # The valid rules went in all the same.
    assert {r.value for r in fake.stream.rules} == {"@AcmeSupport", "acme"}


async def test_rule_sync_reports_a_refused_credential_as_such(fake: FakeXApi) -> None:
    import httpx

    from listeners.base import ListenerAuthFailed

    async with httpx.AsyncClient(base_url=fake.base_url) as client:
        with pytest.raises(ListenerAuthFailed):
            await RuleSync(client).reconcile([])


async def test_new_rules_from_a_config_reload_apply_on_the_open_connection(
    fake: FakeXApi, stream: XStreamListener
) -> None:
    async with connected(stream, fake):
        rules = rules_from_config("AcmeSupport", True, [("kettles", "kettle recall")], [])
        await stream.replace_rules(rules)
        assert {(r.value, r.tag) for r in fake.stream.rules} == {
            ("@AcmeSupport", "brandpulse:mentions"),
            ("kettle recall", "brandpulse:search:kettles"),
        }
        found = fake.post_tweet("is my kettle part of the recall", "owner")
        await until(lambda: found in pending_ids(stream))
    assert fake.stream.connects == 1  # no reconnect needed
    tags = [r["tag"] for r in stream._pending[found].raw["matching_rules"]]
    assert tags == ["brandpulse:search:kettles"]
