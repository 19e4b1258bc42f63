"""The fake X filtered stream: `GET /2/tweets/search/stream` and its rules endpoints.

Wire format as X documents it (docs.x.com, "Filtered stream" and "Update stream rules"): the
stream is one chunked HTTP response, one JSON object per line (`data`, `includes`,
`matching_rules`), with a bare `\\r\\n` keep-alive every 20 s when nothing else is sent. Rules are
`{id, value, tag}`; `POST …/rules` takes `{"add": [...]}` or `{"delete": {"ids": [...]}}`,
`dry_run=true` validates without changing anything, and an invalid rule is refused with X's
`invalid-rules` problem (nothing of that request is created). One connection per app: a second
one is refused with 429 `TooManyConnections`.

Knobs for fault tests: `drop_stream()` (optionally in the middle of a line), `stall_stream()`
(the connection stays open, nothing more arrives, not even keep-alives), the base knobs
(`fail_next(503)`, `rate_limit_next`) for the connect itself, and a post published while no
client is connected simply never reaches the stream, as on X.
"""

from __future__ import annotations

import itertools
import json
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.http import Reply, Request
from sandbox.x_query import BadRequest, TweetTest, XTweet, XUser, compile_query

STREAM_PATH = "/2/tweets/search/stream"
RULES_PATH = "/2/tweets/search/stream/rules"
# Pay-per-use access: 1,000 rules of up to 1,024 characters (the issue, after X's access table).
MAX_RULES = 1000
MAX_RULE_LENGTH = 1024

# Renders a tweet as X would for this request's fields and expansions: (data, includes).
Render = Callable[[XTweet, dict[str, str]], tuple[dict[str, Any], dict[str, Any]]]


@dataclass
class StreamRule:
    id: str
    value: str
    tag: str
    test: TweetTest

    def json(self) -> dict[str, str]:
        body = {"id": self.id, "value": self.value}
        if self.tag:
            body["tag"] = self.tag
        return body


class _Drop:
    """What the connection sends before it is cut (b"": nothing)."""

    def __init__(self, partial: bytes = b"") -> None:
        self.partial = partial


@dataclass(eq=False)
class _Connection:
    query: dict[str, str]
    frames: queue.Queue[bytes | _Drop] = field(default_factory=queue.Queue)
    stalled: bool = False


class StreamHub:
    """The app's stream rules and its connected clients; FakeXApi routes the paths here."""

    def __init__(
        self,
        lock: threading.RLock,
        users: Mapping[str, XUser],
        render: Render,
        now: Callable[[], float],
        keepalive_every: float = 20.0,
    ) -> None:
        self._lock = lock
        self._users = users
        self._render = render
        self._now = now
        self.keepalive_every = keepalive_every
        self.rules: list[StreamRule] = []
        self._connections: list[_Connection] = []
        self._ids = itertools.count(1900000000000000001)
        self.tweets_sent = 0  # data lines written, for tests and benches
        self.connects = 0  # successful connections

    # -- knobs ---------------------------------------------------------------------------------

    @property
    def connected(self) -> int:
        """Live connections (a stalled one is dead to both sides, so it does not count)."""
        with self._lock:
            return sum(1 for c in self._connections if not c.stalled)

    def add_rule(self, value: str, tag: str = "") -> str:
        """A rule made outside BrandPulse (another app of the account); returns its id."""
        with self._lock:
            rule = self._new_rule(value, tag)
            self.rules.append(rule)
            return rule.id

    def drop_stream(self, mid_line: bool = False) -> None:
        """Cut every connection now; `mid_line`: after half a JSON line, as a flaky link does."""
        partial = b'{"data":{"id":"19' if mid_line else b""
        with self._lock:
            for connection in self._connections:
                connection.frames.put(_Drop(partial))

    def send_raw(self, data: bytes) -> None:
        """Write these exact bytes on every live connection (malformed-line tests)."""
        with self._lock:
            for connection in self._connections:
                connection.frames.put(data)

    def stall_stream(self) -> None:
        """The current connections stay open but nothing more arrives, not even keep-alives."""
        with self._lock:
            for connection in self._connections:
                connection.stalled = True

    def stop(self) -> None:
        """End every stream cleanly (server shutdown)."""
        self.drop_stream()

    # -- hooks for FakeXApi --------------------------------------------------------------------

    def publish(self, tweet: XTweet) -> None:
        """A new tweet: a line on every live connection whose rules match it."""
        with self._lock:
            matched = [rule for rule in self.rules if rule.test(tweet)]
            if not matched:
                return
            for connection in self._connections:
                if connection.stalled:
                    continue
                data, includes = self._render(tweet, connection.query)
                line: dict[str, Any] = {"data": data}
                if includes:
                    line["includes"] = includes
                line["matching_rules"] = [
                    {"id": rule.id, "tag": rule.tag} if rule.tag else {"id": rule.id}
                    for rule in matched
                ]
                connection.frames.put(json.dumps(line).encode() + b"\r\n")
                self.tweets_sent += 1

    def handle(self, request: Request) -> Reply | None:
        """The answer for a stream or rules request, None for any other path."""
        path = request.path.rstrip("/")
        if path == STREAM_PATH and request.method == "GET":
            return self._connect(request)
        if path == RULES_PATH and request.method == "GET":
            return self._list_rules(request)
        if path == RULES_PATH and request.method == "POST":
            return self._change_rules(request)
        return None

    # -- endpoints -----------------------------------------------------------------------------

    def _connect(self, request: Request) -> Reply:
        with self._lock:
            if self.connected:
                return _too_many_connections()
            connection = _Connection(dict(request.query))
            self._connections.append(connection)
            self.connects += 1
        return Reply(200, stream=self._frames(connection))

    def _frames(self, connection: _Connection) -> Iterator[bytes]:
        # Short waits, so a client that hung up is noticed (the empty chunk) well before the
        # next keep-alive is due and its connection slot is freed.
        probe = min(0.2, self.keepalive_every)
        quiet = 0.0
        try:
            while True:
                try:
                    frame = connection.frames.get(timeout=probe)
                except queue.Empty:
                    quiet += probe
                    if quiet >= self.keepalive_every and not connection.stalled:
                        quiet = 0.0
                        yield b"\r\n"
                    else:
                        yield b""
                    continue
                if isinstance(frame, _Drop):
                    if frame.partial:
                        yield frame.partial
                    raise ConnectionAbortedError("dropped by the drop_stream knob")
                if not connection.stalled:
                    quiet = 0.0
                    yield frame
        finally:
            with self._lock:
                if connection in self._connections:
                    self._connections.remove(connection)

    def _list_rules(self, request: Request) -> Reply:
        with self._lock:
            wanted = {i for i in request.query.get("ids", "").split(",") if i}
            rules = [r.json() for r in self.rules if not wanted or r.id in wanted]
        meta: dict[str, Any] = {"sent": self._sent(), "result_count": len(rules)}
        return Reply(200, {"data": rules, "meta": meta} if rules else {"meta": meta})

    def _change_rules(self, request: Request) -> Reply:
        body = request.body if isinstance(request.body, dict) else {}
        dry_run = request.query.get("dry_run", "false").lower() == "true"
        if "add" in body and isinstance(body["add"], list):
            return self._add(body["add"], dry_run)
        delete = body.get("delete")
        if isinstance(delete, dict) and isinstance(delete.get("ids"), list):
            return self._delete([str(i) for i in delete["ids"]], dry_run)
        raise BadRequest("add", json.dumps(body)[:200], "Either `add` or `delete` is required")

    def _add(self, wanted: list[Any], dry_run: bool) -> Reply:
        with self._lock:
            created: list[StreamRule] = []
            errors: list[dict[str, Any]] = []
            values = {rule.value for rule in self.rules}
            for item in wanted:
                value = str(item.get("value") or "") if isinstance(item, dict) else ""
                tag = str(item.get("tag") or "") if isinstance(item, dict) else ""
                if value in values:
                    existing = next(r for r in self.rules if r.value == value)
                    errors.append(_duplicate(existing))
                    continue
                problem = self._invalid(value, len(self.rules) + len(created))
                if problem:
                    errors.append(_invalid_rule(value, problem))
                    continue
                created.append(self._new_rule(value, tag))
                values.add(value)
            invalid = sum(1 for e in errors if e["title"] != "DuplicateRule")
            summary = {
                "created": 0 if invalid else len(created),
                "not_created": len(wanted) - (0 if invalid else len(created)),
                "valid": len(created),
                "invalid": invalid,
            }
            # One invalid rule refuses the whole request, as X does.
            if invalid:
                body = {"errors": errors, "meta": {"sent": self._sent(), "summary": summary}}
                return Reply(400, body)
            if not dry_run:
                self.rules.extend(created)
        out: dict[str, Any] = {"meta": {"sent": self._sent(), "summary": summary}}
        if created:
            out["data"] = [rule.json() for rule in created]
        if errors:
            out["errors"] = errors
        return Reply(200, out)

    def _delete(self, ids: list[str], dry_run: bool) -> Reply:
        with self._lock:
            known = {rule.id for rule in self.rules}
            deleted = [i for i in ids if i in known]
            if not dry_run:
                self.rules = [rule for rule in self.rules if rule.id not in deleted]
        summary = {"deleted": len(deleted), "not_deleted": len(ids) - len(deleted)}
        out: dict[str, Any] = {"meta": {"sent": self._sent(), "summary": summary}}
        missing = [i for i in ids if i not in deleted]
        if missing:
            out["errors"] = [_rule_not_found(i) for i in missing]
        return Reply(200, out)

    # -- helpers -------------------------------------------------------------------------------

    def _new_rule(self, value: str, tag: str) -> StreamRule:
        return StreamRule(str(next(self._ids)), value, tag, compile_query(value, self._users))

    def _invalid(self, value: str, count: int) -> str:
        if not value.strip():
            return "Rules must contain a non-negation term"
        if len(value) > MAX_RULE_LENGTH:
            return f"Rule length exceeds the maximum of {MAX_RULE_LENGTH} characters"
        if count >= MAX_RULES:
            return f"Rule limit of {MAX_RULES} reached"
        try:
            compile_query(value, self._users)
        except BadRequest as bad:
            return bad.message
        return ""

    def _sent(self) -> str:
        moment = datetime.fromtimestamp(self._now(), UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _too_many_connections() -> Reply:
    body = {
        "title": "ConnectionException",
        "detail": "This stream is currently at the maximum allowed connection limit.",
        "connection_issue": "TooManyConnections",
        "type": "https://api.twitter.com/2/problems/streaming-connection",
    }
    return Reply(429, body)


def _invalid_rule(value: str, detail: str) -> dict[str, Any]:
    return {
        "value": value,
        "details": [detail],
        "title": "UnprocessableEntity",
        "type": "https://api.twitter.com/2/problems/invalid-rules",
    }


def _duplicate(rule: StreamRule) -> dict[str, Any]:
    return {
        "value": rule.value,
        "id": rule.id,
        "title": "DuplicateRule",
        "type": "https://api.twitter.com/2/problems/duplicate-rules",
    }


def _rule_not_found(rule_id: str) -> dict[str, Any]:
    return {
        "value": rule_id,
        "detail": f"Could not find rule with id: [{rule_id}].",
        "title": "Not Found Error",
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }
