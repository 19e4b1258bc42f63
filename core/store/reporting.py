"""What the report, the dashboard and the agents' figures read about one period.

`period_figures`: what the database counts (core/store/figures.py); `agent_figures`: the same
alerts per agent; `alert_facts`: the alerts of some mentions, for the export. `figure_mentions`:
the mentions one of those figures counts. `history`: those lists, mentions by id, closed ones
included, with the alert that stands for each (the `/queue` a chart's bar opens).
"""

from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import select
from sqlmodel import Session

from core.models import AlertRow, MentionRow
from core.store._db import StoreBase
from core.store.figure_selection import Selection, select_mentions
from core.store.figures import (
    AgentCount,
    AlertFigure,
    PeriodFigures,
    Sentiment,
    Waits,
    read_agents,
    read_alert_facts,
    read_figures,
)


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


class Reporting(StoreBase):
    def period_figures(
        self,
        since: datetime,
        until: datetime,
        zone: tzinfo,
        halves_at: datetime,
        cut: Sentiment,
        bounds_us: tuple[int, ...] = (),
    ) -> PeriodFigures:
        """The figures of mentions written and alerts opened in [since, until), by day in
        `zone`, sentiment split at `halves_at`, first responses in the buckets `bounds_us`
        (microseconds, inclusive); in one read transaction so they all agree."""
        return read_figures(self.engine, since, until, zone, halves_at, cut, bounds_us)

    def agent_figures(
        self, since: datetime, until: datetime, zone: tzinfo
    ) -> tuple[list[AgentCount], dict[str, Waits]]:
        """The alerts opened in [since, until) per agents and outcome, and per agent the
        first responses that count for the SLA."""
        return read_agents(self.engine, since, until, zone)

    def alert_facts(
        self, since: datetime, until: datetime, zone: tzinfo, mention_ids: list[int]
    ) -> tuple[dict[int, AlertFigure], dict[int, int]]:
        """Per mention of `mention_ids`: its first alert opened in [since, until), and its
        bot first touch in microseconds."""
        return read_alert_facts(self.engine, since, until, zone, mention_ids)

    def figure_mentions(
        self, since: datetime, until: datetime, zone: tzinfo, cut: Sentiment, chosen: Selection
    ) -> list[int]:
        """The ids of the mentions one figure of [since, until) counts, in order."""
        return select_mentions(self.engine, since, until, zone, cut, chosen)

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
