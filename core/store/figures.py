"""The report's, the dashboard's and the agents' figures of one period, counted by the database.

A year is 100,000 mentions and tens of thousands of alerts: reading them row by row and grouping
in Python cost seconds. Here three scans of the period's mentions count per local day, platform,
half, source and language; per list of reasons and rules; and per author. Each alert is
classified by the report's definitions as CASE (core/store/figure_sql.py, the only copy of
those rules) and counted per local day, outcome and first-response bucket; percentiles are
ranked by the database too (a window over the waits), so only the ranked values come back.
`Store.period_figures` is the door; `Store.agent_figures` counts the same alerts per agent,
and `Store.alert_facts` gives the export the few alerts of the mentions it lists.
The mentions one figure counts (the list a bar opens) are chosen by the same expressions in
core/store/figure_selection.py.
"""

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.engine import Connection, Engine

from core.models import AlertRow, MentionRow
from core.reasons import Reason, as_reason
from core.store.figure_sql import Dialect, Outcome, author_of, standing


@dataclass(frozen=True, slots=True)
class MentionGroup:
    """The mentions of one local day and platform in one half of the period."""

    day: date
    platform: str
    first_half: bool
    mentions: int
    scored: int  # with a sentiment
    sentiment_sum: float
    negative: int
    positive: int


@dataclass(frozen=True, slots=True)
class Tally:
    name: str
    count: int


@dataclass(frozen=True, slots=True)
class AlertFigure:
    """One alert message standing for a customer waiting, classified by the database."""

    day: date  # the alert's own local day
    outcome: Outcome
    response_us: int | None  # human first response, from when the customer wrote
    resolution_us: int | None
    claimed_by: str
    replied_by: str  # "" unless an agent replied
    resolved_by: str  # "" unless resolved
    responder: str  # who gave the first response: who replied, or who resolved it first
    mention_id: int | None  # the alerted mention; none for a group's own message


@dataclass(frozen=True, slots=True)
class AlertCount:
    """The alerts of one local day (the alert's own) with one outcome whose human first
    response falls in one bucket."""

    day: date
    outcome: Outcome
    bucket: int | None  # the first of the bounds the response is at or under; None: no response
    count: int


@dataclass(frozen=True, slots=True)
class AgentCount:
    """The alerts one combination of agents worked, with one outcome."""

    claimed_by: str
    replied_by: str
    resolved_by: str
    responder: str  # whose first response of a relevant alert counts for the SLA; "" none
    outcome: Outcome
    count: int


@dataclass(frozen=True, slots=True)
class Waits:
    """How many waits, and the nearest-rank p50 and p90 (service/report.py) in microseconds."""

    count: int = 0
    p50_us: int | None = None
    p90_us: int | None = None


@dataclass(frozen=True, slots=True)
class Sentiment:
    """Where a sentiment counts as negative (≤) and as positive (≥)."""

    negative: float
    positive: float


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    groups: list[MentionGroup]
    platforms: list[Tally]  # most first; a tie in the order first written
    sources: list[Tally]
    languages: list[Tally]  # "" for a language not detected
    reason_lists: list[tuple[tuple[Reason, ...], int]]  # each different list, and how often
    rule_lists: list[tuple[tuple[str, ...], int]]
    authors: int
    repeat_authors: int  # wrote 2+ times in the period
    reach: int  # followers of the distinct authors
    reach_answered: int  # of those with a mention an agent replied to
    counted: list[Tally]  # mentions counted in other alerts' messages or muted, by delivery
    alerts: list[AlertCount]  # of the alerts standing for a customer waiting
    human_response: Waits
    resolution: Waits
    bot_touch: Waits  # per mention: its first automatic reply, from when written
    bot_buckets: dict[int, int]  # those first touches per bucket, as `AlertCount.bucket`


def read_figures(
    engine: Engine,
    since: datetime,
    until: datetime,
    zone: tzinfo,
    halves_at: datetime,
    cut: Sentiment,
    bounds_us: tuple[int, ...] = (),
) -> PeriodFigures:
    """`bounds_us`: the first-response buckets' upper bounds (inclusive), in microseconds."""
    sql = Dialect(engine.dialect.name, zone, since, until)
    written = MentionRow.created_at
    in_period = and_(written >= since, written < until)
    keys = (
        sql.day(written),
        MentionRow.platform,
        written < halves_at,
        MentionRow.source,
        MentionRow.lang,
    )
    sentiment = MentionRow.sentiment
    groups = (
        select(
            *keys,
            func.count(),
            func.count(sentiment),
            func.coalesce(func.sum(sentiment), 0.0),
            func.count(case((sentiment <= cut.negative, 1))),
            func.count(case((sentiment >= cut.positive, 1))),
            func.min(written),
        )
        .where(in_period)
        .group_by(*keys)
    )
    # As text: few different lists however many mentions, each decoded once.
    lists = (
        select(cast(MentionRow.reasons, Text), cast(MentionRow.rules, Text), func.count())
        .where(in_period)
        .group_by(cast(MentionRow.reasons, Text), cast(MentionRow.rules, Text))
    )
    alerts_in_period = and_(AlertRow.created_at >= since, AlertRow.created_at < until)
    stands = standing(since, until)
    answered = select(AlertRow.mention_id).where(
        stands,
        AlertRow.state != "not_relevant",
        AlertRow.answered_at.is_not(None),
        AlertRow.mention_id.is_not(None),
    )
    counted = (
        select(AlertRow.delivery, func.count(), func.min(AlertRow.id))
        .where(alerts_in_period, AlertRow.delivery != "sent")
        .group_by(AlertRow.delivery)
    )
    with engine.connect() as connection, connection.begin():  # Core rows: no ORM cost per row
        _sort_in_memory(connection)
        mentions = _Mentions(connection.execute(groups).all())
        authors, repeat, reach, reached = connection.execute(_authors(in_period, answered)).one()
        return PeriodFigures(
            groups=mentions.groups(),
            platforms=mentions.tallies(1),
            sources=mentions.tallies(3),
            languages=mentions.tallies(4),
            **_lists(connection.execute(lists).all()),
            authors=authors,
            repeat_authors=int(repeat or 0),
            reach=int(reach or 0),
            reach_answered=int(reached or 0),
            counted=[
                Tally(delivery, n)
                for delivery, n, _first in sorted(
                    connection.execute(counted), key=lambda row: (-row[1], row[2])
                )
            ],
            **_alert_figures(connection, sql, stands, until, in_period, bounds_us),
        )


def _alert_figures(
    connection: Connection,
    sql: Dialect,
    stands: Any,
    until: datetime,
    in_period: Any,
    bounds_us: tuple[int, ...],
) -> dict[str, Any]:
    """The alerts counted per day, outcome and bucket, their waits ranked, and the bot first
    touches bucketed and ranked: in one statement, so each alert is classified once (the CASE
    costs more than the grouping). Its rows are (part, text, and four numbers)."""
    alerts = _only(sql.alerts(stands, until), "day", "outcome", "response_us", "resolution_us")
    touches = sql.bot_touches(in_period).cte("bot_touch")
    bucket = _bucket(alerts.c.response_us, bounds_us)
    touch_bucket = _bucket(touches.c.micros, bounds_us)
    counts = select(
        literal("count"), alerts.c.outcome, *_numbers(alerts.c.day, bucket, func.count(), None)
    ).group_by(alerts.c.day, alerts.c.outcome, bucket)
    touched = select(
        literal("touched"), literal(""), *_numbers(touch_bucket, None, func.count(), None)
    ).group_by(touch_bucket)
    ranks = _ranked(
        _waits("human", "", alerts.c.response_us),
        _waits("resolution", "", alerts.c.resolution_us),
        _waits("bot", "", touches.c.micros),
    )
    found: dict[str, Any] = {"alerts": [], "bot_buckets": {}}
    rank_rows = []
    for row in connection.execute(union_all(counts, touched, ranks)):
        part, name, first, second, count, _ = row
        if part == "count":
            found["alerts"].append(AlertCount(_day(first), _OUTCOMES[name], second, count))
        elif part == "touched":
            found["bot_buckets"][first] = count
        else:
            rank_rows.append(row)
    waits = _waits_of(rank_rows)
    found["human_response"] = waits.get(("human", ""), Waits())
    found["resolution"] = waits.get(("resolution", ""), Waits())
    found["bot_touch"] = waits.get(("bot", ""), Waits())
    return found


def _only(alerts: Any, *names: str) -> Any:
    """The alerts with only the columns named: a CTE is computed whole, and who answered
    costs as much as the rest."""
    columns = [column for column in alerts.selected_columns if column.key in names]
    return alerts.with_only_columns(*columns).order_by(None).cte("alert_figure")


def _numbers(*values: Any) -> list[Any]:
    """Numbers of the parts of one statement's rows, as one type (PostgreSQL unites them)."""
    return [cast(null() if value is None else value, BigInteger) for value in values]


def read_agents(
    engine: Engine, since: datetime, until: datetime, zone: tzinfo
) -> tuple[list[AgentCount], dict[str, Waits]]:
    """The alerts standing for a customer waiting in the period, counted per agents and
    outcome; and per agent the first responses that count for the SLA, ranked."""
    sql = Dialect(engine.dialect.name, zone, since, until)
    columns = ("claimed_by", "replied_by", "resolved_by", "responder", "outcome", "response_us")
    alerts = _only(sql.alerts(standing(since, until), until), *columns)
    counts_for_sla = and_(
        alerts.c.response_us.is_not(None),
        alerts.c.responder != "",
        alerts.c.outcome != Outcome.NOT_RELEVANT.value,
    )
    responder = case((counts_for_sla, alerts.c.responder), else_="")
    keys = (
        alerts.c.claimed_by,
        alerts.c.replied_by,
        alerts.c.resolved_by,
        responder,
        alerts.c.outcome,
    )
    per = select(*keys, func.count()).group_by(*keys)
    with engine.connect() as connection, connection.begin():
        counts = [
            AgentCount(claimed or "", replied or "", resolved or "", who or "", _OUTCOMES[o], n)
            for claimed, replied, resolved, who, o, n in connection.execute(per)
        ]
        ranked = _ranked(
            _waits("agent", alerts.c.responder, alerts.c.response_us).where(counts_for_sla)
        )
        waits = _waits_of(connection.execute(ranked).all())
    return counts, {who: found for (_kind, who), found in waits.items()}


def read_alert_facts(
    engine: Engine, since: datetime, until: datetime, zone: tzinfo, mention_ids: list[int]
) -> tuple[dict[int, AlertFigure], dict[int, int]]:
    """For each of `mention_ids` (a few thousand at most), the first alert opened for it in
    the period, and its first automatic reply in microseconds from when it was written."""
    sql = Dialect(engine.dialect.name, zone, since, until)
    # Written into the statement like `_inline`'s: a chunk of ids may outnumber the parameters.
    ids = bindparam("ids", sorted(set(mention_ids)), type_=Integer, expanding=True,
                    literal_execute=True)  # fmt: skip
    written = MentionRow.created_at
    in_period = and_(written >= since, written < until, MentionRow.id.in_(ids))
    alerts = sql.alerts(and_(standing(since, until), AlertRow.mention_id.in_(ids)), until)
    first: dict[int, AlertFigure] = {}
    with engine.connect() as connection, connection.begin():
        for n, outcome, *rest in connection.execute(alerts):  # in the order they were opened
            figure = AlertFigure(_day(n), _OUTCOMES[outcome], *rest)
            if figure.mention_id is not None:
                first.setdefault(figure.mention_id, figure)
        touches = dict(connection.execute(sql.bot_touches(in_period)).all())
    return first, touches


def _sort_in_memory(connection: Connection) -> None:
    """PostgreSQL's default work_mem (4 MB) sends a year's sorts and groupings to disk; this
    read transaction may use more (it ends with the transaction)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL work_mem = '64MB'")


def _bucket(micros: Any, bounds_us: tuple[int, ...]) -> Any:
    """The first of `bounds_us` `micros` is at or under, as an index; past them all: their
    number; none for no wait."""
    return case(
        (micros.is_(None), None),
        *((micros <= bound, index) for index, bound in enumerate(bounds_us)),
        else_=len(bounds_us),
    )


def _waits(kind: str, who: Any, micros: Any) -> Any:
    return select(
        literal(kind).label("kind"),
        (literal(who) if isinstance(who, str) else who).label("who"),
        micros.label("micros"),
    ).where(micros.is_not(None))


def _ranked(*sources: Any) -> Any:
    """Per (kind, who) of the `_waits` sources, the rows (kind, who, how many, whether the
    rank is ⌈n/2⌉, whether it is ⌈9n/10⌉, the wait): nearest ranks in integers, so no float
    decides one, ranked by the database (a window over the waits)."""
    values = union_all(*sources).subquery() if len(sources) > 1 else sources[0].subquery()
    # One window (the whole partition as the count's frame): one sort of the waits, not two.
    window = {
        "partition_by": (values.c.kind, values.c.who),
        "order_by": values.c.micros,
        "rows": (None, None),
    }
    ranked = select(
        values.c.kind,
        values.c.who,
        values.c.micros,
        func.row_number().over(**window).label("rank"),
        func.count().over(**window).label("n"),
    ).subquery()
    n, rank = ranked.c.n, ranked.c.rank
    middle, ninetieth = rank == (n + 1) // 2, rank == (9 * n + 9) // 10
    flags = (case((middle, 1), else_=0), case((ninetieth, 1), else_=0))
    return select(ranked.c.kind, ranked.c.who, *_numbers(n, *flags, ranked.c.micros)).where(
        or_(middle, ninetieth)
    )


def _waits_of(rows: Any) -> dict[tuple[str, str], Waits]:
    """`_ranked`'s rows, per (kind, who)."""
    found: dict[tuple[str, str], dict[str, int]] = {}
    for kind, who, count, is_middle, is_ninetieth, micros in rows:
        figure = found.setdefault((kind, who or ""), {"count": count})
        if is_middle:
            figure["p50_us"] = micros
        if is_ninetieth:
            figure["p90_us"] = micros
    return {key: Waits(**figure) for key, figure in found.items()}


class _Mentions:
    """The rows of the mentions' one grouped scan: (day, platform, first half, source, lang,
    mentions, scored, sentiment sum, negative, positive, first written)."""

    def __init__(self, rows: list[Any]):
        self.rows = rows

    def groups(self) -> list[MentionGroup]:
        summed: dict[tuple[int, str, bool], list[Any]] = {}
        for day, platform, half, _source, _lang, *counts, _first in self.rows:
            total = summed.setdefault((day, platform, bool(half)), [0, 0, 0.0, 0, 0])
            for index, value in enumerate(counts):
                total[index] += value
        return [
            MentionGroup(_day(day), platform, half, *counts)
            for (day, platform, half), counts in summed.items()
        ]

    def tallies(self, column: int) -> list[Tally]:
        """Most first; a tie in the order first written (as the report has always listed)."""
        found: dict[str, tuple[int, datetime]] = {}
        for row in self.rows:
            name, count, first = row[column] or "", row[5], row[-1]
            seen, earliest = found.get(name, (0, first))
            found[name] = (seen + count, min(earliest, first))
        ordered = sorted(found.items(), key=lambda item: (-item[1][0], item[1][1], item[0]))
        return [Tally(name, count) for name, (count, _first) in ordered]


_EPOCH = date(1970, 1, 1)
_OUTCOMES = {outcome.value: outcome for outcome in Outcome}  # a year's alerts: no Enum() each


@cache  # a year of alerts falls on 365 days
def _day(number: int) -> date:
    return _EPOCH + timedelta(days=number)


def day_number(day: date) -> int:
    """The day as `Dialect.day` numbers local days (days since 1970-01-01)."""
    return (day - _EPOCH).days


def _authors(condition: Any, answered: Any) -> Any:
    """Authors (platform and id, else handle), those who wrote 2+ times, their reach (the
    most followers each had) and the reach of those with a mention an agent replied to."""
    author = author_of()
    followers = MentionRow.author_followers
    per = (
        select(
            func.count().label("n"),
            func.max(followers).label("followers"),
            func.max(case((MentionRow.id.in_(answered), followers))).label("answered"),
        )
        .where(condition)
        .group_by(MentionRow.platform, author)
        .subquery()
    )
    return select(
        func.count(),
        func.sum(case((per.c.n >= 2, 1), else_=0)),
        func.sum(per.c.followers),
        func.sum(per.c.answered),
    )


def reasons_of(text: str | None) -> tuple[Reason, ...]:
    return tuple(as_reason(item) for item in json.loads(text or "[]") or [])


def rules_of(text: str | None) -> tuple[str, ...]:
    return tuple(json.loads(text or "[]") or [])


def _lists(rows: list[Any]) -> dict[str, list[Any]]:
    reasons: dict[tuple[Reason, ...], int] = {}
    rules: dict[tuple[str, ...], int] = {}
    for reasons_text, rules_text, count in rows:
        labels = reasons_of(reasons_text)
        names = rules_of(rules_text)
        reasons[labels] = reasons.get(labels, 0) + count
        rules[names] = rules.get(names, 0) + count
    return {"reason_lists": list(reasons.items()), "rule_lists": list(rules.items())}
