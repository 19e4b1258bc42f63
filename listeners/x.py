"""X (Twitter) API v2: the brand account's mentions and configured searches, via tweepy.

Cursor: JSON `{"since_id": …}`. When a burst is bigger than one poll may fetch, the cursor also
remembers the gap still to fill (`until_id`, `high`), so the next poll continues downwards from
where this one stopped and the cursor never jumps past a tweet nobody fetched.
"""

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import requests
import tweepy

from core.http import BaseUrlSession
from core.mention import Mention
from listeners.base import (
    Batch,
    GapCursor,
    ListenerAuthFailed,
    ListenerUnavailable,
    RateBudget,
    RateLimited,
)
from listeners.x_config import TWEEPY_HOST, XConfig

log = logging.getLogger(__name__)

TWEET_FIELDS = ["created_at", "author_id", "conversation_id", "referenced_tweets", "lang"]
USER_FIELDS = ["username", "name", "public_metrics", "verified"]


def make_client(config: XConfig) -> tweepy.Client:
    """One tweepy client for the process; raw responses so rate-limit headers can be read."""
    client = tweepy.Client(
        bearer_token=config.bearer_token.get_secret_value() or None,
        consumer_key=config.consumer_key.get_secret_value() or None,
        consumer_secret=config.consumer_secret.get_secret_value() or None,
        access_token=config.access_token.get_secret_value() or None,
        access_token_secret=config.access_token_secret.get_secret_value() or None,
        return_type=requests.Response,
        wait_on_rate_limit=False,  # it would sleep inside the event loop's worker thread
    )
    client.session = BaseUrlSession(TWEEPY_HOST, config.api_base, config.timeout.total_seconds())
    return client


class XCursor(GapCursor):
    __slots__ = ()
    KEYS = ("since_id", "until_id", "high")  # X's own parameter names


class XListener:
    platform: ClassVar[str] = "x"

    def __init__(
        self,
        source: str,
        config: XConfig,
        client: tweepy.Client,
        *,
        query: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        """A source reading the brand account's mentions (`query` None) or a recent search."""
        self.source = source
        self.config = config
        self.client = client
        self.query = query
        self.clock = clock
        self._user_id: str | None = None

    async def fetch(self, cursor: str | None) -> Batch:
        return await asyncio.to_thread(self._fetch, XCursor.parse(cursor))

    def _fetch(self, cursor: XCursor) -> Batch:
        calls = 0
        if self.query is None and self._user_id is None:
            self._user_id = self._resolve_account()
            calls += 1
        params: dict[str, Any] = {
            "max_results": 100,
            "expansions": "author_id",
            "tweet.fields": ",".join(TWEET_FIELDS),
            "user.fields": ",".join(USER_FIELDS),
        }
        if cursor.since:
            params["since_id"] = cursor.since
        else:
            # First start: only what is still worth answering, never the account's whole history.
            start = self.clock() - self.config.backfill
            params["start_time"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
        if cursor.until:
            params["until_id"] = cursor.until
        mentions: list[Mention] = []
        skipped: list[str] = []
        newest: str | None = None
        oldest: str | None = None
        rate: RateBudget | None = None
        next_token: str | None = None
        for _ in range(self.config.max_pages_per_poll):
            if next_token:
                params["pagination_token"] = next_token
            body, rate = self._get(params)
            calls += 1
            meta = body.get("meta") or {}
            included = (body.get("includes") or {}).get("users") or []
            # A junk entry among the users must cost only the tweets that point at it.
            users = {u.get("id"): u for u in included if isinstance(u, dict)}
            for tweet in body.get("data") or []:
                try:
                    mentions.append(self.mention(tweet, users))
                except (KeyError, TypeError, ValueError) as exc:
                    skipped.append(f"tweet {str(tweet)[:200]!r}: {exc!r}")
            if meta.get("newest_id") and newest is None:
                newest = meta["newest_id"]
            oldest = meta.get("oldest_id") or oldest
            next_token = meta.get("next_token")
            if not next_token:
                break
        return Batch(
            mentions=mentions,
            next_cursor=cursor.advanced(newest, oldest, complete=not next_token),
            calls=calls,
            rate=rate,
            more=bool(next_token),
            skipped=skipped,
        )

    def _resolve_account(self) -> str:
        if self.config.account:
            body, _ = self._call(lambda: self.client.get_user(username=self.config.account))
        else:
            body, _ = self._call(lambda: self.client.get_me(user_auth=self.config.can_post))
        try:
            return str(body["data"]["id"])
        except (KeyError, TypeError) as exc:
            raise ListenerUnavailable(f"X user lookup returned no id: {str(body)[:200]}") from exc

    def _get(self, params: dict[str, Any]) -> tuple[dict[str, Any], RateBudget | None]:
        if self.query is None:
            route = f"/2/users/{self._user_id}/mentions"
        else:
            route = "/2/tweets/search/recent"
            params = {**params, "query": self.query}
        return self._call(lambda: self.client.request("GET", route, params=params))

    def _call(self, request: Callable[[], Any]) -> tuple[dict[str, Any], RateBudget | None]:
        try:
            response = request()
        except tweepy.TooManyRequests as exc:
            reset = _rate_budget(exc.response)
            reset_at = reset.reset_at if reset else self.clock() + timedelta(minutes=15)
            raise RateLimited("X API rate limit reached (429)", reset_at) from None
        except (tweepy.Unauthorized, tweepy.Forbidden) as exc:
            raise ListenerAuthFailed(f"X API refused the credentials ({_status(exc)})") from None
        except tweepy.TwitterServerError as exc:
            raise ListenerUnavailable(f"X API server error ({_status(exc)})") from None
        except tweepy.HTTPException as exc:
            raise ListenerUnavailable(f"X API error ({_status(exc)})") from None
        except requests.RequestException as exc:
            raise ListenerUnavailable(f"X API unreachable ({type(exc).__name__})") from None
        try:
            body = response.json()
        except ValueError:
            raise ListenerUnavailable("X API sent a malformed (non-JSON) response") from None
        if not isinstance(body, dict):
            raise ListenerUnavailable("X API sent an unexpected response shape")
        return body, _rate_budget(response)

    def mention(self, tweet: dict[str, Any], users: dict[str, dict[str, Any]]) -> Mention:
        """One tweet and the included users (by id) as a Mention of this source."""
        tweet_id = str(tweet["id"])
        text = tweet["text"]
        if not isinstance(text, str) or not tweet_id.isdigit():
            raise ValueError("tweet without a numeric id or a text")
        author = users.get(tweet.get("author_id")) or {}
        handle = str(author.get("username") or "")
        metrics = author.get("public_metrics") or {}
        created = tweet.get("created_at")
        created_at = _parse_time(created) if created else self.clock()
        return Mention(
            platform="x",
            external_id=tweet_id,
            text=text,
            created_at=created_at,
            source=self.source,
            url=f"https://x.com/{handle or 'i'}/status/{tweet_id}",
            author_id=str(tweet.get("author_id") or ""),
            author_handle=handle,
            author_followers=int(metrics.get("followers_count") or 0),
            author_verified=bool(author.get("verified")),
            lang=str(tweet.get("lang") or ""),
            conversation_id=str(tweet.get("conversation_id") or ""),
            in_reply_to_id=_replied_to(tweet),
            raw={"tweet": tweet, "author": author},
        )


def _replied_to(tweet: dict[str, Any]) -> str:
    for reference in tweet.get("referenced_tweets") or []:
        if isinstance(reference, dict) and reference.get("type") == "replied_to":
            return str(reference.get("id") or "")
    return ""


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _status(exc: tweepy.HTTPException) -> int:
    return getattr(exc.response, "status_code", 0)


def _rate_budget(response: Any) -> RateBudget | None:
    headers = getattr(response, "headers", None) or {}
    try:
        return RateBudget(
            limit=int(headers["x-rate-limit-limit"]),
            remaining=int(headers["x-rate-limit-remaining"]),
            reset_at=datetime.fromtimestamp(int(headers["x-rate-limit-reset"]), UTC),
        )
    except (KeyError, ValueError):
        return None
