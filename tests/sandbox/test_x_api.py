"""FakeXApi exercised through the real tweepy Client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import tweepy

from sandbox import FakeXApi


class _RewritingSession(requests.Session):
    """tweepy hard-codes https://api.twitter.com; send its requests to the fake instead."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        target = str(url).replace("https://api.twitter.com", self.base_url, 1)
        return super().request(method, target, *args, **kwargs)


@pytest.fixture
def fake() -> Iterator[FakeXApi]:
    with FakeXApi() as server:
        yield server


def _client(fake: FakeXApi, **overrides: Any) -> tweepy.Client:
    credentials = {
        "bearer_token": fake.bearer_token,
        "consumer_key": fake.consumer_key,
        "consumer_secret": "consumer-secret",
        "access_token": fake.access_token,
        "access_token_secret": "access-secret",
    }
    client = tweepy.Client(**{**credentials, **overrides})
    client.session = _RewritingSession(fake.base_url)
    return client


@pytest.fixture
def client(fake: FakeXApi) -> tweepy.Client:
    return _client(fake)


def test_get_me_needs_user_context(fake: FakeXApi, client: tweepy.Client) -> None:
    me = client.get_me()
    assert (str(me.data.id), me.data.username) == (fake.brand.id, "AcmeSupport")
    with pytest.raises(tweepy.Forbidden, match="Application-Only is forbidden"):
        client.get_me(user_auth=False)


def test_user_by_username_and_unknown_user(fake: FakeXApi, client: tweepy.Client) -> None:
    fake.post_tweet("hello", "dana", followers=1234, verified=True)
    user = client.get_user(username="DANA", user_fields=["public_metrics", "verified"])
    assert user.data.public_metrics["followers_count"] == 1234
    assert user.data.verified is True
    missing = client.get_user(username="nobody")
    assert missing.data is None
    assert missing.errors[0]["title"] == "Not Found Error"


def test_mentions_newest_first_with_expanded_authors(fake: FakeXApi, client: tweepy.Client) -> None:
    first = fake.post_tweet("@AcmeSupport my parcel is lost", "dana", followers=50)
    fake.post_tweet("talking about something else", "erin")
    second = fake.post_tweet("@acmesupport still nothing", "erin", followers=9000)

    page = client.get_users_mentions(
        fake.brand.id,
        expansions="author_id",
        tweet_fields=["created_at", "author_id", "conversation_id", "lang"],
        user_fields=["public_metrics", "verified"],
    )

    assert [str(t.id) for t in page.data] == [second, first]
    assert int(second) > int(first)
    assert page.data[0].lang == "en"
    assert page.data[0].created_at.tzinfo is not None
    followers = {u.username: u.public_metrics["followers_count"] for u in page.includes["users"]}
    assert followers == {"erin": 9000, "dana": 50}
    assert page.meta == {"result_count": 2, "newest_id": second, "oldest_id": first}


def test_only_requested_fields_are_returned(fake: FakeXApi, client: tweepy.Client) -> None:
    fake.post_tweet("@AcmeSupport hi", "dana")
    raw = _client(fake, return_type=dict).get_users_mentions(fake.brand.id)
    assert set(raw["data"][0]) == {"id", "text", "edit_history_tweet_ids"}
    assert "includes" not in raw


def test_empty_timeline_has_no_data_key(fake: FakeXApi) -> None:
    raw = _client(fake, return_type=dict).get_users_mentions(fake.brand.id)
    assert raw == {"meta": {"result_count": 0}}


def test_since_id_and_pagination(fake: FakeXApi, client: tweepy.Client) -> None:
    ids = [fake.post_tweet(f"@AcmeSupport complaint {i}", f"user{i}") for i in range(12)]

    pages = list(tweepy.Paginator(client.get_users_mentions, fake.brand.id, max_results=5))
    assert [len(p.data) for p in pages] == [5, 5, 2]
    assert [str(t.id) for p in pages for t in p.data] == ids[::-1]
    assert "next_token" not in pages[-1].meta

    newer = client.get_users_mentions(fake.brand.id, since_id=ids[9])
    assert [str(t.id) for t in newer.data] == [ids[11], ids[10]]
    older = client.get_users_mentions(fake.brand.id, until_id=ids[2])
    assert [str(t.id) for t in older.data] == [ids[1], ids[0]]


def test_start_time_filters_by_creation(fake: FakeXApi, client: tweepy.Client) -> None:
    now = datetime.now(UTC)
    fake.post_tweet("@AcmeSupport old", "dana", created_at=now - timedelta(hours=3))
    recent = fake.post_tweet("@AcmeSupport new", "dana", created_at=now)
    page = client.get_users_mentions(fake.brand.id, start_time=now - timedelta(hours=1))
    assert [str(t.id) for t in page.data] == [recent]


def test_max_results_out_of_range_is_bad_request(fake: FakeXApi, client: tweepy.Client) -> None:
    with pytest.raises(tweepy.BadRequest, match="not between 5 and 100"):
        client.get_users_mentions(fake.brand.id, max_results=101)


def _seed_search(fake: FakeXApi) -> dict[str, str]:
    """Six tweets, by id, named for what tells them apart."""
    plain = fake.post_tweet("Acme router keeps dropping", "dana")
    phrase = fake.post_tweet("my acme router is broken again", "erin")
    original = fake.post_tweet("the acme app is slow", "fred")
    german = fake.post_tweet("Acme Router ist kaputt", "zoe", lang="de")
    reply = fake.post_tweet("@AcmeSupport acme help", "gus", in_reply_to=plain)
    retweet = fake.post_tweet("RT @fred: the acme app is slow", "hal", retweet_of=original)
    return {
        plain: "plain",
        phrase: "phrase",
        original: "original",
        german: "german",
        reply: "reply",
        retweet: "retweet",
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("acme", {"plain", "phrase", "original", "german", "reply", "retweet"}),
        ("ACME router", {"plain", "phrase", "german"}),
        ('"router is broken"', {"phrase"}),
        ("acme -router", {"original", "reply", "retweet"}),
        ("acme -is:retweet", {"plain", "phrase", "original", "german", "reply"}),
        ("acme lang:de", {"german"}),
        ("@AcmeSupport", {"reply"}),
        ("(router OR kaputt) -is:retweet", {"plain", "phrase", "german"}),
        ("slow OR kaputt router", {"original", "retweet", "german"}),
        ("is:reply acme", {"reply"}),
        ("from:zoe", {"german"}),
        ("acmex", set()),
    ],
)
def test_search_recent_query_language(
    fake: FakeXApi, client: tweepy.Client, query: str, expected: set[str]
) -> None:
    names = _seed_search(fake)
    found = client.search_recent_tweets(query, max_results=100)
    assert {names[str(t.id)] for t in found.data or []} == expected


def test_search_ignores_tweets_older_than_seven_days(fake: FakeXApi, client: tweepy.Client) -> None:
    fake.post_tweet("acme outage", "dana", created_at=datetime.now(UTC) - timedelta(days=8))
    assert client.search_recent_tweets("acme").data is None


def test_unknown_operator_is_rejected(client: tweepy.Client) -> None:
    with pytest.raises(tweepy.BadRequest, match="invalid operator"):
        client.search_recent_tweets("acme place_country:US")


def test_create_tweet_reply_is_recorded_and_visible(fake: FakeXApi, client: tweepy.Client) -> None:
    complaint = fake.post_tweet("@AcmeSupport where is my refund?", "dana")

    created = client.create_tweet(text="Sorry Dana, DM us please", in_reply_to_tweet_id=complaint)

    assert created.data["edit_history_tweet_ids"] == [created.data["id"]]
    assert [(p.text, p.in_reply_to_tweet_id) for p in fake.posted] == [
        ("Sorry Dana, DM us please", complaint)
    ]
    reply = fake.tweet(created.data["id"])
    assert reply is not None
    assert (reply.conversation_id, reply.in_reply_to_user_id) == (complaint, fake.user("dana").id)
    found = client.search_recent_tweets("from:AcmeSupport", tweet_fields=["referenced_tweets"])
    assert str(found.data[0].referenced_tweets[0].id) == complaint
    assert fake.calls("/2/tweets", "POST")[0].status == 201


def test_create_tweet_refusals(fake: FakeXApi, client: tweepy.Client) -> None:
    with pytest.raises(tweepy.Forbidden, match="deleted or not visible"):
        client.create_tweet(text="hi", in_reply_to_tweet_id="1")
    client.create_tweet(text="We are on it")
    with pytest.raises(tweepy.Forbidden, match="duplicate content"):
        client.create_tweet(text="We are on it")
    with pytest.raises(tweepy.Forbidden, match="Application-Only is forbidden"):
        client.create_tweet(text="app tokens cannot post", user_auth=False)


def test_oauth2_user_token_is_user_context(fake: FakeXApi) -> None:
    client = _client(fake, bearer_token=fake.user_token)
    assert client.create_tweet(text="hello", user_auth=False).data["text"] == "hello"


def test_bad_credentials_get_x_style_401(fake: FakeXApi) -> None:
    client = _client(fake, bearer_token="wrong")
    with pytest.raises(tweepy.Unauthorized) as caught:
        client.get_users_mentions(fake.brand.id)
    assert caught.value.response.json() == {
        "title": "Unauthorized",
        "detail": "Unauthorized",
        "type": "about:blank",
        "status": 401,
    }


def test_rate_limit_headers_count_down_and_exhaust() -> None:
    clock = [1_700_000_000.0]
    with FakeXApi(rate_limits={"mentions": 2}, clock=lambda: clock[0]) as limited:
        client = _client(limited, return_type=requests.Response)
        first = client.get_users_mentions(limited.brand.id)
        assert first.headers["x-rate-limit-limit"] == "2"
        assert first.headers["x-rate-limit-remaining"] == "1"
        assert first.headers["x-rate-limit-reset"] == str(1_700_000_000 + 900)
        client.get_users_mentions(limited.brand.id)
        with pytest.raises(tweepy.TooManyRequests) as caught:
            client.get_users_mentions(limited.brand.id)
        assert caught.value.response.headers["x-rate-limit-remaining"] == "0"
        assert caught.value.response.json()["title"] == "Too Many Requests"
        clock[0] += 901  # a new 15-minute window
        assert client.get_users_mentions(limited.brand.id).headers["x-rate-limit-remaining"] == "1"


def test_app_and_user_windows_have_the_documented_defaults(fake: FakeXApi) -> None:
    app = _client(fake, return_type=requests.Response)
    assert app.get_users_mentions(fake.brand.id).headers["x-rate-limit-limit"] == "450"
    assert app.search_recent_tweets("acme").headers["x-rate-limit-limit"] == "450"
    assert app.get_me().headers["x-rate-limit-limit"] == "75"


def test_rate_limit_next(fake: FakeXApi, client: tweepy.Client) -> None:
    fake.rate_limit_next(reset_after_seconds=60)
    with pytest.raises(tweepy.TooManyRequests) as caught:
        client.get_users_mentions(fake.brand.id)
    assert caught.value.reset_time == pytest.approx(fake.now() + 60, abs=2)
    assert caught.value.response.headers["x-rate-limit-limit"] == "180"
    assert client.get_users_mentions(fake.brand.id).meta == {"result_count": 0}


def test_fail_next_and_set_down(fake: FakeXApi, client: tweepy.Client) -> None:
    fake.fail_next(503, times=2)
    for _ in range(2):
        with pytest.raises(tweepy.TwitterServerError):
            client.get_users_mentions(fake.brand.id)
    fake.set_down(True)
    with pytest.raises(tweepy.TwitterServerError, match="502"):
        client.search_recent_tweets("acme")
    fake.set_down(False)
    client.search_recent_tweets("acme")
    assert [s.status for s in fake.requests] == [503, 503, 502, 200]


def test_dropped_connection_and_malformed_json(fake: FakeXApi, client: tweepy.Client) -> None:
    fake.drop_next_connection()
    with pytest.raises(requests.ConnectionError):
        client.get_users_mentions(fake.brand.id)
    fake.malformed_next()
    with pytest.raises(requests.JSONDecodeError):
        client.get_users_mentions(fake.brand.id)
    assert client.get_users_mentions(fake.brand.id).meta == {"result_count": 0}


def test_requests_are_recorded(fake: FakeXApi, client: tweepy.Client) -> None:
    client.get_users_mentions(fake.brand.id, since_id="123", max_results=100)
    [served] = fake.calls(f"/2/users/{fake.brand.id}/mentions")
    assert served.method == "GET"
    assert served.query == {"since_id": "123", "max_results": "100"}
