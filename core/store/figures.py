"""The report's, the dashboard's and the agents' figures of one period, counted by the database.

A year is 100,000 mentions: reading them row by row and grouping in Python cost seconds. Here
three scans of the period's mentions count per local day, platform, half, source and language;
per list of reasons and rules; and per author. Each alert is classified by the report's
definitions as CASE (core/store/figure_sql.py, the only copy of those rules), and only its
narrow values come back (first-response times need ordering, for percentiles).
`Store.period_figures` is the door. `Store.figure_mentions` selects the mentions one figure
counts (the list a bar opens) by the same expressions, reading no other rows.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from functools import cache
from typing import Any

from sqlalchemy import Text, and_, bindparam, case, cast, func, select, tuple_
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
    alerts: list[AlertFigure]
    bot_touch_us: dict[int, int]  # mention id → its first automatic reply, from when written


def read_figures(
    engine: Engine,
    since: datetime,
    until: datetime,
    zone: tzinfo,
    halves_at: datetime,
    cut: Sentiment,
) -> PeriodFigures:
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
            alerts=[
                AlertFigure(_day(n), _OUTCOMES[outcome], *rest)
                for n, outcome, *rest in connection.execute(sql.alerts(stands, until))
            ],
            bot_touch_us={n: us for n, us in connection.execute(sql.bot_touches(in_period))},
        )


@dataclass(frozen=True, slots=True)
class Selection:
    """The mentions of a period one figure counts (service/overview.py's `Drill`, resolved).

    Empty fields do not narrow. Mention fields narrow the mentions written in the period; with
    `by_alert` the figure counts alerts opened in it (SLA, first response, agents), and `days`
    is the alert's own.
    """

    days: tuple[date, date] | None = None  # first and last local day, inclusive
    platform: str = ""
    sentiment: str = ""  # negative | neutral | positive
    lang: str = ""  # "?": not detected
    reasons: Callable[[tuple[Reason, ...]], bool] | None = None  # a list of reasons counts
    rules: Callable[[tuple[str, ...]], bool] | None = None
    repeat: bool = False  # by authors who wrote 2+ times in the period
    by_alert: bool = False
    outcome: str = ""
    human: bool = False  # alerts with a human first response
    bot: bool = False  # mentions with a bot first touch
    wait_us: tuple[int | None, int | None] = (None, None)  # of that response: (above, up to)
    agent: str = ""
    role: str = ""  # claimed | replied | resolved | responded

    @property
    def narrows_mentions(self) -> bool:
        fields = (self.platform, self.sentiment, self.lang, self.reasons, self.rules)
        return any(fields) or self.repeat


def select_mentions(
    engine: Engine,
    since: datetime,
    until: datetime,
    zone: tzinfo,
    cut: Sentiment,
    chosen: Selection,
) -> list[int]:
    """The ids of the mentions `chosen` names, in order."""
    sql = Dialect(engine.dialect.name, zone, since, until)
    written = MentionRow.created_at
    in_period = and_(written >= since, written < until)
    with engine.connect() as connection, connection.begin():
        mentions = [in_period, *_mention_conditions(connection, chosen, cut, in_period)]
        if chosen.days and not chosen.by_alert:
            mentions.append(sql.day(written).between(*map(_number, chosen.days)))
        if chosen.by_alert:
            query = _alert_query(sql, chosen, since, until)
            if chosen.narrows_mentions:
                query = query.where(
                    query.selected_columns[0].in_(select(MentionRow.id).where(*mentions))
                )
        else:
            query = select(MentionRow.id).where(*mentions)
            if chosen.bot:
                touches = sql.bot_touches(in_period).subquery()
                query = query.where(
                    MentionRow.id.in_(
                        select(touches.c.mention_id).where(*_within(touches.c[1], chosen.wait_us))
                    )
                )
        return sorted({n for n in connection.scalars(query) if n is not None})


def _alert_query(sql: Dialect, chosen: Selection, since: datetime, until: datetime) -> Any:
    figures = sql.alerts(standing(since, until), until).order_by(None).subquery()
    conditions = [figures.c.mention_id.is_not(None)]
    if chosen.days:
        conditions.append(figures.c.day.between(*map(_number, chosen.days)))
    if chosen.outcome:
        conditions.append(figures.c.outcome == chosen.outcome)
    if chosen.human:
        response = figures.c.response_us
        conditions += [response.is_not(None), *_within(response, chosen.wait_us)]
    if chosen.agent:
        column = {"claimed": "claimed_by", "replied": "replied_by", "resolved": "resolved_by"}
        conditions.append(figures.c[column.get(chosen.role, "responder")] == chosen.agent)
        if chosen.role not in column:  # the first response's: an SLA figure
            conditions.append(figures.c.outcome != Outcome.NOT_RELEVANT.value)
    return select(figures.c.mention_id).where(*conditions)


def _mention_conditions(
    connection: Connection, chosen: Selection, cut: Sentiment, in_period: Any
) -> list[Any]:
    found: list[Any] = []
    if chosen.platform:
        found.append(MentionRow.platform == chosen.platform)
    sentiment = MentionRow.sentiment
    classes = {
        "negative": sentiment <= cut.negative,
        "positive": sentiment >= cut.positive,
        "neutral": and_(sentiment > cut.negative, sentiment < cut.positive),
    }
    if chosen.sentiment:
        found.append(classes[chosen.sentiment])
    if chosen.lang:
        found.append(func.coalesce(func.nullif(MentionRow.lang, ""), "?") == chosen.lang)
    if chosen.reasons or chosen.rules:
        # As text: few different lists in a period; each decoded once, matched here.
        reasons_text, rules_text = cast(MentionRow.reasons, Text), cast(MentionRow.rules, Text)
        pairs = connection.execute(select(reasons_text, rules_text).where(in_period).distinct())
        wanted_reasons, wanted_rules = set(), set()
        for reasons, rules in pairs:
            if chosen.reasons and chosen.reasons(_reasons(reasons)):
                wanted_reasons.add(reasons)
            if chosen.rules and chosen.rules(_rules(rules)):
                wanted_rules.add(rules)
        if chosen.reasons:
            found.append(reasons_text.in_(_inline("reasons", wanted_reasons)))
        if chosen.rules:
            found.append(rules_text.in_(_inline("rules", wanted_rules)))
    if chosen.repeat:
        author = author_of()
        repeated = (
            select(MentionRow.platform, author)
            .where(in_period)
            .group_by(MentionRow.platform, author)
            .having(func.count() >= 2)
        )
        found.append(tuple_(MentionRow.platform, author).in_(repeated))
    return found


def _inline(name: str, texts: set[str]) -> Any:
    """Texts written into the statement: a year's different lists of reasons (they carry the
    sentiment's score) may outnumber the parameters SQLite and PostgreSQL accept."""
    return bindparam(name, sorted(texts), type_=Text, expanding=True, literal_execute=True)


def _within(micros: Any, bounds: tuple[int | None, int | None]) -> list[Any]:
    above, up_to = bounds
    return [
        *(() if above is None else (micros > above,)),
        *(() if up_to is None else (micros <= up_to,)),
    ]


def _number(day: date) -> int:
    return (day - _EPOCH).days


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


def _reasons(text: str | None) -> tuple[Reason, ...]:
    return tuple(as_reason(item) for item in json.loads(text or "[]") or [])


def _rules(text: str | None) -> tuple[str, ...]:
    return tuple(json.loads(text or "[]") or [])


def _lists(rows: list[Any]) -> dict[str, list[Any]]:
    reasons: dict[tuple[Reason, ...], int] = {}
    rules: dict[tuple[str, ...], int] = {}
    for reasons_text, rules_text, count in rows:
        labels = _reasons(reasons_text)
        names = _rules(rules_text)
        reasons[labels] = reasons.get(labels, 0) + count
        rules[names] = rules.get(names, 0) + count
    return {"reason_lists": list(reasons.items()), "rule_lists": list(rules.items())}
