"""RedditListener against the fake Reddit API through the real praw, and on recorded payloads."""

import asyncio
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import prawcore
import pytest

from listeners.base import Batch, RateBudget
from listeners.reddit import RedditClient, RedditConfig, RedditListener, reddit_sources
from sandbox import FakeReddit

CASSETTES = Path("/work/shared/data/reddit")
SUB = "AcmeHelp"


@pytest.fixture(autouse=True)
def _no_retry_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prawcore.sessions.FiniteRetryStrategy, "_sleep_seconds", lambda _: None)


@pytest.fixture
def fake() -> Iterator[FakeReddit]:
    with FakeReddit() as server:
        yield server


def config(fake: FakeReddit, **options: Any) -> RedditConfig:
    settings: dict[str, Any] = {
        "api_base": fake.base_url,
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "username": fake.username,
        "password": fake.password,
        "subreddits": [SUB],
        "keywords": ["acme"],
    }
    return RedditConfig(**{**settings, **options})


def sources(fake: FakeReddit, **options: Any) -> dict[str, RedditListener]:
    cfg = config(fake, **options)
    now = lambda: datetime.now(UTC)  # noqa: E731
    return {s.source: s for s in reddit_sources(cfg, RedditClient(cfg, now), now)}


def fetch(source: RedditListener, cursor: str | None = None) -> Batch:
    return asyncio.run(source.fetch(cursor))


def ids(batch: Batch) -> list[str]:
    return [m.external_id for m in batch.mentions]


def test_every_source_kind_finds_its_mentions_and_the_brands_own(fake: FakeReddit) -> None:
    post = fake.post_submission(SUB, "My Acme kettle broke", "It leaks.", author="dana")
    fake.post_submission(SUB, "Weekly chat thread", author="modteam")
    elsewhere = fake.post_submission("kettles", "Is Acme any good?", author="shopper")
    comment = fake.post_comment(SUB, post, "Same with my acme one", author="lee")
    ours = fake.post_comment(SUB, post, "Sorry to hear that, acme here", author=fake.username)
    mention = fake.post_comment(SUB, post, "u/AcmeSupport please help", author="kim")
    found = sources(fake, searches=[{"name": "brand", "query": "acme"}])
    assert set(found) == {
        "reddit:submissions",
        "reddit:comments",
        "reddit:search:brand",
        "reddit:mentions",
    }

    [submission] = fetch(found["reddit:submissions"]).mentions
    assert submission.external_id == post
    assert submission.text == "My Acme kettle broke\n\nIt leaks."
    assert submission.author_handle == "dana"
    assert submission.conversation_id == post
    assert submission.url.startswith(f"https://www.reddit.com/r/{SUB}/comments/")
    # The brand's reply is read too (the pipeline stores it as ours: tests/service).
    found_ours, found_comment = fetch(found["reddit:comments"]).mentions
    assert (found_ours.external_id, found_ours.author_handle) == (ours, fake.username)
    assert (found_comment.external_id, found_comment.in_reply_to_id) == (comment, post)
    assert found_comment.conversation_id == post
    assert ids(fetch(found["reddit:search:brand"])) == [elsewhere, post]
    [inbox] = fetch(found["reddit:mentions"]).mentions
    assert (inbox.external_id, inbox.conversation_id) == (mention, post)


def test_a_deleted_cursor_item_neither_stalls_nor_resends(fake: FakeReddit) -> None:
    source = sources(fake)["reddit:submissions"]
    old = [fake.post_submission(SUB, f"acme old {n}") for n in range(20)]
    cursor = fetch(source).next_cursor
    assert json.loads(cursor or "{}") == {"since": old[-1]}
    fake.remove(old[-1])  # the cursor's own post is deleted upstream
    new = [fake.post_submission(SUB, f"acme new {n}") for n in range(3)]
    batch = fetch(source, cursor)
    assert ids(batch) == new[::-1]
    assert json.loads(batch.next_cursor or "{}") == {"since": new[-1]}


def test_a_burst_bigger_than_the_page_cap_is_fetched_completely_across_polls(
    fake: FakeReddit,
) -> None:
    source = sources(fake, max_pages_per_poll=2)["reddit:submissions"]
    fake.post_submission(SUB, "acme first")
    cursor = fetch(source).next_cursor
    posted = {fake.post_submission(SUB, f"acme burst {n}", author=f"u{n}") for n in range(450)}
    seen: list[str] = []
    polls = 0
    while True:
        batch = fetch(source, cursor)
        polls += 1
        seen += ids(batch)
        cursor = batch.next_cursor
        if not batch.more:
            break
    assert set(seen) == posted
    assert len(seen) == 450
    assert polls == 3
    later = fake.post_submission(SUB, "acme after the burst")
    assert ids(fetch(source, cursor)) == [later]


def test_a_burst_resumes_from_the_top_when_its_resume_point_vanished(fake: FakeReddit) -> None:
    source = sources(fake, max_pages_per_poll=1)["reddit:submissions"]
    fake.post_submission(SUB, "acme first")
    cursor = fetch(source).next_cursor
    posted = [fake.post_submission(SUB, f"acme burst {n}") for n in range(150)]
    first = fetch(source, cursor)
    assert first.more
    fake.remove(first.mentions[-1].external_id)  # where the next poll was to continue
    seen = set(ids(first))
    cursor = first.next_cursor
    while True:
        batch = fetch(source, cursor)
        seen |= set(ids(batch))
        cursor = batch.next_cursor
        if not batch.more:
            break
    assert seen == set(posted)


def test_an_expired_token_is_renewed_without_an_error(fake: FakeReddit) -> None:
    source = sources(fake)["reddit:submissions"]
    cursor = fetch(source).next_cursor
    fake.expire_tokens()
    post = fake.post_submission(SUB, "acme after the token expired")
    assert ids(fetch(source, cursor)) == [post]


def test_the_rate_budget_follows_reddits_headers(fake: FakeReddit) -> None:
    batch = fetch(sources(fake)["reddit:submissions"])
    assert batch.rate is not None
    assert batch.rate.limit == 1000
    assert batch.rate.remaining < 1000
    assert batch.rate.reset_at > datetime.now(UTC)


class RecordedClient:
    """Answers with a listing recorded from the real Reddit API (praw's cassettes)."""

    def __init__(self, cassette: str, request_index: int):
        interaction = json.loads((CASSETTES / cassette).read_text())["interactions"][request_index]
        self.body = json.loads(interaction["response"]["body"]["string"])
        self.body["data"]["after"] = None  # one page is enough here

    def get(self, path: str, params: Mapping[str, str | int]) -> tuple[Any, RateBudget | None]:
        return self.body, None


@pytest.mark.parametrize(
    ("cassette", "index", "kind"),
    [
        ("TestSubredditListings.test_new.json", 1, "submissions"),
        ("TestSubredditListings.test_comments.json", 1, "comments"),
        ("TestSubreddit.test_search.json", 1, "search"),
        ("TestInbox.test_mentions.json", 1, "mentions"),
    ],
)
def test_recorded_reddit_payloads_become_mentions(cassette: str, index: int, kind: str) -> None:
    client = RecordedClient(cassette, index)
    cfg = RedditConfig(client_id="x", subreddits=["askreddit"], backfill="10000d")
    source = RedditListener(f"reddit:{kind}", cfg, client, kind)  # type: ignore[arg-type]
    batch = fetch(source)
    children = client.body["data"]["children"]
    assert not batch.skipped
    assert len(batch.mentions) == len(children)
    for mention, child in zip(batch.mentions, children, strict=True):
        assert mention.external_id == child["data"]["name"]
        assert mention.text
        assert mention.url.startswith("https://")
        assert mention.conversation_id.startswith("t3_")
