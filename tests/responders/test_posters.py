"""One contract, every poster: X, Reddit and Telegram replies against their sandbox fakes.

The reply responder turns a poster's `PostFailed` into the outbox's retry: `retry_at` set means
try again then, None means retrying cannot help. Each platform's harness publishes a mention to
answer and names the faults its API really has; the tests run once per registered platform.
"""

import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import prawcore
import pytest
from telegram.ext import Application

from core.clock import FakeClock
from core.mention import Mention
from core.platforms import platform, platforms
from listeners.reddit import RedditConfig, make_reddit
from listeners.x import XConfig, make_client
from responders.reddit_poster import RedditPoster
from responders.replies import Posted, Poster, PostFailed
from responders.telegram_poster import TelegramPoster
from responders.x_poster import XPoster
from sandbox import FakeReddit, FakeTelegram, FakeXApi
from sandbox.http import FakeServer
from service.config import AppConfig  # noqa: F401  discovers and registers the platforms

GROUP = -1005550002
START = datetime.now(UTC)


class Harness(ABC):
    """A poster plus the platform it posts to, with knobs for that platform's faults."""

    fake: FakeServer
    poster: Poster
    # The status the platform answers refused credentials with.
    auth_status: ClassVar[int] = 401
    # Whether refused credentials may be retried later (True) or never (False).
    auth_retried: ClassVar[bool] = True

    @classmethod
    @abstractmethod
    def running(cls, clock: FakeClock) -> contextlib.AbstractAsyncContextManager["Harness"]:
        """The harness with its fake platform serving, for one test."""

    @abstractmethod
    def mention(self) -> Mention:
        """A customer's post on the fake platform, ready to be answered."""

    @abstractmethod
    def posted(self) -> list[str]:
        """The texts the fake platform received as replies, oldest first."""

    @abstractmethod
    def refused(self) -> tuple[Mention, str]:
        """A mention and a reply text the platform refuses to take."""

    def rate_limit(self, seconds: int) -> None:
        self.fake.rate_limit_next(seconds)


class XHarness(Harness):
    def __init__(self, fake: FakeXApi, clock: FakeClock):
        self.fake = fake
        config = XConfig(
            api_base=fake.base_url,
            bearer_token=fake.bearer_token,
            consumer_key=fake.consumer_key,
            consumer_secret="secret",
            access_token=fake.access_token,
            access_token_secret="secret",
            account="AcmeSupport",
        )
        self.poster = XPoster(make_client(config), config.account, clock)

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, clock: FakeClock) -> AsyncIterator["XHarness"]:
        with FakeXApi() as fake:
            yield cls(fake, clock)

    def mention(self) -> Mention:
        tweet_id = self.fake.post_tweet("@AcmeSupport my order is late", "dana")
        return _mention("x", tweet_id)

    def posted(self) -> list[str]:
        return [tweet.text for tweet in self.fake.posted]

    def refused(self) -> tuple[Mention, str]:
        return self.mention(), ""  # 400: the `text` field is required


class RedditHarness(Harness):
    auth_status = 403
    auth_retried = False

    def __init__(self, fake: FakeReddit, clock: FakeClock):
        self.fake = fake
        config = RedditConfig(
            api_base=fake.base_url,
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            username=fake.username,
            password=fake.password,
        )
        self.poster = RedditPoster(make_reddit(config), config.username, clock)

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, clock: FakeClock) -> AsyncIterator["RedditHarness"]:
        with FakeReddit() as fake:
            yield cls(fake, clock)

    def mention(self) -> Mention:
        name = self.fake.post_submission("AcmeHelp", "Acme order late", author="dana")
        return _mention("reddit", name)

    def posted(self) -> list[str]:
        return [comment.body for comment in self.fake.comments_posted]

    def refused(self) -> tuple[Mention, str]:
        deleted = self.mention()
        self.fake.remove(deleted.external_id)  # DELETED_LINK
        return deleted, "Sorry about that, Dana."


class TelegramHarness(Harness):
    auth_status = 403
    auth_retried = False

    def __init__(self, fake: FakeTelegram, application: Any, clock: FakeClock):
        self.fake = fake
        self.poster = TelegramPoster(application.bot, "the bot", clock)

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, clock: FakeClock) -> AsyncIterator["TelegramHarness"]:
        with FakeTelegram() as fake:
            application = (
                Application.builder().token(fake.token).base_url(f"{fake.base_url}/bot").build()
            )
            async with application:
                yield cls(fake, application, clock)

    def mention(self) -> Mention:
        person = {"id": 9001, "first_name": "Dana", "username": "dana"}
        self.fake.push_group_message(GROUP, "my Acme order is late", from_user=person)
        message_id = self.fake.messages(GROUP)[-1]["message_id"]
        return _mention("telegram", f"{GROUP}:{message_id}")

    def posted(self) -> list[str]:
        return [m["text"] for m in self.fake.messages(GROUP) if m.get("from", {}).get("is_bot")]

    def refused(self) -> tuple[Mention, str]:
        limit = platform("telegram")
        assert limit is not None
        return self.mention(), "x" * (limit.reply_limit + 1)  # 400: message is too long


def _mention(key: str, external_id: str) -> Mention:
    return Mention(
        platform=key,
        external_id=external_id,
        text="my order is late",
        created_at=START - timedelta(minutes=5),
        source=f"{key}:test",
        author_handle="dana",
    )


# One line per platform: every registered platform must have one, or its contract fails.
HARNESSES: dict[str, type[Harness]] = {
    "x": XHarness,
    "reddit": RedditHarness,
    "telegram": TelegramHarness,
}


@pytest.fixture(autouse=True)
def _no_retry_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """prawcore sleeps 0-4 s before retrying a 5xx; the contract only needs the outcome."""
    monkeypatch.setattr(prawcore.sessions.FiniteRetryStrategy, "_sleep_seconds", lambda _: None)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture(params=[info.key for info in platforms()])
async def harness(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[Harness]:
    async with HARNESSES[request.param].running(clock) as harness:
        yield harness


async def _refused(harness: Harness) -> PostFailed:
    with pytest.raises(PostFailed) as failed:
        await harness.poster.post(harness.mention(), "Sorry about that, Dana.")
    return failed.value


# --- the contract ------------------------------------------------------------------------------


async def test_a_reply_is_posted_once_with_its_platform_id(harness: Harness) -> None:
    posted = await harness.poster.post(harness.mention(), "Sorry about that, Dana.")
    assert isinstance(posted, Posted) and posted.ref
    assert harness.posted() == ["Sorry about that, Dana."]


async def test_a_rate_limit_is_retried_after_its_reset(harness: Harness, clock: FakeClock) -> None:
    harness.rate_limit(120)
    failed = await _refused(harness)
    assert failed.retry_at is not None and failed.retry_at > clock.now()
    assert not failed.unknown
    assert harness.posted() == []


async def test_a_server_error_is_retried_with_backoff(harness: Harness, clock: FakeClock) -> None:
    harness.fake.set_down(True)
    failed = await _refused(harness)
    assert failed.retry_at is not None
    assert clock.now() < failed.retry_at <= clock.now() + timedelta(minutes=15)
    harness.fake.set_down(False)
    assert harness.posted() == []


async def test_refused_credentials_are_never_posted(harness: Harness, clock: FakeClock) -> None:
    harness.fake.fail_next(harness.auth_status, times=5)
    failed = await _refused(harness)
    assert (failed.retry_at is not None) is harness.auth_retried
    assert not failed.unknown
    assert harness.posted() == []


async def test_a_reply_the_platform_refuses_is_not_retried(harness: Harness) -> None:
    mention, text = harness.refused()
    with pytest.raises(PostFailed) as failed:
        await harness.poster.post(mention, text)
    assert failed.value.retry_at is None
    assert not failed.value.unknown
    assert harness.posted() == []
