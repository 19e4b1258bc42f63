"""What the alert responder's decisions on one batch need, loaded once and kept current.

The queries here are among those moving into the store by subject (docs/architecture.md,
issue 13); they read the alert table only, in one session, off the event loop.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from core.alert_keys import content_group_key, gathers_same_content, realert_key, saying
from core.models import AlertRow, MentionRow
from core.store import FINAL_STATES, OutboxItem, Store


@dataclass(slots=True)
class Known:
    """A message-owning alert the batch may count mentions into."""

    id: int
    chat_id: str
    message_id: int
    created_at: datetime
    last_at: datetime
    level: int = 0  # re-alerts of the same key before this one (back-off doubles each time)


@dataclass(slots=True)
class BatchState:
    """What the decisions of one batch need, kept current while deciding."""

    silenced: set[str]
    inhibitors: list[tuple[str, list[str], Known]]  # (route, rules or ["*"], window alert)
    groups: dict[str, Known]  # group_key → open group alert
    singles: Counter[str]  # group_key (route|rule) → single alerts within group_window
    said: Counter[str]  # content group key → single alerts saying it within same_window
    lately: Counter[str]  # route → single alerts in the minute before this batch
    arriving: Counter[str]  # route → alerts in this batch
    by_key: dict[str, Known]  # rule|author → the last single alert for it
    suppressed: Counter[str]  # route → muted or inhibited since its last message
    unsent: dict[int, tuple[int, str]]  # outbox id → (its alert, kind) written but not sent
    members: list[dict[str, Any]] = field(default_factory=list)
    pending: list[tuple[OutboxItem, int]] = field(default_factory=list)  # groups to send
    counted: dict[int, tuple[int, datetime]] = field(default_factory=dict)

    def count(self, target: Known, now: datetime) -> None:
        added, _ = self.counted.get(target.id, (0, now))
        self.counted[target.id] = (added + 1, now)
        target.last_at = now


@dataclass(frozen=True, slots=True)
class Windows:
    """How far back the batch looks (AlertsConfig's durations)."""

    group: timedelta
    same: timedelta
    realert_max: timedelta
    inhibit_for: timedelta


def load_state(
    store: Store, items: Iterable[OutboxItem], now: datetime, windows: Windows
) -> BatchState:
    items = list(items)
    routes = {item.target for item in items}
    keys = {realert_key(item.rule, item.mention) for item in items}
    open_states = AlertRow.state.not_in(FINAL_STATES)
    with Session(store.engine) as session:
        silenced = {s.rule for s in store.silences(now)}
        window_rows = session.scalars(
            select(AlertRow).where(
                AlertRow.kind == "window",
                AlertRow.message_id > 0,
                open_states,
                AlertRow.created_at > now - windows.inhibit_for,
            )
        )
        inhibitors = [(w.route, list(w.inhibits or ()), known(w)) for w in window_rows]
        groups: dict[str, Known] = {}
        for group in session.scalars(
            select(AlertRow)
            .where(
                AlertRow.kind == "group",
                AlertRow.route.in_(routes),
                open_states,
                AlertRow.last_at > now - max(windows.group, windows.same),
            )
            .order_by(AlertRow.id)
        ):
            # A content group gathers for `same`, a rule's or the chat's for `group`.
            span = windows.same if gathers_same_content(group.group_key) else windows.group
            if (group.last_at or group.created_at) > now - span:
                groups[group.group_key] = known(group)
        singles: Counter[str] = Counter()
        for group_key, count in session.execute(
            select(AlertRow.group_key, func.count())
            .where(
                AlertRow.kind == "mention",
                AlertRow.delivery == "sent",
                AlertRow.route.in_(routes),
                AlertRow.created_at > now - windows.group,
            )
            .group_by(AlertRow.group_key)
        ):
            singles[group_key] = count
        said: Counter[str] = Counter()
        for route, mention in session.execute(
            select(AlertRow.route, MentionRow)
            .join(MentionRow, MentionRow.id == AlertRow.mention_id)
            .where(
                AlertRow.kind == "mention",
                AlertRow.delivery == "sent",
                AlertRow.route.in_(routes),
                AlertRow.created_at > now - windows.same,
            )
        ):
            what = saying(mention.to_mention())
            if what:
                said[content_group_key(route, what)] += 1
        lately: Counter[str] = Counter()
        for route, count in session.execute(
            select(AlertRow.route, func.count())
            .where(
                AlertRow.kind == "mention",
                AlertRow.delivery == "sent",
                AlertRow.route.in_(routes),
                AlertRow.created_at > now - timedelta(minutes=1),
            )
            .group_by(AlertRow.route)
        ):
            lately[route] = count
        arriving = Counter(item.target for item in items)
        alerted: Counter[str] = Counter()
        latest: dict[str, Known | None] = {}
        recent = session.scalars(
            select(AlertRow)
            .where(
                AlertRow.key.in_(keys),
                AlertRow.delivery == "sent",
                AlertRow.created_at > now - windows.realert_max,
            )
            .order_by(AlertRow.id)
        )
        for row in recent:
            found = known(row)
            found.level = alerted[row.key]
            alerted[row.key] += 1
            # A closed alert is done with: the author's next mention is new work.
            latest[row.key] = None if row.state in FINAL_STATES else found
        by_key = {key: found for key, found in latest.items() if found is not None}
        suppressed: Counter[str] = Counter()
        for route in routes:
            last = session.scalar(
                select(func.max(AlertRow.id)).where(
                    AlertRow.route == route, AlertRow.delivery == "sent"
                )
            )
            suppressed[route] = (
                session.scalar(
                    select(func.count())
                    .select_from(AlertRow)
                    .where(
                        AlertRow.route == route,
                        AlertRow.delivery.in_(("muted", "inhibited")),
                        AlertRow.id > (last or 0),
                    )
                )
                or 0
            )
        unsent = {
            row.outbox_id or 0: (row.id or 0, row.kind)
            for row in session.scalars(
                select(AlertRow).where(
                    AlertRow.outbox_id.in_([item.id for item in items]),
                    AlertRow.message_id == 0,
                    AlertRow.delivery == "sent",
                )
            )
        }
    return BatchState(
        silenced, inhibitors, groups, singles, said, lately, arriving, by_key, suppressed, unsent
    )


def known(row: AlertRow) -> Known:
    return Known(
        row.id or 0, row.chat_id, row.message_id, row.created_at, row.last_at or row.created_at
    )
