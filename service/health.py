"""What an operator asks: is a node alive, does each source work, does the outbox move.

Pollers write each source's status to the database (`Store.record_poll`), so `main.py health`, run
anywhere, sees every node's sources. What is judged follows the deployment: each source's last
successful poll and the outbox always; a live node heartbeat only where a node is expected
(`--expect-node`, a node's own `/health`, or a node seen in the last `source_max_age`, which
then stopped), so `run --once` from cron is healthy between its runs.

A running node also serves the report on its web console (`web.listen`): `/livez` (the event
loop answers), `/health` (the report as JSON, 503 when unhealthy) and `/metrics` (Prometheus);
see web/ops.py.
"""

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.clock import Clock
from core.leases import live_holders, stopped_nodes
from core.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SourceHealth:
    source: str
    polled_by: str  # the node holding its lease now, "" when none does
    last_success_at: datetime | None
    last_attempt_at: datetime
    problem: str
    problem_since: datetime | None
    # A streamed source's connection figures (see Store.record_stream), None for a polled one.
    stream: dict[str, Any] | None = None

    def stream_summary(self) -> str:
        """The connection's figures in one line, "" for a polled source."""
        return _stream_line(self.stream) if self.stream else ""

    def stream_problem(self) -> str:
        """What is wrong with the connection, "" when fine or not streamed or not held."""
        if not self.stream or not self.polled_by:
            return ""  # nobody holds the stream now: the heartbeat problem says so already
        return str(self.stream.get("problem") or "")


@dataclass(frozen=True, slots=True)
class HealthReport:
    checked_at: datetime
    nodes: list[str]
    sources: list[SourceHealth]
    outbox_depth: dict[str, int] = field(default_factory=dict)
    outbox_oldest_age: float | None = None  # seconds; None when nothing waits
    outbox_max_age: float = 600.0
    source_max_age: float | None = None  # seconds without a successful poll; None: not judged
    node_expected: str = ""  # why a live node is required ("" when it is not)

    def problems(self) -> list[str]:
        found = []
        if self.node_expected and not self.nodes:
            found.append(f"no BrandPulse node is running (no live heartbeat; {self.node_expected})")
        found += [f"{s.source}: {s.problem}" for s in self.sources if s.problem]
        found += [f"{s.source}: {s.stream_problem()}" for s in self.sources if s.stream_problem()]
        found += [
            f"{s.source}: no successful poll for {age / 60:.0f} min"
            f" (since {s.last_success_at:%F %T} UTC)"
            if s.last_success_at
            else f"{s.source}: never polled successfully"
            for s in self.sources
            if not s.problem and (age := self._silent_for(s)) is not None
        ]
        if self.outbox_oldest_age is not None and self.outbox_oldest_age > self.outbox_max_age:
            found.append(f"outbox: oldest unsent action waits {self.outbox_oldest_age:.0f} s")
        return found

    def _silent_for(self, source: SourceHealth) -> float | None:
        """Seconds since `source` last worked, when that is longer than allowed."""
        if self.source_max_age is None or source.stream is not None:
            # A stream that is connected but quiet has no polls to be late: its connection
            # figures (stream_problem) say whether it works.
            return None
        since = source.last_success_at or source.last_attempt_at
        age = (self.checked_at - since).total_seconds()
        return age if age > self.source_max_age else None

    @property
    def healthy(self) -> bool:
        return not self.problems()

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["healthy"] = self.healthy
        data["problems"] = self.problems()
        return json.loads(json.dumps(data, default=lambda v: v.isoformat()))

    def lines(self) -> list[str]:
        out = [f"{'healthy' if self.healthy else 'UNHEALTHY'} at {self.checked_at:%F %T} UTC"]
        out += [f"  problem: {problem}" for problem in self.problems()]
        out.append(f"  nodes alive: {', '.join(self.nodes) or 'none'}")
        for s in self.sources:
            success = f"{s.last_success_at:%F %T}" if s.last_success_at else "never"
            state = f"FAILING since {s.problem_since:%T}: {s.problem}" if s.problem else "ok"
            out.append(
                f"  source {s.source}: {state}; last success {success};"
                f" polled by {s.polled_by or 'nobody'}"
            )
            if s.stream:
                out.append(f"    stream: {_stream_line(s.stream)}")
        depth = sum(self.outbox_depth.values())
        age = "" if self.outbox_oldest_age is None else f", oldest {self.outbox_oldest_age:.0f} s"
        out.append(f"  outbox: {depth} unsent{age}")
        return out


def collect(
    store: Store,
    clock: Clock,
    outbox_max_age: timedelta,
    *,
    source_max_age: timedelta | None = None,
    expect_node: bool = True,
) -> HealthReport:
    """The report; `expect_node=False` (cron mode) requires a live node only if one ran within
    `source_max_age` and stopped without handing its work back (a crash)."""
    now = clock.now()
    recently = now - (source_max_age or timedelta(0))
    leases = live_holders(store.engine, now)
    stopped = stopped_nodes(store.engine, now, recently)
    rows = store.source_statuses()
    depth, oldest = store.outbox_backlog()
    if expect_node:
        node_expected = "a node is expected"
    elif stopped:
        owner, at = max(stopped, key=lambda row: row[1])
        node_expected = f"node {owner} stopped renewing it at {at:%F %T} UTC"
    else:
        node_expected = ""
    return HealthReport(
        checked_at=now,
        nodes=sorted(owner for name, owner in leases.items() if name.startswith("node:")),
        sources=[
            SourceHealth(
                source=row.source,
                polled_by=leases.get(f"source:{row.source}", ""),
                last_success_at=row.last_success_at,
                last_attempt_at=row.last_attempt_at,
                problem=row.problem,
                problem_since=row.problem_since,
                stream=row.stream,
            )
            for row in rows
        ],
        outbox_depth=depth,
        outbox_oldest_age=(now - oldest).total_seconds() if oldest else None,
        outbox_max_age=outbox_max_age.total_seconds(),
        source_max_age=source_max_age.total_seconds() if source_max_age else None,
        node_expected=node_expected,
    )


def _stream_line(figures: dict[str, Any]) -> str:
    since = figures.get("connected_since")
    state = f"connected since {since}" if since else "NOT connected"
    return (
        f"{state}; last keep-alive {figures.get('last_keepalive') or 'never'};"
        f" reconnects {figures.get('reconnects', 0)};"
        f" posts received {figures.get('posts_received', 0)};"
        f" gap fills {figures.get('gap_fills', 0)}"
    )
