"""XListener against the fake X API v2, through the real tweepy client."""

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from listeners.base import Batch, ListenerAuthFailed, ListenerUnavailable, RateLimited
from listeners.x import XConfig, XListener, make_client
from sandbox.x_api import FakeXApi

BRAND = "AcmeSupport"


def listener(fake: FakeXApi, **options: object) -> XListener:
    config = XConfig(
        api_base=fake.base_url, bearer_token=fake.bearer_token, account=BRAND, **options
    )
    return XListener("x:mentions", config, make_client(config))


def fetch(source: XListener, cursor: str | None = None) -> Batch:
    return asyncio.run(source.fetch(cursor))


def test_mentions_carry_author_reach_time_and_link(fake_x: FakeXApi) -> None:
    tweet_id = fake_x.post_tweet(
        f"@{BRAND} where is my refund?", "maria", followers=48_000, verified=True
    )
    batch = fetch(listener(fake_x))
    [mention] = batch.mentions
    assert mention.external_id == tweet_id
    assert (mention.author_handle, mention.author_followers, mention.author_verified) == (
        "maria",
        48_000,
        True,
    )
    assert mention.url == f"https://x.com/maria/status/{tweet_id}"
    assert abs(mention.created_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert json.loads(batch.next_cursor or "{}") == {"since_id": tweet_id}
    assert batch.rate is not None and batch.rate.remaining < batch.rate.limit


def test_first_start_reads_only_the_backfill_window(fake_x: FakeXApi) -> None:
    old = datetime.now(UTC) - timedelta(hours=3)
    fake_x.post_tweet(f"@{BRAND} old complaint", "a", created_at=old)
    recent = fake_x.post_tweet(f"@{BRAND} new complaint", "b")
    batch = fetch(listener(fake_x, backfill="1h"))
    assert [m.external_id for m in batch.mentions] == [recent]


def test_a_burst_of_1000_is_fetched_completely_across_polls_with_a_page_cap(
    fake_x: FakeXApi,
) -> None:
    source = listener(fake_x, max_pages_per_poll=3)
    first = fetch(source)  # sets the cursor on an empty timeline
    cursor = first.next_cursor
    posted = {fake_x.post_tweet(f"@{BRAND} burst {n}", f"u{n % 50}") for n in range(1000)}
    seen: list[str] = []
    polls = 0
    while True:
        batch = fetch(source, cursor)
        polls += 1
        seen += [m.external_id for m in batch.mentions]
        cursor = batch.next_cursor
        if not batch.more:
            break
    assert set(seen) == posted
    assert len(seen) == 1000  # no item fetched twice
    assert polls == 4  # 10 pages of 100, at most 3 a poll
    later = fake_x.post_tweet(f"@{BRAND} after the burst", "late")
    assert [m.external_id for m in fetch(source, cursor).mentions] == [later]


def test_rate_limit_reports_the_reset_time(fake_x: FakeXApi) -> None:
    fake_x.rate_limit_next(120)
    source = listener(fake_x)
    with pytest.raises(RateLimited) as caught:
        fetch(source)
    assert caught.value.reset_at > datetime.now(UTC) + timedelta(seconds=100)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_unavailable(fake_x: FakeXApi, status: int) -> None:
    fake_x.fail_next(status)
    with pytest.raises(ListenerUnavailable, match=str(status)):
        fetch(listener(fake_x))


def test_refused_token_is_an_auth_failure(fake_x: FakeXApi) -> None:
    config = XConfig(api_base=fake_x.base_url, bearer_token="wrong", account=BRAND)
    with pytest.raises(ListenerAuthFailed, match="401"):
        fetch(XListener("x:mentions", config, make_client(config)))


def test_malformed_json_and_dropped_connections_are_unavailable(fake_x: FakeXApi) -> None:
    source = listener(fake_x)
    fetch(source)  # resolve the account first
    fake_x.malformed_next()
    with pytest.raises(ListenerUnavailable, match="malformed"):
        fetch(source)
    fake_x.drop_next_connection()
    with pytest.raises(ListenerUnavailable, match="unreachable"):
        fetch(source)


def test_search_source_uses_the_query(fake_x: FakeXApi) -> None:
    hit = fake_x.post_tweet("Acme kettle stopped working after a week", "kettle_owner")
    fake_x.post_tweet("unrelated tweet", "someone")
    config = XConfig(api_base=fake_x.base_url, bearer_token=fake_x.bearer_token)
    source = XListener("x:search:brand", config, make_client(config), query="acme kettle")
    assert [m.external_id for m in fetch(source).mentions] == [hit]
