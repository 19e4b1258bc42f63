"""One contract, every listener: X, Reddit and Telegram against their sandbox fakes.

Each platform gets a small harness that can publish brand mentions and inject the platform's
own faults; the tests below are written once and run for every harness.
"""

import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import prawcore
import pytest
from telegram.ext import Application

from core.clock import FakeClock
from core.platforms import platforms
from core.store import Store
from listeners.base import Batch, Listener, ListenerAuthFailed, ListenerUnavailable, RateLimited
from listeners.reddit import RedditClient, RedditConfig, RedditListener
from listeners.telegram import TelegramGroupsConfig, TelegramListener, read_waiting_updates
from listeners.x import XConfig, XListener, make_client
from rules.engine import Engine
from rules.triage import Triage
from sandbox import FakeReddit, FakeTelegram, FakeXApi
from sandbox.http import FakeServer, Reply, Request
from service.config import AppConfig
from service.pipeline import Pipeline
from service.polling import SourcePoller

BRAND = "AcmeSupport"
GROUP = -1005550001


class _Corrupting(ABC):
    """Mixin for a fake: the next listing it serves has its first item broken."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.corrupt_next = False

    def handle(self, request: Request) -> Reply:
        reply: Reply = super().handle(request)  # type: ignore[misc]
        items = self._items(reply.body)
        if self.corrupt_next and items:
            self.corrupt_next = False
            self._break(items[0])
        return reply

    @abstractmethod
    def _items(self, body: Any) -> list[dict[str, Any]]:
        """The items of a listing in the platform's reply body."""

    @abstractmethod
    def _break(self, item: dict[str, Any]) -> None:
        """Damage one item the way real payloads arrive damaged."""


class CorruptingX(_Corrupting, FakeXApi):
    def _items(self, body: Any) -> list[dict[str, Any]]:
        return (
            body.get("data")
            if isinstance(body, dict) and isinstance(body.get("data"), list)
            else []
        )

    def _break(self, item: dict[str, Any]) -> None:
        item["text"] = None


class CorruptingReddit(_Corrupting, FakeReddit):
    def _items(self, body: Any) -> list[dict[str, Any]]:
        if isinstance(body, dict) and body.get("kind") == "Listing":
            return body["data"]["children"]
        return []

    def _break(self, item: dict[str, Any]) -> None:
        item["data"]["created_utc"] = "yesterday-ish"


class Harness(ABC):
    """A listener plus the outside world it reads, with knobs for the platform's faults."""

    name: ClassVar[str]
    page_size: ClassVar[int]
    listener: Listener
    fake: FakeServer

    @classmethod
    @abstractmethod
    def running(cls, clock: FakeClock) -> contextlib.AbstractAsyncContextManager["Harness"]:
        """The harness with its fake platform serving, for one test."""

    @abstractmethod
    async def publish(self, count: int, start: int = 0) -> list[str]:
        """`count` brand mentions by different people; their external ids, oldest first."""

    @abstractmethod
    async def publish_other(self) -> None:
        """Something on the platform that is not about the brand."""

    async def deliver(self) -> None:
        """Bring what the platform pushes to the listener (push platforms only)."""
        return  # polled platforms have nothing pushed

    async def fetch(self, cursor: str | None) -> Batch:
        await self.deliver()
        return await self.listener.fetch(cursor)

    @abstractmethod
    def page_requests(self) -> int:
        """How many listing pages the listener has asked for so far."""

    @abstractmethod
    def rate_limit(self) -> None:
        """Make the platform's next answer a rate-limit refusal."""

    def fail_server(self, down: bool = True) -> None:
        """Every request gets a 502 from the platform's gateway, until called with False."""
        self.fake.set_down(down)

    @abstractmethod
    def refuse_auth(self) -> None:
        """Make the platform refuse the listener's credentials."""

    @abstractmethod
    async def publish_malformed(self) -> None:
        """Publish a brand mention whose payload is broken."""


class XHarness(Harness):
    name = "x"
    page_size = 100

    def __init__(self, fake: CorruptingX, clock: FakeClock):
        self.fake = fake
        config = XConfig(api_base=fake.base_url, bearer_token=fake.bearer_token, account=BRAND)
        self.listener = XListener("x:mentions", config, make_client(config), clock=clock.now)

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, clock: FakeClock) -> AsyncIterator["XHarness"]:
        with CorruptingX(brand_username=BRAND) as fake:
            yield cls(fake, clock)

    async def publish(self, count: int, start: int = 0) -> list[str]:
        return [
            self.fake.post_tweet(f"@{BRAND} order {n} is late", f"customer{n}")
            for n in range(start, start + count)
        ]

    async def publish_other(self) -> None:
        self.fake.post_tweet("lovely weather today", "someone_else")

    def page_requests(self) -> int:
        return len(self.fake.calls("/2/users/1570000000000000001/mentions"))

    def rate_limit(self) -> None:
        self.fake.rate_limit_next(60)

    def refuse_auth(self) -> None:
        self.fake.fail_next(401)

    async def publish_malformed(self) -> None:
        self.fake.corrupt_next = True
        self.fake.post_tweet(f"@{BRAND} this one arrives broken", "broken_item")


class RedditHarness(Harness):
    name = "reddit"
    page_size = 100

    def __init__(self, fake: CorruptingReddit, clock: FakeClock):
        self.fake = fake
        self.clock = clock
        config = RedditConfig(
            api_base=fake.base_url,
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            username=fake.username,
            password=fake.password,
            subreddits=["AcmeHelp"],
            keywords=["acme"],
        )
        client = RedditClient(config, clock.now)
        self.listener = RedditListener(
            "reddit:submissions", config, client, "submissions", clock=clock.now
        )

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, clock: FakeClock) -> AsyncIterator["RedditHarness"]:
        with CorruptingReddit() as fake:
            yield cls(fake, clock)

    async def publish(self, count: int, start: int = 0) -> list[str]:
        return [
            self.fake.post_submission("AcmeHelp", f"Acme order {n} is late", author=f"user{n}")
            for n in range(start, start + count)
        ]

    async def publish_other(self) -> None:
        self.fake.post_submission("AcmeHelp", "Anyone else watching the match?", author="fan")

    def page_requests(self) -> int:
        return len(self.fake.calls("/r/AcmeHelp/new"))

    def rate_limit(self) -> None:
        self.fake.rate_limit_next(1)  # prawcore waits out the reset before the next call

    def refuse_auth(self) -> None:
        self.fake.fail_next(403)

    async def publish_malformed(self) -> None:
        self.fake.corrupt_next = True
        self.fake.post_submission("AcmeHelp", "Acme broken item", author="broken_item")


class TelegramHarness(Harness):
    name = "telegram"
    page_size = 100

    def __init__(self, fake: FakeTelegram, application: Application[Any, Any, Any, Any, Any, Any]):
        self.fake = fake
        self.application = application
        config = TelegramGroupsConfig(keywords=["acme"])
        self.listener = TelegramListener(config, fake.bot["id"], ignore_chats=set())
        application.add_handler(self.listener.handler(_nothing))

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, clock: FakeClock) -> AsyncIterator["TelegramHarness"]:
        with FakeTelegram() as fake:
            application = (
                Application.builder().token(fake.token).base_url(f"{fake.base_url}/bot").build()
            )
            async with application:
                yield cls(fake, application)

    async def publish(self, count: int, start: int = 0) -> list[str]:
        ids = []
        for n in range(start, start + count):
            person = {"id": 9000 + n, "first_name": f"Person {n}", "username": f"person{n}"}
            self.fake.push_group_message(GROUP, f"my Acme order {n} is late", from_user=person)
            ids.append(f"{GROUP}:{self.fake.messages(GROUP)[-1]['message_id']}")
        return ids

    async def publish_other(self) -> None:
        self.fake.push_group_message(GROUP, "anyone up for lunch?")

    async def deliver(self) -> None:
        await read_waiting_updates(self.application, _nothing)

    def page_requests(self) -> int:
        return len(self.fake.calls(f"/bot{self.fake.token}/getUpdates"))

    def rate_limit(self) -> None:
        self.fake.rate_limit_next(30)

    def refuse_auth(self) -> None:
        self.fake.fail_next(401)

    async def publish_malformed(self) -> None:
        # A group message with neither a sender nor a sender chat.
        message = {"message_id": 7, "date": 1767600000, "chat": {"id": GROUP, "type": "supergroup"}}
        self.fake.push_update("message", {**message, "text": "acme, but from nobody"})


async def _nothing() -> None:
    return None


@pytest.fixture(autouse=True)
def _no_retry_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """prawcore sleeps 0-4 s before retrying a 5xx; the contract only needs the outcome."""
    monkeypatch.setattr(prawcore.sessions.FiniteRetryStrategy, "_sleep_seconds", lambda _: None)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC))


# One line per platform: every registered platform must have one, or its contract fails.
HARNESSES: dict[str, type[Harness]] = {
    "x": XHarness,
    "reddit": RedditHarness,
    "telegram": TelegramHarness,
}


@pytest.fixture(params=[info.key for info in platforms()])
async def harness(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[Harness]:
    async with HARNESSES[request.param].running(clock) as harness:
        yield harness


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store.open(database_url)
    yield opened
    opened.close()


class FlakyPipeline(Pipeline):
    """The real pipeline, except that the next `failures` saves raise as a dead database would."""

    def __init__(self, store: Store, failures: int = 0):
        super().__init__(store, Engine(AppConfig(), Triage.default(["en"])))
        self.failures = failures

    def ingest(self, *args: Any, **kwargs: Any) -> Any:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database went away")
        return super().ingest(*args, **kwargs)


def poller(harness: Harness, store: Store, clock: FakeClock, pipeline: Pipeline) -> SourcePoller:
    interval, backfill = timedelta(seconds=60), timedelta(hours=1)
    return SourcePoller(harness.listener, pipeline, store, clock, interval, backfill)


# --- the contract ------------------------------------------------------------------------------


async def test_brand_mentions_are_fetched_and_other_posts_are_not(harness: Harness) -> None:
    await harness.publish_other()
    ids = await harness.publish(3)
    batch = await harness.fetch(None)
    assert sorted(m.external_id for m in batch.mentions) == sorted(ids)
    for mention in batch.mentions:
        assert mention.platform == harness.listener.platform
        assert mention.source == harness.listener.source
        assert mention.created_at.tzinfo is not None
        assert mention.author_handle
    assert not batch.skipped


async def test_the_cursor_advances_only_after_the_batch_is_saved(
    harness: Harness, store: Store, clock: FakeClock
) -> None:
    first = await harness.publish(2)
    job = poller(harness, store, clock, FlakyPipeline(store, failures=1))
    await harness.deliver()
    with pytest.raises(ConnectionError):
        await job.poll()
    assert store.cursor(harness.listener.source) is None
    assert store.count_mentions() == 0

    await harness.deliver()
    result = await job.poll()
    assert result is not None
    assert sorted(item.mention.external_id for item in result.new) == sorted(first)
    assert store.cursor(harness.listener.source) is not None

    later = await harness.publish(1, start=2)
    clock.advance(timedelta(minutes=1))
    await harness.deliver()
    result = await job.poll()
    assert result is not None
    assert [m.mention.external_id for m in result.new] == later
    assert result.fetched == 1  # the saved ones are not fetched again


async def test_duplicates_are_dropped_when_a_batch_comes_twice(
    harness: Harness, store: Store, clock: FakeClock
) -> None:
    await harness.publish(2)
    pipeline = FlakyPipeline(store)
    once = await harness.fetch(None)
    again = await harness.fetch(None)  # a lost cursor, or praw re-emitting after a restart
    assert len(once.mentions) == len(again.mentions) == 2
    first = pipeline.ingest(harness.listener.source, once, clock.now())
    second = pipeline.ingest(harness.listener.source, again, clock.now())
    assert len(first) == 2
    assert second == []
    assert store.count_mentions() == 2


async def test_an_empty_source_gives_an_empty_batch_and_then_only_what_is_new(
    harness: Harness,
) -> None:
    empty = await harness.fetch(None)
    assert empty.mentions == []
    assert not empty.more
    ids = await harness.publish(1)
    batch = await harness.fetch(empty.next_cursor)
    assert [m.external_id for m in batch.mentions] == ids
    after = await harness.fetch(batch.next_cursor)
    assert after.mentions == []


async def test_more_than_one_page_is_fetched_completely(harness: Harness) -> None:
    ids = await harness.publish(harness.page_size + 20)
    before = harness.page_requests()
    batch = await harness.fetch(None)
    assert sorted(m.external_id for m in batch.mentions) == sorted(ids)
    assert harness.page_requests() - before >= 2
    assert not batch.more


async def test_a_rate_limit_is_reported_with_its_reset_and_loses_nothing(
    harness: Harness, clock: FakeClock
) -> None:
    ids = await harness.publish(2)
    harness.rate_limit()
    with pytest.raises(RateLimited) as limited:
        await harness.fetch(None)
    assert limited.value.reset_at > clock.now()
    clock.advance(limited.value.reset_at - clock.now() + timedelta(seconds=1))
    batch = await harness.fetch(None)
    assert sorted(m.external_id for m in batch.mentions) == sorted(ids)


async def test_server_errors_are_unavailable_and_lose_nothing(harness: Harness) -> None:
    ids = await harness.publish(2)
    harness.fail_server()
    with pytest.raises(ListenerUnavailable):
        await harness.fetch(None)
    harness.fail_server(down=False)
    batch = await harness.fetch(None)
    assert sorted(m.external_id for m in batch.mentions) == sorted(ids)


async def test_refused_credentials_are_an_auth_failure(harness: Harness) -> None:
    """The poll job pauses such a source and staff are told once (tests/service)."""
    ids = await harness.publish(1)
    harness.refuse_auth()
    with pytest.raises(ListenerAuthFailed):
        await harness.fetch(None)
    batch = await harness.fetch(None)
    assert [m.external_id for m in batch.mentions] == ids


async def test_a_malformed_item_is_logged_with_its_source_and_the_rest_kept(
    harness: Harness, store: Store, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    good = await harness.publish(2)
    await harness.publish_malformed()
    job = poller(harness, store, clock, FlakyPipeline(store))
    await harness.deliver()
    with caplog.at_level(logging.WARNING, logger="service.polling"):
        result = await job.poll()
    assert result is not None
    assert sorted(item.mention.external_id for item in result.new) == sorted(good)
    [warning] = [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()]
    assert warning.startswith(f"{harness.listener.source}: skipped a malformed item")
    assert store.cursor(harness.listener.source) is not None
