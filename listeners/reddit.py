"""Reddit: brand keywords in configured subreddits, a search across r/all, and inbox mentions.

Everything goes through praw (`Reddit.request`, so we see the raw listing and can skip one bad
item without losing the page), in a worker thread. Listings are newest first; each source keeps
a cursor of fullnames and pages back until it reaches the one it stored. Reddit ids are base36
counters, so "at or below the cursor" is a number comparison: a cursor whose post was deleted
meanwhile is passed like any other, never waited for.

Cursor: JSON `{"since": "t3_…"}`. When a burst is bigger than one poll may fetch, it also keeps
`until` (the oldest item fetched so far) and `high` (the newest), and the next poll continues
below `until`, so the cursor never jumps past an item nobody fetched.
"""

import asyncio
import logging
import re
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import praw
import prawcore
import requests
from praw.exceptions import PRAWException

from core.mention import Mention
from listeners.base import (
    Batch,
    GapCursor,
    ListenerAuthFailed,
    ListenerUnavailable,
    RateBudget,
    RateLimited,
)
from listeners.reddit_config import RedditConfig

log = logging.getLogger(__name__)

PAGE_SIZE = 100  # the most a Reddit listing returns per request
_FULLNAME = re.compile(r"^t[13]_[0-9a-z]{1,13}$")
_THREAD = re.compile(r"/comments/([0-9a-z]+)/")
# Without headers (a 429 from a proxy, say) wait this long: Reddit's windows are 10 minutes.
_DEFAULT_RATE_WAIT = timedelta(seconds=60)


def make_reddit(config: RedditConfig, session: requests.Session | None = None) -> praw.Reddit:
    """A praw client on the configured hosts; never checks PyPI for praw updates at start."""
    return praw.Reddit(
        client_id=config.client_id,
        client_secret=config.client_secret.get_secret_value() or None,
        username=config.username or None,
        password=config.password.get_secret_value() or None,
        user_agent=config.agent,
        oauth_url=config.api_base,
        reddit_url=config.token_url,
        check_for_updates=False,
        requestor_kwargs={"session": session or requests.Session()},
    )


class _HeaderRecorder(requests.Session):
    """Keeps the rate-limit headers of the last response, which praw does not hand out."""

    def __init__(self) -> None:
        super().__init__()
        self.rate_headers: dict[str, str] = {}

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        response = super().request(method, url, *args, **kwargs)
        if "x-ratelimit-remaining" in response.headers:
            self.rate_headers = {k: v for k, v in response.headers.items() if "ratelimit" in k}
        return response


class RedditClient:
    """One praw session shared by every Reddit source of the process.

    praw is not thread-safe and Reddit's limit is per OAuth client, so calls take turns. When
    the last response said the window is used up, the call is refused here with RateLimited:
    prawcore would otherwise sleep in its thread until the reset, holding every source up.
    """

    def __init__(self, config: RedditConfig, clock: Callable[[], datetime]):
        self.config = config
        self.clock = clock
        self._http = _HeaderRecorder()
        self.reddit = make_reddit(config, self._http)
        self._lock = threading.Lock()
        self._budget: RateBudget | None = None

    def get(self, path: str, params: Mapping[str, str | int]) -> tuple[Any, RateBudget | None]:
        """The parsed JSON of GET `path`, and the rate budget it left."""
        with self._lock:
            now = self.clock()
            budget = self._budget
            if budget and budget.remaining <= 0 and budget.reset_at > now:
                raise RateLimited("Reddit rate limit used up", budget.reset_at)
            try:
                body = self.reddit.request(method="GET", path=path, params=dict(params))
            except prawcore.ResponseException as exc:
                if exc.response.status_code == 429:  # the API or, first, the token endpoint
                    raise self._limited(exc.response.headers, now) from None
                raise _mapped(exc) from None
            except (PRAWException, prawcore.PrawcoreException) as exc:
                raise _mapped(exc) from None
            self._budget = _budget(self._http.rate_headers, now) or self._budget
            return body, self._budget

    def _limited(self, headers: Mapping[str, str], now: datetime) -> RateLimited:
        reset = _budget(headers, now)
        reset_at = reset.reset_at if reset else now + _DEFAULT_RATE_WAIT
        self._budget = RateBudget(reset.limit if reset else 0, 0, reset_at)
        return RateLimited("Reddit rate limit reached (429)", reset_at)


def _mapped(exc: PRAWException | prawcore.PrawcoreException) -> Exception:
    """A praw/prawcore failure as the listener error the poll job knows how to handle."""
    if isinstance(exc, prawcore.OAuthException):
        return ListenerAuthFailed(f"Reddit refused the credentials ({exc.error})")
    if isinstance(exc, prawcore.InvalidToken | prawcore.Forbidden | prawcore.InsufficientScope):
        return ListenerAuthFailed(f"Reddit refused the credentials ({exc.response.status_code})")
    if isinstance(exc, prawcore.BadJSON):
        return ListenerUnavailable("Reddit sent a malformed (non-JSON) response")
    if isinstance(exc, prawcore.ResponseException):
        status = exc.response.status_code
        if status in (401, 403):
            return ListenerAuthFailed(f"Reddit refused the credentials ({status})")
        if status >= 500:
            return ListenerUnavailable(f"Reddit server error ({status})")
        return ListenerUnavailable(f"Reddit API error ({status})")
    if isinstance(exc, prawcore.RequestException):
        original = type(exc.original_exception).__name__
        return ListenerUnavailable(f"Reddit unreachable ({original})")
    return ListenerUnavailable(f"Reddit API error ({exc})")


def _budget(headers: Mapping[str, str], now: datetime) -> RateBudget | None:
    try:
        remaining = int(float(headers["x-ratelimit-remaining"]))
        used = int(headers["x-ratelimit-used"])
        reset = int(headers["x-ratelimit-reset"])
    except (KeyError, ValueError):
        return None
    return RateBudget(remaining + used, remaining, now + timedelta(seconds=reset))


class RedditCursor(GapCursor):
    """Fullnames: `since` is the newest saved, `until` where a gap continues."""

    __slots__ = ()


def _number(fullname: str) -> int:
    return int(fullname.partition("_")[2], 36)


class RedditListener:
    """One configured Reddit source: `kind` is submissions, comments, search or mentions."""

    platform: ClassVar[str] = "reddit"
    KINDS: ClassVar[tuple[str, ...]] = ("submissions", "comments", "search", "mentions")

    def __init__(
        self,
        source: str,
        config: RedditConfig,
        client: RedditClient,
        kind: str,
        *,
        query: str = "",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        if kind not in self.KINDS:
            raise ValueError(f"unknown Reddit source kind {kind!r}")
        self.source = source
        self.config = config
        self.client = client
        self.kind = kind
        self.query = query
        self.clock = clock
        self._keywords = (
            _keyword_pattern(config.keywords) if kind in ("submissions", "comments") else None
        )

    async def fetch(self, cursor: str | None) -> Batch:
        return await asyncio.to_thread(self._fetch, RedditCursor.parse(cursor))

    def _path(self) -> tuple[str, dict[str, str | int]]:
        subs = "+".join(self.config.subreddits)
        if self.kind == "submissions":
            return f"r/{subs}/new", {}
        if self.kind == "comments":
            return f"r/{subs}/comments", {}
        if self.kind == "search":
            return "r/all/search", {"q": self.query, "sort": "new", "t": "all", "type": "link"}
        return "message/mentions", {}

    def _fetch(self, cursor: RedditCursor) -> Batch:
        path, params = self._path()
        since = _number(cursor.since) if cursor.since else None
        # First start: nothing older than the backfill window is worth reading.
        oldest_wanted = None if cursor.since else self.clock() - self.config.backfill
        after = cursor.until
        skip_from: int | None = None  # restarted from the top: these were fetched already
        mentions: list[Mention] = []
        skipped: list[str] = []
        newest: str | None = None
        oldest: str | None = None
        rate: RateBudget | None = None
        calls = 0
        complete = False
        pages = 0
        while pages < self.config.max_pages_per_poll:
            page_params = {**params, "limit": PAGE_SIZE, **({"after": after} if after else {})}
            body, rate = self.client.get(path, page_params)
            calls += 1
            children, next_after = _listing(body)
            if not children and after and after == cursor.until and skip_from is None:
                # The item we were to continue below vanished (Reddit answers an empty page):
                # start again from the top and skip what the earlier polls already took.
                skip_from = _number(cursor.until)
                after = None
                continue  # the empty answer does not count as one of this poll's pages
            pages += 1
            for child in children:
                name = _name(child)
                if name is None:
                    skipped.append(f"{self.source}: item without a fullname: {str(child)[:200]!r}")
                    continue
                number = _number(name)
                if since is not None and number <= since:
                    complete = True
                    break
                newest = newest or name
                oldest = name  # a page cap makes the next poll continue below this one
                if skip_from is not None and number >= skip_from:
                    continue  # fetched before, or new since: the poll after the gap takes it
                try:
                    mention = self._mention(child["data"])
                except (KeyError, TypeError, ValueError) as exc:
                    skipped.append(f"{self.source}: {name}: {exc!r}")
                    continue
                if oldest_wanted is not None and mention.created_at < oldest_wanted:
                    complete = True
                    break
                if self._wanted(mention):
                    mentions.append(mention)
            if complete or not next_after:
                complete = True
                break
            after = next_after
        return Batch(
            mentions=mentions,
            next_cursor=cursor.advanced(newest, oldest, complete),
            calls=calls,
            rate=rate,
            more=not complete,
            skipped=skipped,
        )

    def _wanted(self, mention: Mention) -> bool:
        # The brand's own posts are kept: the pipeline stores them as ours and acts on none.
        return self._keywords is None or bool(self._keywords.search(mention.text))

    def _mention(self, data: dict[str, Any]) -> Mention:
        name = str(data["name"])
        created = float(data["created_utc"])
        author = str(data.get("author") or "")
        if name.startswith("t3_"):
            title, body = data["title"], data.get("selftext") or ""
            if not isinstance(title, str) or not isinstance(body, str):
                raise ValueError("submission without a text title")
            text = f"{title}\n\n{body}".strip()
            thread, parent = name, ""
            link = data.get("permalink") or f"/comments/{name[3:]}/"
        else:
            text = data["body"]
            if not isinstance(text, str):
                raise ValueError("comment without a text body")
            link = data.get("permalink") or data.get("context") or ""
            thread = str(data.get("link_id") or "") or _thread_of(link)
            parent = str(data.get("parent_id") or "")
            if not link and thread:
                # Older listings carry no permalink; Reddit resolves this short form.
                link = f"/comments/{thread[3:]}/_/{name[3:]}/"
        return Mention(
            platform="reddit",
            external_id=name,
            text=text,
            created_at=datetime.fromtimestamp(created, UTC),
            source=self.source,
            url=f"https://www.reddit.com{link}" if link.startswith("/") else str(link),
            author_id=str(data.get("author_fullname") or ""),
            author_handle=author,
            author_is_bot=author.lower() == "automoderator",
            conversation_id=thread,
            in_reply_to_id=parent,
            raw={"kind": name[:2], "data": data},
        )


def _listing(body: Any) -> tuple[list[Any], str | None]:
    if not isinstance(body, dict) or body.get("kind") != "Listing":
        raise ListenerUnavailable(f"Reddit sent something other than a listing: {str(body)[:200]}")
    data = body.get("data") or {}
    children = data.get("children")
    if not isinstance(children, list):
        raise ListenerUnavailable("Reddit sent a listing without children")
    after = data.get("after")
    return children, after if isinstance(after, str) and after else None


def _name(child: Any) -> str | None:
    data = child.get("data") if isinstance(child, dict) else None
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) and _FULLNAME.match(name) else None


def _thread_of(permalink: str) -> str:
    found = _THREAD.search(permalink)
    return f"t3_{found.group(1)}" if found else ""


def _keyword_pattern(keywords: list[str]) -> re.Pattern[str] | None:
    """Whole words, any case: "acme" matches "Acme's" but not "acmex"."""
    if not keywords:
        return None
    terms = "|".join(re.escape(k.strip()) for k in keywords if k.strip())
    return re.compile(rf"(?<!\w)(?:{terms})(?!\w)", re.IGNORECASE)


def reddit_sources(
    config: RedditConfig, client: RedditClient, clock: Callable[[], datetime]
) -> list[RedditListener]:
    """The sources `config` asks for, each with its own cursor."""
    sources = []
    if config.subreddits and config.submissions:
        sources.append(
            RedditListener("reddit:submissions", config, client, "submissions", clock=clock)
        )
    if config.subreddits and config.comments:
        sources.append(RedditListener("reddit:comments", config, client, "comments", clock=clock))
    for search in config.searches:
        sources.append(
            RedditListener(
                f"reddit:search:{search.name}",
                config,
                client,
                "search",
                query=search.query,
                clock=clock,
            )
        )
    if config.mentions:
        if config.has_account:
            sources.append(
                RedditListener("reddit:mentions", config, client, "mentions", clock=clock)
            )
        else:
            log.info("Reddit inbox mentions not read: REDDIT_USERNAME/REDDIT_PASSWORD are not set")
    return sources
