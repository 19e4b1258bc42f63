"""Backtest: replay stored mentions through the rules in force and a candidate rule set.

Pure over the mentions it is given (`backtest`); `replay_stored` feeds it from the store, within
a cap so a long span cannot tie up the node. `main.py rules backtest` and the console's `/rules`
both call these.
"""

from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from core.mention import Mention
from core.store import Store
from rules.engine import Engine, Verdict


@dataclass(slots=True)
class Tally:
    """What one rule set did over the replayed mentions."""

    rules: Counter[str] = field(default_factory=Counter)  # mentions each rule matched
    routes: Counter[str] = field(default_factory=Counter)  # alerts per route
    replies: int = 0
    ignored: int = 0

    def add(self, verdict: Verdict) -> None:
        self.rules.update(verdict.rules)
        self.routes.update(alert.route for alert in verdict.alerts)
        self.replies += len(verdict.replies)
        self.ignored += bool(verdict.ignored_by)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one rule set did with one mention."""

    rules: tuple[str, ...]  # the rules that matched
    alerts: tuple[str, ...]  # "route (rule)"
    others: tuple[str, ...]  # replies and ignores: "reply (rule)", "ignore (rule)"

    @classmethod
    def of(cls, verdict: Verdict) -> "Outcome":
        others = [f"reply ({reply.rule})" for reply in verdict.replies]
        if verdict.ignored_by:
            others.append(f"ignore ({verdict.ignored_by})")
        return cls(
            tuple(verdict.rules),
            tuple(sorted(f"{alert.route} ({alert.rule})" for alert in verdict.alerts)),
            tuple(others),
        )

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(f"alert → {alert}" for alert in self.alerts) + self.others


class ChangeKind(StrEnum):
    NEW = "newly firing"  # no rule matched in force; the candidate's do
    GONE = "no longer firing"  # rules matched in force; none of the candidate's does
    CHANGED = "changed action"  # rules match under both, doing something else


@dataclass(frozen=True, slots=True)
class Change:
    mention_id: int
    mention: Mention
    before: Outcome  # under the rules in force
    after: Outcome  # … and under the candidate

    @property
    def kind(self) -> ChangeKind:
        if not self.before.rules:
            return ChangeKind.NEW
        if not self.after.rules:
            return ChangeKind.GONE
        return ChangeKind.CHANGED

    @property
    def alerts_differ(self) -> bool:
        return self.before.alerts != self.after.alerts


@dataclass(slots=True)
class BacktestReport:
    mentions: int = 0
    first: datetime | None = None
    last: datetime | None = None
    current: Tally = field(default_factory=Tally)
    candidate: Tally = field(default_factory=Tally)
    changes: list[Change] = field(default_factory=list)  # the mentions the two treat apart

    def of_kind(self, kind: ChangeKind) -> list[Change]:
        return [change for change in self.changes if change.kind == kind]


def backtest(
    mentions: Iterable[tuple[int, Mention]], current: Engine, candidate: Engine
) -> BacktestReport:
    """Replay (id, mention) pairs, oldest first, through both engines; sentiment once each.

    Repeat complainers are counted from the replayed mentions themselves, as the live service
    counts them from the store.
    """
    report = BacktestReport()
    recent = {
        engine: _RecentAuthors(engine.config.urgency.repeat_window)
        for engine in (current, candidate)
    }
    for mention_id, mention in mentions:
        assessment = candidate.triage.assess(mention.text, mention.lang or None)
        counts = {engine: counter.count_and_add(mention) for engine, counter in recent.items()}
        verdicts = {
            engine: engine.evaluate(mention, assessment, author_recent_count=count)
            for engine, count in counts.items()
        }
        report.mentions += 1
        report.first = report.first or mention.created_at
        report.last = mention.created_at
        report.current.add(verdicts[current])
        report.candidate.add(verdicts[candidate])
        before, after = Outcome.of(verdicts[current]), Outcome.of(verdicts[candidate])
        if before != after:
            report.changes.append(Change(mention_id, mention, before, after))
    return report


class TooManyMentions(Exception):
    """The span holds more mentions than a replay here may take."""

    def __init__(self, count: int, limit: int):
        super().__init__(f"{count} stored mentions in that period; at most {limit} are replayed")
        self.count = count
        self.limit = limit


Track = Callable[[int, Iterator[tuple[int, Mention]]], Iterable[tuple[int, Mention]]]


def replay_stored(
    store: Store,
    current: Engine,
    candidate: Engine,
    since: datetime,
    until: datetime | None = None,
    limit: int | None = None,
    track: Track | None = None,
) -> BacktestReport:
    """Backtest the stored mentions created in [since, until). Raises TooManyMentions past
    `limit`, before replaying any. `track(total, mentions)` may wrap them (a progress bar)."""
    total = store.count_replayable(since, until)
    if limit is not None and total > limit:
        raise TooManyMentions(total, limit)
    mentions = store.replay_mentions(since, until)
    return backtest(track(total, mentions) if track else mentions, current, candidate)


class _RecentAuthors:
    """Earlier mentions per author within a window, over mentions fed oldest first."""

    def __init__(self, window: timedelta):
        self.window = window
        self._seen: dict[tuple[str, str], deque[datetime]] = defaultdict(deque)

    def count_and_add(self, mention: Mention) -> int:
        author = mention.author_id or mention.author_handle
        if not author:
            return 0
        times = self._seen[(mention.platform, author)]
        while times and times[0] < mention.created_at - self.window:
            times.popleft()
        count = len(times)
        times.append(mention.created_at)
        return count
