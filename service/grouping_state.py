"""What the alert responder's decisions on one batch need, loaded once and kept current.

The alerts sent lately come from the store in one read (`Store.recent_alerts`), off the event
loop; what they mean for grouping, back-off and inhibition is decided here.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.alert_keys import content_group_key, gathers_same_content, realert_key, saying
from core.models import AlertRow
from core.store import FINAL_STATES, OutboxItem, Store
from core.store.recent_alerts import AlertSpans


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
    spans = AlertSpans(
        inhibit=now - windows.inhibit_for,
        group=now - windows.group,
        same=now - windows.same,
        realert=now - windows.realert_max,
    )
    recent = store.recent_alerts(routes, keys, [item.id for item in items], now, spans)
    silenced = {s.rule for s in store.silences(now)}
    inhibitors = [(w.route, list(w.inhibits or ()), known(w)) for w in recent.windows]
    groups: dict[str, Known] = {}
    for group in recent.groups:
        # A content group gathers for `same`, a rule's or the chat's for `group`.
        span = windows.same if gathers_same_content(group.group_key) else windows.group
        if (group.last_at or group.created_at) > now - span:
            groups[group.group_key] = known(group)
    said: Counter[str] = Counter()
    for route, mention in recent.said:
        what = saying(mention.to_mention())
        if what:
            said[content_group_key(route, what)] += 1
    arriving = Counter(item.target for item in items)
    alerted: Counter[str] = Counter()
    latest: dict[str, Known | None] = {}
    for row in recent.by_key:
        found = known(row)
        found.level = alerted[row.key]
        alerted[row.key] += 1
        # A closed alert is done with: the author's next mention is new work.
        latest[row.key] = None if row.state in FINAL_STATES else found
    by_key = {key: found for key, found in latest.items() if found is not None}
    unsent = {row.outbox_id or 0: (row.id or 0, row.kind) for row in recent.unsent}
    return BatchState(
        silenced,
        inhibitors,
        groups,
        Counter(recent.singles),
        said,
        Counter(recent.lately),
        arriving,
        by_key,
        Counter(recent.suppressed),
        unsent,
    )


def known(row: AlertRow) -> Known:
    return Known(
        row.id or 0, row.chat_id, row.message_id, row.created_at, row.last_at or row.created_at
    )
