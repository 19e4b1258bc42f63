"""What the report, the dashboard and the agents' figures read about one period.

`period_figures`: what the database counts (core/store/figures.py). `period_rows`: the period's
rows themselves, with only the columns the lists behind a figure need. `history`: those lists,
mentions by id, closed ones included, with the alert that stands for each (the `/queue` a
chart's bar opens).
"""

import json
from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import Text, cast, select
from sqlmodel import Session

from core.models import AlertRow, MentionRow, ReplyRow
from core.reasons import Reason, as_reason
from core.store._db import StoreBase
from core.store.figures import PeriodFigures, Sentiment, read_figures


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


class Reporting(StoreBase):
    def period_figures(
        self, since: datetime, until: datetime, zone: tzinfo, halves_at: datetime, cut: Sentiment
    ) -> PeriodFigures:
        """The figures of mentions written and alerts opened in [since, until), by day in
        `zone`, sentiment split at `halves_at`; in one read transaction so they all agree."""
        return read_figures(self.engine, since, until, zone, halves_at, cut)

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
