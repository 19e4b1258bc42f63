"""A fake Reddit OAuth API (token endpoint, listings, search, inbox, commenting) on 127.0.0.1.

Shapes follow the praw cassettes in shared/data/reddit: `Listing` envelopes with
`after`/`before`/`dist`/`modhash`/`geo_filter`, submission (t3) and comment (t1) fields as
recorded, inbox items with `type`/`subject`/`context`/`new`/`was_comment`, the
`{"json": {"errors", "data": {"things"}}}` reply envelope, `{"message", "error"}` error bodies,
and `x-ratelimit-remaining` (a float string) / `-used` / `-reset` (integer seconds) headers.
The token endpoint and the API share one server: point both `reddit_url` and `oauth_url` at it.
"""

from __future__ import annotations

import base64
import copy
import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from sandbox.http import Clock, FakeServer, Reply, Request, base36
from sandbox.reddit_things import inbox_item, new_comment, submission

# Reddit's Data API allows 100 queries per minute per OAuth client, averaged over 10 minutes.
DEFAULT_RATE_LIMIT = 1000
DEFAULT_RATE_WINDOW_SECONDS = 600
_TOKEN_LIFETIME_SECONDS = 86400  # as in the 2025 recordings
_MENTION = re.compile(r"(?<![\w/])/?u/(?P<name>[\w-]{3,20})", re.IGNORECASE)
_LISTING = re.compile(r"/r/(?P<subs>[\w+]+)/(?P<kind>new|comments|search)")
_USER_COMMENTS = re.compile(r"/user/(?P<name>[\w-]+)/comments")


@dataclass(frozen=True)
class PostedComment:
    """A comment the client made through POST /api/comment."""

    fullname: str
    parent_fullname: str
    body: str


@dataclass
class _Token:
    user: str | None  # None for app-only (client_credentials) tokens
    expires_at: float


class FakeReddit(FakeServer):
    """Reddit with subreddits, submissions, comments and the brand account's inbox."""

    def __init__(
        self,
        *,
        client_id: str = "test-client-id",
        client_secret: str = "test-client-secret",
        username: str = "AcmeSupport",
        password: str = "test-password",
        rate_limit: int = DEFAULT_RATE_LIMIT,
        rate_window_seconds: int = DEFAULT_RATE_WINDOW_SECONDS,
        port: int = 0,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(port=port, clock=clock)
        self.client_id, self.client_secret = client_id, client_secret
        self.username, self.password = username, password
        self.rate_limit, self.rate_window_seconds = rate_limit, rate_window_seconds
        self._tokens: dict[str, _Token] = {}
        self._used: dict[int, int] = {}
        self._window_origin: float | None = None
        # Every thing by fullname, plus creation order (= id order, newest last).
        self._things: dict[str, dict[str, Any]] = {}
        self._order: list[str] = []
        self._removed: set[str] = set()
        self._inbox: list[dict[str, Any]] = []
        self._subreddits: dict[str, dict[str, str]] = {}
        # Counters seeded near the recorded ids, so fullnames look like Reddit's.
        self._next_id = {
            "t1": int("mynf000", 36),
            "t2": int("3efd000", 36),
            "t3": int("1j7g000", 36),
            "t5": int("2qh1000", 36),
        }
        self._accounts: dict[str, str] = {}
        self.comments_posted: list[PostedComment] = []

    # -- knobs ---------------------------------------------------------------------------------

    def post_submission(
        self,
        subreddit: str,
        title: str,
        selftext: str = "",
        author: str = "some_redditor",
        created_utc: float | None = None,
    ) -> str:
        """A self post appears in r/`subreddit`; returns its fullname (`t3_…`)."""
        with self._lock:
            sub = self._subreddit(subreddit)
            post_id = self._new_id("t3")
            created = self.now() if created_utc is None else created_utc
            data = submission(sub, post_id, title, selftext, author, self._account(author), created)
            return self._add(data)

    def post_comment(
        self,
        subreddit: str,
        link_fullname: str,
        body: str,
        author: str = "some_redditor",
        mention_user: str | None = None,
        parent_fullname: str | None = None,
        created_utc: float | None = None,
    ) -> str:
        """A comment under `link_fullname` (or under `parent_fullname`); returns `t1_…`.

        Reaches the brand's inbox as `username_mention` when the body says u/<brand> or
        `mention_user` is the brand, or as `comment_reply`/`post_reply` when it answers
        something the brand wrote, as on Reddit.
        """
        with self._lock:
            link = self._things[link_fullname]
            if link["subreddit"].lower() != subreddit.lower():
                raise ValueError(f"{link_fullname} is in r/{link['subreddit']}, not r/{subreddit}")
            comment = self._new_comment(link, parent_fullname or link_fullname, body, author)
            if created_utc is not None:
                comment["created"] = comment["created_utc"] = created_utc
            self._notify_brand(comment, mention_user)
            return comment["name"]

    def remove(self, fullname: str) -> None:
        """Take a thing out of every listing (moderator removal, spam filter, deletion)."""
        with self._lock:
            self._removed.add(fullname)

    def expire_tokens(self) -> None:
        """Invalidate every issued access token, as when an hour-long token runs out."""
        with self._lock:
            self._tokens.clear()

    def thing(self, fullname: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._things[fullname])

    @property
    def inbox(self) -> list[dict[str, Any]]:
        """The brand's inbox items, newest first."""
        with self._lock:
            return copy.deepcopy(self._inbox[::-1])

    # -- state ---------------------------------------------------------------------------------

    def _new_id(self, kind: str) -> str:
        self._next_id[kind] += 1
        return base36(self._next_id[kind])

    def _account(self, name: str) -> str:
        if name.lower() not in self._accounts:
            self._accounts[name.lower()] = f"t2_{self._new_id('t2')}"
        return self._accounts[name.lower()]

    def _subreddit(self, name: str) -> dict[str, str]:
        key = name.lower()
        if key not in self._subreddits:
            self._subreddits[key] = {"name": name, "id": f"t5_{self._new_id('t5')}"}
        return self._subreddits[key]

    def _add(self, data: dict[str, Any]) -> str:
        self._things[data["name"]] = data
        self._order.append(data["name"])
        return data["name"]

    def _new_comment(
        self, link: dict[str, Any], parent_fullname: str, body: str, author: str
    ) -> dict[str, Any]:
        comment_id = self._new_id("t1")
        now = self.now()
        link["num_comments"] += 1
        comment = new_comment(
            link, parent_fullname, comment_id, body, author, self._account(author), now
        )
        self._add(comment)
        return comment

    def _notify_brand(self, comment: dict[str, Any], mention_user: str | None) -> None:
        brand = self.username.lower()
        if comment["author"].lower() == brand:
            return
        parent = self._things.get(comment["parent_id"], {})
        if parent.get("author", "").lower() == brand:
            kind = "comment_reply" if parent["name"].startswith("t1_") else "post_reply"
        elif (mention_user or "").lower() == brand or any(
            m["name"].lower() == brand for m in _MENTION.finditer(comment["body"])
        ):
            kind = "username_mention"
        else:
            return
        link = self._things[comment["link_id"]]
        self._inbox.append(inbox_item(comment, link, kind, self.username))

    # -- HTTP ----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        path = request.path.rstrip("/").removesuffix(".json")
        if path == "/api/v1/access_token" and request.method == "POST":
            return self._access_token(request)
        with self._lock:
            token = self._bearer(request)
            if token is None:
                reply = self.error_reply(401, request)
                reply.headers["www-authenticate"] = 'Bearer realm="reddit", error="invalid_token"'
                return reply
            window = self._window_index()
            used = self._used.get(window, 0)
            if used >= self.rate_limit:
                return self.rate_limited_reply(request, self._seconds_to_reset())
            self._used[window] = used + 1
            reply = self._route(request.method, path, request, token)
            reply.headers.update(self._rate_headers(used + 1))
            return reply

    def error_reply(self, status: int, request: Request) -> Reply:
        return Reply(status, {"message": HTTPStatus(status).phrase, "error": status})

    def rate_limited_reply(self, request: Request, reset_after: float) -> Reply:
        reply = self.error_reply(429, request)
        reply.headers.update(
            {
                "x-ratelimit-remaining": "0.0",
                "x-ratelimit-used": str(self.rate_limit),
                "x-ratelimit-reset": str(math.ceil(reset_after)),
            }
        )
        return reply

    def _window_index(self) -> int:
        return int(self._window_elapsed() // self.rate_window_seconds)

    def _window_elapsed(self) -> float:
        if self._window_origin is None:
            # Reddit's windows run on their own schedule; start the client half-way into one.
            # prawcore paces (sleeps) when a young window is busy, which would slow short tests.
            self._window_origin = self.now() - self.rate_window_seconds / 2
        return self.now() - self._window_origin

    def _seconds_to_reset(self) -> int:
        return math.ceil(
            self.rate_window_seconds - self._window_elapsed() % self.rate_window_seconds
        )

    def _rate_headers(self, used: int) -> dict[str, str]:
        return {
            "x-ratelimit-remaining": f"{float(self.rate_limit - used):.1f}",
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(self._seconds_to_reset()),
        }

    def _access_token(self, request: Request) -> Reply:
        if _basic_auth(request) != (self.client_id, self.client_secret):
            return self.error_reply(401, request)
        form = request.body if isinstance(request.body, dict) else {}
        grant = form.get("grant_type")
        if grant == "password":
            if (form.get("username"), form.get("password")) != (self.username, self.password):
                # Reddit answers a bad password with 200 and an error field.
                return Reply(200, {"error": "invalid_grant"})
            user: str | None = self.username
        elif grant == "client_credentials":
            user = None
        else:
            return Reply(200, {"error": "unsupported_grant_type"})
        access_token = f"{secrets.randbelow(10**12)}-{secrets.token_urlsafe(20)}"
        with self._lock:
            self._tokens[access_token] = _Token(user, self.now() + _TOKEN_LIFETIME_SECONDS)
        body = {
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": _TOKEN_LIFETIME_SECONDS,
            "scope": "*",
        }
        return Reply(200, body)

    def _bearer(self, request: Request) -> _Token | None:
        scheme, _, value = request.header("authorization").partition(" ")
        token = self._tokens.get(value) if scheme.lower() == "bearer" else None
        if token is None or token.expires_at <= self.now():
            return None
        return token

    def _route(self, method: str, path: str, request: Request, token: _Token) -> Reply:
        params = request.params
        listing = _LISTING.fullmatch(path)
        if method == "GET" and listing:
            return self._subreddit_listing(listing["subs"], listing["kind"], params)
        if method == "GET" and path == "/search":
            return Reply(200, self._listing(self._search(None, params), params))
        profile = _USER_COMMENTS.fullmatch(path)
        if method == "GET" and profile:
            # A user's comments, newest first (praw: `redditor.comments.new()`).
            name = profile["name"].lower()
            mine = [c for c in self._newest("t1", None) if c["author"].lower() == name]
            return Reply(200, self._listing(mine, params))
        user_routes: dict[tuple[str, str], Callable[[dict[str, Any]], Reply]] = {
            ("GET", "/api/v1/me"): self._me,
            ("GET", "/message/mentions"): self._mentions,
            ("GET", "/message/unread"): self._unread,
            ("GET", "/message/inbox"): lambda p: Reply(200, self._listing(self._inbox[::-1], p)),
            ("POST", "/api/comment"): self._comment,
            ("POST", "/api/read_message"): self._read_message,
        }
        handler = user_routes.get((method, path))
        if handler is None:
            return self.error_reply(404, request)
        if token.user is None:
            # Application-only tokens have no account behind them.
            return self.error_reply(403, request)
        return handler(params)

    def _subreddit_listing(self, subs: str, kind: str, params: dict[str, Any]) -> Reply:
        if kind == "search":
            restrict = str(params.get("restrict_sr", "")).lower() in ("1", "on", "true")
            things = self._search(subs if restrict else None, params)
        else:
            things = self._newest("t3" if kind == "new" else "t1", subs)
        return Reply(200, self._listing(things, params))

    def _newest(self, kind: str, subs: str | None) -> list[dict[str, Any]]:
        wanted = None if subs is None else {s.lower() for s in subs.split("+")} - {"all"} or None
        return [
            self._things[name]
            for name in reversed(self._order)
            if name.startswith(kind)
            and name not in self._removed
            and (wanted is None or self._things[name]["subreddit"].lower() in wanted)
        ]

    def _search(self, subs: str | None, params: dict[str, Any]) -> list[dict[str, Any]]:
        terms = [t.strip('"').lower() for t in re.findall(r'"[^"]+"|\S+', str(params.get("q", "")))]
        return [
            post
            for post in self._newest("t3", subs)
            if all(term in f"{post['title']}\n{post['selftext']}".lower() for term in terms)
        ]

    def _listing(self, things: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        """A page of `things` (newest first) honouring limit/after/before, Reddit-style."""
        limit = min(max(int(params.get("limit") or 25), 1), 100)
        names = [t["name"] for t in things]
        cursor = params.get("after") or params.get("before")
        if cursor and cursor not in names:
            # Reddit answers a cursor that vanished (deleted, removed) with an empty page.
            start = end = 0
        elif params.get("after"):
            start = names.index(params["after"]) + 1
            end = start + limit
        elif params.get("before"):
            end = names.index(params["before"])
            start = max(0, end - limit)
        else:
            start, end = 0, limit
        page = things[start:end]
        # As recorded (TestSubredditStreams): a `before` page carries no `after` cursor.
        more_older = end < len(things) and not params.get("before")
        return {
            "kind": "Listing",
            "data": {
                "after": page[-1]["name"] if page and more_older else None,
                "dist": len(page),
                "modhash": None,
                "geo_filter": "",
                "children": [{"kind": t["name"][:2], "data": copy.deepcopy(t)} for t in page],
                "before": page[0]["name"] if page and start > 0 else None,
            },
        }

    def _me(self, _: dict[str, Any]) -> Reply:
        body = {
            "name": self.username,
            "id": self._account(self.username).removeprefix("t2_"),
            "created": 1420070400.0,
            "created_utc": 1420070400.0,
            "link_karma": 1,
            "comment_karma": 1,
            "total_karma": 2,
            "has_verified_email": True,
            "is_suspended": False,
            "is_mod": False,
            "is_gold": False,
            "verified": True,
            "icon_img": "",
            "inbox_count": sum(item["new"] for item in self._inbox),
        }
        return Reply(200, body)

    def _mentions(self, params: dict[str, Any]) -> Reply:
        mentions = [i for i in self._inbox[::-1] if i["type"] == "username_mention"]
        return Reply(200, self._listing(mentions, params))

    def _unread(self, params: dict[str, Any]) -> Reply:
        unread = [i for i in self._inbox[::-1] if i["new"]]
        listing = self._listing(unread, params)
        if str(params.get("mark", "")).lower() == "true":
            self._mark_read({child["data"]["name"] for child in listing["data"]["children"]})
        return Reply(200, listing)

    def _read_message(self, params: dict[str, Any]) -> Reply:
        self._mark_read(set(str(params.get("id", "")).split(",")))
        return Reply(200, {})

    def _mark_read(self, fullnames: set[str]) -> None:
        for item in self._inbox:
            if item["name"] in fullnames:
                item["new"] = False

    def _comment(self, params: dict[str, Any]) -> Reply:
        parent_name, text = str(params.get("thing_id", "")), str(params.get("text", ""))
        parent = self._things.get(parent_name)
        if parent is None or parent_name in self._removed:
            return Reply(200, _comment_error(parent_name))
        link = parent if parent_name.startswith("t3_") else self._things[parent["link_id"]]
        comment = self._new_comment(link, parent_name, text, self.username)
        self.comments_posted.append(PostedComment(comment["name"], parent_name, text))
        things = [{"kind": "t1", "data": copy.deepcopy(comment)}]
        return Reply(200, {"json": {"errors": [], "data": {"things": things}}})


def _comment_error(parent_name: str) -> dict[str, Any]:
    if parent_name.startswith("t3_"):
        error = ["DELETED_LINK", "the link you are commenting on has been deleted", "parent"]
    else:
        error = ["DELETED_COMMENT", "that comment has been deleted", "parent"]
    return {"json": {"errors": [error]}}


def _basic_auth(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.header("authorization").partition(" ")
    if scheme.lower() != "basic":
        return None
    user, _, password = base64.b64decode(encoded).decode().partition(":")
    return user, password
