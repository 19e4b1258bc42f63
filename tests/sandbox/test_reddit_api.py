"""FakeReddit exercised through the real praw / prawcore clients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import praw
import prawcore
import pytest
import requests
from praw.exceptions import RedditAPIException

from sandbox import FakeReddit

SUB = "AcmeHelp"


@pytest.fixture(autouse=True)
def _no_retry_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """prawcore sleeps 0-4 s before retrying a 5xx/401/dropped request; tests must not."""
    monkeypatch.setattr(prawcore.sessions.FiniteRetryStrategy, "_sleep_seconds", lambda _: None)


@pytest.fixture
def fake() -> Iterator[FakeReddit]:
    with FakeReddit() as server:
        yield server


def _reddit(fake: FakeReddit, **overrides: Any) -> praw.Reddit:
    settings = {
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "username": fake.username,
        "password": fake.password,
        "user_agent": "brandpulse-tests/0.1 by u/AcmeSupport",
        # The token endpoint lives at reddit_url + /api/v1/access_token, the API at oauth_url.
        "oauth_url": fake.base_url,
        "reddit_url": fake.base_url,
        "check_for_updates": False,
    }
    return praw.Reddit(**{**settings, **overrides})


@pytest.fixture
def reddit(fake: FakeReddit) -> praw.Reddit:
    return _reddit(fake)


def _raw_get(fake: FakeReddit, path: str, **params: str) -> requests.Response:
    """A plain request with a fresh script token, to see the wire format praw hides."""
    token = requests.post(
        f"{fake.base_url}/api/v1/access_token",
        auth=(fake.client_id, fake.client_secret),
        data={"grant_type": "password", "username": fake.username, "password": fake.password},
        timeout=5,
    ).json()["access_token"]
    headers = {"Authorization": f"bearer {token}"}
    return requests.get(f"{fake.base_url}{path}", params=params, headers=headers, timeout=5)


def test_script_login_and_me(fake: FakeReddit, reddit: praw.Reddit) -> None:
    assert reddit.user.me().name == "AcmeSupport"
    [token_call] = fake.calls("/api/v1/access_token")
    assert token_call.body == {
        "grant_type": "password",
        "password": fake.password,
        "username": fake.username,
    }
    assert "x-ratelimit-remaining" not in str(token_call)  # the token endpoint is not metered


def test_bad_credentials(fake: FakeReddit) -> None:
    with pytest.raises(prawcore.OAuthException, match="invalid_grant"):
        _reddit(fake, password="wrong").user.me()
    with pytest.raises(prawcore.ResponseException, match="401"):
        _reddit(fake, client_secret="wrong").user.me()


def test_bad_bearer_gets_the_recorded_401(fake: FakeReddit) -> None:
    response = requests.get(
        f"{fake.base_url}/api/v1/me", headers={"Authorization": "bearer invalid_token"}, timeout=5
    )
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized", "error": 401}
    assert response.headers["www-authenticate"] == 'Bearer realm="reddit", error="invalid_token"'


def test_read_only_app_token_reads_but_has_no_inbox(fake: FakeReddit) -> None:
    fake.post_submission(SUB, "printer on fire")
    app_only = _reddit(fake, username=None, password=None)
    assert app_only.read_only
    assert [s.title for s in app_only.subreddit(SUB).new()] == ["printer on fire"]
    with pytest.raises(prawcore.Forbidden):
        list(app_only.inbox.mentions())
    assert fake.calls("/api/v1/access_token")[0].body == {"grant_type": "client_credentials"}


def test_new_listing_pages_newest_first(fake: FakeReddit, reddit: praw.Reddit) -> None:
    posts = [fake.post_submission(SUB, f"complaint {i}", author=f"user{i}") for i in range(130)]
    fake.post_submission("elsewhere", "not ours")

    seen = [s.fullname for s in reddit.subreddit(SUB).new(limit=None)]

    assert seen == posts[::-1]
    assert [s.query.get("after") for s in fake.calls(f"/r/{SUB}/new")] == [None, posts[30]]
    assert all(p.startswith("t3_") for p in posts)


def test_listing_wire_shape(fake: FakeReddit) -> None:
    post = fake.post_submission(SUB, "Router died", "Since the update it reboots", author="dana")
    fake.post_submission(SUB, "Second")
    listing = _raw_get(fake, f"/r/{SUB}/new", limit="1", raw_json="1")
    assert listing.headers["x-ratelimit-remaining"].endswith(".0")
    assert listing.headers["x-ratelimit-reset"].isdigit()
    data = listing.json()["data"]
    assert listing.json()["kind"] == "Listing"
    assert (data["dist"], data["before"], data["modhash"], data["geo_filter"]) == (
        1,
        None,
        None,
        "",
    )
    assert data["after"] == data["children"][0]["data"]["name"]

    older = _raw_get(fake, f"/r/{SUB}/new", after=data["after"]).json()["data"]
    child = older["children"][0]
    assert child["kind"] == "t3"
    assert {k: child["data"][k] for k in ("name", "author", "title", "is_self")} == {
        "name": post,
        "author": "dana",
        "title": "Router died",
        "is_self": True,
    }
    assert child["data"]["permalink"].startswith(f"/r/{SUB}/comments/{post[3:]}/router_died/")
    assert older["after"] is None


def test_before_cursor_and_vanished_cursor(fake: FakeReddit, reddit: praw.Reddit) -> None:
    old = fake.post_submission(SUB, "old")
    cursor = fake.post_submission(SUB, "cursor")
    new = [fake.post_submission(SUB, f"new {i}") for i in range(3)]

    newer = reddit.subreddit(SUB).new(limit=100, params={"before": cursor})
    assert [s.fullname for s in newer] == new[::-1]

    fake.remove(cursor)
    assert list(reddit.subreddit(SUB).new(params={"before": cursor})) == []
    assert old in [s.fullname for s in reddit.subreddit(SUB).new()]


def test_comments_across_subreddits(fake: FakeReddit, reddit: praw.Reddit) -> None:
    ours = fake.post_submission(SUB, "help")
    theirs = fake.post_submission("gadgets", "acme thoughts")
    first = fake.post_comment(SUB, ours, "same here", author="erin")
    second = fake.post_comment("gadgets", theirs, "acme is fine", author="fred")

    comments = list(reddit.subreddit(f"{SUB}+gadgets").comments())

    assert [c.fullname for c in comments] == [second, first]
    assert comments[1].link_id == ours
    assert comments[1].parent_id == ours
    assert comments[1].author.name == "erin"
    assert [c.fullname for c in reddit.subreddit("all").comments()] == [second, first]


def test_search(fake: FakeReddit, reddit: praw.Reddit) -> None:
    router = fake.post_submission(SUB, "Acme router dead", "no lights at all")
    fake.post_submission(SUB, "Acme app", "works great")
    elsewhere = fake.post_submission("gadgets", "my acme router", "lights blinking")

    local = reddit.subreddit(SUB).search("router", sort="new")
    assert [s.fullname for s in local] == [router]
    everywhere = reddit.subreddit("all").search("acme router", sort="new")
    assert [s.fullname for s in everywhere] == [elsewhere, router]
    assert [s.fullname for s in reddit.subreddit(SUB).search('"no lights"')] == [router]


def test_mentions_and_replies_reach_the_inbox(fake: FakeReddit, reddit: praw.Reddit) -> None:
    post = fake.post_submission(SUB, "Acme is down?")
    mention = fake.post_comment(SUB, post, "pinging u/acmesupport", author="dana")
    tagged = fake.post_comment(
        SUB, post, "they should know", author="erin", mention_user="AcmeSupport"
    )
    fake.post_comment(SUB, post, "no mention here", author="fred")

    mentions = list(reddit.inbox.mentions())

    assert [m.fullname for m in mentions] == [tagged, mention]
    first = mentions[1]
    assert (first.subject, first.new, first.was_comment) == ("username mention", True, True)
    assert first.context.endswith(f"/{mention[3:]}/?context=3")
    assert fake.inbox[0]["type"] == "username_mention"

    answer = reddit.comment(mention[3:]).reply("We're looking into it")
    follow_up = fake.post_comment(
        SUB, post, "thanks!", author="dana", parent_fullname=answer.fullname
    )
    unread = list(reddit.inbox.unread())
    assert [u.fullname for u in unread] == [follow_up, tagged, mention]
    assert unread[0].subject == "comment reply"

    reddit.inbox.mark_read(unread)
    assert list(reddit.inbox.unread()) == []
    assert len(list(reddit.inbox.mentions())) == 2


def test_comment_reply_envelope_and_record(fake: FakeReddit, reddit: praw.Reddit) -> None:
    post = fake.post_submission(SUB, "refund?")
    complaint = fake.post_comment(SUB, post, "still waiting", author="dana")

    on_comment = reddit.comment(complaint[3:]).reply("Sorry! DM sent.")
    on_post = reddit.submission(post[3:]).reply("Pinned an update.")

    assert (on_comment.parent_id, on_comment.author.name) == (complaint, "AcmeSupport")
    assert on_post.parent_id == post
    assert [(c.parent_fullname, c.body) for c in fake.comments_posted] == [
        (complaint, "Sorry! DM sent."),
        (post, "Pinned an update."),
    ]
    assert fake.thing(post)["num_comments"] == 3
    assert fake.calls("/api/comment")[0].body["thing_id"] == complaint

    fake.remove(post)
    with pytest.raises(RedditAPIException, match="DELETED_LINK"):
        reddit.submission(post[3:]).reply("too late")


def test_rate_limit_headers_and_exhaustion() -> None:
    with FakeReddit(rate_limit=2) as limited:
        first = _raw_get(limited, f"/r/{SUB}/new")
        assert (first.headers["x-ratelimit-used"], first.headers["x-ratelimit-remaining"]) == (
            "1",
            "1.0",
        )
        assert _raw_get(limited, f"/r/{SUB}/new").headers["x-ratelimit-remaining"] == "0.0"
        # A fresh praw instance: one that had seen remaining=0 would sleep until the reset.
        with pytest.raises(prawcore.TooManyRequests) as caught:
            list(_reddit(limited).subreddit(SUB).new())
        assert caught.value.response.json() == {"message": "Too Many Requests", "error": 429}
        assert caught.value.response.headers["x-ratelimit-remaining"] == "0.0"


def test_rate_limit_next(fake: FakeReddit, reddit: praw.Reddit) -> None:
    reddit.user.me()  # log in first: knobs hit the next request, token endpoint included
    fake.rate_limit_next(reset_after_seconds=42)
    with pytest.raises(prawcore.TooManyRequests) as caught:
        list(reddit.subreddit(SUB).new())
    assert caught.value.response.headers["x-ratelimit-reset"] == "42"
    # prawcore now waits out the reset before its next call, so this instance is done.


def test_expired_token_is_refreshed_transparently(fake: FakeReddit, reddit: praw.Reddit) -> None:
    list(reddit.subreddit(SUB).new())
    fake.expire_tokens()
    list(reddit.subreddit(SUB).new())
    assert len(fake.calls("/api/v1/access_token")) == 2
    assert [s.status for s in fake.calls(f"/r/{SUB}/new")] == [200, 401, 200]


def test_server_errors_are_retried_then_raised(fake: FakeReddit, reddit: praw.Reddit) -> None:
    reddit.user.me()
    fake.fail_next(503)
    assert list(reddit.subreddit(SUB).new()) == []  # prawcore retried once
    fake.fail_next(500, times=3)
    with pytest.raises(prawcore.ServerError):
        list(reddit.subreddit(SUB).new())
    fake.set_down(True)
    with pytest.raises(prawcore.ServerError):
        list(reddit.subreddit(SUB).new())
    fake.set_down(False)
    statuses = [s.status for s in fake.calls(f"/r/{SUB}/new")]
    assert statuses == [503, 200, 500, 500, 500, 502, 502, 502]


def test_dropped_connection_and_malformed_json(fake: FakeReddit, reddit: praw.Reddit) -> None:
    reddit.user.me()
    fake.drop_next_connection()
    assert list(reddit.subreddit(SUB).new()) == []  # prawcore retries a dropped connection
    fake.malformed_next()
    with pytest.raises(prawcore.BadJSON):
        list(reddit.subreddit(SUB).new())
    assert [s.status for s in fake.calls(f"/r/{SUB}/new")] == [0, 200, 200]
