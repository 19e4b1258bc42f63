"""Counts of stored mentions for window rules and for the repeat-complainer urgency.

The store reads the mentions (`Store.mentions_between` and friends); rules/windows.py judges the
counts and rules/engine.py takes the repeat counts as a plain number, so both stay pure.
"""

import fnmatch
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from core.mention import Mention
from core.store import Store
from rules.window_schema import (
    FlatlineWindow,
    FrequencyWindow,
    SpikeWindow,
    Window,
    WindowFilter,
)
from rules.windows import WindowAlert, WindowCounts, evaluate_windows


def check_windows(
    store: Store, windows: Sequence[Window], now: datetime, started_at: datetime
) -> list[WindowAlert]:
    """The window rules firing at `now`; send each alert once per `WindowAlert.key`."""
    return evaluate_windows(windows, window_counts(store, windows, now, started_at), now)


def window_counts(
    store: Store, windows: Sequence[Window], now: datetime, started_at: datetime
) -> dict[str, WindowCounts]:
    """What each enabled window rule needs, counted over mentions created up to `now`.

    `started_at` stands in for the newest mention of a flatline rule that has seen none yet, so
    a fresh install waits `quiet_for` before calling its listener broken.
    """
    counts: dict[str, WindowCounts] = {}
    for window in windows:
        if not window.enabled:
            continue
        if isinstance(window, SpikeWindow):
            counts[window.name] = _spike_counts(store, window, now)
        elif isinstance(window, FrequencyWindow):
            counts[window.name] = _frequency_counts(store, window, now)
        elif isinstance(window, FlatlineWindow):
            counts[window.name] = _flatline_counts(store, window, now, started_at)
    return counts


def _spike_counts(store: Store, window: SpikeWindow, now: datetime) -> WindowCounts:
    split = now - window.last
    rows = _rows(store, window.when, split - window.baseline, now)
    recent = sum(1 for row in rows if row.created_at > split)
    return WindowCounts(recent=recent, baseline=len(rows) - recent)


def _frequency_counts(store: Store, window: FrequencyWindow, now: datetime) -> WindowCounts:
    rows = _rows(store, window.when, now - window.within, now)
    if window.per == "all":
        return WindowCounts(recent=len(rows))
    if window.per == "author":
        keys = (f"{row.platform}:{row.author_handle or row.author_id}" for row in rows)
    else:
        keys = (f"{row.platform}:{row.conversation_id}" for row in rows if row.conversation_id)
    return WindowCounts(recent=len(rows), by_key=dict(Counter(keys)))


def _flatline_counts(
    store: Store, window: FlatlineWindow, now: datetime, started_at: datetime
) -> WindowCounts:
    newest = [
        created
        for source, created in store.newest_by_source(now, window.when.platform)
        if _source_matches(window.when.source, source)
    ]
    last_seen = max(newest, default=started_at)
    return WindowCounts(last_seen=max(last_seen, started_at))


def _rows(store: Store, where: WindowFilter, after: datetime, until: datetime) -> list[Any]:
    wanted = set(where.rules)
    return [
        row
        for row in store.mentions_between(after, until, where.platform)
        if _source_matches(where.source, row.source)
        and (not wanted or wanted.intersection(row.rules or ()))
    ]


def _source_matches(patterns: list[str], source: str) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(source, pattern) for pattern in patterns)


def author_recent_counts(
    store: Store, mentions: Iterable[Mention], window: timedelta
) -> dict[tuple[str, str], int]:
    """(platform, external_id) → earlier mentions by the same author within `window`.

    Counts both stored mentions and earlier ones in the same batch, so a customer who posts five
    angry tweets between two polls is a repeat complainer from the second one on.
    """
    batch = [m for m in mentions if m.author_handle or m.author_id]
    stored, stored_ids = store.earlier_by_same_author(batch, window)
    by_author: dict[tuple[str, str], list[tuple[str, datetime]]] = defaultdict(list)
    for m in batch:
        if (m.platform, m.external_id) not in stored_ids:
            by_author[(m.platform, _author(m))].append((m.external_id, m.created_at))
    return {
        (m.platform, m.external_id): earlier
        + sum(
            1
            for external_id, created in by_author[(m.platform, _author(m))]
            if m.created_at - window <= created < m.created_at and external_id != m.external_id
        )
        for m, earlier in zip(batch, stored, strict=True)
    }


def _author(item: Any) -> str:
    return item.author_id or item.author_handle
