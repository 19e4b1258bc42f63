"""What the report, the dashboard and the agents' figures read about one period.

`period_figures` groups in SQL: a year is 100,000 mentions, and grouping them in Python cost
seconds. The database counts per local day, platform, source, language, list of reasons and
author, and classifies each alert by the report's definitions (service/report.py's docstring)
as CASE; only what needs ordering in Python comes back one row each (alerts, for percentiles).

`period_rows` reads the period's rows themselves, with only the columns the lists behind a
figure need; and `history` gives those lists: mentions by id, closed ones included, with the
alert that stands for each (the `/queue` a chart's bar opens).
"""

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import BigInteger, Integer, Text, and_, case, cast, func, or_, select
from sqlmodel import Session

from core.models import AlertRow, MentionRow, ReplyRow
from core.reasons import Reason, as_reason
from core.store._db import StoreBase


@dataclass(frozen=True, slots=True)
class ReportMention:
    id: int
    platform: str
    source: str
    author_id: str
    author_handle: str
    author_followers: int
    lang: str
    created_at: datetime
    sentiment: float | None
    reasons: tuple[Reason, ...]
    rules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReportAlert:
    id: int
    mention_id: int | None
    kind: str
    delivery: str
    state: str
    created_at: datetime
    due_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str
    answered_at: datetime | None
    answered_by: str
    resolved_at: datetime | None
    resolved_by: str
    written: datetime | None  # when the customer wrote the alerted mention


@dataclass(frozen=True, slots=True)
class AutomaticReply:
    mention_id: int
    sent_at: datetime | None
    written: datetime


@dataclass(frozen=True, slots=True)
class PeriodRows:
    mentions: list[ReportMention]
    alerts: list[ReportAlert]
    automatic_replies: list[AutomaticReply]


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One mention of a figure's list, open or closed; `alert` is None if it never alerted.

    It answers what a queue row shows (deadline, claimer, group) like `InboxRow` does.
    """

    mention: MentionRow
    alert: AlertRow | None
    group: AlertRow | None

    @property
    def due_at(self) -> datetime | None:
        if self.alert is None:
            return None
        return self.alert.due_at or (self.group.due_at if self.group else None)

    @property
    def message_alert(self) -> AlertRow | None:
        if self.alert is None:
            return None
        return self.alert if self.alert.kind == "group" else self.group

    @property
    def claimed_by(self) -> str:
        if self.alert is None:
            return ""
        if self.alert.acknowledged_by:
            return self.alert.acknowledged_by
        return self.group.acknowledged_by if self.group else ""

    @property
    def snoozed_until(self) -> datetime | None:
        if self.alert is None:
            return None
        return self.alert.snoozed_until or (self.group.snoozed_until if self.group else None)

    @property
    def state(self) -> str:
        return self.alert.state if self.alert is not None else "not alerted"


_MENTION_COLUMNS = (
    MentionRow.id,
    MentionRow.platform,
    MentionRow.source,
    MentionRow.author_id,
    MentionRow.author_handle,
    MentionRow.author_followers,
    MentionRow.lang,
    MentionRow.created_at,
    MentionRow.sentiment,
    # As text: a year has 100,000 of each, but few different ones, each decoded once.
    cast(MentionRow.reasons, Text),
    cast(MentionRow.rules, Text),
)
_ALERT_COLUMNS = (
    AlertRow.id,
    AlertRow.mention_id,
    AlertRow.kind,
    AlertRow.delivery,
    AlertRow.state,
    AlertRow.created_at,
    AlertRow.due_at,
    AlertRow.acknowledged_at,
    AlertRow.acknowledged_by,
    AlertRow.answered_at,
    AlertRow.answered_by,
    AlertRow.resolved_at,
    AlertRow.resolved_by,
    MentionRow.created_at,
)


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
    outcome: str  # within | missed | pending | not_relevant
    response_us: int | None  # human first response, from when the customer wrote
    resolution_us: int | None
    claimed_by: str
    replied_by: str  # "" unless an agent replied
    resolved_by: str  # "" unless resolved
    responder: str  # who gave the first response: who replied, or who resolved it first


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
    bot_touch_us: list[int]  # per mention: its first automatic reply, from when it was written


class Reporting(StoreBase):
    def period_figures(
        self, since: datetime, until: datetime, zone: tzinfo, halves_at: datetime, cut: Sentiment
    ) -> PeriodFigures:
        """The figures of mentions written and alerts opened in [since, until), by day in
        `zone`, sentiment split at `halves_at`; in one read transaction so they all agree."""
        sql = _Dialect(self.engine.dialect.name, zone, since, until)
        written = MentionRow.created_at
        in_period = and_(written >= since, written < until)
        mention_day = sql.day(written)
        first_half = written < halves_at
        sentiment = MentionRow.sentiment
        groups = (
            select(
                mention_day,
                MentionRow.platform,
                first_half,
                func.count(),
                func.count(sentiment),
                func.coalesce(func.sum(sentiment), 0.0),
                func.count(case((sentiment <= cut.negative, 1))),
                func.count(case((sentiment >= cut.positive, 1))),
            )
            .where(in_period)
            .group_by(mention_day, MentionRow.platform, first_half)
        )
        kinds = (
            select(
                MentionRow.platform,
                MentionRow.source,
                MentionRow.lang,
                func.count(),
                func.min(written),
            )
            .where(in_period)
            .group_by(MentionRow.platform, MentionRow.source, MentionRow.lang)
        )
        # As text: few different lists however many mentions, each decoded once.
        lists = (
            select(cast(MentionRow.reasons, Text), cast(MentionRow.rules, Text), func.count())
            .where(in_period)
            .group_by(cast(MentionRow.reasons, Text), cast(MentionRow.rules, Text))
        )
        alerts_in_period = and_(AlertRow.created_at >= since, AlertRow.created_at < until)
        stands = and_(alerts_in_period, AlertRow.delivery == "sent", AlertRow.kind != "window")
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
        with Session(self.engine) as session, session.begin():
            authors, repeat, reach = session.execute(_authors(in_period)).one()
            reached = session.execute(_reach(and_(in_period, MentionRow.id.in_(answered))))
            return PeriodFigures(
                groups=[
                    MentionGroup(_day(n), platform, bool(half), *counts)
                    for n, platform, half, *counts in session.execute(groups)
                ],
                **_kinds(session.execute(kinds).all()),
                **_lists(session.execute(lists).all()),
                authors=authors,
                repeat_authors=int(repeat or 0),
                reach=int(reach or 0),
                reach_answered=int(reached.scalar_one()),
                counted=[
                    Tally(delivery, n)
                    for delivery, n, _first in sorted(
                        session.execute(counted), key=lambda row: (-row[1], row[2])
                    )
                ],
                alerts=[
                    AlertFigure(_day(n), *rest)
                    for n, *rest in session.execute(sql.alerts(stands, until))
                ],
                bot_touch_us=list(session.scalars(sql.bot_touches(in_period))),
            )

    def period_rows(self, since: datetime, until: datetime) -> PeriodRows:
        """Mentions written, alerts opened and automatic replies to mentions written in
        [since, until), in one read transaction so the three agree."""
        mentions = select(*_MENTION_COLUMNS).where(
            MentionRow.created_at >= since, MentionRow.created_at < until
        )
        alerts = (
            select(*_ALERT_COLUMNS)
            .outerjoin(MentionRow, MentionRow.id == AlertRow.mention_id)
            .where(AlertRow.created_at >= since, AlertRow.created_at < until)
        )
        replies = (
            select(ReplyRow.mention_id, ReplyRow.sent_at, MentionRow.created_at)
            .join(MentionRow, MentionRow.id == ReplyRow.mention_id)
            .where(
                ReplyRow.automatic.is_(True),  # a rule's or the SLA watcher's, not an agent's
                ReplyRow.state == "sent",
                MentionRow.created_at >= since,
                MentionRow.created_at < until,
            )
        )
        decoded_rules: dict[str | None, tuple[str, ...]] = {}
        decoded_reasons: dict[str | None, tuple[Reason, ...]] = {}

        def labels(text: str | None) -> tuple[str, ...]:
            if text not in decoded_rules:
                decoded_rules[text] = tuple(json.loads(text)) if text else ()
            return decoded_rules[text]

        def reasons_of(text: str | None) -> tuple[Reason, ...]:
            if text not in decoded_reasons:
                items = json.loads(text) if text else []
                decoded_reasons[text] = tuple(as_reason(item) for item in items)
            return decoded_reasons[text]

        with Session(self.engine) as session, session.begin():
            return PeriodRows(
                [
                    ReportMention(*head, reasons_of(reasons), labels(rules))
                    for *head, reasons, rules in session.execute(mentions)
                ],
                [ReportAlert(*row) for row in session.execute(alerts)],
                [AutomaticReply(*row) for row in session.execute(replies)],
            )

    def history(self, mention_ids: list[int], offset: int = 0, limit: int = 50) -> list[HistoryRow]:
        """The mentions `mention_ids` (newest first), each with the alert standing for it: its
        own (first) alert, else the group it opened, as the mention page picks it."""
        page = sorted(mention_ids, reverse=True)[offset : offset + limit]
        if not page:
            return []
        with Session(self.engine) as session:
            mentions = session.scalars(select(MentionRow).where(MentionRow.id.in_(page))).all()
            alerts = session.scalars(
                select(AlertRow)
                .where(AlertRow.mention_id.in_(page), AlertRow.kind.in_(("mention", "group")))
                .order_by(AlertRow.kind != "mention", AlertRow.id)
            ).all()
            standing: dict[int, AlertRow] = {}
            for alert in alerts:
                standing.setdefault(alert.mention_id or 0, alert)
            group_ids = {a.group_id for a in standing.values() if a.group_id is not None}
            groups = {
                g.id: g for g in session.scalars(select(AlertRow).where(AlertRow.id.in_(group_ids)))
            }
        by_id = {m.id: m for m in mentions}
        rows = []
        for mention_id in page:
            if mention_id in by_id:
                alert = standing.get(mention_id)
                group = groups.get(alert.group_id) if alert and alert.group_id else None
                rows.append(HistoryRow(by_id[mention_id], alert, group))
        return rows


_EPOCH = date(1970, 1, 1)


def _day(number: int) -> date:
    return _EPOCH + timedelta(days=number)


class _Dialect:
    """The expressions SQLite and PostgreSQL spell differently: seconds since the epoch, the
    day in the brand's zone (an offset per stretch between the zone's changes of offset), and
    exact microseconds between two moments (julianday() would round to milliseconds)."""

    def __init__(self, name: str, zone: tzinfo, since: datetime, until: datetime):
        self.sqlite = name == "sqlite"
        self.offsets = offset_changes(zone, since, until)

    def epoch(self, moment: Any) -> Any:
        if self.sqlite:
            return cast(func.strftime("%s", moment), Integer)
        return cast(func.floor(func.extract("epoch", moment)), BigInteger)

    def day(self, moment: Any) -> Any:
        """Days from 1970-01-01 to `moment`'s local date."""
        first, changes = self.offsets
        offset: Any = first
        if changes:
            offset = case(*((moment < at, before) for at, before in changes), else_=changes[-1][2])
        return (self.epoch(moment) + offset) // 86400

    def micros(self, later: Any, earlier: Any) -> Any:
        if self.sqlite:
            # Stored as "YYYY-MM-DD HH:MM:SS.ffffff": whole seconds, then the digits after.
            def fraction(moment: Any) -> Any:
                return cast(func.substr(moment, 21, 6), Integer)

            whole = self.epoch(later) - self.epoch(earlier)
            return whole * 1_000_000 + fraction(later) - fraction(earlier)
        return cast(func.extract("epoch", later - earlier) * 1_000_000, BigInteger)

    def alerts(self, stands: Any, until: datetime) -> Any:
        """One row per alert standing for a customer waiting, as `AlertFigure` holds it."""
        written = MentionRow.created_at  # the alerted mention's; none for a window's
        created = AlertRow.created_at
        start = case((and_(written.is_not(None), written < created), written), else_=created)
        relevant = AlertRow.state != "not_relevant"
        resolved = and_(AlertRow.state == "resolved", AlertRow.resolved_at.is_not(None))
        resolved_first = or_(
            AlertRow.answered_at.is_(None), AlertRow.resolved_at < AlertRow.answered_at
        )
        response = case(
            (~relevant, None),
            (and_(resolved, resolved_first), AlertRow.resolved_at),
            else_=AlertRow.answered_at,
        )
        due = AlertRow.due_at
        outcome = case(
            (~relevant, "not_relevant"),
            (response.is_not(None), case((or_(due.is_(None), response <= due), "within"),
                                         else_="missed")),
            (and_(due.is_not(None), due <= until), "missed"),
            else_="pending",
        )  # fmt: skip
        answered_by = case((AlertRow.answered_at.is_not(None), AlertRow.answered_by), else_="")
        resolved_by = case((AlertRow.state == "resolved", AlertRow.resolved_by), else_="")
        responder = case(
            (response.is_(None), ""),
            (AlertRow.answered_at == response, AlertRow.answered_by),
            else_=AlertRow.resolved_by,
        )
        return (
            select(
                self.day(created),
                outcome,
                self.micros(response, start),
                case((and_(relevant, resolved), self.micros(AlertRow.resolved_at, start))),
                AlertRow.acknowledged_by,
                answered_by,
                resolved_by,
                responder,
            )
            .select_from(AlertRow)
            .outerjoin(MentionRow, MentionRow.id == AlertRow.mention_id)
            .where(stands)
        )

    def bot_touches(self, in_period: Any) -> Any:
        """Per mention written in the period, its first automatic reply sent (a rule's or the
        SLA watcher's, not an agent's), in microseconds from when it was written."""
        return (
            select(func.min(self.micros(ReplyRow.sent_at, MentionRow.created_at)))
            .select_from(ReplyRow)
            .join(MentionRow, MentionRow.id == ReplyRow.mention_id)
            .where(
                in_period,
                ReplyRow.automatic.is_(True),
                ReplyRow.state == "sent",
                ReplyRow.sent_at.is_not(None),
            )
            .group_by(ReplyRow.mention_id)
        )


def offset_changes(
    zone: tzinfo, since: datetime, until: datetime
) -> tuple[int, list[tuple[datetime, int, int]]]:
    """`zone`'s UTC offset in seconds at `since`, and each change before `until` as (moment,
    offset before, offset from then on), found hour by hour, then to the second."""

    def offset(moment: datetime) -> int:
        found = moment.astimezone(zone).utcoffset()
        return int(found.total_seconds()) if found else 0

    first = current = offset(since)
    changes: list[tuple[datetime, int, int]] = []
    low = int(since.timestamp())
    end = int(until.timestamp())
    while low < end:
        high = min(low + 3600, end)
        if offset(datetime.fromtimestamp(high, UTC)) != current:
            while high - low > 1:  # offset(low) is `current`, offset(high) is not
                middle = (low + high) // 2
                if offset(datetime.fromtimestamp(middle, UTC)) == current:
                    low = middle
                else:
                    high = middle
            moment = datetime.fromtimestamp(high, UTC)
            changes.append((moment, current, offset(moment)))
            current = offset(moment)
        low = high
    return first, changes


def _author_groups(condition: Any) -> Any:
    """Per author (platform and id, else handle): mentions, and the most followers seen."""
    author = func.coalesce(func.nullif(MentionRow.author_id, ""), MentionRow.author_handle)
    return (
        select(func.count().label("n"), func.max(MentionRow.author_followers).label("followers"))
        .where(condition)
        .group_by(MentionRow.platform, author)
        .subquery()
    )


def _authors(condition: Any) -> Any:
    per = _author_groups(condition)
    return select(
        func.count(), func.sum(case((per.c.n >= 2, 1), else_=0)), func.sum(per.c.followers)
    )


def _reach(condition: Any) -> Any:
    return select(func.coalesce(func.sum(_author_groups(condition).c.followers), 0))


def _kinds(rows: list[Any]) -> dict[str, list[Tally]]:
    """Platforms, sources and languages, most first, a tie in the order first written (as the
    report has always listed them)."""
    found: dict[str, dict[str, tuple[int, datetime]]] = {
        "platforms": {},
        "sources": {},
        "languages": {},
    }
    for platform, source, lang, count, first in rows:
        for kind, name in (("platforms", platform), ("sources", source), ("languages", lang)):
            seen, earliest = found[kind].get(name or "", (0, first))
            found[kind][name or ""] = (seen + count, min(earliest, first))
    return {
        kind: [
            Tally(name, count)
            for name, (count, _first) in sorted(
                tallies.items(), key=lambda item: (-item[1][0], item[1][1], item[0])
            )
        ]
        for kind, tallies in found.items()
    }


def _lists(rows: list[Any]) -> dict[str, list[Any]]:
    reasons: dict[tuple[Reason, ...], int] = {}
    rules: dict[tuple[str, ...], int] = {}
    for reasons_text, rules_text, count in rows:
        labels = tuple(as_reason(item) for item in json.loads(reasons_text or "[]") or [])
        names = tuple(json.loads(rules_text or "[]") or [])
        reasons[labels] = reasons.get(labels, 0) + count
        rules[names] = rules.get(names, 0) + count
    return {"reason_lists": list(reasons.items()), "rule_lists": list(rules.items())}
