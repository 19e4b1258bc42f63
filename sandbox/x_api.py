"""A fake X API v2 (tweets, mentions, recent search, posting) on 127.0.0.1.

Shapes follow the tweepy cassettes in shared/data/twitter (`decoded_responses.json`): ids are
strings, every tweet carries `edit_history_tweet_ids`, collections have `meta` with
`result_count`/`newest_id`/`oldest_id`/`next_token`, and an empty page has no `data` key.
Only requested `tweet.fields` / `user.fields` are returned, as X does.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from sandbox.http import Clock, FakeServer, Reply, Request
from sandbox.x_query import (
    BadRequest,
    TimelineWindow,
    XTweet,
    XUser,
    compile_query,
    encode_token,
)
from sandbox.x_stream import StreamHub

# Twitter's snowflake epoch (2010-11-04): ids are (ms since it) << 22, so they grow with time.
_TWEPOCH_MS = 1288834974657
_WINDOW_SECONDS = 15 * 60
# Recent search only sees the last seven days.
_RECENT_SEARCH_SECONDS = 7 * 24 * 3600

# Requests per 15-minute window as (per app, per user). Sources: docs.x.com
# /x-api/fundamentals/rate-limits (search recent 450 app / 300 user); the shared cassettes'
# x-rate-limit-limit headers (mentions 450 with an app token, users/me 75, users/by/username 300,
# POST /2/tweets 200 per user); the v2 mentions reference (180 per user).
DEFAULT_RATE_LIMITS: dict[str, tuple[int, int]] = {
    "users_me": (75, 75),
    "user_by_username": (300, 900),
    "mentions": (450, 180),
    "search_recent": (450, 300),
    "create_tweet": (200, 200),
}

_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"/2/users/me"), "users_me"),
    ("GET", re.compile(r"/2/users/by/username/(?P<username>\w+)"), "user_by_username"),
    ("GET", re.compile(r"/2/users/(?P<user_id>\d+)/mentions"), "mentions"),
    ("GET", re.compile(r"/2/tweets/search/recent"), "search_recent"),
    ("POST", re.compile(r"/2/tweets"), "create_tweet"),
]

_USER_CONTEXT_ONLY = {"users_me", "create_tweet"}


@dataclass(frozen=True)
class PostedTweet:
    """A tweet the client created through POST /2/tweets."""

    id: str
    text: str
    in_reply_to_tweet_id: str | None


@dataclass
class _Window:
    limit: int
    remaining: int
    reset_at: int


class FakeXApi(FakeServer):
    """X API v2 with a brand account, users and tweets; see the module docstring for shapes."""

    def __init__(
        self,
        *,
        brand_username: str = "AcmeSupport",
        brand_user_id: str = "1570000000000000001",
        brand_name: str = "Acme Support",
        bearer_token: str = "test-bearer-token",
        user_token: str = "test-user-token",
        consumer_key: str = "test-consumer-key",
        access_token: str = "test-access-token",
        rate_limits: Mapping[str, int] | None = None,
        reject_duplicates: bool = True,
        port: int = 0,
        clock: Clock = time.time,
        stream_keepalive: float = 20.0,
    ) -> None:
        super().__init__(port=port, clock=clock)
        self.bearer_token = bearer_token
        self.user_token = user_token
        self.consumer_key = consumer_key
        self.access_token = access_token
        self.reject_duplicates = reject_duplicates
        self._limit_overrides = dict(rate_limits or {})
        self._users: dict[str, XUser] = {}
        self._tweets: dict[str, XTweet] = {}
        # Insertion order is id order: ids are allocated monotonically.
        self._timeline: list[XTweet] = []
        self._windows: dict[tuple[str, str], _Window] = {}
        self._last_id = 0
        self.posted: list[PostedTweet] = []
        self.brand = self._add_user(brand_user_id, brand_username, brand_name, 0, False)
        # The filtered stream and its rules (sandbox/x_stream.py), fed by `_add_tweet`.
        self.stream = StreamHub(
            self._lock, self._users, self._stream_render, self.now, stream_keepalive
        )

    # -- knobs ---------------------------------------------------------------------------------

    def post_tweet(
        self,
        text: str,
        author_username: str,
        *,
        followers: int = 100,
        verified: bool = False,
        created_at: datetime | float | None = None,
        lang: str = "en",
        in_reply_to: str | None = None,
        conversation_id: str | None = None,
        retweet_of: str | None = None,
        name: str | None = None,
    ) -> str:
        """Publish a tweet by `author_username` (created on first use); returns its id.

        A text containing `@<brand_username>` is a mention of the brand.
        """
        with self._lock:
            author = self.user(author_username) or self._add_user(
                self._next_id(), author_username, name or author_username, followers, verified
            )
            author.followers, author.verified = followers, verified
            when = created_at.timestamp() if isinstance(created_at, datetime) else created_at
            tweet = self._add_tweet(
                text, author, when, lang, in_reply_to, conversation_id, retweet_of
            )
            return tweet.id

    def user(self, username: str) -> XUser | None:
        with self._lock:
            return next(
                (u for u in self._users.values() if u.username.lower() == username.lower()),
                None,
            )

    def tweet(self, tweet_id: str) -> XTweet | None:
        with self._lock:
            return self._tweets.get(tweet_id)

    # -- state ---------------------------------------------------------------------------------

    def _add_user(
        self, user_id: str, username: str, name: str, followers: int, verified: bool
    ) -> XUser:
        user = XUser(user_id, username, name, followers, verified, self.now())
        self._users[user_id] = user
        return user

    def _add_tweet(
        self,
        text: str,
        author: XUser,
        created_at: float | None,
        lang: str,
        in_reply_to: str | None,
        conversation_id: str | None,
        retweet_of: str | None,
    ) -> XTweet:
        tweet_id = self._next_id()
        parent = self._tweets.get(in_reply_to) if in_reply_to else None
        tweet = XTweet(
            id=tweet_id,
            text=text,
            author_id=author.id,
            created_at=self.now() if created_at is None else created_at,
            lang=lang,
            conversation_id=conversation_id or (parent.conversation_id if parent else tweet_id),
            in_reply_to_tweet_id=in_reply_to,
            in_reply_to_user_id=parent.author_id if parent else None,
            retweet_of=retweet_of,
        )
        self._tweets[tweet_id] = tweet
        self._timeline.append(tweet)
        self.stream.publish(tweet)
        return tweet

    def _next_id(self) -> str:
        snowflake = (int(self.now() * 1000) - _TWEPOCH_MS) << 22
        self._last_id = max(snowflake, self._last_id + 1)
        return str(self._last_id)

    # -- HTTP ----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        context = self._auth_context(request)
        if context is None:
            return self.error_reply(401, request)
        if request.path.startswith("/2/tweets/search/stream"):
            if context != "app":
                return _unsupported_authentication("OAuth 2.0 Application-Only")
            streamed = self.stream.handle(request)
            return streamed if streamed is not None else self.error_reply(404, request)
        route = _match(request)
        if route is None:
            return self.error_reply(404, request)
        endpoint, args = route
        if endpoint in _USER_CONTEXT_ONLY and context == "app":
            return _unsupported_authentication("OAuth 1.0a User Context, OAuth 2.0 User Context")
        with self._lock:
            window = self._window(endpoint, context)
            if window.remaining <= 0:
                return self._too_many(window.limit, window.reset_at)
            window.remaining -= 1
            try:
                reply = self._endpoint(endpoint, request, args)
            except BadRequest as bad:
                reply = _invalid_request(bad)
        reply.headers.update(_rate_headers(window.limit, window.remaining, window.reset_at))
        return reply

    def error_reply(self, status: int, request: Request) -> Reply:
        phrase = HTTPStatus(status).phrase
        body = {"title": phrase, "detail": phrase, "type": "about:blank", "status": status}
        return Reply(status, body)

    def rate_limited_reply(self, request: Request, reset_after: float) -> Reply:
        route = _match(request)
        limit = self._limit(route[0], "user") if route else 0
        return self._too_many(limit, int(self.now() + reset_after))

    def _too_many(self, limit: int, reset_at: int) -> Reply:
        reply = self.error_reply(429, Request("GET", "", {}, None, {}))
        reply.headers.update(_rate_headers(limit, 0, reset_at))
        return reply

    def _auth_context(self, request: Request) -> str | None:
        """'app' for the app bearer token, 'user' for user context, None when unauthorized."""
        authorization = request.header("authorization")
        if authorization == f"Bearer {self.bearer_token}":
            return "app"
        if authorization == f"Bearer {self.user_token}":
            return "user"
        if authorization.startswith("OAuth "):
            # OAuth 1.0a: check who signs, not the signature (the tests own both secrets).
            oauth = {k: unquote(v) for k, v in re.findall(r'(\w+)="([^"]*)"', authorization)}
            if (oauth.get("oauth_consumer_key"), oauth.get("oauth_token")) == (
                self.consumer_key,
                self.access_token,
            ):
                return "user"
        return None

    def _limit(self, endpoint: str, context: str) -> int:
        per_app, per_user = DEFAULT_RATE_LIMITS[endpoint]
        default = per_app if context == "app" else per_user
        return self._limit_overrides.get(endpoint, default)

    def _window(self, endpoint: str, context: str) -> _Window:
        now = self.now()
        window = self._windows.get((endpoint, context))
        if window is None or now >= window.reset_at:
            limit = self._limit(endpoint, context)
            window = _Window(limit, limit, int(now) + _WINDOW_SECONDS)
            self._windows[(endpoint, context)] = window
        return window

    def _endpoint(self, endpoint: str, request: Request, args: dict[str, str]) -> Reply:
        match endpoint:
            case "users_me":
                return Reply(200, {"data": _user_json(self.brand, _fields(request.query, "user"))})
            case "user_by_username":
                return self._user_by_username(request, args["username"])
            case "mentions":
                return self._mentions(request, args["user_id"])
            case "search_recent":
                return self._search_recent(request)
            case _:
                return self._create_tweet(request)

    def _user_by_username(self, request: Request, username: str) -> Reply:
        user = self.user(username)
        if user is None:
            return Reply(200, {"errors": [_not_found("username", username)]})
        return Reply(200, {"data": _user_json(user, _fields(request.query, "user"))})

    def _mentions(self, request: Request, user_id: str) -> Reply:
        user = self._users.get(user_id)
        if user is None:
            return Reply(200, {"errors": [_not_found("id", user_id)]})
        mention = re.compile(rf"(?<!\w)@{re.escape(user.username)}(?!\w)", re.IGNORECASE)
        return self._page(request, lambda t: bool(mention.search(t.text)))

    def _search_recent(self, request: Request) -> Reply:
        query = request.query.get("query", "")
        if not query:
            raise BadRequest("query", "", "The `query` query parameter can not be empty")
        matches = compile_query(query, self._users)
        oldest = self.now() - _RECENT_SEARCH_SECONDS
        return self._page(request, lambda t: t.created_at >= oldest and matches(t))

    def _page(self, request: Request, keep: Callable[[XTweet], bool]) -> Reply:
        window = TimelineWindow.from_query(request.query)
        candidates = (t for t in reversed(self._timeline) if window.admits(t) and keep(t))
        page = [t for _, t in zip(range(window.max_results + 1), candidates, strict=False)]
        has_more = len(page) > window.max_results
        page = page[: window.max_results]
        if not page:
            return Reply(200, {"meta": {"result_count": 0}})
        data, includes = self._rendered(page, request.query)
        body: dict[str, Any] = {"data": data}
        if includes:
            body["includes"] = includes
        meta: dict[str, Any] = {
            "result_count": len(page),
            "newest_id": page[0].id,
            "oldest_id": page[-1].id,
        }
        if has_more:
            meta["next_token"] = encode_token(page[-1].id)
        body["meta"] = meta
        return Reply(200, body)

    def _rendered(
        self, tweets: list[XTweet], query: dict[str, str]
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Tweets and their expansions as X renders them for this request's fields."""
        tweet_fields, user_fields = _fields(query, "tweet"), _fields(query, "user")
        data = [_tweet_json(t, tweet_fields) for t in tweets]
        if "author_id" not in query.get("expansions", "").split(","):
            return data, {}
        authors = {t.author_id: self._users[t.author_id] for t in tweets}
        return data, {"users": [_user_json(u, user_fields) for u in authors.values()]}

    def _stream_render(
        self, tweet: XTweet, query: dict[str, str]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        data, includes = self._rendered([tweet], query)
        return data[0], includes

    def _on_stop(self) -> None:
        self.stream.stop()

    def _create_tweet(self, request: Request) -> Reply:
        body = request.body if isinstance(request.body, dict) else {}
        text = str(body.get("text") or "")
        if not text:
            raise BadRequest("text", "", "The `text` field is required")
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if reply_to is not None and str(reply_to) not in self._tweets:
            return _forbidden(
                "You attempted to reply to a Tweet that is deleted or not visible to you."
            )
        if self.reject_duplicates and any(p.text == text for p in self.posted):
            return _forbidden("You are not allowed to create a Tweet with duplicate content.")
        reply_to = str(reply_to) if reply_to is not None else None
        tweet = self._add_tweet(text, self.brand, None, "en", reply_to, None, None)
        self.posted.append(PostedTweet(tweet.id, text, reply_to))
        data = {"id": tweet.id, "text": text, "edit_history_tweet_ids": [tweet.id]}
        return Reply(201, {"data": data}, {"location": f"{self.base_url}/2/tweets/{tweet.id}"})


def _match(request: Request) -> tuple[str, dict[str, str]] | None:
    for method, pattern, endpoint in _ROUTES:
        found = pattern.fullmatch(request.path.rstrip("/"))
        if found and request.method == method:
            return endpoint, found.groupdict()
    return None


def _fields(query: dict[str, str], kind: str) -> set[str]:
    return {f for f in query.get(f"{kind}.fields", "").split(",") if f}


def _iso(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _tweet_json(tweet: XTweet, fields: set[str]) -> dict[str, Any]:
    available: dict[str, Any] = {
        "author_id": tweet.author_id,
        "created_at": _iso(tweet.created_at),
        "conversation_id": tweet.conversation_id,
        "lang": tweet.lang,
        "public_metrics": {
            "retweet_count": 0,
            "reply_count": 0,
            "like_count": 0,
            "quote_count": 0,
            "bookmark_count": 0,
            "impression_count": 0,
        },
    }
    if tweet.in_reply_to_user_id:
        available["in_reply_to_user_id"] = tweet.in_reply_to_user_id
    references = [("replied_to", tweet.in_reply_to_tweet_id), ("retweeted", tweet.retweet_of)]
    if any(ref for _, ref in references):
        available["referenced_tweets"] = [{"type": k, "id": ref} for k, ref in references if ref]
    body = {"edit_history_tweet_ids": [tweet.id], "id": tweet.id, "text": tweet.text}
    body.update({k: v for k, v in available.items() if k in fields})
    return body


def _user_json(user: XUser, fields: set[str]) -> dict[str, Any]:
    available: dict[str, Any] = {
        "created_at": _iso(user.created_at),
        "description": "",
        "protected": False,
        "verified": user.verified,
        "public_metrics": {
            "followers_count": user.followers,
            "following_count": 0,
            "tweet_count": 0,
            "listed_count": 0,
            "like_count": 0,
        },
    }
    body: dict[str, Any] = {"id": user.id, "name": user.name, "username": user.username}
    body.update({k: v for k, v in available.items() if k in fields})
    return body


def _rate_headers(limit: int, remaining: int, reset_at: int) -> dict[str, str]:
    return {
        "x-rate-limit-limit": str(limit),
        "x-rate-limit-remaining": str(remaining),
        "x-rate-limit-reset": str(reset_at),
    }


def _not_found(parameter: str, value: str) -> dict[str, str]:
    return {
        "value": value,
        "detail": f"Could not find user with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": "user",
        "parameter": parameter,
        "resource_id": value,
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }


def _forbidden(detail: str) -> Reply:
    body = {"detail": detail, "type": "about:blank", "title": "Forbidden", "status": 403}
    return Reply(403, body)


def _unsupported_authentication(supported: str) -> Reply:
    used = "OAuth 1.0a User Context" if "Application" in supported else "OAuth 2.0 Application-Only"
    detail = (
        f"Authenticating with {used} is forbidden for this endpoint.  "
        f"Supported authentication types are [{supported}]."
    )
    body = {
        "title": "Unsupported Authentication",
        "detail": detail,
        "type": "https://api.twitter.com/2/problems/unsupported-authentication",
        "status": 403,
    }
    return Reply(403, body)


def _invalid_request(bad: BadRequest) -> Reply:
    body = {
        "errors": [{"parameters": {bad.parameter: [bad.value]}, "message": bad.message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }
    return Reply(400, body)
