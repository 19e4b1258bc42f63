"""X's filtered stream as a push source: posts matching our stream rules, as they are published.

Our own small client over httpx, not tweepy's `StreamingClient`/`AsyncStreamingClient`: tweepy
hard-codes `https://api.twitter.com/2/tweets/search/stream` (the sandbox and self-hosted proxies
need the configured `api_base`), its async client needs aiohttp (not a dependency here), and its
reconnect loop sleeps on `asyncio.sleep`/`time.sleep` with a socket read timeout for stalls, so
none of X's disconnect rules could be tested without waiting real time. The wire format and
the waits are X's own (docs.x.com, "Filtered stream: handling disconnections"):

- a keep-alive `\\r\\n` comes every 20 s, so 21 s without any data means a stalled connection;
- after a drop, reconnect at once; after further network errors wait 250 ms more each time,
  up to 16 s; after HTTP errors wait 5 s, doubling up to 320 s; after a 429 start at 60 s.

No gap, no double: every (re)connect marks a gap, and the next `fetch` fills it with recent
search per rule (`since_id` = the newest post saved from this source, held in its cursor) before
handing over what the stream buffered. Posts are unique on their id when stored, so a post seen
by both the stream and the gap fill is saved once.

Cursor: JSON `{"since_id": …}`, the newest post saved. A post streamed after a reconnect moves
it only together with (or after) that reconnect's gap fill, so a restart while a gap is open
searches the gap again.
"""

import asyncio
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
import tweepy

from core.mention import Mention
from listeners.base import Batch, ListenerAuthFailed, ListenerError
from listeners.tls import tls_context
from listeners.x import TWEET_FIELDS, USER_FIELDS, XConfig, XCursor, XListener
from listeners.x_rules import Locate, RuleSync, StreamRule

log = logging.getLogger(__name__)

STREAM_PATH = "/2/tweets/search/stream"
STALL_AFTER = 21.0  # seconds without data or keep-alive (X sends one every 20 s)
NETWORK_STEP, NETWORK_MAX = 0.25, 16.0
HTTP_START, HTTP_MAX, RATE_LIMITED_START = 5.0, 320.0, 60.0
LEASE_WAIT = 5.0  # how often a node without the stream's lease asks again
# A gap bigger than this many rounds of `max_pages_per_poll` pages per rule is cut short.
GAP_ROUNDS = 10

Sleep = Callable[[float], Awaitable[None]]
Hold = Callable[[], Awaitable[bool]]
Report = Callable[[dict[str, Any]], Awaitable[None]]  # the figures, as JSON


@dataclasses.dataclass(slots=True)
class StreamFigures:
    """What health shows about the connection."""

    connected_since: datetime | None = None  # None: not connected now
    last_keepalive: datetime | None = None  # the last keep-alive or post
    reconnects: int = 0
    posts_received: int = 0
    gap_fills: int = 0
    problem: str = ""  # why it is not connected (or what X refused), "" when fine

    def as_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        return json.loads(json.dumps(data, default=lambda v: v.isoformat()))


class ReconnectWaits:
    """X's waits before reconnecting, reset by every successful connection."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._network = 0.0  # the first reconnect after a drop is immediate
        self._http = HTTP_START

    def after_network_error(self) -> float:
        """0 s, then 250 ms more each time, up to 16 s (a drop, a stall, a refused socket)."""
        wait = self._network
        self._network = min(self._network + NETWORK_STEP, NETWORK_MAX)
        return wait

    def after_http_error(self, status: int) -> float:
        """5 s doubling up to 320 s; from 60 s when rate limited (420/429)."""
        start = RATE_LIMITED_START if status in (420, 429) else HTTP_START
        wait = max(self._http, start)
        self._http = min(wait * 2, HTTP_MAX)
        return wait


class _Stalled(Exception):
    pass


class _HttpRefused(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(f"{status} {detail}".strip())
        self.status = status


class XStreamListener:
    platform: ClassVar[str] = "x"

    def __init__(
        self,
        source: str,
        config: XConfig,
        rules: list[StreamRule],
        search: tweepy.Client,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Sleep = asyncio.sleep,
        locate: Locate | None = None,
    ):
        """`search`: the tweepy client of recent search (gap fills); `sleep`: every wait."""
        self.source = source
        self.config = config
        self.rules = rules
        self.search = search
        self.clock = clock
        self.sleep = sleep
        self.locate = locate
        self.figures = StreamFigures()
        self.running = False
        self.on_buffered: Callable[[], Awaitable[None]] | None = None
        # Posts from the stream and the gap fills, held until a stored cursor covers them.
        self._pending: dict[str, Mention] = {}
        self._gap_due = True  # a (re)start is a gap too
        self._rule_problems = ""  # what X refused of our rules, shown in health
        self._refused: set[str] = set()  # their values
        self._parser = XListener(source, config, search, clock=clock)
        self._searchers = self._searchers_for(rules)
        self._rules_synced = False  # reconciled with X since the rules last changed
        self._live: tuple[httpx.AsyncClient, Report] | None = None  # while `run` runs

    def _searchers_for(self, rules: list[StreamRule]) -> list[XListener]:
        """One recent search per rule, for gap fills."""
        return [
            XListener(self.source, self.config, self.search, query=rule.value, clock=self.clock)
            for rule in rules
        ]

    async def replace_rules(self, rules: list[StreamRule]) -> None:
        """Config changed (hot reload): reconcile the new rules now, on the open connection.

        X applies rule changes to a connected stream, so no reconnect is needed; a node that
        does not stream now reconciles when it next connects.
        """
        if rules == self.rules:
            return
        self.rules, self._searchers = rules, self._searchers_for(rules)
        self._rules_synced = False
        if self._live is None:
            return
        client, report = self._live
        try:
            await self._sync_rules(client, report)
        except ListenerError as exc:
            log.warning("%s: new stream rules not reconciled yet (%s)", self.source, exc)

    # --- the save side: the poll job's `fetch` ---------------------------------------------------

    async def fetch(self, cursor: str | None) -> Batch:
        since = XCursor.parse(cursor).since
        # What the stored cursor covers was saved: only now may it leave the buffer.
        floor = int(since or 0)
        self._pending = {k: m for k, m in self._pending.items() if int(k) > floor}
        # Taken before the gap fill awaits: a post streamed meanwhile may follow a reconnect
        # whose gap is not filled yet, and must not move the cursor past that gap.
        found = dict(self._pending)
        calls = 0
        if self._gap_due:
            self._gap_due = False
            try:
                filled, calls = await self._fill_gap(cursor)
            except ListenerError:
                self._gap_due = True  # the next fetch tries again; the stream goes on
                raise
            for mention in filled:
                self._keep(mention)
                found[mention.external_id] = self._pending[mention.external_id]
            self.figures.gap_fills += 1
        newest = max((int(k) for k in found), default=floor)
        next_cursor = json.dumps({"since_id": str(newest)}) if newest else None
        return Batch(mentions=list(found.values()), next_cursor=next_cursor, calls=calls)

    async def _fill_gap(self, cursor: str | None) -> tuple[list[Mention], int]:
        """Recent search for every rule since the newest saved post (first start: backfill)."""
        found: list[Mention] = []
        calls = 0
        for rule, searcher in zip(self.rules, self._searchers, strict=True):
            if rule.value in self._refused:
                continue  # not in force on X: nothing to fill
            position = cursor
            for _ in range(GAP_ROUNDS):
                batch = await searcher.fetch(position)
                calls += batch.calls
                tag = [{"tag": rule.tag, "via": "gap_fill"}]
                found += [_with_rules(m, tag) for m in batch.mentions]
                position = batch.next_cursor or position
                if not batch.more:
                    break
            else:
                log.warning("%s: gap for %r larger than the fill allows", self.source, rule.tag)
        return found, calls

    # --- the connection ------------------------------------------------------------------------

    async def run(self, hold: Hold, report: Report) -> None:
        """Hold the stream open while this node holds its lease; cancel the task to stop."""
        self.running = True
        hold, report = self._guarded(hold, report)
        saved = asyncio.Event()
        saver = asyncio.create_task(self._saver(saved, report))
        try:
            async with self._client() as client:
                self._live = (client, report)
                await self._connection_loop(client, hold, report, saved)
        finally:
            self._live = None
            self.running = False
            saver.cancel()
            self.figures.connected_since = None
            await asyncio.gather(saver, return_exceptions=True)

    def _guarded(self, hold: Hold, report: Report) -> tuple[Hold, Report]:
        """The lease check and the health report, never ending the stream when the database
        fails: without a lease answer this node does not stream; a lost report is only late."""

        async def safe_hold() -> bool:
            try:
                return await hold()
            except Exception as exc:
                log.warning("%s: lease check failed (%s); not streaming", self.source, exc)
                return False

        async def safe_report(figures: dict[str, Any]) -> None:
            try:
                await report(figures)
            except Exception as exc:
                log.debug("%s: stream figures not recorded (%s)", self.source, exc)

        return safe_hold, safe_report

    def _client(self) -> httpx.AsyncClient:
        token = self.config.bearer_token.get_secret_value()
        # No read timeout: a stall is judged by `STALL_AFTER` on our own (testable) clock.
        timeout = httpx.Timeout(self.config.timeout.total_seconds(), read=None)
        return httpx.AsyncClient(
            base_url=self.config.api_base,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            verify=tls_context(),
        )

    async def _saver(self, saved: asyncio.Event, report: Report) -> None:
        """Hand what arrived to the poll job, one save at a time, bursts coalesced; then tell
        health the new counts."""
        while True:
            await saved.wait()
            saved.clear()
            if self.on_buffered is not None:
                try:
                    await self.on_buffered()
                except Exception:
                    log.exception("%s: saving streamed posts failed; retried later", self.source)
            await report(self.figures.as_json())

    async def _connection_loop(
        self, client: httpx.AsyncClient, hold: Hold, report: Report, saved: asyncio.Event
    ) -> None:
        backoff = ReconnectWaits()
        while True:
            if not await hold():
                await self.sleep(LEASE_WAIT)  # another node streams: one connection per app
                continue
            try:
                if not self._rules_synced:
                    await self._sync_rules(client, report)
                await self._stream(client, hold, report, saved, backoff)
                wait, state = backoff.after_network_error(), "the stream ended"
            except _Stalled:
                wait = backoff.after_network_error()
                state = f"no data for {STALL_AFTER:.0f} s (stalled)"
            except httpx.TransportError as exc:
                wait = backoff.after_network_error()
                state = f"network error ({type(exc).__name__})"
            except _HttpRefused as exc:
                wait = backoff.after_http_error(exc.status)
                state = f"X refused the connection ({exc})"
            except ListenerError as exc:  # refused credentials, or the rules endpoints failed
                wait, state = backoff.after_http_error(0), str(exc)
            if self.figures.connected_since is not None or not self.figures.problem:
                log.warning("%s disconnected: %s (reconnect in %.2f s)", self.source, state, wait)
            self.figures.connected_since = None
            self.figures.problem = f"disconnected: {state}"
            self.figures.reconnects += 1
            await report(self.figures.as_json())
            if wait:
                await self.sleep(wait)

    async def _sync_rules(self, client: httpx.AsyncClient, report: Report) -> None:
        result = await RuleSync(client, self.locate).reconcile(self.rules)
        log.info(
            "%s: stream rules reconciled (%d added, %d deleted, %d kept)",
            self.source,
            len(result.added),
            len(result.deleted),
            result.kept,
        )
        self._rule_problems = "; ".join(str(problem) for problem in result.problems)
        self._refused = {problem.rule.value for problem in result.problems}
        self._rules_synced = True
        if result.problems:
            self.figures.problem = self._rule_problems
            await report(self.figures.as_json())

    async def _stream(
        self,
        client: httpx.AsyncClient,
        hold: Hold,
        report: Report,
        saved: asyncio.Event,
        backoff: "ReconnectWaits",
    ) -> None:
        params = {
            "expansions": "author_id",
            "tweet.fields": ",".join(TWEET_FIELDS),
            "user.fields": ",".join(USER_FIELDS),
        }
        async with client.stream("GET", STREAM_PATH, params=params) as response:
            if response.status_code != 200:
                await response.aread()
                raise _refused(response)
            backoff.reset()
            now = self.clock()
            self.figures.connected_since = self.figures.last_keepalive = now
            self.figures.problem = self._rule_problems
            log.info("%s connected to X's filtered stream", self.source)
            self._gap_due = True  # what was published while we were away
            saved.set()
            await report(self.figures.as_json())
            await self._read(response, hold, report, saved)

    async def _read(
        self, response: httpx.Response, hold: Hold, report: Report, saved: asyncio.Event
    ) -> None:
        lines = response.aiter_lines()
        while True:
            line = await self._next_line(lines)
            if line is None:
                return
            self.figures.last_keepalive = self.clock()
            if not line.strip():  # a keep-alive, every 20 s
                await report(self.figures.as_json())
                if not await hold():
                    log.warning("%s: lease lost to another node; closing the stream", self.source)
                    return
                continue
            if self._take(line):
                saved.set()

    async def _next_line(self, lines: Any) -> str | None:
        """The next line, None when the stream ended; `_Stalled` after 21 s of silence."""
        reading = asyncio.ensure_future(_one(lines))
        timer = asyncio.ensure_future(self.sleep(STALL_AFTER))
        try:
            done, _ = await asyncio.wait({reading, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            if not reading.done():
                reading.cancel()
        if reading not in done:
            raise _Stalled
        try:
            return reading.result()
        except StopAsyncIteration:
            return None

    def _take(self, line: str) -> bool:
        """Buffer one streamed post; False (and a warning) for a line that is not one."""
        try:
            body = json.loads(line)
            tweet = body["data"]
            included = (body.get("includes") or {}).get("users") or []
            users = {u.get("id"): u for u in included if isinstance(u, dict)}
            mention = self._parser.mention(tweet, users)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(body := _json_or_none(line), dict) and "errors" in body:
                log.warning("%s: X sent an error on the stream: %s", self.source, line[:300])
            else:
                log.warning("%s: skipped a malformed line (%r): %r", self.source, exc, line[:200])
            return False
        rules = [r for r in body.get("matching_rules") or [] if isinstance(r, dict)]
        self._keep(_with_rules(mention, rules))
        self.figures.posts_received += 1
        return True

    def _keep(self, mention: Mention) -> None:
        known = self._pending.get(mention.external_id)
        self._pending[mention.external_id] = _merged(known, mention)


async def _one(lines: Any) -> str:
    return await anext(lines)


def _refused(response: httpx.Response) -> Exception:
    try:
        body = response.json()
    except ValueError:
        body = {}
    detail = ""
    if isinstance(body, dict):
        detail = str(body.get("connection_issue") or body.get("title") or "")
    if response.status_code in (401, 403):
        return ListenerAuthFailed(f"X refused the stream credentials ({response.status_code})")
    return _HttpRefused(response.status_code, detail)


def _json_or_none(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None


def _with_rules(mention: Mention, rules: list[dict[str, Any]]) -> Mention:
    """The mention with the stream rules that caught it (`raw.matching_rules`)."""
    return dataclasses.replace(mention, raw={**mention.raw, "matching_rules": rules})


def _merged(old: Mention | None, new: Mention) -> Mention:
    """One post caught twice (two rules, or stream and gap fill): one mention, every rule."""
    if old is None:
        return new
    rules = list(old.raw.get("matching_rules") or [])
    rules += [r for r in new.raw.get("matching_rules") or [] if r not in rules]
    return _with_rules(old, rules)
